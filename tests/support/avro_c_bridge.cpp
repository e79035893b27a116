#include "avro_c_bridge.hpp"

#include <cmath>
#include <cstring>
#include <limits>

#include <fmt/format.h>

#include <horizons/catalogue.hpp>
#include <horizons/timestamp.hpp>

namespace horizons::avro_c {

namespace {

// A type node of the schema JSON after resolving names: what to expect in the avro-c value.
struct schema_node {
  const json* node;          // the object, array or string that defines the type
  std::string_view type;     // "record", "enum", "map", "array", "union" or a primitive
  std::string_view logical;  // "uuid", "timestamp-micros" or empty
};

constexpr std::string_view primitives[] = {"null", "boolean", "int", "long", "float", "double", "bytes", "string"};

bool is_primitive(std::string_view name) {
  for (auto p : primitives) {
    if (p == name) return true;
  }
  return false;
}

std::string_view avro_type_name(avro_type_t type) {
  switch (type) {
    case AVRO_STRING: return "string";
    case AVRO_BYTES: return "bytes";
    case AVRO_INT32: return "int";
    case AVRO_INT64: return "long";
    case AVRO_FLOAT: return "float";
    case AVRO_DOUBLE: return "double";
    case AVRO_BOOLEAN: return "boolean";
    case AVRO_NULL: return "null";
    case AVRO_RECORD: return "record";
    case AVRO_ENUM: return "enum";
    case AVRO_FIXED: return "fixed";
    case AVRO_MAP: return "map";
    case AVRO_ARRAY: return "array";
    case AVRO_UNION: return "union";
    case AVRO_LINK: return "link";
  }
  return "?";
}

// Walks an avro-c value and the schema JSON side by side, in both directions.
// Errors carry the field path so a failing sample names what went wrong.
class walker {
 public:
  explicit walker(const topic_schema& topic) : topic_(topic) {}

  std::expected<schema_node, std::string> resolve(const json& node, const std::string& path) const {
    if (node.is_array()) return schema_node{&node, "union", {}};
    if (node.is_string()) {
      const auto& name = node.get_ref<const std::string&>();
      if (is_primitive(name)) return schema_node{&node, name, {}};
      const json* named = topic_.named_type(name);
      if (named == nullptr) return std::unexpected(fmt::format("{}: unknown named type '{}'", path, name));
      return resolve(*named, path);
    }
    if (node.is_object() && node.contains("type")) {
      const json& type = node["type"];
      if (!type.is_string()) return resolve(type, path);
      const auto& name = type.get_ref<const std::string&>();
      if (is_primitive(name)) {
        auto logical = node.find("logicalType");
        std::string_view logical_name;  // a view into the schema JSON, which outlives the walk
        if (logical != node.end() && logical->is_string()) logical_name = logical->get_ref<const std::string&>();
        return schema_node{&node, name, logical_name};
      }
      if (name == "record" || name == "enum" || name == "map" || name == "array") {
        return schema_node{&node, name, {}};
      }
      return std::unexpected(fmt::format("{}: unsupported schema type '{}'", path, name));
    }
    return std::unexpected(fmt::format("{}: unreadable schema node {}", path, node.dump()));
  }

  // ------------------------------------------------------------ avro-c -> JSON

