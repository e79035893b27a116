#include "services/compliance_auditor/auditor.hpp"

#include <algorithm>
#include <cstdlib>
#include <memory>
#include <optional>

#include <spdlog/spdlog.h>

#include <horizons/admin.hpp>
#include <horizons/consumer.hpp>
#include <horizons/event_builder.hpp>
#include <horizons/record_writer.hpp>

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

// Where signed heads go: a topic (through its own writer), a file, or both.
struct heads_destinations {
  std::string topic{};
  std::unique_ptr<record_writer> writer{};
  std::filesystem::path file{};
};

// Signs the ledger's head into its destinations when it moved since the last head they all took.
class head_publisher {
 public:
  head_publisher(head_signer signer, heads_destinations to) : signer_(std::move(signer)), to_(std::move(to)) {}

  void publish(ledger& entries) {
    auto head = entries.head();
    if (!head) {
      spdlog::error("{}: signed heads: {}", descriptor.name, head.error().message);
      return;
    }
    if (head->seq == 0 || (last_ && last_->seq == head->seq && last_->hash == head->hash)) return;
    const auto signed_now = signer_.sign(*head, now());
    bool all = true;
    if (to_.writer) {
      const keyed_record record[]{head_record(signed_now)};
      if (auto written = to_.writer->write(to_.topic, record); !written) {
        spdlog::error("{}: signed heads to {}: {}", descriptor.name, to_.topic, written.error().message);
        all = false;
      }
    }
    if (!to_.file.empty()) {
      if (auto written = append_signed_head(to_.file, signed_now); !written) {
        spdlog::error("{}: signed heads: {}", descriptor.name, written.error());
        all = false;
      }
    }
    if (all) last_ = *head;  // else signed again at the next tick
  }

 private:
  head_signer signer_;
  heads_destinations to_;
  std::optional<chain_position> last_;
};

// The heads topic, made when missing: one partition, compacted (one head per entry kept).
std::expected<void, std::string> prepare_heads_topic(const client_config& config, const std::string& topic) {
  auto kafka = admin::create(config);
  if (!kafka) return std::unexpected(fmt::format("cannot reach Kafka for {}: {}", topic, kafka.error().message));
  auto metadata = (*kafka)->metadata();
  if (!metadata) return std::unexpected(fmt::format("{}: {}", topic, metadata.error().message));
  const int replication = std::min<int>(3, static_cast<int>(metadata->brokers.size()));
  auto created =
      (*kafka)->create_topic({.name = topic,
                              .partitions = 1,
                              .replication = replication,
                              .configs = {{"cleanup.policy", "compact"},
                                          {"min.insync.replicas", std::to_string(std::max(1, replication - 1))}}});
  if (!created) {
    return std::unexpected(fmt::format(
        "HORIZONS_AUDIT_CHECKPOINTS_TOPIC: {} is missing and could not be created ({}); create it with 1 partition "
        "and cleanup.policy=compact",
        topic, created.error().message));
  }
  return {};
}

std::string from_env(const std::filesystem::path& given, const char* variable) {
  if (!given.empty()) return given.string();
  const char* value = std::getenv(variable);
  return value ? value : "";
}

// Refuses a heads file inside the data directory: whoever can write the data directory must not be
// able to rewrite the heads along with the ledger.
std::expected<void, std::string> check_heads_file(const std::string& file, const std::filesystem::path& data_dir) {
  std::error_code ignored;
  const auto data = std::filesystem::weakly_canonical(std::filesystem::absolute(data_dir), ignored);
  const auto where = std::filesystem::weakly_canonical(std::filesystem::absolute(file), ignored);
  const auto [d, w] = std::ranges::mismatch(data, where);
  if (d != data.end()) return {};
  return std::unexpected(
      fmt::format("HORIZONS_AUDIT_CHECKPOINTS: {} is inside the data directory {}; keep the signed heads where the "
                  "ledger's writers cannot rewrite them",
                  file, data_dir.string()));
}

// The publisher the options (or environment) ask for; nullopt when they ask for none.
std::expected<std::optional<head_publisher>, std::string> head_publisher_for(const auditor_options& opts) {
  const auto topic = from_env(opts.checkpoints_topic, "HORIZONS_AUDIT_CHECKPOINTS_TOPIC");
  const auto file = from_env(opts.checkpoints_file, "HORIZONS_AUDIT_CHECKPOINTS");
  const auto key = from_env(opts.signing_key, "HORIZONS_AUDIT_SIGNING_KEY");
  if (topic.empty() && file.empty() && key.empty()) return std::nullopt;
  if (key.empty()) {
    return std::unexpected(
        "signed heads need an Ed25519 key (HORIZONS_AUDIT_SIGNING_KEY) besides their topic "
        "(HORIZONS_AUDIT_CHECKPOINTS_TOPIC) or file (HORIZONS_AUDIT_CHECKPOINTS)");
  }
  if (topic.empty() && file.empty()) {
    return std::unexpected(fmt::format(
        "HORIZONS_AUDIT_SIGNING_KEY is set, but not where the heads go: HORIZONS_AUDIT_CHECKPOINTS_TOPIC (e.g. {}) "
        "or HORIZONS_AUDIT_CHECKPOINTS (a file), or both",
        checkpoints_topic));
  }
  if (!file.empty()) {
    if (auto outside = check_heads_file(file, opts.service.data_dir); !outside) return std::unexpected(outside.error());
  }
  auto signer = head_signer::from_pem_file(key);
  if (!signer) return std::unexpected(fmt::format("HORIZONS_AUDIT_SIGNING_KEY: {}", signer.error()));
  heads_destinations to{.topic = topic, .writer = nullptr, .file = file};
  if (!topic.empty()) {
    if (auto prepared = prepare_heads_topic(opts.service.config, topic); !prepared) {
      return std::unexpected(prepared.error());
    }
    auto writer = record_writer::create(opts.service.config);
    if (!writer) return std::unexpected(fmt::format("{}: {}", topic, writer.error().message));
    to.writer = std::move(*writer);
  }
  return head_publisher(std::move(*signer), std::move(to));
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
