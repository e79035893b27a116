#include "services/compliance_auditor/auditor.hpp"

#include <algorithm>
#include <cstdlib>
#include <optional>

#include <spdlog/spdlog.h>

#include <horizons/consumer.hpp>
#include <horizons/event_builder.hpp>

#include "services/compliance_auditor/ledger.hpp"
#include "services/compliance_auditor/signed_heads.hpp"

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

// Signs the ledger's head into the checkpoints file when it moved since the last signed one.
class head_publisher {
 public:
  head_publisher(head_signer signer, std::filesystem::path file) : signer_(std::move(signer)), file_(std::move(file)) {}

  void publish(ledger& entries) {
    auto head = entries.head();
    if (!head) {
      spdlog::error("{}: signed heads: {}", descriptor.name, head.error().message);
      return;
    }
    if (head->seq == 0 || (last_ && last_->seq == head->seq && last_->hash == head->hash)) return;
    if (auto written = append_signed_head(file_, signer_.sign(*head, now())); !written) {
      spdlog::error("{}: signed heads: {}", descriptor.name, written.error());
      return;
    }
    last_ = *head;
  }

 private:
  head_signer signer_;
  std::filesystem::path file_;
  std::optional<chain_position> last_;
};

std::string from_env(const std::filesystem::path& given, const char* variable) {
  if (!given.empty()) return given.string();
  const char* value = std::getenv(variable);
  return value ? value : "";
}

// The publisher the options (or environment) ask for; nullopt when they ask for none.
std::expected<std::optional<head_publisher>, std::string> head_publisher_for(const auditor_options& opts) {
  const auto file = from_env(opts.checkpoints_file, "HORIZONS_AUDIT_CHECKPOINTS");
  const auto key = from_env(opts.signing_key, "HORIZONS_AUDIT_SIGNING_KEY");
  if (file.empty() && key.empty()) return std::nullopt;
  if (file.empty() || key.empty()) {
    return std::unexpected(
        "signed heads need both a file (HORIZONS_AUDIT_CHECKPOINTS) and an Ed25519 key (HORIZONS_AUDIT_SIGNING_KEY)");
  }
  // Whoever can write the data directory must not be able to rewrite the heads along with the ledger.
  std::error_code ignored;
  const auto data = std::filesystem::weakly_canonical(std::filesystem::absolute(opts.service.data_dir), ignored);
  const auto where = std::filesystem::weakly_canonical(std::filesystem::absolute(file), ignored);
  const auto [d, w] = std::ranges::mismatch(data, where);
  if (d == data.end()) {
    return std::unexpected(
        fmt::format("HORIZONS_AUDIT_CHECKPOINTS: {} is inside the data directory {}; keep the "
                    "signed heads where the ledger's writers cannot rewrite them",
                    file, opts.service.data_dir.string()));
  }
  auto signer = head_signer::from_pem_file(key);
  if (!signer) return std::unexpected(fmt::format("HORIZONS_AUDIT_SIGNING_KEY: {}", signer.error()));
  return head_publisher(std::move(*signer), file);
}

}  // namespace

std::expected<void, std::string> run(const auditor_options& opts, std::stop_token stop) {
  auto heads = head_publisher_for(opts);
  if (!heads) return std::unexpected(fmt::format("{}: {}", descriptor.name, heads.error()));
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

  const auto every = *heads ? std::min(opts.retention_every, opts.sign_every) : opts.retention_every;
  std::optional<std::chrono::steady_clock::time_point> retained;
  auto ran = (*host)->run(
      trail, stop,
      [&] {
        const auto at = std::chrono::steady_clock::now();
        if (!retained || at - *retained >= opts.retention_every) {
          enforce_retention(*entries, (*host)->store());
          retained = at;
        }
        if (*heads) (*heads)->publish(*entries);
      },
      every);
  if (*heads) (*heads)->publish(*entries);  // what the last records appended
  return ran;
}

}  // namespace horizons::compliance
