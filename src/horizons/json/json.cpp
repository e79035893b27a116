#include <horizons/catalogue.hpp>
#include <horizons/json.hpp>

#include <cmath>
#include <limits>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace horizons {

using json = nlohmann::ordered_json;

namespace {

// ---------------------------------------------------------------- writing

template <class T>
json to_value(const T& value);

template <avro_record Record>
json record_to_value(const Record& record) {
  json object = json::object();
  for_each_field(record,
                 [&](std::string_view name, const auto& field) { object[std::string(name)] = to_value(field); });
  return object;
}

template <class T>
json to_value(const T& value) {
  if constexpr (std::is_same_v<T, bool> || std::is_same_v<T, std::int32_t> || std::is_same_v<T, std::int64_t> ||
                std::is_same_v<T, std::string>) {
    return value;
  } else if constexpr (std::is_same_v<T, double> || std::is_same_v<T, float>) {
    // JSON has no NaN or infinities: spell them as strings so they survive.
    if (std::isnan(value)) return "NaN";
    if (std::isinf(value)) return value > 0 ? "Infinity" : "-Infinity";
    return value;
  } else if constexpr (std::is_same_v<T, uuid>) {
    return value.to_string();
  } else if constexpr (std::is_same_v<T, timestamp>) {
    // Outside years 1-9999 RFC 3339 cannot say it: fall back to microseconds.
    if (auto text = format_rfc3339(value)) return *text;
    return value.time_since_epoch().count();
  } else if constexpr (avro_enum<T>) {
    return std::string(to_string(value));
  } else if constexpr (is_optional<T>::value) {
    return value ? to_value(*value) : json(nullptr);
  } else if constexpr (is_vector<T>::value) {
    json array = json::array();
    for (const auto& item : value) array.push_back(to_value(item));
    return array;
  } else if constexpr (is_string_map<T>::value) {
    json object = json::object();
    for (const auto& [key, item] : value) object[key] = to_value(item);
    return object;
  } else if constexpr (is_variant<T>::value) {
    return std::visit([](const auto& branch) { return record_to_value(branch); }, value);
  } else {
    return record_to_value(value);
  }
}

template <class Payload>
json event_to_value(const event<Payload>& e) {
  json object = record_to_value(static_cast<const envelope&>(e));
  object["event_type"] = std::string(event_type_of(e.payload));
  object["payload"] = to_value(e.payload);
  return object;
}

std::string dump(const json& value) {
  // Invalid UTF-8 from a foreign writer is shown with U+FFFD rather than aborting the tool.
  return value.dump(-1, ' ', false, json::error_handler_t::replace);
}

// ---------------------------------------------------------------- reading

struct parse_failure {
  std::string message;
};

std::string_view type_name(const json& value) { return value.type_name(); }

[[noreturn]] void fail(const std::string& path, std::string_view problem) {
  throw parse_failure{fmt::format("{}: {}", path, problem)};
}

template <class T>
void from_value(const json& value, T& out, const std::string& path);

template <avro_record Record>
void record_from_value(const json& value, Record& record, const std::string& path, std::string_view skip = {}) {
  if (!value.is_object()) fail(path, fmt::format("expected an object, got {}", type_name(value)));
  std::size_t known = 0;
  auto prefix = path.empty() ? std::string() : path + ".";
  for_each_field(record, [&](std::string_view name, auto& field) {
    using field_type = std::decay_t<decltype(field)>;
    auto it = value.find(std::string(name));
    if (it == value.end()) {
      if constexpr (is_optional<field_type>::value || is_string_map<field_type>::value) {
        field = field_type{};
        return;
      } else {
        fail(prefix + std::string(name), "missing field");
      }
    }
    ++known;
    from_value(*it, field, prefix + std::string(name));
  });
  if (known != value.size()) {
    for (const auto& [key, _] : value.items()) {
      bool is_known = key == skip;
      for_each_field(record, [&](std::string_view name, auto&) { is_known |= (name == key); });
      if (!is_known) fail(prefix + key, "unknown field");
    }
  }
}

template <class Int>
Int integer_from(const json& value, const std::string& path) {
  if (value.is_number_integer()) {
    if (value.is_number_unsigned()) {
      auto n = value.get<std::uint64_t>();
      if (n > static_cast<std::uint64_t>(std::numeric_limits<Int>::max())) {
        fail(path, fmt::format("{} is out of range for a {}-bit integer", n, sizeof(Int) * 8));
      }
      return static_cast<Int>(n);
    }
    auto n = value.get<std::int64_t>();
    if (n < std::numeric_limits<Int>::min() || n > std::numeric_limits<Int>::max()) {
      fail(path, fmt::format("{} is out of range for a {}-bit integer", n, sizeof(Int) * 8));
    }
    return static_cast<Int>(n);
  }
  fail(path, fmt::format("expected an integer, got {}", type_name(value)));
}

template <class T>
void from_value(const json& value, T& out, const std::string& path) {
  if constexpr (std::is_same_v<T, bool>) {
    if (!value.is_boolean()) fail(path, fmt::format("expected a boolean, got {}", type_name(value)));
    out = value.get<bool>();
  } else if constexpr (std::is_same_v<T, std::int32_t> || std::is_same_v<T, std::int64_t>) {
    out = integer_from<T>(value, path);
  } else if constexpr (std::is_same_v<T, double> || std::is_same_v<T, float>) {
    if (value.is_number()) {
      out = value.get<T>();
    } else if (value.is_string() && value == "NaN") {
      out = std::numeric_limits<T>::quiet_NaN();
    } else if (value.is_string() && value == "Infinity") {
      out = std::numeric_limits<T>::infinity();
    } else if (value.is_string() && value == "-Infinity") {
      out = -std::numeric_limits<T>::infinity();
    } else {
      fail(path, fmt::format("expected a number, got {}", type_name(value)));
    }
  } else if constexpr (std::is_same_v<T, std::string>) {
    if (!value.is_string()) fail(path, fmt::format("expected a string, got {}", type_name(value)));
    out = value.get<std::string>();
  } else if constexpr (std::is_same_v<T, uuid>) {
    if (!value.is_string()) fail(path, fmt::format("expected a uuid string, got {}", type_name(value)));
    auto parsed = uuid::parse(value.get_ref<const std::string&>());
    if (!parsed) fail(path, fmt::format("'{}' is not a uuid (8-4-4-4-12 hex)", value.get_ref<const std::string&>()));
    out = *parsed;
  } else if constexpr (std::is_same_v<T, timestamp>) {
    if (value.is_number_integer()) {
      out = timestamp{std::chrono::microseconds{integer_from<std::int64_t>(value, path)}};
    } else if (value.is_string()) {
      auto parsed = parse_rfc3339(value.get_ref<const std::string&>());
      if (!parsed) {
        fail(path, fmt::format("'{}' is not an RFC 3339 time like 2026-11-29T13:03:17.123456Z",
                               value.get_ref<const std::string&>()));
      }
      out = *parsed;
    } else {
      fail(path, fmt::format("expected an RFC 3339 time string, got {}", type_name(value)));
    }
  } else if constexpr (avro_enum<T>) {
    if (!value.is_string()) fail(path, fmt::format("expected an enum symbol, got {}", type_name(value)));
    auto parsed = enum_from_string<T>(value.get_ref<const std::string&>());
    if (!parsed) {
      std::string symbols;
      for (auto s : enum_traits<T>::symbols) symbols += (symbols.empty() ? "" : ", ") + std::string(s);
      fail(path, fmt::format("'{}' is not a {} symbol (one of {})", value.get_ref<const std::string&>(),
                             enum_traits<T>::avro_name, symbols));
    }
    out = *parsed;
  } else if constexpr (is_optional<T>::value) {
    if (value.is_null()) {
      out.reset();
    } else {
      if (!out) out.emplace();
      from_value(value, *out, path);
    }
  } else if constexpr (is_vector<T>::value) {
    if (!value.is_array()) fail(path, fmt::format("expected an array, got {}", type_name(value)));
    out.clear();
    out.resize(value.size());
    for (std::size_t i = 0; i < value.size(); ++i) from_value(value[i], out[i], fmt::format("{}[{}]", path, i));
  } else if constexpr (is_string_map<T>::value) {
    if (!value.is_object()) fail(path, fmt::format("expected an object, got {}", type_name(value)));
    out.clear();
    for (const auto& [key, item] : value.items()) from_value(item, out[key], path + "." + key);
  } else {
    record_from_value(value, out, path);
  }
}

template <std::size_t I, class Variant>
bool try_branch(std::string_view event_type, const json& value, Variant& out) {
  using branch = std::variant_alternative_t<I, Variant>;
  if (payload_traits<branch>::event_type != event_type) return false;
  record_from_value(value, out.template emplace<I>(), "payload");
  return true;
}

template <class Payload, std::size_t... I>
void event_from_value(const json& value, event<Payload>& e, std::string_view event_type, std::index_sequence<I...>) {
  record_from_value(value, static_cast<envelope&>(e), "", "payload");
  auto payload = value.find("payload");
  if (payload == value.end()) fail("payload", "missing field");
  (try_branch<I>(event_type, *payload, e.payload) || ...);
}

template <std::size_t... I>
any_event any_from_value(const json& value, topic_id topic, std::string_view event_type, std::index_sequence<I...>) {
  any_event result;
  (void)((static_cast<std::size_t>(topic) == I
              ? (event_from_value(
                     value, result.emplace<I>(), event_type,
                     std::make_index_sequence<
                         std::variant_size_v<decltype(std::variant_alternative_t<I, any_event>::payload)>>{}),
                 true)
              : false) ||
         ...);
  return result;
}

}  // namespace

