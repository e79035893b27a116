#include "services/compliance_auditor/auditor.hpp"

#include <spdlog/spdlog.h>

#include <horizons/consumer.hpp>
#include <horizons/event_builder.hpp>

#include "services/compliance_auditor/ledger.hpp"

namespace horizons::compliance {
namespace {

// Prunes what retention allows, verifies what remains, and records the outcome on the audit trail.
void enforce_retention(ledger& entries, services::state_store& store) {
  auto pruned = entries.prune(now() - retention);
  auto verified = entries.verify();
  audit_compliance_check check{.check_id = "retention-" + uuid::random().to_string(),
                               .check_name = "audit ledger retention and chain",
                               .check_kind = compliance_check_kind::audit_trail,
                               .result = compliance_result::pass,
                               .violations = {}};
  if (!pruned || !verified || !verified->ok()) {
    check.result = compliance_result::fail;
    std::string detail = !pruned     ? pruned.error().message
                         : !verified ? verified.error().message
                                     : verified->bad->explanation;
    check.violations.push_back(
        {.rule = "ledger-chain-intact", .resource_id = entries.where().to_string(), .detail = detail});
    spdlog::error("{}: {}", descriptor.name, detail);
  } else if (pruned->pruned > 0) {
    spdlog::info("{}: pruned {} entries older than {} days", descriptor.name, pruned->pruned, retention.count());
  }
  auto built = make_event(std::move(check)).user_id(std::string(descriptor.name)).build();
  if (!built) {
    spdlog::error("{}: {}", descriptor.name, built.error().message);
    return;
  }
  auto sent = store.transact([&](services::outbox& out) { return out.emit(*built); });
  if (!sent) spdlog::error("{}: {}", descriptor.name, sent.error());
}

}  // namespace

std::expected<void, std::string> run(const auditor_options& opts, std::stop_token stop) {
  auto entries = ledger::open(ledger::location_in(services::state_root(opts.service)));
  if (!entries) return std::unexpected(fmt::format("{}: {}", descriptor.name, entries.error().message));
  auto host = services::service_host::start(descriptor, opts.service);
  if (!host) return std::unexpected(host.error());

  auto made = (*host)->subscribe();
  if (!made) return std::unexpected(made.error());
  auto& trail = **made;
  auto append = [&](const envelope& meta, const auto& payload, const message_context&) -> handler_result {
    audit_event entry;
    static_cast<envelope&>(entry) = meta;
    entry.payload = payload;
    if (auto appended = entries->append(entry); !appended) return std::unexpected(appended.error().message);
    return {};
  };
  trail.on<audit_action_recorded>(append).on<audit_policy_changed>(append).on<audit_data_access>(append);
  trail.on<audit_job_lifecycle>(append).on<audit_compliance_check>(append);

  return (*host)->run(
      trail, stop, [&] { enforce_retention(*entries, (*host)->store()); }, opts.retention_every);
}

}  // namespace horizons::compliance
