// Parsing an Avro schema (JSON) into schema nodes, checking it the way the Avro specification
// does (names, unique symbols and branches, defaults that fit their type), and its Parsing
// Canonical Form. Defaults are encoded to Avro binary here, once, so resolution can copy them.
#include <horizons/schema_evolution.hpp>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <array>
#include <bit>
#include <cctype>
#include <cstring>
#include <deque>
#include <limits>
#include <map>
#include <set>

#include "schema_node.hpp"

namespace horizons {

namespace detail {

std::string_view type_name(avro_type type) {
  constexpr std::array<std::string_view, 14> names{"null",   "boolean", "int",  "long",  "float", "double", "bytes",
                                                   "string", "record",  "enum", "array", "map",   "union",  "fixed"};
  return names[static_cast<std::size_t>(type)];
}

}  // namespace detail

namespace {

using json = nlohmann::json;
using detail::avro_type;
using detail::schema_field;
using detail::schema_node;

// Thrown inside the parser only, turned into schema_error by avro_schema::parse.
struct invalid_schema {
  std::string message;
};

// Paths read like "fields[2].type" or ".payload.resources": the leading '.' of a root field goes.
[[noreturn]] void refuse(std::string_view path, std::string_view why) {
  if (path.starts_with('.')) path.remove_prefix(1);
  throw invalid_schema{path.empty() ? std::string(why) : fmt::format("{}: {}", path, why)};
}

bool valid_name(std::string_view name) {
  if (name.empty() || !(std::isalpha(static_cast<unsigned char>(name[0])) || name[0] == '_')) return false;
  return std::ranges::all_of(name, [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; });
}

bool valid_full_name(std::string_view name) {
  std::size_t start = 0;
  for (;;) {
    const auto dot = name.find('.', start);
    if (!valid_name(name.substr(start, dot - start))) return false;
    if (dot == std::string_view::npos) return true;
    start = dot + 1;
  }
}

std::optional<avro_type> primitive(std::string_view name) {
  constexpr std::array<std::pair<std::string_view, avro_type>, 8> primitives{{{"null", avro_type::null_type},
                                                                              {"boolean", avro_type::boolean},
                                                                              {"int", avro_type::int_type},
                                                                              {"long", avro_type::long_type},
                                                                              {"float", avro_type::float_type},
                                                                              {"double", avro_type::double_type},
                                                                              {"bytes", avro_type::bytes},
                                                                              {"string", avro_type::string}}};
  for (const auto& [n, t] : primitives) {
    if (n == name) return t;
  }
  return std::nullopt;
}

// ------------------------------------------------------------- defaults

void put_long(std::string& out, std::int64_t value) {
  auto n = (static_cast<std::uint64_t>(value) << 1) ^ static_cast<std::uint64_t>(value >> 63);
  while (n >= 0x80) {
    out.push_back(static_cast<char>(n | 0x80));
    n >>= 7;
  }
  out.push_back(static_cast<char>(n));
}

template <class T>
void put_fixed(std::string& out, T value) {
  static_assert(std::endian::native == std::endian::little, "Avro floats are little-endian");
  char bytes[sizeof(T)];
  std::memcpy(bytes, &value, sizeof(T));
  out.append(bytes, sizeof(T));
}

// Avro's JSON encoding of bytes and fixed: one char per byte, code points 0..255.
std::string latin1_bytes(const json& value, const std::string& path) {
  std::string out;
  const auto& text = value.get_ref<const std::string&>();
  for (std::size_t i = 0; i < text.size(); ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c < 0x80) {
      out.push_back(static_cast<char>(c));
    } else if ((c == 0xC2 || c == 0xC3) && i + 1 < text.size()) {
      out.push_back(static_cast<char>(((c & 0x03) << 6) | (static_cast<unsigned char>(text[++i]) & 0x3F)));
    } else {
      refuse(path, "a bytes default holds a character above \\u00ff");
    }
  }
  return out;
}

void encode_default(const json& value, const schema_node& type, std::string& out, const std::string& path) {
  const auto wrong = [&] { refuse(path, fmt::format("default {} is not a {}", value.dump(), type.describe())); };
  switch (type.type) {
    case avro_type::null_type:
      if (!value.is_null()) wrong();
      return;
    case avro_type::boolean:
      if (!value.is_boolean()) wrong();
      out.push_back(value.get<bool>() ? '\1' : '\0');
      return;
    case avro_type::int_type:
    case avro_type::long_type: {
      if (!value.is_number_integer()) wrong();
      const auto n = value.is_number_unsigned() && value.get<std::uint64_t>() > std::numeric_limits<std::int64_t>::max()
                         ? (wrong(), std::int64_t{0})
                         : value.get<std::int64_t>();
      if (type.type == avro_type::int_type &&
          (n < std::numeric_limits<std::int32_t>::min() || n > std::numeric_limits<std::int32_t>::max())) {
        wrong();
      }
      put_long(out, n);
      return;
    }
    case avro_type::float_type:
      if (!value.is_number()) wrong();
      put_fixed(out, value.get<float>());
      return;
    case avro_type::double_type:
      if (!value.is_number()) wrong();
      put_fixed(out, value.get<double>());
      return;
    case avro_type::string:
      if (!value.is_string()) wrong();
      put_long(out, static_cast<std::int64_t>(value.get_ref<const std::string&>().size()));
      out += value.get_ref<const std::string&>();
      return;
    case avro_type::bytes: {
      if (!value.is_string()) wrong();
      const auto bytes = latin1_bytes(value, path);
      put_long(out, static_cast<std::int64_t>(bytes.size()));
      out += bytes;
      return;
    }
    case avro_type::fixed: {
      if (!value.is_string()) wrong();
      const auto bytes = latin1_bytes(value, path);
      if (bytes.size() != type.size) wrong();
      out += bytes;
      return;
    }
    case avro_type::enum_type: {
      if (!value.is_string()) wrong();
      const auto found = std::ranges::find(type.symbols, value.get<std::string>());
      if (found == type.symbols.end()) wrong();
      put_long(out, found - type.symbols.begin());
      return;
    }
    case avro_type::array:
      if (!value.is_array()) wrong();
      if (!value.empty()) {
        put_long(out, static_cast<std::int64_t>(value.size()));
        for (std::size_t i = 0; i < value.size(); ++i) {
          encode_default(value[i], *type.items, out, fmt::format("{}[{}]", path, i));
        }
      }
      put_long(out, 0);
      return;
    case avro_type::map:
      if (!value.is_object()) wrong();
      if (!value.empty()) {
        put_long(out, static_cast<std::int64_t>(value.size()));
        for (const auto& [key, item] : value.items()) {
          put_long(out, static_cast<std::int64_t>(key.size()));
          out += key;
          encode_default(item, *type.items, out, fmt::format("{}.{}", path, key));
        }
      }
      put_long(out, 0);
      return;
    case avro_type::union_type:
      // The specification: a union's default is a value of its first branch.
      put_long(out, 0);
      encode_default(value, *type.branches.front(), out, path);
      return;
    case avro_type::record:
      if (!value.is_object()) wrong();
      for (const auto& field : type.fields) {
        const auto given = value.find(field.name);
        if (given != value.end()) {
          encode_default(*given, *field.type, out, fmt::format("{}.{}", path, field.name));
        } else if (field.default_bytes) {
          out += *field.default_bytes;
        } else {
          refuse(path, fmt::format("the default has no value for field {}", field.name));
        }
      }
      return;
  }
}

// --------------------------------------------------------------- parser

class parser {
 public:
  explicit parser(std::deque<schema_node>& nodes) : nodes_(nodes) {}

