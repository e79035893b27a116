// The record writer: one idempotent producer whose delivery reports are served by write() itself
// (rd_kafka_flush), each report landing in the slot of the record it is about.
#include <horizons/record_writer.hpp>

#include <mutex>

#include <fmt/format.h>

#include "rdkafka.hpp"

namespace horizons {

namespace {

// Where one record's delivery report lands: set once, by the report, on the thread in write().
struct delivery_slot {
  rd_kafka_resp_err_t error = RD_KAFKA_RESP_ERR__IN_PROGRESS;
  std::int64_t offset = -1;
};

void on_delivery(rd_kafka_t*, const rd_kafka_message_t* message, void*) noexcept {
  auto* slot = static_cast<delivery_slot*>(message->_private);
  if (!slot) return;
  slot->error = message->err;
  slot->offset = message->offset;
}

}  // namespace

struct record_writer::impl {
  client_config config;
  std::mutex mutex;  // one write() at a time; guards client
  detail::kafka_ptr client;

  // A client made from the configuration; also after a fatal error made the previous one unusable.
  std::expected<rd_kafka_t*, kafka_error> usable_client() {
    if (client) {
      char reason[256];
      if (!rd_kafka_fatal_error(client.get(), reason, sizeof reason)) return client.get();
      detail::log().warn("record writer: replacing a producer stopped by a fatal error: {}", reason);
      client.reset();
    }
    auto conf = detail::make_client_conf(config, client_role::producer, {});
    if (!conf) return std::unexpected(conf.error());
    rd_kafka_conf_set_dr_msg_cb(conf->get(), on_delivery);
    auto made = detail::make_client(RD_KAFKA_PRODUCER, *conf);
    if (!made) return std::unexpected(made.error());
    client = std::move(*made);
    return client.get();
  }
};

std::expected<std::unique_ptr<record_writer>, kafka_error> record_writer::create(const client_config& config) {
  auto state = std::make_unique<impl>();
  state->config = config;
  auto client = state->usable_client();
  if (!client) return std::unexpected(client.error());
  if (auto reachable = detail::await_brokers(*client, config); !reachable) return std::unexpected(reachable.error());
  return std::unique_ptr<record_writer>(new record_writer(std::move(state)));
}

record_writer::record_writer(std::unique_ptr<impl> state) : impl_(std::move(state)) {}

record_writer::~record_writer() {
  if (impl_ && impl_->client) rd_kafka_flush(impl_->client.get(), 10'000);
}

std::expected<std::vector<std::int64_t>, kafka_error> record_writer::write(const std::string& topic,
                                                                           std::span<const keyed_record> records) {
  const std::scoped_lock lock(impl_->mutex);
  auto client = impl_->usable_client();
  if (!client) return std::unexpected(client.error());
  std::vector<delivery_slot> slots(records.size());
  std::optional<kafka_error> refused;
  std::size_t queued = 0;
  for (; queued < records.size(); ++queued) {
    const auto& record = records[queued];
    const void* value = record.value ? record.value->data() : nullptr;
    const std::size_t value_size = record.value ? record.value->size() : 0;
    auto err = rd_kafka_producev(*client, RD_KAFKA_V_TOPIC(topic.c_str()), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                 RD_KAFKA_V_KEY(record.key.data(), record.key.size()),
                                 RD_KAFKA_V_VALUE(const_cast<void*>(value), value_size),
                                 RD_KAFKA_V_OPAQUE(&slots[queued]), RD_KAFKA_V_END);
    if (err) {
      refused = detail::make_kafka_error(
          err, fmt::format("write to {}: record {} of {} not queued", topic, queued + 1, records.size()));
      break;
    }
  }
  // Every queued record's report must arrive before `slots` goes away: flush serves them here.
  const auto wait = impl_->config.delivery_timeout + std::chrono::seconds(5);
  if (rd_kafka_flush(*client, static_cast<int>(wait.count())) != RD_KAFKA_RESP_ERR_NO_ERROR) {
    // Not acknowledged within the delivery timeout: librdkafka fails them itself; wait for those reports.
    while (rd_kafka_outq_len(*client) > 0) rd_kafka_poll(*client, 100);
  }
  if (refused) return std::unexpected(*refused);
  std::vector<std::int64_t> offsets;
  offsets.reserve(records.size());
  for (std::size_t i = 0; i < slots.size(); ++i) {
    if (slots[i].error != RD_KAFKA_RESP_ERR_NO_ERROR) {
      return std::unexpected(detail::make_kafka_error(
          slots[i].error, fmt::format("write to {}: record {} of {}", topic, i + 1, records.size())));
    }
    offsets.push_back(slots[i].offset);
  }
  return offsets;
}

}  // namespace horizons