  std::expected<json, std::string> to_json(const avro_value_t& value, const json& schema,
                                           const std::string& path) const {
    auto resolved = resolve(schema, path);
    if (!resolved) return std::unexpected(resolved.error());
    const schema_node& s = *resolved;
    avro_value_t* v = const_cast<avro_value_t*>(&value);  // avro-c getters take non-const pointers
    if (auto ok = check_type(*v, s, path); !ok) return std::unexpected(ok.error());

    if (s.type == "null") return json(nullptr);
    if (s.type == "boolean") {
      int b = 0;
      if (avro_value_get_boolean(v, &b) != 0) return fail(path, "avro_value_get_boolean");
      // avro-c keeps whatever byte it read; Avro allows only 0 and 1.
      if (b != 0 && b != 1) return std::unexpected(fmt::format("{}: boolean byte {}", path, b));
      return json(b == 1);
    }
    if (s.type == "int") {
      std::int32_t n = 0;
      if (avro_value_get_int(v, &n) != 0) return fail(path, "avro_value_get_int");
      return json(static_cast<std::int64_t>(n));
    }
    if (s.type == "long") {
      std::int64_t n = 0;
      if (avro_value_get_long(v, &n) != 0) return fail(path, "avro_value_get_long");
      if (s.logical == "timestamp-micros") {
        // Outside years 1-9999 Horizons falls back to the integer: so do we.
        if (auto text = format_rfc3339(timestamp{std::chrono::microseconds{n}})) return json(*text);
      }
      return json(n);
    }
    if (s.type == "float" || s.type == "double") {
      double d = 0;
      if (s.type == "float") {
        float f = 0;
        if (avro_value_get_float(v, &f) != 0) return fail(path, "avro_value_get_float");
        d = f;
      } else if (avro_value_get_double(v, &d) != 0) {
        return fail(path, "avro_value_get_double");
      }
      if (std::isnan(d)) return json("NaN");
      if (std::isinf(d)) return json(d > 0 ? "Infinity" : "-Infinity");
      return json(d);
    }
    if (s.type == "string") {
      const char* text = nullptr;
      std::size_t size = 0;  // avro-c counts the NUL terminator
      if (avro_value_get_string(v, &text, &size) != 0) return fail(path, "avro_value_get_string");
      return json(std::string(text, size == 0 ? 0 : size - 1));
    }
    if (s.type == "enum") {
      int index = 0;
      if (avro_value_get_enum(v, &index) != 0) return fail(path, "avro_value_get_enum");
      const json& symbols = (*s.node)["symbols"];
      // avro_value_read does not range-check enum indexes: this is the only check.
      if (index < 0 || static_cast<std::size_t>(index) >= symbols.size()) {
        return std::unexpected(fmt::format("{}: enum index {} outside {} symbols", path, index, symbols.size()));
      }
      return symbols[static_cast<std::size_t>(index)];
    }
    if (s.type == "record") return record_to_json(*v, *s.node, path);
    if (s.type == "map" || s.type == "array") {
      std::size_t count = 0;
      if (avro_value_get_size(v, &count) != 0) return fail(path, "avro_value_get_size");
      json out = s.type == "map" ? json::object() : json::array();
      const json& items = (*s.node)[s.type == "map" ? "values" : "items"];
      for (std::size_t i = 0; i < count; ++i) {
        avro_value_t child;
        const char* key = nullptr;
        if (avro_value_get_by_index(v, i, &child, &key) != 0) return fail(path, "avro_value_get_by_index");
        auto item_path = s.type == "map" ? fmt::format("{}.{}", path, key) : fmt::format("{}[{}]", path, i);
        auto item = to_json(child, items, item_path);
        if (!item) return item;
        if (s.type == "map") {
          out[key] = std::move(*item);
        } else {
          out.push_back(std::move(*item));
        }
      }
      return out;
    }
    if (s.type == "union") {
      int discriminant = 0;
      avro_value_t branch;
      if (avro_value_get_discriminant(v, &discriminant) != 0) return fail(path, "avro_value_get_discriminant");
      if (avro_value_get_current_branch(v, &branch) != 0) return fail(path, "avro_value_get_current_branch");
      if (discriminant < 0 || static_cast<std::size_t>(discriminant) >= s.node->size()) {
        return std::unexpected(fmt::format("{}: union branch {} of {}", path, discriminant, s.node->size()));
      }
      // Horizons writes every union as its branch's plain value (null for "null").
      return to_json(branch, (*s.node)[static_cast<std::size_t>(discriminant)], path);
    }
    return std::unexpected(fmt::format("{}: unsupported type {}", path, s.type));
  }