  const schema_node* type(const json& j, const std::string& ns, const std::string& path) {
    if (j.is_string()) return named_or_primitive(j.get<std::string>(), ns, path);
    if (j.is_array()) return union_of(j, ns, path);
    if (!j.is_object()) refuse(path, fmt::format("expected a type name, an object or a union, got {}", j.dump()));
    const auto t = j.find("type");
    if (t == j.end()) refuse(path, "an object without \"type\"");
    if (!t->is_string()) return type(*t, ns, path + ".type");
    const auto& kind = t->get_ref<const std::string&>();
    if (kind == "record" || kind == "error") return record(j, ns, path);
    if (kind == "enum") return enumeration(j, ns, path);
    if (kind == "fixed") return fixed(j, ns, path);
    if (kind == "array") return container(j, avro_type::array, "items", ns, path);
    if (kind == "map") return container(j, avro_type::map, "values", ns, path);
    // A primitive with attributes ({"type":"string","logicalType":"uuid"}) or a named reference.
    return named_or_primitive(kind, ns, path);
  }

 private:
  schema_node& make(avro_type t) {
    auto& node = nodes_.emplace_back();
    node.type = t;
    return node;
  }

  const schema_node* named_or_primitive(const std::string& name, const std::string& ns, const std::string& path) {
    if (const auto p = primitive(name)) {
      auto& cached = primitives_[static_cast<std::size_t>(*p)];
      if (!cached) cached = &make(*p);
      return cached;
    }
    const auto full = name.contains('.') || ns.empty() ? name : ns + "." + name;
    if (const auto found = named_.find(full); found != named_.end()) return found->second;
    if (const auto found = named_.find(name); found != named_.end()) return found->second;
    refuse(path, fmt::format("unknown type '{}'", name));
  }