template <class Payload>
std::string to_json(const event<Payload>& e) {
  return dump(event_to_value(e));
}

std::string to_json(const any_event& e) {
  return std::visit([](const auto& topic_event) { return dump(event_to_value(topic_event)); }, e);
}

std::expected<any_event, json_error> any_event_from_json(std::string_view text) {
  json value = json::parse(text, nullptr, false);
  if (value.is_discarded()) return std::unexpected(json_error{"not valid JSON"});
  if (!value.is_object()) return std::unexpected(json_error{"expected a JSON object"});
  auto type = value.find("event_type");
  if (type == value.end() || !type->is_string()) {
    return std::unexpected(json_error{"event_type: missing or not a string"});
  }
  const auto& event_type = type->get_ref<const std::string&>();
  auto topic = topic_of_event_type(event_type);
  if (!topic) {
    return std::unexpected(
        json_error{fmt::format("event_type: unknown event type '{}' (see `horizons events types`)", event_type)});
  }
  try {
    return any_from_value(value, *topic, event_type, std::make_index_sequence<topic_count>{});
  } catch (const parse_failure& failure) {
    return std::unexpected(json_error{failure.message});
  }
}

#define HORIZONS_INSTANTIATE_JSON(P) template std::string to_json<P>(const event<P>&);
HORIZONS_FOR_EACH_PAYLOAD(HORIZONS_INSTANTIATE_JSON)
HORIZONS_FOR_EACH_TOPIC_PAYLOAD(HORIZONS_INSTANTIATE_JSON)
#undef HORIZONS_INSTANTIATE_JSON

}  // namespace horizons
