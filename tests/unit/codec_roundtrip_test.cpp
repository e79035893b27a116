// Every event type survives Avro and JSON round trips, for seeded random
// events of the valid range and of the extreme range (codec corners).
#include <horizons/codec.hpp>
#include <horizons/json.hpp>
#include <horizons/sample.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <array>

namespace horizons {
namespace {

constexpr int events_per_type = 1000;

struct roundtrip_case {
  std::string_view event_type;
  sample_range range;
};

void PrintTo(const roundtrip_case& c, std::ostream* os) {
  *os << c.event_type << (c.range == sample_range::valid ? " (valid)" : " (extreme)");
}

std::string case_name(const testing::TestParamInfo<roundtrip_case>& info) {
  std::string name(info.param.event_type);
  for (auto& c : name) c = c == '.' ? '_' : c;
  return name + (info.param.range == sample_range::valid ? "_valid" : "_extreme");
}

std::vector<roundtrip_case> all_cases() {
  std::vector<roundtrip_case> cases;
  for (auto type : all_event_types) {
    cases.push_back({type, sample_range::valid});
    cases.push_back({type, sample_range::extreme});
  }
  return cases;
}

class roundtrip : public testing::TestWithParam<roundtrip_case> {};

TEST_P(roundtrip, framed_avro_decodes_to_the_same_event) {
  event_sampler sampler(0xA110 + static_cast<std::uint64_t>(GetParam().range), GetParam().range);
  byte_buffer buffer;
  for (int i = 0; i < events_per_type; ++i) {
    auto e = *sampler.next(GetParam().event_type);
    buffer.clear();
    encode_framed(e, buffer);
    auto decoded = decode_framed(buffer.bytes());
    ASSERT_TRUE(decoded) << "event " << i << ": " << decoded.error().message << "\n" << to_json(e);
    ASSERT_EQ(*decoded, e) << "event " << i << "\nwritten: " << to_json(e) << "\nread:    " << to_json(*decoded);
  }
}

TEST_P(roundtrip, body_decodes_into_the_single_payload_type_and_reuses_storage) {
  event_sampler sampler(0xB0D1 + static_cast<std::uint64_t>(GetParam().range), GetParam().range);
  byte_buffer buffer;
  for (int i = 0; i < events_per_type; ++i) {
    auto e = *sampler.next(GetParam().event_type);
    std::visit(
        [&](const auto& topic_event) {
          using payload_variant = std::decay_t<decltype(topic_event.payload)>;
          buffer.clear();
          encode_body(topic_event, buffer);
          // One reused target: decoding over a previous event must leave no trace of it.
          static thread_local event<payload_variant> target;
          auto ok = decode_body(buffer.bytes(), target);
          ASSERT_TRUE(ok) << ok.error().message;
          ASSERT_EQ(target, topic_event) << "event " << i;
        },
        e);
  }
}

TEST_P(roundtrip, json_to_event_to_json_is_exact) {
  event_sampler sampler(0x1503 + static_cast<std::uint64_t>(GetParam().range), GetParam().range);
  for (int i = 0; i < events_per_type; ++i) {
    auto e = *sampler.next(GetParam().event_type);
    auto text = to_json(e);
    auto parsed = any_event_from_json(text);
    ASSERT_TRUE(parsed) << "event " << i << ": " << parsed.error().message << "\n" << text;
    ASSERT_EQ(*parsed, e) << text;
    ASSERT_EQ(to_json(*parsed), text);
  }
}

INSTANTIATE_TEST_SUITE_P(every_event_type, roundtrip, testing::ValuesIn(all_cases()), case_name);

TEST(roundtrip_single_type, decoding_a_record_of_another_type_is_refused) {
  event_sampler sampler(7);
  byte_buffer buffer;
  encode_body(sampler.next<job_failed>(), buffer);
  auto as_submitted = decode_body<job_submitted>(buffer.bytes());
  ASSERT_FALSE(as_submitted);
  EXPECT_EQ(as_submitted.error().code, codec_errc::wrong_event_type);
  auto as_failed = decode_body<job_failed>(buffer.bytes());
  EXPECT_TRUE(as_failed) << as_failed.error().message;
}

TEST(roundtrip_single_type, single_payload_and_topic_variant_encode_identically) {
  event_sampler sampler(11);
  auto e = sampler.next<alert_raised>();
  byte_buffer narrow, wide;
  encode_framed(e, narrow);
  encode_framed(to_topic_event(e), wide);
  EXPECT_EQ(narrow.view(), wide.view());
}

// A map key repeated on the wire keeps its last value (as Avro readers do), whether the entry is decoded
// into a fresh map or into nodes left over from the previous event.
TEST(roundtrip_single_type, a_map_key_repeated_on_the_wire_keeps_its_last_value) {
  event_sampler sampler(13);
  auto e = sampler.next<job_failed>();
  e.tags = {{"a", "1"}, {"b", "2"}};
  byte_buffer buffer;
  encode_body(e, buffer);
  auto bytes = std::vector<std::byte>(buffer.bytes().begin(), buffer.bytes().end());
  // The second entry's key "b" (length 1, zig-zag 0x02) becomes "a".
  const std::array<std::byte, 4> second_entry{std::byte{0x02}, std::byte{'b'}, std::byte{0x02}, std::byte{'2'}};
  auto at = std::ranges::search(bytes, second_entry);
  ASSERT_FALSE(at.empty());
  at[1] = std::byte{'a'};

  auto fresh = decode_body<job_failed>(bytes);
  ASSERT_TRUE(fresh) << fresh.error().message;
  EXPECT_EQ(fresh->tags, (std::map<std::string, std::string>{{"a", "2"}}));

  event<job_failed> reused = e;
  reused.tags = {{"x", "old"}, {"y", "old"}, {"z", "old"}};
  ASSERT_TRUE(decode_body(bytes, reused));
  EXPECT_EQ(reused.tags, (std::map<std::string, std::string>{{"a", "2"}}));
}

}  // namespace
}  // namespace horizons