  std::expected<json, std::string> record_to_json(avro_value_t& value, const json& record,
                                                  const std::string& path) const {
    json out = json::object();
    const json& fields = record["fields"];
    std::size_t count = 0;
    if (avro_value_get_size(&value, &count) != 0) return fail(path, "avro_value_get_size");
    if (count != fields.size()) {
      return std::unexpected(fmt::format("{}: avro-c record has {} fields, the schema {}", path, count, fields.size()));
    }
    for (std::size_t i = 0; i < fields.size(); ++i) {
      const auto& name = fields[i]["name"].get_ref<const std::string&>();
      auto field_path = path.empty() ? name : path + "." + name;
      avro_value_t child;
      const char* avro_name = nullptr;
      if (avro_value_get_by_index(&value, i, &child, &avro_name) != 0) {
        return fail(field_path, "avro_value_get_by_index");
      }
      if (avro_name == nullptr || name != avro_name) {
        return std::unexpected(
            fmt::format("{}: avro-c names field {} '{}'", field_path, i, avro_name ? avro_name : "(null)"));
      }
      auto item = to_json(child, fields[i]["type"], field_path);
      if (!item) return item;
      out[name] = std::move(*item);
    }
    return out;
  }

  // ------------------------------------------------------------ JSON -> avro-c

  std::expected<void, std::string> from_json(const json& value, const json& schema, avro_value_t& into,
                                             const std::string& path, std::string_view payload_record) const {
    auto resolved = resolve(schema, path);
    if (!resolved) return std::unexpected(resolved.error());
    const schema_node& s = *resolved;
    if (auto ok = check_type(into, s, path); !ok) return ok;
    auto expect = [&](bool ok, std::string_view what) -> std::expected<void, std::string> {
      if (ok) return {};
      return std::unexpected(fmt::format("{}: expected {}, got {}", path, what, value.dump()));
    };

    if (s.type == "null") {
      if (auto ok = expect(value.is_null(), "null"); !ok) return ok;
      return call(avro_value_set_null(&into), path, "avro_value_set_null");
    }
    if (s.type == "boolean") {
      if (auto ok = expect(value.is_boolean(), "a boolean"); !ok) return ok;
      return call(avro_value_set_boolean(&into, value.get<bool>() ? 1 : 0), path, "avro_value_set_boolean");
    }
    if (s.type == "int" || s.type == "long") {
      std::int64_t n = 0;
      if (s.logical == "timestamp-micros" && value.is_string()) {
        auto parsed = parse_rfc3339(value.get_ref<const std::string&>());
        if (!parsed) return expect(false, "an RFC 3339 time");
        n = parsed->time_since_epoch().count();
      } else {
        if (auto ok = expect(value.is_number_integer(), "an integer"); !ok) return ok;
        if (value.is_number_unsigned() &&
            value.get<std::uint64_t>() > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
          return expect(false, "a 64-bit integer");
        }
        n = value.get<std::int64_t>();
      }
      if (s.type == "long") return call(avro_value_set_long(&into, n), path, "avro_value_set_long");
      if (n < std::numeric_limits<std::int32_t>::min() || n > std::numeric_limits<std::int32_t>::max()) {
        return expect(false, "a 32-bit integer");
      }
      return call(avro_value_set_int(&into, static_cast<std::int32_t>(n)), path, "avro_value_set_int");
    }
    if (s.type == "float" || s.type == "double") {
      double d = 0;
      if (value.is_number()) {
        d = value.get<double>();
      } else if (value == "NaN") {
        d = std::numeric_limits<double>::quiet_NaN();
      } else if (value == "Infinity") {
        d = std::numeric_limits<double>::infinity();
      } else if (value == "-Infinity") {
        d = -std::numeric_limits<double>::infinity();
      } else {
        return expect(false, "a number");
      }
      if (s.type == "float")
        return call(avro_value_set_float(&into, static_cast<float>(d)), path, "avro_value_set_float");
      return call(avro_value_set_double(&into, d), path, "avro_value_set_double");
    }
    if (s.type == "string") {
      if (auto ok = expect(value.is_string(), "a string"); !ok) return ok;
      const auto& text = value.get_ref<const std::string&>();
      // avro-c's length counts the NUL terminator that c_str() provides.
      return call(avro_value_set_string_len(&into, text.c_str(), text.size() + 1), path, "avro_value_set_string_len");
    }
    if (s.type == "enum") {
      if (auto ok = expect(value.is_string(), "an enum symbol"); !ok) return ok;
      const json& symbols = (*s.node)["symbols"];
      for (std::size_t i = 0; i < symbols.size(); ++i) {
        if (symbols[i] == value)
          return call(avro_value_set_enum(&into, static_cast<int>(i)), path, "avro_value_set_enum");
      }
      return expect(false, "a symbol of " + (*s.node)["name"].get<std::string>());
    }
    if (s.type == "record") return record_from_json(value, *s.node, into, path, payload_record);
    if (s.type == "map") {
      if (auto ok = expect(value.is_object(), "an object"); !ok) return ok;
      for (const auto& [key, item] : value.items()) {
        avro_value_t child;
        int is_new = 0;
        if (avro_value_add(&into, key.c_str(), &child, nullptr, &is_new) != 0) return fail(path, "avro_value_add");
        if (!is_new) return std::unexpected(fmt::format("{}: duplicate map key '{}'", path, key));
        if (auto ok = from_json(item, (*s.node)["values"], child, path + "." + key, {}); !ok) return ok;
      }
      return {};
    }
    if (s.type == "array") {
      if (auto ok = expect(value.is_array(), "an array"); !ok) return ok;
      for (std::size_t i = 0; i < value.size(); ++i) {
        avro_value_t child;
        if (avro_value_append(&into, &child, nullptr) != 0) return fail(path, "avro_value_append");
        if (auto ok = from_json(value[i], (*s.node)["items"], child, fmt::format("{}[{}]", path, i), {}); !ok) {
          return ok;
        }
      }
      return {};
    }
    if (s.type == "union") {
      auto branch = pick_branch(value, *s.node, path, payload_record);
      if (!branch) return std::unexpected(branch.error());
      avro_value_t child;
      if (avro_value_set_branch(&into, static_cast<int>(*branch), &child) != 0) {
        return fail(path, "avro_value_set_branch");
      }
      return from_json(value, (*s.node)[*branch], child, path, payload_record);
    }
    return std::unexpected(fmt::format("{}: unsupported type {}", path, s.type));
  }

