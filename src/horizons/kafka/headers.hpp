// Kafka record headers, written and read in one place (private to the kafka module).
//
//   auto headers = detail::record_headers(meta, "job.submitted");   // what the producer attaches
//   rd_kafka_producev(..., RD_KAFKA_V_HEADERS(headers.get()), ...); // on success: headers.release()
//   auto sent = detail::produced_at_header(message);                // what a consumer reads back
//
// Reading a consumed record's headers makes librdkafka parse all of them (it
// costs more than decoding the event): read them only when asked. Names
// passed here are the header:: and dlq_header:: constants, which are string
// literals (librdkafka takes them NUL-terminated). Thread-compatible.
#pragma once

#include <optional>
#include <string_view>

#include <horizons/consumer.hpp>
#include <horizons/events.hpp>
#include <horizons/publisher.hpp>

#include "rdkafka.hpp"

namespace horizons::detail {

/// Appends one header; name and value are copied.
void add_header(rd_kafka_headers_t* headers, std::string_view name, std::string_view value);

/// The headers every Horizons record carries: event-type, correlation-id, content-type,
/// produced-at (`produced_at`, which the producer also gives the record as its Kafka timestamp),
/// traceparent when the envelope has one, and event-id last (a delivery report looks it up from
/// the end).
[[nodiscard]] headers_ptr record_headers(const envelope& meta, std::string_view event_type, timestamp produced_at);

/// A copy of a consumed record's headers (none: an empty list with room for `extra`).
[[nodiscard]] headers_ptr copy_headers(const rd_kafka_message_t* message, std::size_t extra);

/// The last value of header `name` (a string literal), or nullopt.
[[nodiscard]] std::optional<std::string_view> last_header(const rd_kafka_message_t* message, std::string_view name);

/// The produced-at header (microseconds since the epoch, decimal), or nullopt.
[[nodiscard]] std::optional<timestamp> produced_at_header(const rd_kafka_message_t* message);

/// The event-id header, or nullopt.
[[nodiscard]] std::optional<uuid> event_id_header(const rd_kafka_message_t* message);

}  // namespace horizons::detail
