#include <horizons/producer.hpp>

#include <array>
#include <atomic>
#include <mutex>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "../registry/wire_schemas.hpp"
#include "headers.hpp"
#include "rdkafka.hpp"

namespace horizons {

using namespace std::chrono_literals;

struct producer::impl {
  options opts;
  detail::kafka_ptr client;
  std::array<detail::topic_ptr, topic_count> topics;
  std::jthread delivery_thread;  // on_delivery_thread only
  std::mutex serving;            // on_caller: one caller serves reports at a time
  // Publishing threads and the delivery thread each bump a counter per record: on one cache line they
  // would take it from each other every time.
  alignas(64) std::atomic<std::uint64_t> queued{0}, queue_full_waits{0};
  alignas(64) std::atomic<std::uint64_t> delivered{0}, failed{0};
  mutable std::mutex fatal_mutex;
  std::optional<kafka_error> fatal;
  std::atomic<bool> has_fatal{false};  // spares publish() the mutex until there is a fatal error
  bool closed = false;
  // Channels: handler of channel n at [n - 1], emptied when the channel is destroyed. The mutex is held
  // while a channel's handler runs, so a channel's destructor waits for a report being handed to it.
  std::mutex channels_mutex;
  std::vector<delivery_handler> channels;
  std::atomic<bool> has_channels{false};
  // With a schema registry: the id each topic's records carry instead of the catalogue's.
  std::optional<std::array<std::int32_t, topic_count>> registry_ids;

  [[nodiscard]] bool caller_serves() const { return opts.reports == delivery_reports::on_caller; }

  // on_caller, after each publish: serves the reports waiting, unless another caller is serving them now.
  void try_serve() {
    if (std::unique_lock lock(serving, std::try_to_lock); lock) rd_kafka_poll(client.get(), 0);
  }

  // Delivery reports: called from rd_kafka_poll() on the delivery thread, once per record.
  static void on_delivery(rd_kafka_t*, const rd_kafka_message_t* message, void* opaque) noexcept {
    auto* self = static_cast<impl*>(opaque);
    delivery_report report;
    report.topic = static_cast<topic_id>(reinterpret_cast<std::uintptr_t>(rd_kafka_topic_opaque(message->rkt)));
    report.partition = message->partition;
    report.offset = message->offset;
    report.tag = reinterpret_cast<std::uintptr_t>(message->_private);
    if (auto id = detail::event_id_header(message)) report.event_id = *id;
    if (message->err) {
      report.error = detail::make_kafka_error(message->err, "delivery failed");
      self->failed.fetch_add(1, std::memory_order_relaxed);
    } else {
      self->delivered.fetch_add(1, std::memory_order_relaxed);
    }
    auto channel = report.tag >> (64 - channel_bits);
    if (channel == 0 || !self->has_channels.load(std::memory_order_acquire)) {
      if (self->opts.on_delivery) deliver(self->opts.on_delivery, report);
      return;
    }
    report.tag &= max_channel_tag;
    std::scoped_lock lock(self->channels_mutex);
    if (auto& handler = self->channels[channel - 1]) deliver(handler, report);  // else: the channel is gone
  }

  static void deliver(const delivery_handler& handler, const delivery_report& report) noexcept {
    try {
      handler(report);
    } catch (const std::exception& e) {
      detail::log().error("delivery handler threw: {}", e.what());
    } catch (...) {
      detail::log().error("delivery handler threw");
    }
  }

