// Compile-time description of the generated event types.
//
// The generator (tools/codegen) specialises these traits for every Avro
// record and enum in schemas/. The codec, the JSON mapping, validation and
// the sample generator are templates that walk them, so a field is listed in
// exactly one place: its schema.
//
//   for_each_field(job, [](std::string_view name, auto& value) { ... });
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <variant>
#include <vector>

#include <horizons/timestamp.hpp>
#include <horizons/uuid.hpp>

namespace horizons {

/// One record field: its Avro name and the member that holds it.
template <class Record, class Member>
struct field_info {
  std::string_view name;
  Member Record::*member;
};

template <class Record>
struct record_traits;  // avro_name, fields
template <class Enum>
struct enum_traits;  // avro_name, symbols, default_value
template <class Payload>
struct payload_traits;  // topic, event_type, union_index

template <class T>
concept avro_record = requires {
  record_traits<T>::fields;
};

template <class T>
concept avro_enum = std::is_enum_v<T> && requires {
  enum_traits<T>::symbols;
};

template <class T>
concept payload_record = requires {
  payload_traits<T>::event_type;
};

/// Calls fn(name, member) for each field of `record`, in schema order.
template <class Record, class Fn>
requires avro_record<std::remove_const_t<Record>>
constexpr void for_each_field(Record& record, Fn&& fn) {
  std::apply([&](const auto&... field) { (fn(field.name, record.*(field.member)), ...); },
             record_traits<std::remove_const_t<Record>>::fields);
}

/// The schema symbol of an enum value ("ALPHA_CAL").
template <avro_enum Enum>
constexpr std::string_view to_string(Enum value) {
  constexpr auto& symbols = enum_traits<Enum>::symbols;
  auto index = static_cast<std::size_t>(value);
  return index < symbols.size() ? symbols[index] : std::string_view{"?"};
}

/// The enum value of a schema symbol, or nullopt.
template <avro_enum Enum>
constexpr std::optional<Enum> enum_from_string(std::string_view symbol) {
  constexpr auto& symbols = enum_traits<Enum>::symbols;
  for (std::size_t i = 0; i < symbols.size(); ++i) {
    if (symbols[i] == symbol) return static_cast<Enum>(i);
  }
  return std::nullopt;
}

template <class T>
struct is_optional : std::false_type {};
template <class T>
struct is_optional<std::optional<T>> : std::true_type {};
template <class T>
struct is_vector : std::false_type {};
template <class T>
struct is_vector<std::vector<T>> : std::true_type {};
template <class T>
struct is_string_map : std::false_type {};
template <class T>
struct is_string_map<std::map<std::string, T>> : std::true_type {};
template <class T>
struct is_variant : std::false_type {};
template <class... T>
struct is_variant<std::variant<T...>> : std::true_type {};

}  // namespace horizons