  std::expected<void, std::string> record_from_json(const json& value, const json& record, avro_value_t& into,
                                                    const std::string& path, std::string_view payload_record) const {
    if (!value.is_object()) return std::unexpected(fmt::format("{}: expected an object, got {}", path, value.dump()));
    const json& fields = record["fields"];
    std::size_t used = 0;
    for (std::size_t i = 0; i < fields.size(); ++i) {
      const auto& name = fields[i]["name"].get_ref<const std::string&>();
      auto field_path = path.empty() ? name : path + "." + name;
      avro_value_t child;
      if (avro_value_get_by_index(&into, i, &child, nullptr) != 0) return fail(field_path, "avro_value_get_by_index");
      auto item = value.find(name);
      if (item == value.end()) {
        // json.hpp lets a null union or a map be left out.
        auto resolved = resolve(fields[i]["type"], field_path);
        if (!resolved) return std::unexpected(resolved.error());
        if (resolved->type == "map") continue;  // reset left it empty
        if (resolved->type == "union") {
          if (auto ok = from_json(json(nullptr), fields[i]["type"], child, field_path, {}); ok) continue;
        }
        return std::unexpected(fmt::format("{}: missing field", field_path));
      }
      ++used;
      if (auto ok = from_json(*item, fields[i]["type"], child, field_path, payload_record); !ok) return ok;
    }
    if (used != value.size()) {
      for (const auto& [key, _] : value.items()) {
        bool known = false;
        for (const auto& field : fields) known |= field["name"] == key;
        if (!known) return std::unexpected(fmt::format("{}: unknown field '{}'", path.empty() ? "event" : path, key));
      }
    }
    return {};
  }

  // null picks "null"; otherwise the only other branch, or the record the event type names.
  std::expected<std::size_t, std::string> pick_branch(const json& value, const json& branches, const std::string& path,
                                                      std::string_view payload_record) const {
    std::optional<std::size_t> null_branch;
    std::vector<std::size_t> others;
    for (std::size_t i = 0; i < branches.size(); ++i) {
      auto resolved = resolve(branches[i], path);
      if (!resolved) return std::unexpected(resolved.error());
      if (resolved->type == "null") {
        null_branch = i;
      } else {
        others.push_back(i);
      }
    }
    if (value.is_null() && null_branch) return *null_branch;
    if (others.size() == 1) return others.front();
    for (auto i : others) {
      auto resolved = resolve(branches[i], path);
      if (resolved->type == "record" && (*resolved->node)["name"] == payload_record) return i;
    }
    return std::unexpected(fmt::format("{}: no union branch is the record '{}'", path, payload_record));
  }

