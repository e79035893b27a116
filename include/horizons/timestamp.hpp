// Event time: microseconds since the Unix epoch, UTC; on the wire the Avro
// `timestamp-micros` logical type, in JSON RFC 3339 with six decimals.
//
//   horizons::timestamp t = horizons::now();
//   std::string s = horizons::format_rfc3339(t);   // "2026-11-29T13:03:17.123456Z"
//   auto back = horizons::parse_rfc3339(s);         // std::optional<timestamp>
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace horizons {

using timestamp = std::chrono::sys_time<std::chrono::microseconds>;

[[nodiscard]] inline timestamp now() {
  return std::chrono::time_point_cast<std::chrono::microseconds>(std::chrono::system_clock::now());
}

/// True for times within years 0001-9999, the range RFC 3339 can write.
[[nodiscard]] bool is_rfc3339_range(timestamp t);
/// "YYYY-MM-DDTHH:MM:SS.ffffffZ" for years 0001-9999; nullopt outside.
[[nodiscard]] std::optional<std::string> format_rfc3339(timestamp t);
/// Accepts "YYYY-MM-DDTHH:MM:SS[.f{1,6}](Z|±HH:MM)"; nullopt for anything else.
[[nodiscard]] std::optional<timestamp> parse_rfc3339(std::string_view text);

}  // namespace horizons
