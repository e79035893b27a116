// The event contract as C++ types, generated from schemas/*.avsc.
//
// One struct per Avro record (`job_submitted`, `resource_request`, ...), one
// `enum class` per Avro enum (`job_status`, `pipeline`, ...), `envelope` with
// the fields every event carries, and `event<Payload>`:
//
//   horizons::event<horizons::job_submitted> e;   // envelope + one payload type
//   horizons::job_lifecycle_event any;            // envelope + std::variant of the topic's payloads
//   horizons::any_event wire;                     // any topic
//
// A field that is not in the schema does not compile. Build events with
// event_builder.hpp, encode them with codec.hpp, render them with json.hpp.
#pragma once

#include <horizons/generated/events.hpp>

namespace horizons {

/// The dotted event type of a payload ("job.submitted").
template <payload_record Payload>
[[nodiscard]] constexpr std::string_view event_type_of(const Payload&) {
  return payload_traits<Payload>::event_type;
}
template <class... Payloads>
[[nodiscard]] constexpr std::string_view event_type_of(const std::variant<Payloads...>& payload) {
  return std::visit([](const auto& p) { return payload_traits<std::decay_t<decltype(p)>>::event_type; },
                    payload);
}

/// The event type of a topic that carries `Payload` (job_submitted -> job_lifecycle_event).
template <payload_record Payload>
using topic_event_of =
    std::variant_alternative_t<static_cast<std::size_t>(payload_traits<Payload>::topic), any_event>;

/// Widens an event of one payload type to its topic's event (payload as the variant).
template <payload_record Payload>
[[nodiscard]] topic_event_of<Payload> to_topic_event(event<Payload> e) {
  topic_event_of<Payload> wide;
  static_cast<envelope&>(wide) = std::move(static_cast<envelope&>(e));
  wide.payload = std::move(e.payload);
  return wide;
}

/// The topic of any event.
[[nodiscard]] constexpr topic_id topic_of(const any_event& e) { return static_cast<topic_id>(e.index()); }

}  // namespace horizons
