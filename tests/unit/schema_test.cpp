// The schemas in schemas/ are valid Avro: avro-c parses each one and finds
// it compatible with itself, and a strict walk checks what avro-c lets
// through (namespaces, enum symbols, enum defaults, logical types, union
// rules, defaults). The walk is shown to catch the mistakes of the first
// version of this contract (hyphenated namespace, dotted enum symbols).
#include <horizons/catalogue.hpp>

#include <avro.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <memory>
#include <regex>
#include <set>

namespace horizons {

void PrintTo(const topic_spec& t, std::ostream* os) { *os << t.name(); }

namespace {

using json = nlohmann::json;

struct schema_deleter {
  void operator()(avro_schema_t schema) const { avro_schema_decref(schema); }
};
using schema_ptr = std::unique_ptr<std::remove_pointer_t<avro_schema_t>, schema_deleter>;

struct parse_result {
  schema_ptr schema;
  std::string error;
};

parse_result parse_with_avro_c(std::string_view text) {
  avro_schema_t raw = nullptr;
  if (avro_schema_from_json_length(text.data(), text.size(), &raw) != 0) return {nullptr, avro_strerror()};
  return {schema_ptr(raw), {}};
}

// Problems the Avro specification forbids, collected with the path where they occur.
class spec_walk {
 public:
  std::vector<std::string> problems;

  void check(const json& schema, const std::string& path, const std::string& ns) {
    if (schema.is_string()) return check_reference(schema.get<std::string>(), path, ns);
    if (schema.is_array()) return check_union(schema, path, ns);
    if (!schema.is_object() || !schema.contains("type")) return problem(path, "is not a schema");
    auto type = schema["type"].get<std::string>();
    if (schema.contains("logicalType")) check_logical(schema, type, path);
    if (type == "record") return check_record(schema, path, ns);
    if (type == "enum") return check_enum(schema, path, ns);
    if (type == "array") return check(schema["items"], path + "[]", ns);
    if (type == "map") return check(schema["values"], path + "{}", ns);
    if (!primitives.contains(type)) problem(path, "unknown type '" + type + "'");
  }

 private:
  const std::set<std::string> primitives{"null", "boolean", "int", "long", "float", "double", "bytes", "string"};
  std::set<std::string> defined;

  void problem(const std::string& path, const std::string& what) { problems.push_back(path + ": " + what); }

