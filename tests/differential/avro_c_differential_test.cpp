// Horizons' codec against avro-c, the Apache reference implementation, for
// every event type: seeded valid and extreme samples, in both directions.
//
//   forward: Horizons body -> avro_value_read -> JSON == horizons::to_json,
//            payload branch == the event's record, avro_value_write == the body
//   reverse: horizons::to_json -> avro-c value -> avro_value_write
//            -> horizons::decode_body == the event (and the bytes == the body)
//
// A failure names the event type, the range and the seed; the sample is
// horizons::event_sampler(seed, range).next(type).
#include <algorithm>
#include <cstdlib>
#include <map>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <tuple>
#include <variant>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <horizons/catalogue.hpp>
#include <horizons/codec.hpp>
#include <horizons/json.hpp>
#include <horizons/sample.hpp>

#include "avro_c_bridge.hpp"

namespace {

namespace avro_c = horizons::avro_c;
using json = nlohmann::ordered_json;

// HORIZONS_DIFFERENTIAL_SAMPLES=100000 turns the test into a soak run.
std::uint64_t samples_per_range() {
  const char* text = std::getenv("HORIZONS_DIFFERENTIAL_SAMPLES");
  return text != nullptr && std::atoll(text) > 0 ? static_cast<std::uint64_t>(std::atoll(text)) : 300;
}
// Stop reporting a type after this many bad samples: one bug, not 300 messages.
constexpr int max_reported_failures = 5;

// Everything avro-c needs for one topic, reused across samples.
struct oracle {
  avro_c::topic_schema topic;
  avro_c::generic_value read_value;   // what avro-c read from Horizons' bytes
  avro_c::generic_value built_value;  // what avro-c built from Horizons' JSON
  avro_c::memory_reader reader;
  avro_c::memory_writer writer;

  static oracle load(horizons::topic_id id) {
    auto topic = avro_c::topic_schema::load(id);
    if (!topic) throw std::runtime_error(topic.error());
    auto read_value = avro_c::generic_value::create(topic->iface());
    auto built_value = avro_c::generic_value::create(topic->iface());
    if (!read_value || !built_value) throw std::runtime_error("avro_generic_value_new failed");
    return {std::move(*topic), std::move(*read_value), std::move(*built_value), {}, {}};
  }
};

std::string hex(std::span<const std::byte> bytes) {
  std::string out;
  for (auto b : bytes) out += fmt::format("{:02x}", static_cast<unsigned>(b));
  return out;
}

std::string dump(const json& value) { return value.dump(-1, ' ', false, json::error_handler_t::replace); }

/// The schema record name of the payload branch an event holds ("JobSubmitted").
template <class... Records>
std::string_view record_name_of(const std::variant<Records...>& payload) {
  return std::visit([]<class Record>(const Record&) { return horizons::record_traits<Record>::avro_name; }, payload);
}

/// Horizons' own JSON of the event under test, rendered once per sample.
struct expected_json {
  std::string text;
  json value;

