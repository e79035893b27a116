// Validation of an event before anything is sent.
//
// Rules: event and correlation ids are set; event_type names the payload;
// every `*_id` string is non-empty; no enum holds its UNKNOWN symbol (that
// symbol exists only so readers survive symbols added later); numbers are
// finite; times lie within years 1-9999; a traceparent is W3C-shaped; and the per-event rules: a
// job.status.changed follows the status machine, a job.submitted asks for
// at least one node, one core and one minute, costs are not negative, retry
// counts stay within their budget.
//
//   if (auto ok = horizons::validate(e); !ok) fmt::print("{}\n", ok.error().message);
//   // "job.status.changed: illegal job status transition RUNNING -> QUEUED"
#pragma once

#include <expected>
#include <string>

#include <horizons/events.hpp>

namespace horizons {

struct validation_error {
  std::string message;  // "<event type>: <field path> <problem>"
};

template <class Payload>
[[nodiscard]] std::expected<void, validation_error> validate(const event<Payload>& e);

[[nodiscard]] std::expected<void, validation_error> validate(const any_event& e);

}  // namespace horizons