  static void on_error(rd_kafka_t* client, int code, const char* reason, void* opaque) noexcept {
    auto* self = static_cast<impl*>(opaque);
    detail::note_client_error(client, code, reason);
    if (code != RD_KAFKA_RESP_ERR__FATAL) {
      detail::log().warn("producer: {}: {}", rd_kafka_err2name(static_cast<rd_kafka_resp_err_t>(code)), reason);
      return;
    }
    char detail_text[512];
    auto underlying = rd_kafka_fatal_error(client, detail_text, sizeof detail_text);
    auto error = detail::make_kafka_error(underlying, fmt::format("fatal producer error: {}", detail_text));
    error.fatal = true;
    detail::log().critical("{}", error.message);
    std::scoped_lock lock(self->fatal_mutex);
    if (!self->fatal) self->fatal = std::move(error);
    self->has_fatal.store(true, std::memory_order_release);
  }
};

namespace {

// The registry's id of each topic's schema, or nothing without a registry.
std::expected<std::optional<std::array<std::int32_t, topic_count>>, std::string> registry_ids(
    const client_config& config) {
  auto wire = detail::wire_schemas::of(config);
  if (!wire) return std::unexpected(wire.error());
  if (!*wire) return std::nullopt;
  auto ids = (*wire)->registered_ids();
  if (!ids) return std::unexpected(ids.error());
  return *ids;
}

// A record framed with its topic's catalogue id (as encode_framed writes it), framed instead with
// the registry's id: a copy, as librdkafka copies the value anyway. Other records are left as they are.
std::span<const std::byte> with_registry_id(const outgoing_record& record,
                                            const std::array<std::int32_t, topic_count>& ids) {
  const auto registered = ids[static_cast<std::size_t>(record.topic)];
  auto framed = parse_frame(record.value);
  if (!framed || framed->schema_id != spec(record.topic).schema_id || registered == framed->schema_id) {
    return record.value;
  }
  thread_local byte_buffer copy;
  copy.clear();
  copy.append(record.value);
  const auto id = static_cast<std::uint32_t>(registered);
  for (int i = 0; i < 4; ++i) copy.data()[1 + i] = static_cast<std::byte>(id >> (24 - 8 * i));
  return copy.bytes();
}

}  // namespace

std::expected<std::unique_ptr<producer>, kafka_error> producer::create(options opts) {
  auto state = std::make_unique<impl>();
  state->opts = std::move(opts);
  const auto& config = state->opts.config;
  auto conf =
      detail::make_client_conf(config, client_role::producer, {.max_queued_messages = state->opts.max_queued_messages});
  if (!conf) return std::unexpected(conf.error());
  rd_kafka_conf_set_opaque(conf->get(), state.get());
  rd_kafka_conf_set_dr_msg_cb(conf->get(), impl::on_delivery);
  rd_kafka_conf_set_error_cb(conf->get(), impl::on_error);
  auto client = detail::make_client(RD_KAFKA_PRODUCER, *conf);
  if (!client) return std::unexpected(client.error());
  state->client = std::move(*client);

  // One topic handle per catalogue topic, carrying its compression and its id as opaque. Each starts
  // from the client's default topic conf: a fresh one would drop the partitioner and pass-through settings.
  for (const auto& t : catalogue) {
    detail::topic_conf_ptr topic_conf(rd_kafka_default_topic_conf_dup(state->client.get()));
    for (const auto& [name, value] : topic_properties(config, t.id)) {
      if (auto ok = detail::set_property(topic_conf.get(), name, value); !ok) {
        auto error = ok.error();
        error.message = fmt::format("{}: {}", t.name(), error.message);
        return std::unexpected(error);
      }
    }
    rd_kafka_topic_conf_set_opaque(topic_conf.get(), reinterpret_cast<void*>(static_cast<std::uintptr_t>(t.id)));
    detail::topic_ptr topic(rd_kafka_topic_new(state->client.get(), std::string(t.name()).c_str(), topic_conf.get()));
    if (!topic) return std::unexpected(detail::make_kafka_error(rd_kafka_last_error(), t.name()));
    (void)topic_conf.release();  // owned by the topic handle now
    state->topics[static_cast<std::size_t>(t.id)] = std::move(topic);
  }
  if (auto reachable = detail::await_brokers(state->client.get(), config); !reachable) {
    return std::unexpected(reachable.error());
  }
  if (auto ids = registry_ids(config); !ids) {
    return std::unexpected(detail::make_kafka_error(RD_KAFKA_RESP_ERR__INVALID_ARG, ids.error()));
  } else {
    state->registry_ids = *ids;
  }
  if (!state->caller_serves()) {
    state->delivery_thread = std::jthread([raw = state.get()](std::stop_token stop) {
      while (!stop.stop_requested()) rd_kafka_poll(raw->client.get(), 100);
    });
  }
  return std::unique_ptr<producer>(new producer(std::move(state)));
}

producer::producer(std::unique_ptr<impl> state) : impl_(std::move(state)) {}

producer::~producer() {
  if (!impl_) return;
  auto pending = close(10s);
  if (pending > 0) detail::log().error("producer destroyed with {} records undelivered", pending);
}

// A channel: its number rides in the top bits of every tag it publishes.
class producer::channel_publisher final : public publisher {
 public:
  channel_publisher(producer& owner, std::uint64_t number) : owner_(owner), number_(number) {}
  ~channel_publisher() override {
    std::scoped_lock lock(owner_.impl_->channels_mutex);
    owner_.impl_->channels[number_ - 1] = nullptr;
  }
  channel_publisher(const channel_publisher&) = delete;
  channel_publisher& operator=(const channel_publisher&) = delete;

  std::expected<void, kafka_error> publish_encoded(const outgoing_record& record, std::uint64_t tag) override {
    if (tag > max_channel_tag) return std::unexpected(tag_out_of_range(tag));
    return owner_.enqueue(record, (number_ << (64 - channel_bits)) | tag);
  }
  std::size_t flush(std::chrono::milliseconds timeout) override { return owner_.flush(timeout); }

  static kafka_error tag_out_of_range(std::uint64_t tag) {
    return detail::make_kafka_error(
        RD_KAFKA_RESP_ERR__INVALID_ARG,
        fmt::format("tag {} above {}, the largest a producer with channels takes", tag, max_channel_tag));
  }