  template <class Payload>
  explicit expected_json(const horizons::event<Payload>& e) : text(horizons::to_json(e)), value(json::parse(text)) {}
};

/// Horizons' `body` read by avro-c must give the event's JSON, its payload
/// branch, and the same bytes when avro-c writes it back. nullopt: all agree.

template <class Payload>
std::optional<std::string> check_forward(oracle& o, const horizons::event<Payload>& e, const expected_json& want,
                                         std::span<const std::byte> body) {
  const auto& expected_text = want.text;
  const auto& expected = want.value;
  if (auto ok = o.reader.read(body, o.read_value.get()); !ok) {
    return fmt::format("avro-c cannot read Horizons' body: {}\n  horizons: {}\n  body:     {}", ok.error(),
                       expected_text, hex(body));
  }
  auto converted = avro_c::to_json(o.topic, o.read_value.get());
  if (!converted) {
    return fmt::format("cannot convert avro-c's value: {}\n  horizons: {}", converted.error(), expected_text);
  }
  // Value equality as asked, and text equality, which also tells 1 from 1.0.
  auto converted_text = dump(converted->json);
  if (converted->json != expected || converted_text != expected_text) {
    return fmt::format("avro-c reads other values than Horizons wrote\n  horizons: {}\n  avro-c:   {}", expected_text,
                       converted_text);
  }
  if (auto expected_record = record_name_of(e.payload); converted->payload_record != expected_record) {
    return fmt::format("avro-c read payload branch {} where Horizons wrote {}\n  horizons: {}\n  avro-c:   {}",
                       converted->payload_record, expected_record, expected_text, converted_text);
  }
  auto rewritten = o.writer.write(o.read_value.get());
  if (!rewritten) return fmt::format("avro-c cannot write the value it read: {}", rewritten.error());
  if (!std::ranges::equal(*rewritten, body)) {
    return fmt::format("avro-c writes other bytes than Horizons\n  horizons: {}\n  avro-c:   {}\n  json:     {}",
                       hex(body), hex(*rewritten), expected_text);
  }
  return std::nullopt;
}

/// avro-c building the event from `event_json` alone must write bytes that
/// Horizons decodes to exactly `e` (and that equal Horizons' own body).
template <class Payload>
std::optional<std::string> check_reverse(oracle& o, const horizons::event<Payload>& e, const expected_json& want,
                                         const json& event_json, std::span<const std::byte> body) {
  const auto& expected_text = want.text;
  if (auto ok = avro_c::from_json(o.topic, event_json, o.built_value.get()); !ok) {
    return fmt::format("avro-c cannot take Horizons' JSON: {}\n  horizons: {}\n  given:    {}", ok.error(),
                       expected_text, dump(event_json));
  }
  auto written = o.writer.write(o.built_value.get());
  if (!written) return fmt::format("avro-c cannot write: {}\n  horizons: {}", written.error(), expected_text);
  auto decoded = horizons::decode_body<Payload>(*written);
  if (!decoded) {
    return fmt::format("Horizons cannot decode avro-c's bytes: {}\n  horizons: {}\n  given:    {}\n  avro-c:   {}",
                       decoded.error().message, expected_text, dump(event_json), hex(*written));
  }
  if (!(*decoded == e)) {
    return fmt::format("Horizons decodes avro-c's bytes to another event\n  horizons: {}\n  decoded:  {}",
                       expected_text, horizons::to_json(*decoded));
  }
  if (!std::ranges::equal(*written, body)) {
    return fmt::format(
        "avro-c writes other bytes than Horizons for the same JSON\n  horizons: {}\n  avro-c:   {}\n"
        "  json:     {}",
        hex(body), hex(*written), expected_text);
  }
  return std::nullopt;
}

std::string_view range_name(horizons::sample_range range) {
  return range == horizons::sample_range::valid ? "valid" : "extreme";
}

class avro_c_differential : public ::testing::TestWithParam<std::tuple<std::string_view, horizons::sample_range>> {};

TEST_P(avro_c_differential, agrees_in_both_directions) {
  auto [event_type, range] = GetParam();
  auto topic = horizons::topic_of_event_type(event_type);
  ASSERT_TRUE(topic) << event_type;
  auto o = oracle::load(*topic);

  int failures = 0;
  auto samples = samples_per_range();
  horizons::byte_buffer body;
  for (std::uint64_t seed = 0; seed < samples && failures < max_reported_failures; ++seed) {
    auto sample = horizons::event_sampler(seed, range).next(event_type);
    ASSERT_TRUE(sample) << event_type;
    std::visit(
        [&](const auto& e) {
          body.clear();
          horizons::encode_body(e, body);
          expected_json want(e);
          auto forward = check_forward(o, e, want, body.bytes());
          auto reverse = check_reverse(o, e, want, want.value, body.bytes());
          for (const auto& failure : {forward, reverse}) {
            if (!failure) continue;
            ++failures;
            ADD_FAILURE() << event_type << " [" << range_name(range) << " seed " << seed << "; horizons::event_sampler("
                          << seed << ", sample_range::" << range_name(range) << ").next(\"" << event_type
                          << "\")]: " << *failure;
          }
        },
        *sample);
  }
}

INSTANTIATE_TEST_SUITE_P(every_event_type, avro_c_differential,
                         ::testing::Combine(::testing::ValuesIn(horizons::all_event_types),
                                            ::testing::Values(horizons::sample_range::valid,
                                                              horizons::sample_range::extreme)),
                         [](const auto& info) {
                           auto name = std::string(std::get<0>(info.param));
                           std::ranges::replace(name, '.', '_');
                           return name + "_" + std::string(range_name(std::get<1>(info.param)));
                         });

// The agreement above is worth what the samples reach: the extreme seeds used
// there must hit the codec's corners (seen in Horizons' own JSON of them).
TEST(avro_c_differential_inputs, extreme_seeds_reach_the_codec_corners) {
  // Doubles, enums, empty and multi-byte strings, null unions, empty maps and
  // arrays, int and long limits.
  std::map<std::string_view, int> corners{{"\"Infinity\"", 0},
                                          {"-0.0", 0},
                                          {"\"UNKNOWN\"", 0},
                                          {":\"\"", 0},
                                          {"🔭", 0},
                                          {"é", 0},
                                          {":null", 0},
                                          {":{}", 0},
                                          {":[]", 0},
                                          {"-2147483648", 0},
                                          {"-9223372036854775808", 0},
                                          {"9223372036854775807", 0}};
  int integer_timestamps = 0;
  for (auto event_type : horizons::all_event_types) {
    for (std::uint64_t seed = 0; seed < 300; ++seed) {
      auto sample = horizons::event_sampler(seed, horizons::sample_range::extreme).next(event_type);
      ASSERT_TRUE(sample);
      auto text = horizons::to_json(*sample);
      for (auto& [corner, hits] : corners) hits += text.find(corner) != std::string::npos;
      integer_timestamps += text.find("\"occurred_at\":\"") == std::string::npos;
    }
  }
  for (const auto& [corner, hits] : corners) EXPECT_GT(hits, 0) << "no extreme sample contains " << corner;
  EXPECT_GT(integer_timestamps, 0) << "no extreme sample has a timestamp outside years 1-9999";
}

TEST(avro_c_bridge, loads_every_topic_schema) {
  for (std::size_t i = 0; i < horizons::topic_count; ++i) {
    auto topic = avro_c::topic_schema::load(static_cast<horizons::topic_id>(i));
    ASSERT_TRUE(topic) << topic.error();
    EXPECT_EQ(avro_typeof(topic->schema()), AVRO_RECORD);
    EXPECT_EQ(avro_schema_name(topic->schema()), topic->schema_json()["name"].get<std::string>());
  }
}

// A checker that cannot fail proves nothing: corrupt one byte of a string and
// one JSON value, and both directions must say so, with both texts.
class avro_c_checker_can_fail : public ::testing::Test {
 protected:
  void SetUp() override {
    event_ = horizons::to_topic_event(horizons::event_sampler(7).next<horizons::job_submitted>());
    std::get<horizons::job_submitted>(event_.payload).job_name = "vlass-quicklook-T12t34-epoch3";
    horizons::encode_body(event_, body_);
  }
  horizons::job_lifecycle_event event_;
  horizons::byte_buffer body_;
};

TEST_F(avro_c_checker_can_fail, on_a_flipped_string_byte) {
  auto o = oracle::load(horizons::topic_id::job_lifecycle);
  expected_json want(event_);
  ASSERT_EQ(check_forward(o, event_, want, body_.bytes()), std::nullopt);

  std::string flipped(body_.view());
  auto at = flipped.find("quicklook");
  ASSERT_NE(at, std::string::npos);
  flipped[at] = 'Q';  // still valid UTF-8, so the JSON texts stay comparable
  auto failure = check_forward(o, event_, want, horizons::as_bytes(flipped));
  ASSERT_TRUE(failure) << "the checker did not notice a changed byte";
  EXPECT_NE(failure->find("avro-c reads other values"), std::string::npos) << *failure;
  EXPECT_NE(failure->find("\"job_name\":\"vlass-quicklook-T12t34-epoch3\""), std::string::npos) << *failure;
  EXPECT_NE(failure->find("\"job_name\":\"vlass-Quicklook-T12t34-epoch3\""), std::string::npos) << *failure;
}

TEST_F(avro_c_checker_can_fail, on_a_changed_json_value) {
  auto o = oracle::load(horizons::topic_id::job_lifecycle);
  expected_json want(event_);
  auto event_json = want.value;
  ASSERT_EQ(check_reverse(o, event_, want, event_json, body_.bytes()), std::nullopt);

  event_json["payload"]["resources"]["nodes"] = 4096;
  auto failure = check_reverse(o, event_, want, event_json, body_.bytes());
  ASSERT_TRUE(failure) << "the checker did not notice a changed value";
  EXPECT_NE(failure->find("decodes avro-c's bytes to another event"), std::string::npos) << *failure;
  EXPECT_NE(failure->find("\"nodes\":4096"), std::string::npos) << *failure;
}

}  // namespace
