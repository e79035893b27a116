// The evolution matrix the schema tests share: pairs of Avro schemas, one per resolution rule, that a
// reader of the second must read from a writer of the first (with a value and what it reads as), and
// changes a reader cannot read, each with the problem and where. The unit tests check Horizons'
// resolution against avro-c and python-avro on it; the registry tests check that Horizons' registry
// and an independent one give the same compatibility verdicts on it.
#pragma once

#include <horizons/schema_evolution.hpp>

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

namespace testing_support {

/// A record `t.<name>` with the given fields (JSON text of each, comma-separated).
inline std::string record(const std::string& name, const std::string& fields) {
  return R"({"type":"record","name":")" + name + R"(","namespace":"t","fields":[)" + fields + "]}";
}

/// A change a reader can read: `value` written with `writer` reads as `expected` with `reader`.
struct evolution {
  std::string rule;
  std::string writer, reader;
  nlohmann::json value;  // written with `writer`
  std::string expected;  // avro-c's JSON of the value read as `reader`
  // Which oracles implement the rule (avro-c 1.11 and Debian's python3-avro 1.11.1 each lack some).
  bool avro_c = true;
  bool python = true;
};

inline std::vector<evolution> evolutions() {
  using json = nlohmann::json;
  const std::string id = R"({"name":"id","type":"string"})";
  const std::string color = R"({"type":"enum","name":"Color","symbols":["RED","GREEN","BLUE"],"default":"RED"})";
  const std::string inner_v1 = record("Res", R"({"name":"nodes","type":"int"})");
  const std::string inner_v2 =
      record("Res", R"({"name":"nodes","type":"int"},{"name":"gpus","type":"int","default":0})");
  return {
      {"a field added with a default",
       record("J", id),
       record("J",
              id +
                  R"(,{"name":"band","type":["null","string"],"default":null},{"name":"n","type":"long","default":7},)"
                  R"({"name":"tags","type":{"type":"array","items":"string"},"default":["a","b"]},)"
                  R"({"name":"attrs","type":{"type":"map","values":"int"},"default":{"k":1}},)"
                  R"({"name":"res","type":)" +
                  inner_v1 +
                  R"(,"default":{"nodes":4}},)"
                  R"({"name":"c","type":)" +
                  color +
                  R"(,"default":"BLUE"},{"name":"f","type":"float","default":1.5},)"
                  R"({"name":"raw","type":"bytes","default":"AB"})"),
       {{"id", "j1"}},
       R"({"id": "j1", "band": null, "n": 7, "tags": ["a", "b"], "attrs": {"k": 1}, "res": {"nodes": 4}, "c": "BLUE", "f": 1.5, "raw": "AB"})",
       false},
      {"a bytes default with code points above 127",
       record("J", id),
       record("J", id + R"(,{"name":"raw","type":"bytes","default":"\u00ffA"})"),
       {{"id", "j1"}},
       R"({"id": "j1", "raw": "\u00FFA"})",
       false,
       false},
      {"a field removed",
       record("J", id + R"(,{"name":"old","type":{"type":"array","items":)" + inner_v1 +
                       "}},{\"name\":\"n\",\"type\":\"int\"}"),
       record("J", id + R"(,{"name":"n","type":"int"})"),
       {{"id", "j2"}, {"old", json::array({{{"nodes", 3}}, {{"nodes", 5}}})}, {"n", -9}},
       R"({"id": "j2", "n": -9})"},
      {"fields in another order",
       record("J", id + R"(,{"name":"a","type":"int"},{"name":"b","type":"string"})"),
       record("J", R"({"name":"b","type":"string"},{"name":"a","type":"int"},)" + id),
       {{"id", "j3"}, {"a", 1}, {"b", "x"}},
       R"({"b": "x", "a": 1, "id": "j3"})"},
      {"an enum symbol the reader lacks, read as the reader's default",
       record("J", R"({"name":"c","type":{"type":"enum","name":"Color","symbols":["RED","GREEN","BLUE","VIOLET"]}})"),
       record("J", R"({"name":"c","type":)" + color + "}"),
       {{"c", "VIOLET"}},
       R"({"c": "RED"})",
       false,
       false},
      {"enum symbols reordered",
       record("J", R"({"name":"c","type":{"type":"enum","name":"Color","symbols":["BLUE","RED"]}})"),
       record("J", R"({"name":"c","type":)" + color + "}"),
       {{"c", "BLUE"}},
       R"({"c": "BLUE"})",
       false},
      {"a union branch added",
       record("J", R"({"name":"v","type":["null","int"]})"),
       record("J", R"({"name":"v","type":["null","string","int"]})"),
       {{"v", {{"branch", 1}, {"value", 5}}}},
       R"({"v": {"int": 5}})"},
      {"a plain type read as a union",
       record("J", R"({"name":"v","type":"string"})"),
       record("J", R"({"name":"v","type":["null","string"]})"),
       {{"v", "s"}},
       R"({"v": {"string": "s"}})"},
      {"a union read as a plain type",
       record("J", R"({"name":"v","type":["int","long"]})"),
       record("J", R"({"name":"v","type":"long"})"),
       {{"v", {{"branch", 0}, {"value", 42}}}},
       R"({"v": 42})",
       true,
       false},
      {"int promoted to long",
       record("J", R"({"name":"v","type":"int"})"),
       record("J", R"({"name":"v","type":"long"})"),
       {{"v", -2147483648}},
       R"({"v": -2147483648})"},
      {"int promoted to float",
       record("J", R"({"name":"v","type":"int"})"),
       record("J", R"({"name":"v","type":"float"})"),
       {{"v", 3}},
       R"({"v": 3.0})"},
      {"int promoted to double",
       record("J", R"({"name":"v","type":"int"})"),
       record("J", R"({"name":"v","type":"double"})"),
       {{"v", 7}},
       R"({"v": 7.0})"},
      {"long promoted to float",
       record("J", R"({"name":"v","type":"long"})"),
       record("J", R"({"name":"v","type":"float"})"),
       {{"v", 1024}},
       R"({"v": 1024.0})"},
      {"long promoted to double",
       record("J", R"({"name":"v","type":"long"})"),
       record("J", R"({"name":"v","type":"double"})"),
       {{"v", 1234567890123}},
       R"({"v": 1234567890123.0})"},
      {"float promoted to double",
       record("J", R"({"name":"v","type":"float"})"),
       record("J", R"({"name":"v","type":"double"})"),
       {{"v", 0.5}},
       R"({"v": 0.5})"},
      {"string read as bytes",
       record("J", R"({"name":"v","type":"string"})"),
       record("J", R"({"name":"v","type":"bytes"})"),
       {{"v", "hello"}},
       R"({"v": "hello"})",
       false,
       false},
      {"bytes read as string",
       record("J", R"({"name":"v","type":"bytes"})"),
       record("J", R"({"name":"v","type":"string"})"),
       {{"v", "hi"}},
       R"({"v": "hi"})",
       false,
       false},
      {"a nested record evolved inside an array and a map",
       record("J", R"({"name":"list","type":{"type":"array","items":)" + inner_v1 +
                       R"(}},{"name":"by","type":{"type":"map","values":"Res"}})"),
       record("J", R"({"name":"list","type":{"type":"array","items":)" + inner_v2 +
                       R"(}},{"name":"by","type":{"type":"map","values":"Res"}})"),
       {{"list", json::array({{{"nodes", 1}}, {{"nodes", 2}}})}, {"by", {{"x", {{"nodes", 9}}}}}},
       R"({"list": [{"nodes": 1, "gpus": 0}, {"nodes": 2, "gpus": 0}], "by": {"x": {"nodes": 9, "gpus": 0}}})",
       false},
      {"a union of records, one evolved",
       record("J", R"({"name":"p","type":[)" + inner_v1 +
                       R"(,{"type":"record","name":"Other","fields":[{"name":"s","type":"string"}]}]})"),
       record("J", R"({"name":"p","type":[)" + inner_v2 +
                       R"(,{"type":"record","name":"Other","fields":[{"name":"s","type":"string"}]}]})"),
       {{"p", {{"branch", 0}, {"value", {{"nodes", 8}}}}}},
       R"({"p": {"Res": {"nodes": 8, "gpus": 0}}})",
       false},
      {"a field renamed with an alias",
       record("J", R"({"name":"old_name","type":"int"})"),
       record("J", R"({"name":"new_name","type":"int","aliases":["old_name"]})"),
       {{"old_name", 5}},
       R"({"new_name": 5})",
       false,
       false},
  };
}

/// A change a reader cannot read: what is wrong, and where ("never": it can, despite appearances).
struct breaking_change {
  std::string writer, reader;
  horizons::incompatibility::kind what;
  std::string path;
};

inline std::vector<breaking_change> breaking_changes() {
  using enum horizons::incompatibility::kind;
  return {
      {record("J", R"({"name":"a","type":"int"})"),
       record("J", R"({"name":"a","type":"int"},{"name":"res","type":)" +
                       record("Res", R"({"name":"gpus","type":"int"})") + R"(,"default":{"gpus":1}})"),
       missing_default, "never"},
      {record("J", R"({"name":"res","type":)" + record("Res", R"({"name":"nodes","type":"int"})") + "}"),
       record("J", R"({"name":"res","type":)" +
                       record("Res", R"({"name":"nodes","type":"int"},{"name":"gpus","type":"int"})") + "}"),
       missing_default, "res.gpus"},
      {record("J", R"({"name":"a","type":"int"})"), record("J", R"({"name":"a","type":"string"})"), type_mismatch, "a"},
      {record("J", R"({"name":"a","type":"long"})"), record("J", R"({"name":"a","type":"int"})"), type_mismatch, "a"},
      {record("J", R"({"name":"a","type":"double"})"), record("J", R"({"name":"a","type":"float"})"), type_mismatch,
       "a"},
      {record("J", R"({"name":"c","type":{"type":"enum","name":"C","symbols":["A","B"]}})"),
       record("J", R"({"name":"c","type":{"type":"enum","name":"C","symbols":["A"]}})"), missing_enum_symbol, "c"},
      {record("J", R"({"name":"v","type":["null","int","string"]})"),
       record("J", R"({"name":"v","type":["null","int"]})"), missing_union_branch, "v"},
      {record("J", R"({"name":"v","type":["null","int"]})"), record("J", R"({"name":"v","type":"int"})"),
       missing_union_branch, "v"},
      {record("J", R"({"name":"v","type":{"type":"fixed","name":"F","size":4}})"),
       record("J", R"({"name":"v","type":{"type":"fixed","name":"F","size":8}})"), fixed_size_mismatch, "v"},
      {record("J", R"({"name":"a","type":"int"})"), record("K", R"({"name":"a","type":"int"})"), name_mismatch, ""},
  };
}

}  // namespace testing_support
