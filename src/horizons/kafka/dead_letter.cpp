#include "dead_letter.hpp"

#include <horizons/catalogue.hpp>
#include <horizons/consumer.hpp>

#include <charconv>

#include <fmt/format.h>

#include "headers.hpp"

namespace horizons::detail {

std::expected<std::unique_ptr<dead_letter_writer>, kafka_error> dead_letter_writer::create(
    const client_config& config) {
  auto conf = make_conf(config, client_role::producer);
  if (!conf) return std::unexpected(conf.error());
  // No batching: one letter at a time, each waited for.
  for (auto [name, value] : std::initializer_list<std::pair<std::string_view, std::string_view>>{
           {"enable.idempotence", "true"}, {"acks", "all"}, {"linger.ms", "0"}, {"compression.codec", "lz4"}}) {
    if (auto ok = set_property(conf->get(), name, value); !ok) return std::unexpected(ok.error());
  }
  std::unique_ptr<dead_letter_writer> writer(new dead_letter_writer());
  writer->wait_ = config.delivery_timeout + std::chrono::seconds(5);
  rd_kafka_conf_set_opaque(conf->get(), writer.get());
  rd_kafka_conf_set_dr_msg_cb(conf->get(), on_delivery);
  writer->conf_ = std::move(*conf);
  return writer;
}

std::expected<rd_kafka_t*, kafka_error> dead_letter_writer::producer() {
  if (!producer_) {
    auto client = make_client(RD_KAFKA_PRODUCER, conf_);
    if (!client) return std::unexpected(client.error());
    producer_ = std::move(*client);
  }
  return producer_.get();
}

void dead_letter_writer::on_delivery(rd_kafka_t*, const rd_kafka_message_t* message, void* opaque) noexcept {
  static_cast<dead_letter_writer*>(opaque)->delivery_.store(message->err);
}

std::expected<std::string, kafka_error> dead_letter_writer::write(const rd_kafka_message_t* message,
                                                                  const dead_letter_reason& reason) {
  std::string_view original_topic = rd_kafka_topic_name(message->rkt);
  auto topic = topic_from_name(original_topic);
  auto dlq_topic = topic ? spec(*topic).dlq_name() : std::string(original_topic) + ".dlq";
  constexpr std::size_t dlq_headers = 8;
  auto headers = copy_headers(message, dlq_headers);
  add_header(headers.get(), dlq_header::original_topic, original_topic);
  add_header(headers.get(), dlq_header::original_partition, std::to_string(message->partition));
  add_header(headers.get(), dlq_header::original_offset, std::to_string(message->offset));
  add_header(headers.get(), dlq_header::error_class, reason.error_class);
  add_header(headers.get(), dlq_header::error_message, reason.message);
  add_header(headers.get(), dlq_header::attempts, std::to_string(reason.attempts));
  add_header(headers.get(), dlq_header::failed_at, std::to_string(now().time_since_epoch().count()));
  if (reason.omit_value) add_header(headers.get(), dlq_header::omitted_value_bytes, std::to_string(message->len));

  auto producer = this->producer();
  if (!producer) return std::unexpected(producer.error());
  delivery_.store(RD_KAFKA_RESP_ERR__IN_PROGRESS);
  auto err = rd_kafka_producev(
      *producer, RD_KAFKA_V_TOPIC(dlq_topic.c_str()), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
      RD_KAFKA_V_VALUE(reason.omit_value ? nullptr : message->payload, reason.omit_value ? 0 : message->len),
      RD_KAFKA_V_KEY(message->key, message->key_len), RD_KAFKA_V_PARTITION(RD_KAFKA_PARTITION_UA),
      RD_KAFKA_V_HEADERS(headers.get()), RD_KAFKA_V_END);
  if (err) return std::unexpected(make_kafka_error(err, fmt::format("dead-letter to {}", dlq_topic)));
  (void)headers.release();  // the letter's now
  rd_kafka_flush(*producer, static_cast<int>(wait_.count()));
  if (auto result = delivery_.load(); result != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return std::unexpected(make_kafka_error(result, fmt::format("dead-letter to {}", dlq_topic)));
  }
  return dlq_topic;
}

}  // namespace horizons::detail

namespace horizons {

namespace {

template <class Number>
std::optional<Number> number_header(const raw_record& record, std::string_view name) {
  auto text = record.header(name);
  if (!text) return std::nullopt;
  Number value{};
  const auto* end = text->data() + text->size();
  auto [at, error] = std::from_chars(text->data(), end, value);
  if (error != std::errc{} || at != end) return std::nullopt;
  return value;
}

std::optional<std::string> text_header(const raw_record& record, std::string_view name) {
  auto text = record.header(name);
  return text ? std::optional<std::string>(*text) : std::nullopt;
}

}  // namespace

dead_letter read_dead_letter(const raw_record& record) {
  dead_letter letter{
      .original_topic = text_header(record, dlq_header::original_topic),
      .original_partition = number_header<std::int32_t>(record, dlq_header::original_partition),
      .original_offset = number_header<std::int64_t>(record, dlq_header::original_offset),
      .error_class = text_header(record, dlq_header::error_class),
      .error_message = text_header(record, dlq_header::error_message),
      .attempts = number_header<std::int32_t>(record, dlq_header::attempts),
  };
  letter.omitted_value_bytes = number_header<std::int64_t>(record, dlq_header::omitted_value_bytes);
  if (auto micros = number_header<std::int64_t>(record, dlq_header::failed_at)) {
    letter.failed_at = timestamp(std::chrono::microseconds(*micros));
  }
  return letter;
}

}  // namespace horizons
