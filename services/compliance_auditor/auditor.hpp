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
#pragma once

#include <chrono>
#include <expected>
#include <stop_token>
#include <string>
#include <string_view>

#include "services/common/service_host.hpp"

namespace horizons::compliance {

inline constexpr std::string_view service_name = "compliance-auditor";

struct auditor_options {
  services::service_options service{};
  /// How often retention runs (and the chain is verified and reported).
  std::chrono::milliseconds retention_every{std::chrono::hours(1)};
};

[[nodiscard]] std::expected<void, std::string> run(const auditor_options& opts, std::stop_token stop);

}  // namespace horizons::compliance
