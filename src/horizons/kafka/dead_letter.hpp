// The dead-letter writer: copies a record the consumer gives up on to `<topic>.dlq`
// (private to the kafka module).
//
//   auto writer = detail::dead_letter_writer::create(config);
//   if (auto sent = (*writer)->write(message, {.error_class = "handler", .message = why, .attempts = 3}); !sent) ...
//
// The letter keeps the record's key, value and headers and adds the dlq_header::
// headers (consumer.hpp) naming the original topic, partition, offset, the
// failure and when it happened. write() waits until the letter is acknowledged
// by all in-sync replicas (idempotent producer, acks=all), so a consumer stores
// the record's offset only once its letter is safe. Its producer starts from the
// same client properties as every other client (detail::make_conf); create()
// checks them, and the producer itself is made at the first letter: most
// consumers never write one, and an idle client still costs threads and broker
// connections. One thread at a time calls write(): the consumer's polling thread.
#pragma once

#include <atomic>
#include <expected>
#include <memory>
#include <string>
#include <string_view>

#include <horizons/config.hpp>
#include <horizons/kafka_error.hpp>

#include "rdkafka.hpp"

namespace horizons::detail {

/// Why a record is dead-lettered.
struct dead_letter_reason {
  std::string_view error_class;  // "decode", "size" or "handler"
  std::string_view message;
  int attempts = 0;         // handler attempts made; 0 for a record that did not decode
  bool omit_value = false;  // the letter without the record's value (dlq_header::omitted_value_bytes)
};

class dead_letter_writer {
 public:
  [[nodiscard]] static std::expected<std::unique_ptr<dead_letter_writer>, kafka_error> create(
      const client_config& config);
  dead_letter_writer(const dead_letter_writer&) = delete;
  dead_letter_writer& operator=(const dead_letter_writer&) = delete;

  /// Writes `message` to its topic's .dlq and waits (up to the delivery timeout) for the
  /// acknowledgement; returns the topic written to.
  [[nodiscard]] std::expected<std::string, kafka_error> write(const rd_kafka_message_t* message,
                                                              const dead_letter_reason& reason);

 private:
  dead_letter_writer() = default;
  static void on_delivery(rd_kafka_t*, const rd_kafka_message_t* message, void* opaque) noexcept;
  // The producer, made from conf_ on first use.
  [[nodiscard]] std::expected<rd_kafka_t*, kafka_error> producer();

  conf_ptr conf_;
  kafka_ptr producer_;
  std::chrono::milliseconds wait_{};
  std::atomic<rd_kafka_resp_err_t> delivery_{RD_KAFKA_RESP_ERR_NO_ERROR};
};

}  // namespace horizons::detail
