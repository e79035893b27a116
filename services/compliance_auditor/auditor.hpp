// The compliance auditor: appends every record of the audit-trail topic to
// the hash-chained ledger (ledger.hpp), prunes entries past the 90-day
// retention, and after each prune verifies the chain and publishes the
// outcome as an `audit.compliance.check`.
//
//   horizons::compliance::auditor_options options{.service = {.config = config, .data_dir = "horizons-data"}};
//   auto done = horizons::compliance::run(options, stop_token);
//
// Exactly once: the ledger refuses a second entry for an event id, so a
// record redelivered after a crash leaves the ledger as it was. Consumed in
// the group `compliance-auditor`. Ledger: <data_dir>/compliance-auditor/ledger.db.
//
// Signed heads (signed_heads.hpp), when an Ed25519 key is given (option or
// HORIZONS_AUDIT_SIGNING_KEY) with a topic, a file or both (options, or
// HORIZONS_AUDIT_CHECKPOINTS_TOPIC and HORIZONS_AUDIT_CHECKPOINTS): every
// `sign_every`, and once more when it stops, the auditor signs the ledger's
// head if it moved, writes it to the compacted topic (made at start with one
// partition and cleanup.policy=compact when missing; `audit-checkpoints` by
// convention, which `horizons up` and `horizons run` make on the embedded
// cluster) and appends it to the file, which must lie outside the data
// directory. `horizons audit verify --checkpoints-topic TOPIC` (or
// `--checkpoints FILE`) `--checkpoint-key PUB` checks a ledger against them.
#pragma once

#include <array>
#include <chrono>
#include <expected>
#include <filesystem>
#include <stop_token>
#include <string>
#include <string_view>

#include "services/common/service_descriptor.hpp"
#include "services/common/service_host.hpp"

namespace horizons::compliance {

namespace detail {
inline constexpr std::array topics{topic_id::audit_trail};
inline constexpr std::array handles{
    payload_traits<audit_action_recorded>::event_type, payload_traits<audit_policy_changed>::event_type,
    payload_traits<audit_data_access>::event_type, payload_traits<audit_job_lifecycle>::event_type,
    payload_traits<audit_compliance_check>::event_type};
}  // namespace detail

/// Reads audit-trail in the group `compliance-auditor` (the topic's catalogue group).
inline constexpr services::service_descriptor descriptor{
    .name = "compliance-auditor", .group = "compliance-auditor", .topics = detail::topics, .handles = detail::handles};

struct auditor_options {
  services::service_options service{};
  /// How often retention runs (and the chain is verified and reported).
  std::chrono::milliseconds retention_every{std::chrono::hours(1)};
  /// Signed heads: the topic they are written to, the file they are appended to, and the Ed25519
  /// private key (PEM); each empty: from the environment (above); no key: no signed heads.
  std::string checkpoints_topic{};
  std::filesystem::path checkpoints_file{};
  std::filesystem::path signing_key{};
  std::chrono::milliseconds sign_every{std::chrono::seconds(10)};
};

/// The heads topic's conventional name.
inline constexpr std::string_view checkpoints_topic = "audit-checkpoints";

[[nodiscard]] std::expected<void, std::string> run(const auditor_options& opts, std::stop_token stop);

}  // namespace horizons::compliance