 private:
  static std::unexpected<std::string> fail(const std::string& path, std::string_view call) {
    return std::unexpected(avro_error(fmt::format("{}: {}", path.empty() ? "event" : path, call)));
  }
  static std::expected<void, std::string> call(int rc, const std::string& path, std::string_view what) {
    if (rc != 0) return fail(path, what);
    return {};
  }
  // The avro-c value must be of the type the schema JSON says: catches a walk out of step.
  static std::expected<void, std::string> check_type(avro_value_t& value, const schema_node& s,
                                                     const std::string& path) {
    auto actual = avro_type_name(avro_value_get_type(&value));
    if (actual == s.type) return {};
    return std::unexpected(fmt::format("{}: avro-c value is a {} where the schema says {}", path, actual, s.type));
  }

  const topic_schema& topic_;
};

void index_named_types(const json& node, const std::string& enclosing_namespace, std::map<std::string, json>& named) {
  if (node.is_array()) {
    for (const auto& branch : node) index_named_types(branch, enclosing_namespace, named);
    return;
  }
  if (!node.is_object()) return;
  auto space = enclosing_namespace;
  if (auto ns = node.find("namespace"); ns != node.end() && ns->is_string()) space = ns->get<std::string>();
  auto type = node.find("type");
  if (type == node.end()) return;
  if (!type->is_string()) {
    index_named_types(*type, space, named);
    return;
  }
  const auto& kind = type->get_ref<const std::string&>();
  if (kind == "record" || kind == "enum" || kind == "fixed") {
    auto name = node["name"].get<std::string>();
    auto dot = name.rfind('.');
    auto short_name = dot == std::string::npos ? name : name.substr(dot + 1);
    named[short_name] = node;
    named[dot != std::string::npos || space.empty() ? name : space + "." + name] = node;
  }
  if (kind == "record") {
    for (const auto& field : node["fields"]) index_named_types(field["type"], space, named);
  } else if (kind == "map") {
    index_named_types(node["values"], space, named);
  } else if (kind == "array") {
    index_named_types(node["items"], space, named);
  }
}

}  // namespace

std::string avro_error(std::string_view what) {
  const char* text = avro_strerror();
  return fmt::format("{} failed: {}", what, text && *text ? text : "(no avro-c error text)");
}

// ---------------------------------------------------------------- generic_value

std::expected<generic_value, std::string> generic_value::create(avro_value_iface_t* iface) {
  avro_value_t value;
  if (avro_generic_value_new(iface, &value) != 0) return std::unexpected(avro_error("avro_generic_value_new"));
  return generic_value(value);
}

generic_value& generic_value::operator=(generic_value&& other) noexcept {
  if (this != &other) {
    if (value_.self != nullptr) avro_value_decref(&value_);
    value_ = other.value_;
    other.value_ = {};
  }
  return *this;
}

generic_value::~generic_value() {
  if (value_.self != nullptr) avro_value_decref(&value_);
}

// ---------------------------------------------------------------- topic_schema

std::expected<topic_schema, std::string> topic_schema::load(topic_id topic) {
  topic_schema out;
  out.topic_ = topic;
  auto text = horizons::schema_json(topic);
  avro_schema_t schema = nullptr;
  int rc = avro_schema_from_json_length(text.data(), text.size(), &schema);
  out.schema_.reset(schema);
  if (rc != 0) {
    return std::unexpected(avro_error(fmt::format("avro_schema_from_json_length({})", topic_name(topic))));
  }
  out.iface_.reset(avro_generic_class_from_schema(out.schema_.get()));
  if (!out.iface_) return std::unexpected(avro_error("avro_generic_class_from_schema"));
  out.json_ = json::parse(text, nullptr, false);
  if (out.json_.is_discarded()) return std::unexpected(fmt::format("schema of {} is not JSON", topic_name(topic)));
  index_named_types(out.json_, "", out.named_);
  return out;
}

const json* topic_schema::named_type(const std::string& name) const {
  auto it = named_.find(name);
  return it == named_.end() ? nullptr : &it->second;
}

// ---------------------------------------------------------------- reader / writer

memory_reader::memory_reader() : reader_(avro_reader_memory(nullptr, 0)) {}

std::expected<void, std::string> memory_reader::read(std::span<const std::byte> bytes, avro_value_t& into) {
  if (!reader_) return std::unexpected(avro_error("avro_reader_memory"));
  avro_reader_memory_set_source(reader_.get(), reinterpret_cast<const char*>(bytes.data()),
                                static_cast<std::int64_t>(bytes.size()));
  if (avro_value_read(reader_.get(), &into) != 0) return std::unexpected(avro_error("avro_value_read"));
  // avro_reader_is_eof() is always 0 for memory readers: probe for one more byte instead.
  char extra = 0;
  if (avro_read(reader_.get(), &extra, 1) == 0)
    return std::unexpected(std::string("avro_value_read left trailing bytes"));
  return {};
}

memory_writer::memory_writer() : writer_(avro_writer_memory(nullptr, 0)) {}

void memory_writer::reserve(std::size_t capacity) {
  if (buffer_.size() < capacity) buffer_.resize(capacity);
  avro_writer_memory_set_dest(writer_.get(), reinterpret_cast<const char*>(buffer_.data()),
                              static_cast<std::int64_t>(buffer_.size()));
}

std::expected<std::span<const std::byte>, std::string> memory_writer::write(avro_value_t& value) {
  if (!writer_) return std::unexpected(avro_error("avro_writer_memory"));
  std::size_t size = 0;
  if (avro_value_sizeof(&value, &size) != 0) return std::unexpected(avro_error("avro_value_sizeof"));
  reserve(size);
  if (avro_value_write(writer_.get(), &value) != 0) return std::unexpected(avro_error("avro_value_write"));
  return written();
}

std::span<const std::byte> memory_writer::written() const {
  return {buffer_.data(), static_cast<std::size_t>(avro_writer_tell(writer_.get()))};
}

// ---------------------------------------------------------------- conversions

std::expected<converted_event, std::string> to_json(const topic_schema& topic, const avro_value_t& value) {
  walker w(topic);
  auto converted = w.to_json(value, topic.schema_json(), "");
  if (!converted) return std::unexpected(converted.error());
  // The branch name comes from avro-c's own schema, not from the JSON walk.
  auto* v = const_cast<avro_value_t*>(&value);
  avro_value_t payload;
  avro_value_t branch;
  if (avro_value_get_by_name(v, "payload", &payload, nullptr) != 0) {
    return std::unexpected(avro_error("avro_value_get_by_name(payload)"));
  }
  if (avro_value_get_current_branch(&payload, &branch) != 0) {
    return std::unexpected(avro_error("avro_value_get_current_branch(payload)"));
  }
  const char* name = avro_schema_name(avro_value_get_schema(&branch));
  return converted_event{std::move(*converted), name ? name : ""};
}

std::expected<void, std::string> from_json(const topic_schema& topic, const json& event, avro_value_t& into) {
  if (avro_value_reset(&into) != 0) return std::unexpected(avro_error("avro_value_reset"));
  auto type = event.find("event_type");
  if (!event.is_object() || type == event.end() || !type->is_string()) {
    return std::unexpected(std::string("event_type: missing or not a string"));
  }
  auto record = payload_record_name(type->get_ref<const std::string&>());
  if (!record) return std::unexpected(fmt::format("event_type: unknown event type {}", type->dump()));
  walker w(topic);
  return w.from_json(event, topic.schema_json(), into, "", *record);
}

std::optional<std::string_view> payload_record_name(std::string_view event_type) {
  std::optional<std::string_view> found;
#define HORIZONS_AVRO_C_RECORD_NAME(P) \
  if (payload_traits<P>::event_type == event_type) found = record_traits<P>::avro_name;
  HORIZONS_FOR_EACH_PAYLOAD(HORIZONS_AVRO_C_RECORD_NAME)
#undef HORIZONS_AVRO_C_RECORD_NAME
  return found;
}

}  // namespace horizons::avro_c
