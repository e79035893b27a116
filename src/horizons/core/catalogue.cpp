#include <horizons/catalogue.hpp>

namespace horizons {

namespace {

template <std::size_t... I>
constexpr std::array<std::string_view, topic_count> collect_topic_names(std::index_sequence<I...>) {
  return {topic_traits<static_cast<topic_id>(I)>::name...};
}
template <std::size_t... I>
constexpr std::array<std::string_view, topic_count> collect_schemas(std::index_sequence<I...>) {
  return {topic_traits<static_cast<topic_id>(I)>::schema_json...};
}
constexpr auto topic_names = collect_topic_names(std::make_index_sequence<topic_count>{});
constexpr auto topic_schemas = collect_schemas(std::make_index_sequence<topic_count>{});

}  // namespace

std::string_view topic_name(topic_id id) { return topic_names[static_cast<std::size_t>(id)]; }
std::string_view schema_json(topic_id id) { return topic_schemas[static_cast<std::size_t>(id)]; }

std::optional<topic_id> topic_from_name(std::string_view name) {
  for (const auto& t : catalogue) {
    if (t.name() == name) return t.id;
  }
  return std::nullopt;
}

std::optional<topic_id> topic_from_schema_id(std::int32_t schema_id) {
  for (const auto& t : catalogue) {
    if (t.schema_id == schema_id) return t.id;
  }
  return std::nullopt;
}

std::optional<topic_id> topic_of_event_type(std::string_view event_type) {
  std::optional<topic_id> found;
  auto check = [&]<class Payload>(std::type_identity<Payload>) {
    if (payload_traits<Payload>::event_type == event_type) found = payload_traits<Payload>::topic;
  };
#define HORIZONS_CHECK_PAYLOAD(P) check(std::type_identity<P>{});
  HORIZONS_FOR_EACH_PAYLOAD(HORIZONS_CHECK_PAYLOAD)
#undef HORIZONS_CHECK_PAYLOAD
  return found;
}

}  // namespace horizons
