// Events as JSON, for people and tools: one object per event, fields in
// schema order, enums as their symbols, uuids as strings, timestamps as
// RFC 3339 with microseconds, the payload as a nested object whose shape is
// named by event_type.
//
//   std::string line = horizons::to_json(event);            // one line, no newline
//   auto back = horizons::any_event_from_json(line);        // std::expected<any_event, json_error>
//
// Parsing is strict: an unknown field, a missing field (except a null union
// or a map, which default to null / {}), a wrong JSON type or an out-of-range
// number is an error naming the field path ("payload.resources.nodes").
// JSON -> event -> JSON reproduces the text exactly.
#pragma once

#include <expected>
#include <string>
#include <string_view>

#include <horizons/events.hpp>

namespace horizons {

struct json_error {
  std::string message;
};

[[nodiscard]] std::string to_json(const any_event& e);

template <class Payload>
[[nodiscard]] std::string to_json(const event<Payload>& e);

[[nodiscard]] std::expected<any_event, json_error> any_event_from_json(std::string_view text);

}  // namespace horizons
