// The publishing interface shared by the real producer (producer.hpp) and
// the test kit's mock publisher, so services are tested against the very
// interface they run with.
//
//   horizons::publisher& out = ...;
//   if (auto sent = out.publish(event); !sent) log(sent.error().message);
//
// publish() encodes the event (Confluent-framed Avro), picks topic and key
// from the catalogue, and hands the record over; its delivery is reported
// later, exactly once, to the delivery handler given at construction. A
// return without error means "queued", not "delivered". With tracing on
// (tracing.hpp), each publish is a PRODUCER span and the record carries its
// traceparent.
#pragma once

#include <cstdint>
#include <expected>
#include <functional>
#include <optional>
#include <span>
#include <string_view>

#include <horizons/byte_buffer.hpp>
#include <horizons/catalogue.hpp>
#include <horizons/codec.hpp>
#include <horizons/kafka_error.hpp>
#include <horizons/tracing.hpp>
#include <horizons/validate.hpp>

namespace horizons {

/// What publish() hands to an implementation: an encoded record and what its headers are made of.
struct outgoing_record {
  topic_id topic;
  std::optional<std::string_view> key;
  std::span<const std::byte> value;  // framed Avro; valid only during the call
  const envelope& meta;
  std::string_view event_type;
};

/// The fate of one published record, reported exactly once.
struct delivery_report {
  topic_id topic;
  std::int32_t partition = -1;
  std::int64_t offset = -1;
  uuid event_id;
  std::uint64_t tag = 0;             // the caller's value given to publish()
  std::optional<kafka_error> error;  // nullopt: written to all in-sync replicas
};

using delivery_handler = std::function<void(const delivery_report&)>;

/// Headers every Horizons record carries.
namespace header {
inline constexpr std::string_view event_type = "event-type";
inline constexpr std::string_view event_id = "event-id";
inline constexpr std::string_view correlation_id = "correlation-id";
inline constexpr std::string_view content_type = "content-type";
inline constexpr std::string_view produced_at = "produced-at";  // microseconds since the epoch, decimal
inline constexpr std::string_view traceparent = "traceparent";
inline constexpr std::string_view content_type_value = "application/vnd.horizons.event+avro";
}  // namespace header

class publisher {
 public:
  virtual ~publisher() = default;

  /// Validates, encodes and queues `e`. May wait (bounded) while the local queue is full;
  /// an error here means the record was not queued and will not be reported.
  /// Payload: one payload type, or a topic's payload variant.
  template <class Payload>
  [[nodiscard]] std::expected<void, kafka_error> publish(const event<Payload>& e, std::uint64_t tag = 0) {
    if (auto ok = validate(e); !ok) return std::unexpected(invalid_event(ok.error()));
    if (tracing::enabled()) [[unlikely]]
      return publish_traced(e, tag);
    thread_local byte_buffer buffer;
    buffer.clear();
    encode_framed(e, buffer);
    return publish_encoded(
        {topic_of_payload<Payload>, partition_key(e.payload), buffer.bytes(), e, event_type_of(e.payload)}, tag);
  }
  [[nodiscard]] std::expected<void, kafka_error> publish(const any_event& e, std::uint64_t tag = 0) {
    return std::visit([&](const auto& topic_event) { return publish(topic_event, tag); }, e);
  }

  /// Publishes an already encoded record (what publish() does after encoding).
  [[nodiscard]] virtual std::expected<void, kafka_error> publish_encoded(const outgoing_record& record,
                                                                         std::uint64_t tag) = 0;

  /// Waits up to `timeout` for every queued record's delivery report; returns how many are still pending.
  [[nodiscard]] virtual std::size_t flush(std::chrono::milliseconds timeout) = 0;

 private:
  // publish() inside a PRODUCER span: the event leaves with the span's traceparent.
  template <class Payload>
  std::expected<void, kafka_error> publish_traced(const event<Payload>& e, std::uint64_t tag) {
    const auto key = partition_key(e.payload);
    tracing::producer_span span(tracing::facts_of(e, key), e.traceparent, /*via_outbox=*/false);
    const auto traced = tracing::with_context(e, span);
    thread_local byte_buffer buffer;
    buffer.clear();
    encode_framed(traced, buffer);
    auto sent =
        publish_encoded({topic_of_payload<Payload>, key, buffer.bytes(), traced, event_type_of(e.payload)}, tag);
    if (!sent) span.fail(sent.error().message);
    return sent;
  }
  static kafka_error invalid_event(const validation_error& e) {
    return {.code = -186 /* RD_KAFKA_RESP_ERR__INVALID_ARG */, .name = "_INVALID_ARG", .message = e.message};
  }
};

}  // namespace horizons