  // Names a named type: its full name (from a dotted name, its namespace, or the enclosing one)
  // and the namespace its own definitions inherit.
  std::string define(schema_node& node, const json& j, const std::string& ns, const std::string& path) {
    const auto name = j.find("name");
    if (name == j.end() || !name->is_string()) refuse(path, fmt::format("a {} needs a \"name\"", type_name(node.type)));
    const auto& text = name->get_ref<const std::string&>();
    std::string space = ns;
    if (const auto given = j.find("namespace"); given != j.end()) {
      if (!given->is_string()) refuse(path, "\"namespace\" is not a string");
      space = given->get<std::string>();
    }
    node.full_name = text.contains('.') || space.empty() ? text : space + "." + text;
    if (!valid_full_name(node.full_name)) refuse(path, fmt::format("'{}' is not a valid Avro name", node.full_name));
    if (primitive(node.full_name)) refuse(path, fmt::format("'{}' redefines a primitive type", node.full_name));
    if (!named_.emplace(node.full_name, &node).second) {
      refuse(path, fmt::format("'{}' is defined twice", node.full_name));
    }
    const auto dot = node.full_name.rfind('.');
    const auto own_space = dot == std::string::npos ? std::string() : node.full_name.substr(0, dot);
    if (const auto aliases = j.find("aliases"); aliases != j.end()) {
      if (!aliases->is_array()) refuse(path, "\"aliases\" is not a list");
      for (const auto& alias : *aliases) {
        if (!alias.is_string() || !valid_full_name(alias.get<std::string>())) refuse(path, "an alias is not a name");
        const auto& a = alias.get_ref<const std::string&>();
        node.aliases.push_back(a.contains('.') || own_space.empty() ? a : own_space + "." + a);
      }
    }
    return own_space;
  }

  const schema_node* record(const json& j, const std::string& ns, const std::string& path) {
    auto& node = make(avro_type::record);
    const auto own_space = define(node, j, ns, path);
    const auto fields = j.find("fields");
    if (fields == j.end() || !fields->is_array()) refuse(path, "a record needs a \"fields\" list");
    std::set<std::string> names;
    for (std::size_t i = 0; i < fields->size(); ++i) {
      const auto& f = (*fields)[i];
      const auto here = fmt::format("{}.fields[{}]", path, i);
      if (!f.is_object()) refuse(here, "a field is not an object");
      const auto name = f.find("name");
      if (name == f.end() || !name->is_string() || !valid_name(name->get<std::string>())) {
        refuse(here, "a field needs a valid \"name\"");
      }
      schema_field field{.name = name->get<std::string>(), .aliases = {}, .type = nullptr, .default_bytes = {}};
      const auto named_here = fmt::format("{}.{}", path, field.name);
      if (!names.insert(field.name).second) refuse(named_here, "the field is defined twice");
      const auto t = f.find("type");
      if (t == f.end()) refuse(named_here, "a field needs a \"type\"");
      field.type = type(*t, own_space, named_here);
      if (const auto aliases = f.find("aliases"); aliases != f.end() && aliases->is_array()) {
        for (const auto& alias : *aliases) {
          if (alias.is_string()) field.aliases.push_back(alias.get<std::string>());
        }
      }
      if (const auto d = f.find("default"); d != f.end()) {
        std::string bytes;
        encode_default(*d, *field.type, bytes, named_here + ".default");
        field.default_bytes = std::move(bytes);
      }
      node.fields.push_back(std::move(field));
    }
    return &node;
  }

  const schema_node* enumeration(const json& j, const std::string& ns, const std::string& path) {
    auto& node = make(avro_type::enum_type);
    define(node, j, ns, path);
    const auto symbols = j.find("symbols");
    if (symbols == j.end() || !symbols->is_array()) refuse(path, "an enum needs a \"symbols\" list");
    for (const auto& s : *symbols) {
      if (!s.is_string() || !valid_name(s.get<std::string>()))
        refuse(path, fmt::format("symbol {} is not a name", s.dump()));
      if (std::ranges::find(node.symbols, s.get<std::string>()) != node.symbols.end()) {
        refuse(path, fmt::format("symbol {} appears twice", s.get<std::string>()));
      }
      node.symbols.push_back(s.get<std::string>());
    }
    if (const auto d = j.find("default"); d != j.end()) {
      const auto found = d->is_string() ? std::ranges::find(node.symbols, d->get<std::string>()) : node.symbols.end();
      if (found == node.symbols.end()) refuse(path, fmt::format("default {} is not one of the symbols", d->dump()));
      node.enum_default = static_cast<std::size_t>(found - node.symbols.begin());
    }
    return &node;
  }

