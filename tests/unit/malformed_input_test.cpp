// Bad bytes and bad JSON are refused with an error naming the problem:
// never a crash, never an allocation sized by a length the input claims.
#include <horizons/catalogue.hpp>
#include <horizons/codec.hpp>
#include <horizons/json.hpp>
#include <horizons/sample.hpp>

#include <gtest/gtest.h>

#include "codec/avro_binary.hpp"
#include "mutate.hpp"

namespace horizons {
namespace {

using detail::avro_writer;
using detail::encode_value;

// A framed job-lifecycle record built field by field, so each test can break exactly one thing.
class record_builder {
 public:
  explicit record_builder(std::int32_t schema_id = spec(topic_id::job_lifecycle).schema_id) {
    const std::uint8_t header[5] = {0, static_cast<std::uint8_t>(schema_id >> 24),
                                    static_cast<std::uint8_t>(schema_id >> 16),
                                    static_cast<std::uint8_t>(schema_id >> 8), static_cast<std::uint8_t>(schema_id)};
    buffer_.append(std::as_bytes(std::span(header)));
  }
  record_builder& envelope_of(std::string_view event_type) {
    event_sampler sampler(3);
    envelope env = sampler.next<job_submitted>();
    env.event_type = std::string(event_type);
    encode_value(writer_, env);
    return *this;
  }
  record_builder& value(const auto& v) {
    encode_value(writer_, v);
    return *this;
  }
  record_builder& varint(std::int64_t v) {
    writer_.write_long(v);
    return *this;
  }
  record_builder& raw(std::initializer_list<std::uint8_t> bytes) {
    for (auto b : bytes) writer_.write_byte(b);
    return *this;
  }
  [[nodiscard]] std::span<const std::byte> bytes() const { return buffer_.bytes(); }

