// A parsed Avro schema as a graph of nodes (private to the evolution module). Named types are
// nodes of their own, referenced by pointer wherever the schema names them again, so a recursive
// type is a cycle. Nodes live as long as the avro_schema that parsed them.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace horizons::detail {

enum class avro_type : std::uint8_t {
  null_type,
  boolean,
  int_type,
  long_type,
  float_type,
  double_type,
  bytes,
  string,
  record,
  enum_type,
  array,
  map,
  union_type,
  fixed,
};

/// "int", "record", ...: the type's name in Avro's own spelling.
[[nodiscard]] std::string_view type_name(avro_type type);

struct schema_node;

struct schema_field {
  std::string name;
  std::vector<std::string> aliases;
  const schema_node* type = nullptr;
  /// The field's default, Avro-binary encoded for its type; empty optional: no default.
  std::optional<std::string> default_bytes;
};

struct schema_node {
  avro_type type = avro_type::null_type;
  std::string full_name;             ///< named types: "namespace.Name"
  std::vector<std::string> aliases;  ///< named types: full names
  std::vector<schema_field> fields;  ///< record
  std::vector<std::string> symbols;  ///< enum
  std::optional<std::size_t> enum_default;
  const schema_node* items = nullptr;        ///< array items, map values
  std::vector<const schema_node*> branches;  ///< union
  std::size_t size = 0;                      ///< fixed

  [[nodiscard]] bool named() const {
    return type == avro_type::record || type == avro_type::enum_type || type == avro_type::fixed;
  }
  /// "Name" of "namespace.Name".
  [[nodiscard]] std::string_view short_name() const {
    const auto dot = full_name.rfind('.');
    return dot == std::string::npos ? std::string_view(full_name) : std::string_view(full_name).substr(dot + 1);
  }
  /// For messages: the full name of a named type, else its type's name.
  [[nodiscard]] std::string describe() const { return named() ? full_name : std::string(type_name(type)); }
};

}  // namespace horizons::detail