  const schema_node* fixed(const json& j, const std::string& ns, const std::string& path) {
    auto& node = make(avro_type::fixed);
    define(node, j, ns, path);
    const auto size = j.find("size");
    if (size == j.end() || !size->is_number_unsigned()) refuse(path, "a fixed needs a non-negative \"size\"");
    node.size = size->get<std::size_t>();
    return &node;
  }

  const schema_node* container(const json& j, avro_type t, const char* attribute, const std::string& ns,
                               const std::string& path) {
    const auto inner = j.find(attribute);
    if (inner == j.end()) refuse(path, fmt::format("{} needs \"{}\"", type_name(t), attribute));
    const auto* items = type(*inner, ns, fmt::format("{}.{}", path, attribute));
    auto& node = make(t);
    node.items = items;
    return &node;
  }

  const schema_node* union_of(const json& j, const std::string& ns, const std::string& path) {
    if (j.empty()) refuse(path, "an empty union");
    std::vector<const schema_node*> branches;
    std::set<std::string> seen;
    for (std::size_t i = 0; i < j.size(); ++i) {
      const auto* branch = type(j[i], ns, fmt::format("{}[{}]", path, i));
      if (branch->type == avro_type::union_type) refuse(path, "a union directly inside a union");
      if (!seen.insert(branch->describe()).second) refuse(path, fmt::format("{} appears twice", branch->describe()));
      branches.push_back(branch);
    }
    auto& node = make(avro_type::union_type);
    node.branches = std::move(branches);
    return &node;
  }

  std::deque<schema_node>& nodes_;
  std::map<std::string, const schema_node*> named_;
  std::array<const schema_node*, 8> primitives_{};
};

// ----------------------------------------------------- canonical form

void canonical(const schema_node& node, std::set<const schema_node*>& defined, std::string& out) {
  const auto quoted = [](std::string_view text) { return fmt::format("\"{}\"", text); };
  if (node.named() && !defined.insert(&node).second) {
    out += quoted(node.full_name);
    return;
  }
  switch (node.type) {
    case avro_type::record:
      out += fmt::format(R"({{"name":"{}","type":"record","fields":[)", node.full_name);
      for (std::size_t i = 0; i < node.fields.size(); ++i) {
        out += fmt::format(R"({}{{"name":"{}","type":)", i ? "," : "", node.fields[i].name);
        canonical(*node.fields[i].type, defined, out);
        out += "}";
      }
      out += "]}";
      return;
    case avro_type::enum_type:
      out += fmt::format(R"({{"name":"{}","type":"enum","symbols":[)", node.full_name);
      for (std::size_t i = 0; i < node.symbols.size(); ++i)
        out += fmt::format("{}\"{}\"", i ? "," : "", node.symbols[i]);
      out += "]}";
      return;
    case avro_type::fixed:
      out += fmt::format(R"({{"name":"{}","type":"fixed","size":{}}})", node.full_name, node.size);
      return;
    case avro_type::array:
    case avro_type::map:
      out += fmt::format(R"({{"type":"{}","{}":)", type_name(node.type),
                         node.type == avro_type::array ? "items" : "values");
      canonical(*node.items, defined, out);
      out += "}";
      return;
    case avro_type::union_type:
      out += "[";
      for (std::size_t i = 0; i < node.branches.size(); ++i) {
        if (i) out += ",";
        canonical(*node.branches[i], defined, out);
      }
      out += "]";
      return;
    default: out += quoted(type_name(node.type));
  }
}

}  // namespace

struct avro_schema::parsed {
  std::deque<schema_node> nodes;
  const schema_node* root = nullptr;
  std::string canonical_form;
};

avro_schema::avro_schema(std::shared_ptr<const parsed> p) : parsed_(std::move(p)), root_(parsed_->root) {}

std::expected<avro_schema, schema_error> avro_schema::parse(std::string_view text) {
  json j;
  try {
    j = json::parse(text);
  } catch (const json::exception& e) {
    return std::unexpected(schema_error{fmt::format("not JSON: {}", e.what())});
  }
  auto p = std::make_shared<parsed>();
  try {
    parser reader(p->nodes);
    p->root = reader.type(j, "", "");
  } catch (const invalid_schema& e) {
    return std::unexpected(schema_error{e.message});
  } catch (const json::exception& e) {
    return std::unexpected(schema_error{e.what()});
  }
  std::set<const schema_node*> defined;
  canonical(*p->root, defined, p->canonical_form);
  return avro_schema(std::move(p));
}

const std::string& avro_schema::canonical_form() const { return parsed_->canonical_form; }

std::string_view avro_schema::name() const {
  return root_->named() ? std::string_view(root_->full_name) : detail::type_name(root_->type);
}

}  // namespace horizons