 private:
  byte_buffer buffer_;
  avro_writer writer_{buffer_};
};

void expect_error(std::span<const std::byte> record, codec_errc code, std::string_view words) {
  auto decoded = decode_framed(record);
  ASSERT_FALSE(decoded) << "decoded a malformed record: " << to_json(*decoded);
  EXPECT_EQ(decoded.error().code, code) << decoded.error().message;
  EXPECT_NE(decoded.error().message.find(words), std::string::npos)
      << "message '" << decoded.error().message << "' does not mention '" << words << "'";
  EXPECT_EQ(decoded.error().message.find('\n'), std::string::npos) << "message must be one line";
}

TEST(malformed_bytes, every_truncation_of_every_event_type_is_refused) {
  event_sampler sampler(99);
  byte_buffer buffer;
  for (auto type : all_event_types) {
    buffer.clear();
    encode_framed(*sampler.next(type), buffer);
    for (std::size_t size = 0; size < buffer.size(); ++size) {
      auto decoded = decode_framed(buffer.bytes().first(size));
      ASSERT_FALSE(decoded) << type << " cut to " << size << " of " << buffer.size() << " bytes decoded";
      EXPECT_TRUE(decoded.error().code == codec_errc::truncated || decoded.error().code == codec_errc::bad_length)
          << type << " cut to " << size << ": " << decoded.error().message;
    }
  }
}

TEST(malformed_bytes, wrong_magic_byte) {
  event_sampler sampler(1);
  byte_buffer buffer;
  encode_framed(sampler.next<job_submitted>(), buffer);
  buffer.data()[0] = std::byte{0x7b};  // '{': somebody sent JSON
  expect_error(buffer.bytes(), codec_errc::bad_magic, "0x7b");
}

TEST(malformed_bytes, unknown_schema_id) {
  record_builder record(4242);
  record.envelope_of("job.submitted");
  expect_error(record.bytes(), codec_errc::unknown_schema_id, "4242");
}

TEST(malformed_bytes, payload_union_index_out_of_range) {
  record_builder record;
  record.envelope_of("job.submitted").varint(7);
  expect_error(record.bytes(), codec_errc::bad_union_index, "payload");
}

TEST(malformed_bytes, negative_payload_union_index) {
  record_builder record;
  record.envelope_of("job.submitted").varint(-1);
  expect_error(record.bytes(), codec_errc::bad_union_index, "branch -1");
}

TEST(malformed_bytes, optional_union_index_out_of_range) {
  record_builder record;
  event_sampler sampler(5);
  auto env = static_cast<envelope>(sampler.next<job_submitted>());
  // event_id, event_type, occurred_at, correlation_id, then causation_id's union index.
  record.value(env.event_id)
      .value(std::string("job.submitted"))
      .value(env.occurred_at)
      .value(env.correlation_id)
      .varint(2);
  expect_error(record.bytes(), codec_errc::bad_union_index, "causation_id");
}

TEST(malformed_bytes, enum_index_out_of_range) {
  record_builder record;
  record.envelope_of("job.submitted").varint(0).value(std::string("job-1")).value(std::string("name")).varint(9);
  expect_error(record.bytes(), codec_errc::bad_enum_index, "pipeline");
}

TEST(malformed_bytes, negative_string_length) {
  record_builder record;
  record.varint(-5);
  expect_error(record.bytes(), codec_errc::bad_length, "negative length -5");
}

TEST(malformed_bytes, absurd_string_length_is_refused_before_allocating) {
  record_builder record;
  record.envelope_of("job.submitted").varint(0).varint(std::int64_t{1} << 50);
  expect_error(record.bytes(), codec_errc::bad_length, "job_id");
}

TEST(malformed_bytes, absurd_array_count_is_refused_before_allocating) {
  record_builder record(spec(topic_id::system_health).schema_id);
  record.envelope_of("system.health.check").varint(0).varint(std::int64_t{1} << 40);
  expect_error(record.bytes(), codec_errc::bad_length, "components");
}

TEST(malformed_bytes, absurd_negative_map_block_is_refused) {
  record_builder record;
  // tags (a map) comes after schema_version: a block count of -2^40 with a block size.
  event_sampler sampler(5);
  auto env = static_cast<envelope>(sampler.next<job_submitted>());
  record.value(env.event_id)
      .value(std::string("job.submitted"))
      .value(env.occurred_at)
      .value(env.correlation_id)
      .value(env.causation_id)
      .value(env.user_id)
      .value(env.idempotency_key)
      .value(env.schema_version)
      .varint(-(std::int64_t{1} << 40))
      .varint(100);
  expect_error(record.bytes(), codec_errc::bad_length, "tags");
}

TEST(malformed_bytes, overlong_varint) {
  record_builder record;
  record.raw({0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01});
  expect_error(record.bytes(), codec_errc::bad_varint, "event_id");
}

TEST(malformed_bytes, int_out_of_32_bit_range) {
  record_builder failed;
  failed.envelope_of("job.failed")
      .varint(3)
      .value(std::string("job-1"))
      .value(std::string("E1"))
      .value(std::string("boom"))
      .varint(std::int64_t{1} << 33);
  expect_error(failed.bytes(), codec_errc::bad_varint, "exit_code");
}

TEST(malformed_bytes, invalid_uuid_text) {
  record_builder record;
  record.value(std::string("this-is-not-a-uuid-but-36-chars-long"));
  expect_error(record.bytes(), codec_errc::bad_uuid, "event_id");
}

TEST(malformed_bytes, bad_boolean_byte) {
  event_sampler sampler(8);
  auto e = sampler.next<audit_data_access>();
  e.payload.allowed = true;
  e.payload.decision_reason = "";
  byte_buffer buffer;
  encode_framed(e, buffer);
  // The boolean is followed by the empty decision_reason (one 0x00 byte): it is the second-to-last byte.
  auto* flag = buffer.data() + buffer.size() - 2;
  ASSERT_EQ(*flag, std::byte{1});
  *flag = std::byte{2};
  expect_error(buffer.bytes(), codec_errc::bad_boolean, "allowed");
}

TEST(malformed_bytes, trailing_bytes) {
  event_sampler sampler(2);
  byte_buffer buffer;
  encode_framed(sampler.next<job_cancelled>(), buffer);
  const std::byte extra[] = {std::byte{0}, std::byte{0}};
  buffer.append(extra);
  expect_error(buffer.bytes(), codec_errc::trailing_bytes, "2 bytes left");
}

TEST(malformed_bytes, event_type_that_disagrees_with_the_payload) {
  event_sampler sampler(4);
  auto cancelled = sampler.next<job_cancelled>();
  record_builder record;
  record.envelope_of("job.failed").varint(4).value(cancelled.payload);
  expect_error(record.bytes(), codec_errc::event_type_mismatch, "job.failed");
}

TEST(malformed_bytes, random_mutations_never_crash) {
  // Flip, drop and insert bytes in valid records: every outcome must be a value or an error.
  event_sampler sampler(2026, sample_range::extreme);
  std::mt19937_64 rng(17);
  byte_buffer buffer;
  std::size_t refused = 0, accepted = 0;
  for (int round = 0; round < 20000; ++round) {
    buffer.clear();
    encode_framed(*sampler.next(all_event_types[round % all_event_types.size()]), buffer);
    std::string bytes(buffer.view());
    testing::mutate(bytes, rng);
    auto decoded = decode_framed(as_bytes(bytes));
    if (decoded) {
      ++accepted;
    } else {
      ++refused;
      ASSERT_FALSE(decoded.error().message.empty());
    }
  }
  EXPECT_GT(refused, 10000u) << "mutations should mostly be caught";
  std::printf("random mutations: %zu refused, %zu still decoded (mutations inside string bytes)\n", refused, accepted);
}

// ---------------------------------------------------------------- JSON

void expect_json_error(const std::string& text, std::string_view words) {
  auto parsed = any_event_from_json(text);
  ASSERT_FALSE(parsed) << "accepted: " << text;
  EXPECT_NE(parsed.error().message.find(words), std::string::npos)
      << "message '" << parsed.error().message << "' does not mention '" << words << "'";
}

std::string valid_job_submitted_json() {
  event_sampler sampler(12);
  return to_json(sampler.next<job_submitted>());
}

std::string replace(std::string text, std::string_view from, std::string_view to) {
  auto at = text.find(from);
  EXPECT_NE(at, std::string::npos) << "test setup: '" << from << "' not in " << text;
  if (at != std::string::npos) text.replace(at, from.size(), to);
  return text;
}

TEST(malformed_json, not_json_and_not_an_object) {
  expect_json_error("{\"event_type\":", "not valid JSON");
  expect_json_error("[1,2]", "expected a JSON object");
}

TEST(malformed_json, unknown_event_type) {
  expect_json_error(replace(valid_job_submitted_json(), "\"job.submitted\"", "\"job.teleported\""),
                    "unknown event type 'job.teleported'");
}

TEST(malformed_json, missing_field_is_named_with_its_path) {
  auto text = valid_job_submitted_json();
  auto start = text.find("\"dataset_id\"");
  auto end = text.find(',', start);
  expect_json_error(text.erase(start, end - start + 1), "payload.dataset_id: missing field");
}

TEST(malformed_json, wrong_type_is_named_with_its_path) {
  auto text = valid_job_submitted_json();
  auto start = text.find("\"nodes\":") + 8;
  auto end = text.find(',', start);
  expect_json_error(text.replace(start, end - start, "\"ten\""),
                    "payload.resources.nodes: expected an integer, got string");
}

TEST(malformed_json, integer_out_of_range) {
  auto text = valid_job_submitted_json();
  auto start = text.find("\"nodes\":") + 8;
  auto end = text.find(',', start);
  expect_json_error(text.replace(start, end - start, "3000000000"), "out of range for a 32-bit integer");
}

TEST(malformed_json, unknown_field) {
  expect_json_error(replace(valid_job_submitted_json(), "\"job_id\":", "\"jobid\":\"x\",\"job_id\":"),
                    "payload.jobid: unknown field");
}

TEST(malformed_json, bad_uuid_timestamp_and_enum_symbol) {
  auto text = valid_job_submitted_json();
  auto id_start = text.find("\"event_id\":\"") + 12;
  expect_json_error(std::string(text).replace(id_start, 36, "not-a-uuid"), "event_id: 'not-a-uuid' is not a uuid");
  auto ts_start = text.find("\"occurred_at\":\"") + 15;
  expect_json_error(std::string(text).replace(ts_start, 27, "yesterday"),
                    "occurred_at: 'yesterday' is not an RFC 3339");
  auto sym_start = text.find("\"pipeline\":\"") + 12;
  auto sym_end = text.find('"', sym_start);
  expect_json_error(std::string(text).replace(sym_start, sym_end - sym_start, "alpha-cal"),
                    "'alpha-cal' is not a Pipeline symbol");
}

}  // namespace
}  // namespace horizons
