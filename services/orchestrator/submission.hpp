// Job submissions as JSON, the form `POST /jobs` and `horizons submit --json` take.
//
//   auto e = horizons::orchestrator::submission_from_json(R"({"job_name": "m87-cal", "pipeline": "AlphaCal"})",
//   "alice"); if (!e) return bad_request(e.error());     // names the bad field and what was expected
//   producer.publish(*e);
//
// Pure: no I/O, any thread.
#pragma once

#include <expected>
#include <string>
#include <string_view>

#include <horizons/events.hpp>

namespace horizons::orchestrator {

/// A submission as JSON, e.g. {"job_name": "m87-cal", "pipeline": "alpha_cal", "tacc_system": "frontera",
/// "dataset_id": "ds-1", "resources": {"nodes": 4, ...}, "user_id": "alice"}. Missing "job_id" gets a fresh
/// one; enum names are accepted in any case. The error names the bad field and what was expected.
[[nodiscard]] std::expected<event<job_submitted>, std::string> submission_from_json(std::string_view json,
                                                                                    std::string_view default_user = "");

}  // namespace horizons::orchestrator
