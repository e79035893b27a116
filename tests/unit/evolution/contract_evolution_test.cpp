// The contract's own evolution, version 1 -> 2 of job-lifecycle (schemas/history): `Pipeline` and
// `TaccSystem` gained a reader-only default, UNKNOWN, so that a symbol added later reads as
// UNKNOWN instead of as OTHER, which writers send. Old and new bytes are read both ways.
#include <horizons/catalogue.hpp>
#include <horizons/codec.hpp>
#include <horizons/sample.hpp>
#include <horizons/schema_evolution.hpp>
#include <horizons/validate.hpp>

#include <avro.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <fstream>
#include <functional>
#include <sstream>
#include <string>

namespace horizons {
namespace {

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  EXPECT_TRUE(in) << path;
  return text.str();
}

avro_schema parse(const std::string& text) {
  auto s = avro_schema::parse(text);
  EXPECT_TRUE(s) << s.error().message;
  return *s;
}

const std::string history = std::string(HORIZONS_SCHEMAS_DIR) + "/history/job-lifecycle/";

event<job_submitted> submitted(pipeline p, tacc_system system) {
  event_sampler sampler(7);
  auto e = sampler.next<job_submitted>();
  e.payload.pipeline = p;
  e.payload.tacc_system = system;
  return e;
}

// `writer_body` (written with `writer`) as this build reads it.
event<job_submitted> read_as_this_build(const std::string& writer, std::span<const std::byte> writer_body) {
  auto plan = resolution_plan::build(parse(writer), parse(std::string(schema_json(topic_id::job_lifecycle))));
  EXPECT_TRUE(plan);
  byte_buffer body;
  EXPECT_TRUE(plan->translate(writer_body, body));
  auto decoded = decode_body<job_submitted>(body.bytes());
  EXPECT_TRUE(decoded) << decoded.error().message;
  return decoded.value_or(event<job_submitted>{});
}

// What a reader built from `reader` (avro-c, exact) sees as payload.pipeline in this build's bytes.
std::string pipeline_seen_by(const std::string& reader, std::span<const std::byte> body) {
  auto plan = resolution_plan::build(parse(std::string(schema_json(topic_id::job_lifecycle))), parse(reader));
  EXPECT_TRUE(plan);
  byte_buffer translated;
  EXPECT_TRUE(plan->translate(body, translated));
  avro_schema_t schema = nullptr;
  EXPECT_EQ(avro_schema_from_json_length(reader.data(), reader.size(), &schema), 0) << avro_strerror();
  avro_value_iface_t* iface = avro_generic_class_from_schema(schema);
  avro_value_t value;
  avro_generic_value_new(iface, &value);
  avro_reader_t in =
      avro_reader_memory(reinterpret_cast<const char*>(translated.data()), static_cast<int64_t>(translated.size()));
  EXPECT_EQ(avro_value_read(in, &value), 0) << avro_strerror();
  avro_value_t payload, branch, field;
  int symbol = -1;
  avro_value_get_by_name(&value, "payload", &payload, nullptr);
  avro_value_get_current_branch(&payload, &branch);
  avro_value_get_by_name(&branch, "pipeline", &field, nullptr);
  avro_value_get_enum(&field, &symbol);
  std::string name = avro_schema_enum_get(avro_value_get_schema(&field), symbol);
  avro_reader_free(in);
  avro_value_decref(&value);
  avro_value_iface_decref(iface);
  avro_schema_decref(schema);
  return name;
}

TEST(contract_evolution, version_2_is_compatible_both_ways_with_version_1) {
  const auto v1 = parse(read_file(history + "v1.avsc"));
  const auto v2 = parse(read_file(history + "v2.avsc"));
  EXPECT_TRUE(check_compatibility(compatibility_level::full_transitive, v2, std::vector{v1}).empty());
  EXPECT_EQ(v2.canonical_form(), parse(std::string(schema_json(topic_id::job_lifecycle))).canonical_form())
      << "this build's schema is the latest released version";
}

TEST(contract_evolution, old_bytes_read_by_the_new_build_and_new_bytes_by_an_old_reader) {
  const auto e = submitted(pipeline::other, tacc_system::other);
  byte_buffer body;
  encode_body(e, body);  // OTHER has the same index in both versions: these are version 1's bytes too
  EXPECT_EQ(read_as_this_build(read_file(history + "v1.avsc"), body.bytes()), e);
  EXPECT_EQ(pipeline_seen_by(read_file(history + "v1.avsc"), body.bytes()), "OTHER");
}

TEST(contract_evolution, a_symbol_added_later_reads_as_unknown_not_as_other) {
  // Version 3, as a later build might write it: a new pipeline after UNKNOWN.
  auto v3 = nlohmann::json::parse(read_file(history + "v2.avsc"));
  std::string v3_text;
  std::function<bool(nlohmann::json&)> add_symbol = [&](nlohmann::json& j) {
    if (j.is_object() && j.contains("type") && j["type"] == "enum" && j.contains("name") && j["name"] == "Pipeline") {
      j["symbols"].push_back("SPECTRAL_LINE");
      return true;
    }
    if (j.is_object() || j.is_array()) {
      for (auto& child : j) {
        if (add_symbol(child)) return true;
      }
    }
    return false;
  };
  ASSERT_TRUE(add_symbol(v3));
  v3_text = v3.dump();
  // Its bytes for SPECTRAL_LINE: this build's bytes with the pipeline's index set to 5.
  auto e = submitted(pipeline::alpha_cal, tacc_system::frontera);
  byte_buffer body;
  encode_body(e, body);
  auto translated = [&](const std::string& writer, const std::string& reader) {
    auto plan = resolution_plan::build(parse(writer), parse(reader));
    EXPECT_TRUE(plan);
    byte_buffer out;
    EXPECT_TRUE(plan->translate(body.bytes(), out));
    return out;
  };
  auto v3_body = translated(std::string(schema_json(topic_id::job_lifecycle)), v3_text);
  // ALPHA_CAL is index 0, the one byte 0x00 right after job_name; rewrite it as 5 (zig-zag 0x0a).
  const auto job_name = e.payload.job_name;
  const auto view = v3_body.view();
  const auto at = view.find(job_name) + job_name.size();
  ASSERT_EQ(view[at], '\0');
  v3_body.data()[at] = std::byte{0x0a};

  const auto read = read_as_this_build(v3_text, v3_body.bytes());
  EXPECT_EQ(read.payload.pipeline, pipeline::unknown) << "a symbol this build does not know";
  EXPECT_NE(read.payload.pipeline, pipeline::other);
}

TEST(contract_evolution, writers_may_send_other_but_never_the_reader_only_unknown) {
  EXPECT_TRUE(validate(submitted(pipeline::other, tacc_system::other)));
  auto refused = validate(submitted(pipeline::unknown, tacc_system::frontera));
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().message.find("pipeline must not be UNKNOWN (a reader-only symbol)"), std::string::npos)
      << refused.error().message;
  EXPECT_FALSE(validate(submitted(pipeline::alpha_cal, tacc_system::unknown)));
}

}  // namespace
}  // namespace horizons
