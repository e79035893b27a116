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
// Every record also has a zero-copy view (`job_submitted_view`,
// `envelope_view`, `event_view<Payload>`; views.hpp), decoded with
// codec.hpp's decode_view.
#pragma once

#include <horizons/generated/events.hpp>

namespace horizons {

/// An event as views into its bytes (views.hpp): valid while the bytes are.
/// Payload: one payload type (event_view<job_submitted>) or a topic's payload variant.
template <class Payload>
struct event_view : envelope_view {
  view_of<Payload> payload{};

  /// The owning event, copied out of the bytes.
  [[nodiscard]] event<Payload> to_owned() const {
    event<Payload> owned;
    detail::assign_owned(static_cast<envelope&>(owned), static_cast<const envelope_view&>(*this));
    detail::assign_owned(owned.payload, payload);
    return owned;
  }
};

/// The dotted event type of a payload ("job.submitted").
template <payload_record Payload>
[[nodiscard]] constexpr std::string_view event_type_of(const Payload&) {
  return payload_traits<Payload>::event_type;
}
template <class... Payloads>
[[nodiscard]] constexpr std::string_view event_type_of(const std::variant<Payloads...>& payload) {
  return std::visit([](const auto& p) { return payload_traits<std::decay_t<decltype(p)>>::event_type; }, payload);
}

/// The topic of a payload type or of a topic's payload variant.
template <class Payload>
inline constexpr topic_id topic_of_payload = [] {
  if constexpr (is_variant<Payload>::value) {
    return payload_traits<std::variant_alternative_t<0, Payload>>::topic;
  } else {
    return payload_traits<Payload>::topic;
  }
}();

/// The event type of a topic that carries `Payload` (job_submitted -> job_lifecycle_event).
template <payload_record Payload>
using topic_event_of = std::variant_alternative_t<static_cast<std::size_t>(payload_traits<Payload>::topic), any_event>;

/// Widens an event of one payload type to its topic's event (payload as the variant).
template <payload_record Payload>
[[nodiscard]] topic_event_of<Payload> to_topic_event(event<Payload> e) {
  topic_event_of<Payload> wide;
  static_cast<envelope&>(wide) = std::move(static_cast<envelope&>(e));
  wide.payload = std::move(e.payload);
  return wide;
}

namespace detail {
template <std::size_t... I>
constexpr std::array<std::size_t, topic_count + 1> payload_offsets(std::index_sequence<I...>) {
  std::array<std::size_t, topic_count + 1> offsets{};
  ((offsets[I + 1] = offsets[I] + std::variant_size_v<decltype(std::variant_alternative_t<I, any_event>::payload)>),
   ...);
  return offsets;
}
inline constexpr auto topic_payload_offsets = payload_offsets(std::make_index_sequence<topic_count>{});
}  // namespace detail

/// How many payload types the contract has, and a dense index of each (in all_event_types order).
inline constexpr std::size_t payload_count = detail::topic_payload_offsets[topic_count];
template <payload_record Payload>
inline constexpr std::size_t payload_index =
    detail::topic_payload_offsets[static_cast<std::size_t>(payload_traits<Payload>::topic)] +
    payload_traits<Payload>::union_index;
static_assert(payload_count == all_event_types.size());

/// The dotted event type of any event.
[[nodiscard]] constexpr std::string_view event_type_of_any(const any_event& e) {
  return std::visit([](const auto& topic_event) { return event_type_of(topic_event.payload); }, e);
}

/// The topic of any event.
[[nodiscard]] constexpr topic_id topic_of(const any_event& e) { return static_cast<topic_id>(e.index()); }

}  // namespace horizons