  static bool is_name(const std::string& name) {
    static const std::regex pattern("[A-Za-z_][A-Za-z0-9_]*");
    return std::regex_match(name, pattern);
  }
  void check_namespace(const std::string& ns, const std::string& path) {
    if (ns.empty()) return;
    std::size_t start = 0;
    for (;;) {
      auto dot = ns.find('.', start);
      if (!is_name(ns.substr(start, dot - start))) problem(path, "namespace '" + ns + "' is not dotted Avro names");
      if (dot == std::string::npos) break;
      start = dot + 1;
    }
  }
  std::string define(const json& schema, const std::string& path, const std::string& ns) {
    auto name = schema.value("name", "");
    if (!is_name(name)) problem(path, "name '" + name + "' is not a valid Avro name");
    auto own_ns = schema.value("namespace", ns);
    check_namespace(own_ns, path);
    auto fullname = own_ns.empty() ? name : own_ns + "." + name;
    if (!defined.insert(fullname).second) problem(path, fullname + " is defined twice");
    return own_ns;
  }
  void check_reference(const std::string& name, const std::string& path, const std::string& ns) {
    if (primitives.contains(name)) return;
    auto fullname = name.find('.') == std::string::npos ? ns + "." + name : name;
    if (!defined.contains(fullname)) problem(path, "reference to undefined type '" + name + "'");
  }
  void check_record(const json& schema, const std::string& path, const std::string& ns) {
    auto own_ns = define(schema, path, ns);
    std::set<std::string> names;
    for (const auto& field : schema["fields"]) {
      auto name = field.value("name", "");
      auto field_path = path + "." + name;
      if (!is_name(name)) problem(field_path, "field name is not a valid Avro name");
      if (!names.insert(name).second) problem(field_path, "duplicate field");
      check(field["type"], field_path, own_ns);
      if (field.contains("default")) check_default(field["type"], field["default"], field_path);
    }
  }
  void check_enum(const json& schema, const std::string& path, const std::string& ns) {
    define(schema, path, ns);
    std::set<std::string> symbols;
    for (const auto& symbol : schema["symbols"]) {
      auto text = symbol.get<std::string>();
      if (!is_name(text)) problem(path, "enum symbol '" + text + "' is not a valid Avro name");
      if (!symbols.insert(text).second) problem(path, "duplicate enum symbol '" + text + "'");
    }
    if (!schema.contains("default")) {
      problem(path, "enum has no default symbol (readers would fail on new symbols)");
    } else if (!symbols.contains(schema["default"].get<std::string>())) {
      problem(path, "enum default is not one of its symbols");
    } else if (schema["default"] != "UNKNOWN") {
      // The default is what a reader makes of a symbol added later: a symbol writers also send
      // (OTHER) would make "added later" and that real value the same.
      problem(path, "enum default must be UNKNOWN, the reader-only symbol writers never send");
    }
  }
  void check_union(const json& branches, const std::string& path, const std::string& ns) {
    std::set<std::string> kinds;
    for (const auto& branch : branches) {
      if (branch.is_array()) problem(path, "a union may not directly contain a union");
      auto kind = branch.is_string()        ? branch.get<std::string>()
                  : branch.contains("name") ? branch["name"].get<std::string>()
                                            : branch["type"].get<std::string>();
      if (!kinds.insert(kind).second) problem(path, "union has two branches of type '" + kind + "'");
      check(branch, path, ns);
    }
  }
  void check_logical(const json& schema, const std::string& type, const std::string& path) {
    auto logical = schema["logicalType"].get<std::string>();
    if (logical == "uuid" && type != "string") problem(path, "uuid must annotate a string");
    if ((logical == "timestamp-micros" || logical == "timestamp-millis") && type != "long") {
      problem(path, logical + " must annotate a long");
    }
  }
  void check_default(const json& type, const json& value, const std::string& path) {
    // A union's default must match its first branch.
    const json& first = type.is_array() ? type[0] : type;
    if (first == "null" && !value.is_null()) problem(path, "default must be null (the union's first branch)");
    if (first.is_object() && first.value("type", "") == "map" && !value.is_object())
      problem(path, "map default must be an object");
    if (first.is_object() && first.value("type", "") == "array" && !value.is_array())
      problem(path, "array default must be an array");
  }
};

std::vector<std::string> spec_problems(std::string_view text) {
  spec_walk walk;
  walk.check(json::parse(text), "schema", "");
  return walk.problems;
}

class topic_schema : public testing::TestWithParam<topic_spec> {};

TEST_P(topic_schema, avro_c_parses_it) {
  auto parsed = parse_with_avro_c(schema_json(GetParam().id));
  ASSERT_TRUE(parsed.schema) << GetParam().name() << ": " << parsed.error;
  EXPECT_TRUE(is_avro_record(parsed.schema.get()));
  auto fields = avro_schema_record_size(parsed.schema.get());
  EXPECT_EQ(std::string(avro_schema_record_field_name(parsed.schema.get(), static_cast<int>(fields) - 1)), "payload");
}

TEST_P(topic_schema, avro_c_finds_it_compatible_with_itself) {
  auto parsed = parse_with_avro_c(schema_json(GetParam().id));
  ASSERT_TRUE(parsed.schema) << parsed.error;
  avro_value_iface_t* resolver = avro_resolved_writer_new(parsed.schema.get(), parsed.schema.get());
  ASSERT_NE(resolver, nullptr) << avro_strerror();
  avro_value_iface_decref(resolver);
}

TEST_P(topic_schema, follows_the_avro_specification_strictly) {
  auto problems = spec_problems(schema_json(GetParam().id));
  for (const auto& p : problems) ADD_FAILURE() << GetParam().name() << ": " << p;
}

TEST_P(topic_schema, payload_union_names_every_event_type_of_the_topic) {
  auto schema = json::parse(schema_json(GetParam().id));
  std::size_t branches = schema["fields"].back()["type"].size();
  std::size_t of_topic = 0;
  for (auto type : all_event_types) of_topic += topic_of_event_type(type) == GetParam().id ? 1 : 0;
  EXPECT_EQ(branches, of_topic);
}

INSTANTIATE_TEST_SUITE_P(every_topic, topic_schema, testing::ValuesIn(catalogue), [](const auto& info) {
  std::string name(info.param.name());
  for (auto& c : name) c = c == '-' ? '_' : c;
  return name;
});

TEST(schema_rules, catch_the_mistakes_of_the_first_contract) {
  auto hyphenated = spec_problems(
      R"({"type":"record","name":"JobEvent","namespace":"cosmic-horizons.events","fields":[{"name":"x","type":"int"}]})");
  ASSERT_EQ(hyphenated.size(), 1u);
  EXPECT_NE(hyphenated[0].find("namespace 'cosmic-horizons.events'"), std::string::npos);

  auto dotted = spec_problems(
      R"({"type":"enum","name":"EventType","symbols":["job.submitted","job.failed"],"default":"job.failed"})");
  EXPECT_EQ(dotted.size(), 3u);  // two symbols that are not names, and a default writers send

  auto writable_default =
      spec_problems(R"({"type":"enum","name":"Pipeline","symbols":["ALPHA","OTHER"],"default":"OTHER"})");
  ASSERT_EQ(writable_default.size(), 1u);
  EXPECT_NE(writable_default[0].find("enum default must be UNKNOWN"), std::string::npos);

  auto no_default = spec_problems(R"({"type":"enum","name":"Severity","symbols":["INFO","CRITICAL"]})");
  ASSERT_EQ(no_default.size(), 1u);
  EXPECT_NE(no_default[0].find("no default"), std::string::npos);

  auto bad_logical = spec_problems(R"({"type":"long","logicalType":"uuid"})");
  EXPECT_EQ(bad_logical.size(), 1u);
}

TEST(schema_rules, avro_c_rejects_what_it_can) {
  auto parsed = parse_with_avro_c(R"({"type":"record","name":"Job-Event","fields":[{"name":"x","type":"int"}]})");
  EXPECT_FALSE(parsed.schema);
  EXPECT_FALSE(parsed.error.empty());
}

}  // namespace
}  // namespace horizons
