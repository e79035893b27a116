#include "headers.hpp"

#include <cassert>
#include <charconv>

namespace horizons::detail {

void add_header(rd_kafka_headers_t* headers, std::string_view name, std::string_view value) {
  rd_kafka_header_add(headers, name.data(), static_cast<ssize_t>(name.size()), value.data(),
                      static_cast<ssize_t>(value.size()));
}

headers_ptr record_headers(const envelope& meta, std::string_view event_type, timestamp produced) {
  char produced_at[24];
  auto end = std::to_chars(produced_at, produced_at + sizeof produced_at, produced.time_since_epoch().count()).ptr;
  char event_id[uuid::text_size], correlation_id[uuid::text_size];
  meta.event_id.format_to(event_id);
  meta.correlation_id.format_to(correlation_id);

  headers_ptr headers(rd_kafka_headers_new(6));
  add_header(headers.get(), header::event_type, event_type);
  add_header(headers.get(), header::correlation_id, {correlation_id, sizeof correlation_id});
  add_header(headers.get(), header::content_type, header::content_type_value);
  add_header(headers.get(), header::produced_at, {produced_at, static_cast<std::size_t>(end - produced_at)});
  if (meta.traceparent) add_header(headers.get(), header::traceparent, *meta.traceparent);
  // Last: rd_kafka_header_get_last searches from the end, so the delivery report touches one header.
  add_header(headers.get(), header::event_id, {event_id, sizeof event_id});
  return headers;
}

headers_ptr copy_headers(const rd_kafka_message_t* message, std::size_t extra) {
  rd_kafka_headers_t* original = nullptr;
  if (rd_kafka_message_headers(message, &original) == RD_KAFKA_RESP_ERR_NO_ERROR) {
    return headers_ptr(rd_kafka_headers_copy(original));
  }
  return headers_ptr(rd_kafka_headers_new(extra));
}

std::optional<std::string_view> last_header(const rd_kafka_message_t* message, std::string_view name) {
  assert(name.data()[name.size()] == '\0');
  rd_kafka_headers_t* headers = nullptr;
  const void* value = nullptr;
  std::size_t size = 0;
  if (rd_kafka_message_headers(message, &headers) != RD_KAFKA_RESP_ERR_NO_ERROR ||
      rd_kafka_header_get_last(headers, name.data(), &value, &size) != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return std::nullopt;
  }
  return std::string_view(static_cast<const char*>(value), size);
}

std::optional<timestamp> produced_at_header(const rd_kafka_message_t* message) {
  auto text = last_header(message, header::produced_at);
  std::int64_t micros = 0;
  if (!text || std::from_chars(text->data(), text->data() + text->size(), micros).ec != std::errc{}) {
    return std::nullopt;
  }
  return timestamp{std::chrono::microseconds{micros}};
}

std::optional<uuid> event_id_header(const rd_kafka_message_t* message) {
  auto text = last_header(message, header::event_id);
  return text ? uuid::parse(*text) : std::nullopt;
}

}  // namespace horizons::detail