 private:
  producer& owner_;
  std::uint64_t number_;
};

std::expected<std::unique_ptr<publisher>, kafka_error> producer::channel(delivery_handler on_delivery) {
  std::scoped_lock lock(impl_->channels_mutex);
  if (impl_->channels.size() >= max_channels) {
    return std::unexpected(detail::make_kafka_error(
        RD_KAFKA_RESP_ERR__INVALID_ARG, fmt::format("a producer gives out at most {} channels", max_channels)));
  }
  impl_->channels.push_back(std::move(on_delivery));
  impl_->has_channels.store(true, std::memory_order_release);
  return std::make_unique<channel_publisher>(*this, impl_->channels.size());
}

std::expected<void, kafka_error> producer::publish_encoded(const outgoing_record& record, std::uint64_t tag) {
  if (tag > max_channel_tag && impl_->has_channels.load(std::memory_order_relaxed)) [[unlikely]] {
    return std::unexpected(channel_publisher::tag_out_of_range(tag));
  }
  return enqueue(record, tag);
}

std::expected<void, kafka_error> producer::enqueue(const outgoing_record& record, std::uint64_t tag) {
  if (impl_->has_fatal.load(std::memory_order_acquire)) {
    if (auto fatal = fatal_error()) return std::unexpected(*fatal);
  }
  const auto value = impl_->registry_ids ? with_registry_id(record, *impl_->registry_ids) : record.value;
  // One clock reading for the produced-at header and the record's Kafka timestamp (CreateTime), so a
  // consumer can take either: the timestamp is read without parsing the headers.
  const auto produced_at = now();
  auto headers = detail::record_headers(record.meta, record.event_type, produced_at);  // the message's once sent
  auto* topic = impl_->topics[static_cast<std::size_t>(record.topic)].get();
  const char* key_data = record.key ? record.key->data() : nullptr;
  std::size_t key_size = record.key ? record.key->size() : 0;
  std::optional<std::chrono::steady_clock::time_point> deadline;  // from the first full queue on
  for (;;) {
    auto err = rd_kafka_producev(
        impl_->client.get(), RD_KAFKA_V_RKT(topic), RD_KAFKA_V_PARTITION(RD_KAFKA_PARTITION_UA),
        RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_VALUE(const_cast<std::byte*>(value.data()), value.size()),
        RD_KAFKA_V_KEY(key_data, key_size), RD_KAFKA_V_HEADERS(headers.get()),
        RD_KAFKA_V_TIMESTAMP(
            std::chrono::duration_cast<std::chrono::milliseconds>(produced_at.time_since_epoch()).count()),
        RD_KAFKA_V_OPAQUE(reinterpret_cast<void*>(static_cast<std::uintptr_t>(tag))), RD_KAFKA_V_END);
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR) {
      (void)headers.release();
      impl_->queued.fetch_add(1, std::memory_order_relaxed);
      if (impl_->caller_serves()) impl_->try_serve();
      return {};
    }
    auto now_steady = std::chrono::steady_clock::now();
    if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL && !deadline) deadline = now_steady + impl_->opts.enqueue_timeout;
    if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL || now_steady >= *deadline) {
      return std::unexpected(
          detail::make_kafka_error(err, fmt::format("publish {} to {}", record.event_type, topic_name(record.topic))));
    }
    // Back-pressure: wait for room rather than drop, serving reports meanwhile when that is ours to do.
    impl_->queue_full_waits.fetch_add(1, std::memory_order_relaxed);
    if (impl_->caller_serves() && !impl_->closed) {
      (void)poll(1ms);  // waits up to 1 ms itself (or for the caller serving reports now)
    } else {
      std::this_thread::sleep_for(1ms);
    }
  }
}

std::size_t producer::poll(std::chrono::milliseconds timeout) {
  if (!impl_->caller_serves() || impl_->closed) return 0;
  std::scoped_lock lock(impl_->serving);
  return static_cast<std::size_t>(rd_kafka_poll(impl_->client.get(), static_cast<int>(timeout.count())));
}

std::size_t producer::flush(std::chrono::milliseconds timeout) {
  // Not rd_kafka_flush(): with a delivery thread, reports must come from that thread alone.
  auto deadline = std::chrono::steady_clock::now() + timeout;
  auto pending = [&] { return static_cast<std::size_t>(rd_kafka_outq_len(impl_->client.get())); };
  while (pending() > 0 && std::chrono::steady_clock::now() < deadline) {
    if (impl_->caller_serves()) {
      (void)poll(std::min(
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now()), 100ms));
    } else {
      std::this_thread::sleep_for(1ms);
    }
  }
  return pending();
}

std::size_t producer::close(std::chrono::milliseconds timeout) {
  if (impl_->closed) return 0;
  auto pending = flush(timeout);
  impl_->delivery_thread.request_stop();
  if (impl_->delivery_thread.joinable()) impl_->delivery_thread.join();
  if (pending > 0) {
    // Purge so that every undelivered record still gets its (failed) report, exactly once.
    rd_kafka_purge(impl_->client.get(), RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
    std::scoped_lock lock(impl_->serving);
    rd_kafka_poll(impl_->client.get(), 0);
  }
  impl_->closed = true;
  return pending;
}

producer_stats producer::stats() const {
  return {impl_->queued.load(), impl_->delivered.load(), impl_->failed.load(), impl_->queue_full_waits.load()};
}

std::optional<kafka_error> producer::fatal_error() const {
  std::scoped_lock lock(impl_->fatal_mutex);
  return impl_->fatal;
}

}  // namespace horizons
