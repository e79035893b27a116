// Avro binary encoding of events, and the Confluent wire framing.
//
// A record value on Kafka is: byte 0x00, the 4-byte big-endian schema id of
// the topic (catalogue.hpp), then the Avro binary body of the topic's schema.
//
//   horizons::byte_buffer buffer;
//   horizons::encode_framed(event, buffer);                 // appends
//   auto decoded = horizons::decode_framed(buffer.bytes()); // std::expected<any_event, codec_error>
//   if (!decoded) log(decoded.error().message);
//
// Decoding never trusts a length: a string, array or map longer than the
// bytes that remain is refused before anything is allocated. All functions
// are thread-compatible (no shared state) and never throw on bad input.
//
// Views (views.hpp) read an event without copying it:
//
//   auto view = horizons::decode_view<horizons::job_submitted>(frame->body);
//   if (view) use(view->payload.job_name);   // a std::string_view into frame->body
//
// A view decode refuses exactly what the owning decode refuses, with the
// same codec_errc, and allocates nothing (but an error's message).
#pragma once

#include <cstdint>
#include <expected>
#include <span>
#include <string>

#include <horizons/byte_buffer.hpp>
#include <horizons/events.hpp>

namespace horizons {

enum class codec_errc : std::uint8_t {
  truncated,            // the bytes end inside a value
  bad_magic,            // framing byte 0 is not 0x00
  unknown_schema_id,    // framing names a schema this build does not know
  bad_union_index,      // a union branch outside the schema
  bad_enum_index,       // an enum symbol index outside the schema
  bad_length,           // a negative or impossible length or count
  bad_varint,           // a varint longer than 10 bytes or out of int range
  bad_uuid,             // a uuid string that is not 8-4-4-4-12 hex
  bad_boolean,          // a boolean byte other than 0 or 1
  trailing_bytes,       // bytes left after the record
  wrong_event_type,     // a record of another payload type than asked for
  event_type_mismatch,  // the envelope's event_type does not name the payload branch
  unresolvable_schema,  // written with a schema (from a registry) this build cannot read
};

[[nodiscard]] std::string_view to_string(codec_errc code);

struct codec_error {
  codec_errc code;
  std::string message;  // one line naming the problem, the field and the byte offset
};

/// Size of the Confluent frame header (magic byte + schema id).
inline constexpr std::size_t frame_header_size = 5;

struct frame {
  std::int32_t schema_id;
  std::span<const std::byte> body;
};
/// Splits a framed record into its schema id and Avro body.
[[nodiscard]] std::expected<frame, codec_error> parse_frame(std::span<const std::byte> record);

/// Appends the Avro binary body of `e` (no framing) to `out`.
/// Payload: one payload type or a topic's payload variant.
template <class Payload>
void encode_body(const event<Payload>& e, byte_buffer& out);

/// Appends 0x00, the topic's schema id and the body to `out`.
template <class Payload>
void encode_framed(const event<Payload>& e, byte_buffer& out);

/// Decodes an Avro body into `into`, reusing its strings' storage.
/// For a single payload type, a record of another type is `wrong_event_type`.
template <class Payload>
[[nodiscard]] std::expected<void, codec_error> decode_body(std::span<const std::byte> body, event<Payload>& into);

template <class Payload>
[[nodiscard]] std::expected<event<Payload>, codec_error> decode_body(std::span<const std::byte> body) {
  event<Payload> e;
  if (auto ok = decode_body(body, e); !ok) return std::unexpected(std::move(ok.error()));
  return e;
}

/// Decodes an Avro body as views into `body` (views.hpp): nothing is copied or allocated, and the
/// result is valid while `body` is. Checks everything decode_body checks, in the same order.
/// Payload: one payload type (a record of another type is `wrong_event_type`) or a topic's payload variant.
template <class Payload>
[[nodiscard]] std::expected<event_view<Payload>, codec_error> decode_view(std::span<const std::byte> body);

// Decoding in two steps, for a consumer that picks a handler by the payload's type before it
// decodes the payload: first the envelope and the payload's union branch, then the payload.
// Together they refuse what decode_body refuses, with the same errors.

/// Where a topic's payload starts in a body, and which branch of the topic's union it is.
struct payload_position {
  std::size_t branch = 0;  // index in the topic's payload variant
  std::size_t offset = 0;  // of the payload record in the body
};

/// A body's envelope as a view (valid while the body is) and its payload's position.
struct event_head {
  envelope_view meta;
  payload_position payload;
};
/// Step one as views: refuses a bad envelope or branch index (bad_union_index).
[[nodiscard]] std::expected<event_head, codec_error> decode_head(topic_id topic, std::span<const std::byte> body);

/// Step one, owning: the envelope into `into` (reusing its storage), and the payload's position.
[[nodiscard]] std::expected<payload_position, codec_error> decode_envelope(topic_id topic,
                                                                           std::span<const std::byte> body,
                                                                           envelope& into);

/// Step two as a view: the payload at `at` into `into` (the alternative at.branch), then what
/// decode_body checks last: no bytes left, and `event_type` (the envelope's) names the payload.
/// TopicPayload: a topic's payload variant. Allocates nothing unless it fails.
template <class TopicPayload>
[[nodiscard]] std::expected<void, codec_error> decode_payload_view(std::span<const std::byte> body, payload_position at,
                                                                   std::string_view event_type,
                                                                   view_of<TopicPayload>& into);

/// Step two, owning: as decode_payload_view, into `into` (reusing its storage).
template <class TopicPayload>
[[nodiscard]] std::expected<void, codec_error> decode_payload(std::span<const std::byte> body, payload_position at,
                                                              std::string_view event_type, TopicPayload& into);

/// Decodes an Avro body of `topic`'s schema into that topic's event.
[[nodiscard]] std::expected<any_event, codec_error> decode_topic_body(topic_id topic, std::span<const std::byte> body);

/// Decodes a framed record of any topic; the schema id picks the topic.
[[nodiscard]] std::expected<any_event, codec_error> decode_framed(std::span<const std::byte> record);

/// Appends the framed encoding of any event.
void encode_framed(const any_event& e, byte_buffer& out);

}  // namespace horizons
