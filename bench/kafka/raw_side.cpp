// The raw side (see raw_side.hpp): a producer and a consumer on librdkafka's own API, and the runs
// of each scenario made with them.
#include "raw_side.hpp"

#include <algorithm>
#include <atomic>
#include <charconv>
#include <memory>
#include <optional>
#include <span>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include <horizons/codec.hpp>
#include <horizons/producer.hpp>
#include <horizons/publisher.hpp>

#include "arrived_records.hpp"  // src/horizons/kafka: how Horizons takes records, the same calls
#include "avro_c_reader.hpp"
#include "pacing.hpp"
#include "report.hpp"

namespace horizons::kafka_bench {

using namespace std::chrono_literals;

std::expected<detail::conf_ptr, std::string> raw_conf(const client_config& config, client_role role,
                                                      const client_settings& settings) {
  detail::conf_ptr conf(rd_kafka_conf_new());
  for (const auto& [name, value] : client_properties(config, role, settings)) {
    if (auto ok = detail::set_property(conf.get(), name, value); !ok) return std::unexpected(ok.error().message);
  }
  return conf;
}

client_settings producer_settings() { return {.max_queued_messages = producer::options{}.max_queued_messages}; }

namespace {

std::expected<detail::kafka_ptr, std::string> raw_client(rd_kafka_type_t type, detail::conf_ptr conf) {
  auto client = detail::make_client(type, conf);
  if (!client) return std::unexpected(fmt::format("raw librdkafka client: {}", client.error().message));
  return std::move(*client);
}

struct watermarks {
  std::vector<std::int64_t> low, high;
  [[nodiscard]] std::int64_t records() const {
    std::int64_t total = 0;
    for (std::size_t p = 0; p < low.size(); ++p) total += high[p] - low[p];
    return total;
  }
};

std::expected<watermarks, std::string> query_watermarks(rd_kafka_t* client, const std::string& topic, int partitions) {
  watermarks marks{std::vector<std::int64_t>(static_cast<std::size_t>(partitions)),
                   std::vector<std::int64_t>(static_cast<std::size_t>(partitions))};
  for (int p = 0; p < partitions; ++p) {
    auto i = static_cast<std::size_t>(p);
    if (auto err = rd_kafka_query_watermark_offsets(client, topic.c_str(), p, &marks.low[i], &marks.high[i], 10'000)) {
      return std::unexpected(fmt::format("watermarks of {}[{}]: {}", topic, p, rd_kafka_err2str(err)));
    }
  }
  return marks;
}

// The raw producer: Horizons' headers on the pre-encoded bytes, the topic handle configured as the typed
// producer configures its own, delivery reports served after each send as librdkafka's examples do, or on
// a thread of its own.
class raw_producer {
 public:
  static std::expected<std::unique_ptr<raw_producer>, std::string> create(const bench_context& ctx,
                                                                          delivery_reports reports) {
    auto config = ctx.raw_config(ctx.config);
    auto conf = raw_conf(config, client_role::producer, producer_settings());
    if (!conf) return std::unexpected(conf.error());
    std::unique_ptr<raw_producer> made(new raw_producer);
    rd_kafka_conf_set_opaque(conf->get(), made.get());
    rd_kafka_conf_set_dr_msg_cb(conf->get(), on_delivery);
    auto client = raw_client(RD_KAFKA_PRODUCER, std::move(*conf));
    if (!client) return std::unexpected(client.error());
    made->client_ = std::move(*client);
    detail::topic_conf_ptr topic_conf(rd_kafka_default_topic_conf_dup(made->client_.get()));
    for (const auto& [name, value] : topic_properties(config, ctx.topic)) {
      if (auto ok = detail::set_property(topic_conf.get(), name, value); !ok)
        return std::unexpected(ok.error().message);
    }
    made->topic_.reset(rd_kafka_topic_new(made->client_.get(), ctx.topic_name.c_str(), topic_conf.get()));
    if (!made->topic_)
      return std::unexpected(fmt::format("topic {}: {}", ctx.topic_name, rd_kafka_err2str(rd_kafka_last_error())));
    (void)topic_conf.release();  // owned by the topic handle now
    if (auto ok = partition_count(made->client_.get(), ctx.topic_name, config.connect_timeout); !ok) {
      return std::unexpected(ok.error());
    }
    made->inline_reports_ = reports == delivery_reports::on_caller;
    if (!made->inline_reports_) {
      made->delivery_thread_ = std::jthread([client = made->client_.get()](std::stop_token stop) {
        while (!stop.stop_requested()) rd_kafka_poll(client, 100);
      });
    }
    return made;
  }

  // Waits for room when the local queue is full, as Horizons' publish() does.
  std::expected<void, std::string> send(const wire_event& e, timestamp produced_at) {
    char produced_at_text[24];
    auto end = std::to_chars(produced_at_text, produced_at_text + sizeof produced_at_text,
                             produced_at.time_since_epoch().count())
                   .ptr;
    detail::headers_ptr headers(rd_kafka_headers_new(6));  // owned by the message once produced
    auto add = [&](std::string_view name, const void* value, std::size_t size) {
      rd_kafka_header_add(headers.get(), name.data(), static_cast<ssize_t>(name.size()), value,
                          static_cast<ssize_t>(size));
    };
    // In the order Horizons writes them: the same record on the wire.
    add(header::event_type, e.event_type.data(), e.event_type.size());
    add(header::correlation_id, e.correlation_id.data(), e.correlation_id.size());
    add(header::content_type, header::content_type_value.data(), header::content_type_value.size());
    add(header::produced_at, produced_at_text, static_cast<std::size_t>(end - produced_at_text));
    if (e.traceparent) add(header::traceparent, e.traceparent->data(), e.traceparent->size());
    add(header::event_id, e.event_id.data(), e.event_id.size());
    const char* key_data = e.key ? e.key->data() : nullptr;
    std::size_t key_size = e.key ? e.key->size() : 0;
    for (;;) {
      auto err = rd_kafka_producev(
          client_.get(), RD_KAFKA_V_RKT(topic_.get()), RD_KAFKA_V_PARTITION(RD_KAFKA_PARTITION_UA),
          RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_VALUE(const_cast<char*>(e.value.data()), e.value.size()),
          RD_KAFKA_V_KEY(key_data, key_size), RD_KAFKA_V_HEADERS(headers.get()), RD_KAFKA_V_END);
      if (err == RD_KAFKA_RESP_ERR_NO_ERROR) break;
      if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL)
        return std::unexpected(fmt::format("raw produce: {}", rd_kafka_err2str(err)));
      if (inline_reports_) {
        rd_kafka_poll(client_.get(), 1);
      } else {
        std::this_thread::sleep_for(1ms);
      }
    }
    (void)headers.release();  // the message owns them now
    if (inline_reports_) rd_kafka_poll(client_.get(), 0);
    return {};
  }

  // Returns how many records are still undelivered after `timeout`.
  std::size_t flush(std::chrono::milliseconds timeout) {
    if (inline_reports_) {
      rd_kafka_flush(client_.get(), static_cast<int>(timeout.count()));
    } else {
      auto deadline = steady::now() + timeout;
      while (rd_kafka_outq_len(client_.get()) > 0 && steady::now() < deadline) std::this_thread::sleep_for(1ms);
    }
    return static_cast<std::size_t>(rd_kafka_outq_len(client_.get()));
  }

  std::atomic<std::uint64_t> delivered{0}, failed{0};

 private:
  raw_producer() = default;
  static void on_delivery(rd_kafka_t*, const rd_kafka_message_t* message, void* opaque) noexcept {
    auto* self = static_cast<raw_producer*>(opaque);
    (message->err ? self->failed : self->delivered).fetch_add(1, std::memory_order_relaxed);
  }
  detail::kafka_ptr client_;
  detail::topic_ptr topic_;
  bool inline_reports_ = true;
  std::jthread delivery_thread_;  // destroyed first: stops polling before the client goes
};

// The raw consumer: every partition assigned (no group membership), records polled one by one or taken
// in batches of what has arrived.
class raw_consumer {
 public:
  enum class from : std::uint8_t { beginning, end };

  static std::expected<std::unique_ptr<raw_consumer>, std::string> open(const bench_context& ctx,
                                                                        const client_config& base, from start,
                                                                        raw_take take = raw_take::one_by_one) {
    auto config = ctx.raw_config(base);
    auto conf = raw_conf(config, client_role::consumer, {.group = ctx.group("raw"), .start = offset_reset::earliest});
    if (!conf) return std::unexpected(conf.error());
    auto client = raw_client(RD_KAFKA_CONSUMER, std::move(*conf));
    if (!client) return std::unexpected(client.error());
    std::unique_ptr<raw_consumer> made(new raw_consumer);
    made->client_ = std::move(*client);
    rd_kafka_poll_set_consumer(made->client_.get());
    if (take == raw_take::batched) made->arrived_.emplace(made->client_.get());
    auto partitions = partition_count(made->client_.get(), ctx.topic_name, config.connect_timeout);
    if (!partitions) return std::unexpected(partitions.error());
    // Starting at the end: the high watermarks now, so that nothing produced from here on is skipped.
    watermarks marks;
    if (start == from::end) {
      auto queried = query_watermarks(made->client_.get(), ctx.topic_name, *partitions);
      if (!queried) return std::unexpected(queried.error());
      marks = std::move(*queried);
    }
    detail::partition_list_ptr assignment(rd_kafka_topic_partition_list_new(*partitions));
    for (int p = 0; p < *partitions; ++p) {
      rd_kafka_topic_partition_list_add(assignment.get(), ctx.topic_name.c_str(), p)->offset =
          start == from::end ? marks.high[static_cast<std::size_t>(p)] : RD_KAFKA_OFFSET_BEGINNING;
    }
    if (auto err = rd_kafka_assign(made->client_.get(), assignment.get())) {
      return std::unexpected(fmt::format("assign {}: {}", ctx.topic_name, rd_kafka_err2str(err)));
    }
    return made;
  }
  ~raw_consumer() {
    arrived_.reset();
    if (client_) rd_kafka_consumer_close(client_.get());
  }
  raw_consumer(const raw_consumer&) = delete;
  raw_consumer& operator=(const raw_consumer&) = delete;

  // The next record, or null when none arrived within `timeout` (errors are logged by librdkafka and skipped).
  detail::message_ptr next(std::chrono::milliseconds timeout) {
    for (;;) {
      auto wait_ms = static_cast<int>(timeout.count());
      auto message =
          arrived_ ? arrived_->take(wait_ms) : detail::message_ptr(rd_kafka_consumer_poll(client_.get(), wait_ms));
      if (!message || !message->err) return message;
      timeout = 0ms;
    }
  }

 private:
  raw_consumer() = default;
  detail::kafka_ptr client_;
  std::optional<detail::arrived_records> arrived_;  // batched only
};

// The due time the raw producer wrote into the produced-at header (decimal microseconds).
std::optional<timestamp> produced_at_of(const rd_kafka_message_t* message) {
  rd_kafka_headers_t* headers = nullptr;
  const void* value = nullptr;
  std::size_t size = 0;
  std::int64_t micros = 0;
  const bool found =
      rd_kafka_message_headers(message, &headers) == RD_KAFKA_RESP_ERR_NO_ERROR &&
      rd_kafka_header_get_last(headers, header::produced_at.data(), &value, &size) == RD_KAFKA_RESP_ERR_NO_ERROR;
  if (!found) return std::nullopt;
  std::string_view text(static_cast<const char*>(value), size);
  if (std::from_chars(text.data(), text.data() + text.size(), micros).ec != std::errc{}) return std::nullopt;
  return timestamp{std::chrono::microseconds{micros}};
}

}  // namespace

std::expected<int, std::string> partition_count(rd_kafka_t* client, const std::string& topic,
                                                std::chrono::milliseconds timeout) {
  detail::topic_ptr handle(rd_kafka_topic_new(client, topic.c_str(), nullptr));
  auto deadline = steady::now() + timeout;
  for (;;) {
    const rd_kafka_metadata_t* raw = nullptr;
    auto left = std::max(std::chrono::duration_cast<std::chrono::milliseconds>(deadline - steady::now()), 1ms);
    auto err = rd_kafka_metadata(client, 0, handle.get(), &raw, static_cast<int>(left.count()));
    detail::metadata_ptr metadata(raw);
    std::string problem;
    if (err) {
      problem = fmt::format("metadata of {}: {}", topic, rd_kafka_err2str(err));
    } else if (metadata->topic_cnt != 1 || metadata->topics[0].err || metadata->topics[0].partition_cnt == 0) {
      problem = fmt::format("topic {} is not on the cluster{}", topic,
                            metadata->topic_cnt == 1 && metadata->topics[0].err
                                ? fmt::format(" ({})", rd_kafka_err2str(metadata->topics[0].err))
                                : "");
    } else if (std::ranges::any_of(std::span(metadata->topics[0].partitions, metadata->topics[0].partition_cnt),
                                   [](const rd_kafka_metadata_partition_t& p) { return p.leader < 0; })) {
      problem = fmt::format("topic {} has partitions without a leader", topic);
    } else {
      return metadata->topics[0].partition_cnt;
    }
    if (steady::now() >= deadline) return std::unexpected(problem);
    std::this_thread::sleep_for(200ms);
  }
}

std::expected<detail::kafka_ptr, std::string> raw_query_client(const bench_context& ctx) {
  auto conf = raw_conf(ctx.raw_config(ctx.config), client_role::consumer, {.group = ctx.group("query")});
  if (!conf) return std::unexpected(conf.error());
  return raw_client(RD_KAFKA_CONSUMER, std::move(*conf));
}

std::expected<side_result, std::string> raw_produce(bench_context& ctx, std::uint64_t events, std::string_view label) {
  auto producer = raw_producer::create(ctx, ctx.options.reports_mode());
  if (!producer) return std::unexpected(producer.error());
  auto& out = **producer;
  progress bar(std::string(label), events, out.delivered, ctx.tty);
  auto cpu0 = ctx.cpu.client_ns();
  auto t0 = steady::now();
  for (std::uint64_t i = 0; i < events; ++i) {
    if (ctx.stop.stop_requested()) return std::unexpected("interrupted");
    if (auto sent = out.send(ctx.wire[i % ctx.wire.size()], now()); !sent) return std::unexpected(sent.error());
  }
  if (auto pending = out.flush(ctx.config.delivery_timeout + 5s); pending > 0) {
    return std::unexpected(fmt::format("raw produce: {} records undelivered", pending));
  }
  side_result r{.events = out.delivered.load()};
  finish_throughput(r, ctx, steady::now() - t0, ctx.cpu.client_ns() - cpu0);
  if (out.failed.load() > 0) return std::unexpected(fmt::format("raw produce: {} records failed", out.failed.load()));
  bar.finish(throughput_text(r));
  return r;
}

std::expected<side_result, std::string> raw_consume(bench_context& ctx, raw_decode decode, raw_take take) {
  const auto label = decode == raw_decode::avro_c ? raw_avro_c_side.label
                     : take == raw_take::batched  ? raw_batched_side.label
                                                  : std::string_view("raw");
  std::unique_ptr<avro_c_reader> reader;
  if (decode == raw_decode::avro_c) {
    auto made = avro_c_reader::create(ctx.topic);
    if (!made) return std::unexpected(made.error());
    reader = std::move(*made);
  }
  auto in = raw_consumer::open(ctx, ctx.config, raw_consumer::from::beginning, take);
  if (!in) return std::unexpected(in.error());
  std::atomic<std::uint64_t> consumed{0};
  progress bar(fmt::format("consume {}", label), ctx.consume_events, consumed, ctx.tty);
  std::uint64_t checksum = 0;  // touches every record, as a handler would
  steady::time_point first{};
  std::int64_t cpu0 = 0;
  auto quiet_since = steady::now();
  std::uint64_t count = 0;
  while (count < ctx.consume_events) {
    if (ctx.stop.stop_requested()) return std::unexpected("interrupted");
    auto message = (*in)->next(100ms);
    if (!message) {
      if (steady::now() - quiet_since > 30s) {
        return std::unexpected(fmt::format("{} consume: stalled after {} records", label, count));
      }
      continue;
    }
    quiet_since = steady::now();
    if (count == 0) {
      cpu0 = ctx.cpu.client_ns();
      first = steady::now();
    }
    if (reader) {
      // What a user would write: skip the frame header, decode the body with avro-c, use a field.
      auto frame = parse_frame(std::span(static_cast<const std::byte*>(message->payload), message->len));
      if (!frame) return std::unexpected(fmt::format("{} consume: {}", label, frame.error().message));
      auto occurred_at = reader->occurred_at(frame->body);
      if (!occurred_at) return std::unexpected(fmt::format("{} consume: {}", label, occurred_at.error()));
      checksum += static_cast<std::uint64_t>(*occurred_at);
    } else {
      checksum += message->len;
    }
    consumed.store(++count, std::memory_order_relaxed);
  }
  auto elapsed = steady::now() - first;
  side_result r{.events = count};
  finish_throughput(r, ctx, elapsed, ctx.cpu.client_ns() - cpu0);
  if (checksum == 0) return std::unexpected(fmt::format("{} consume: every record was empty", label));
  bar.finish(throughput_text(r));
  return r;
}

std::expected<side_result, std::string> raw_e2e(bench_context& ctx, int rate, double duration_s) {
  auto in = raw_consumer::open(ctx, ctx.e2e_consumer_config(), raw_consumer::from::end);
  if (!in) return std::unexpected(in.error());
  auto producer = raw_producer::create(ctx, ctx.options.reports_mode());
  if (!producer) return std::unexpected(producer.error());
  latency_sink sink(rate, duration_s);
  std::jthread receiver([&](std::stop_token stop) {
    while (!stop.stop_requested()) {
      auto message = (*in)->next(50ms);
      if (!message) continue;
      auto arrived = now();
      if (auto due = produced_at_of(message.get())) sink.record(*due, arrived);
    }
  });
  auto plan = pace_plan::starting_now(rate, std::chrono::duration<double>(duration_s));
  sink.measure_from(plan);
  std::atomic<std::uint64_t> sent{0};
  progress bar(fmt::format("e2e {}/s raw", rate), plan.total_events, sent, ctx.tty);
  auto paced = pace(plan, sent, ctx.stop, [&](std::uint64_t k, timestamp due) {
    return (*producer)->send(ctx.wire[k % ctx.wire.size()], due);
  });
  if (!paced) return std::unexpected(paced.error());
  (*producer)->flush(ctx.config.delivery_timeout + 5s);
  sink.await(plan.measured_events(), 5s, ctx.stop);
  receiver.request_stop();
  receiver.join();
  auto r = sink.result(plan, ctx);
  bar.finish(latency_text(r));
  return r;
}

std::expected<std::uint64_t, std::string> fill_topic(bench_context& ctx, std::uint64_t events) {
  auto client = raw_query_client(ctx);
  if (!client) return std::unexpected(client.error());
  auto held = [&]() -> std::expected<std::uint64_t, std::string> {
    auto marks = query_watermarks(client->get(), ctx.topic_name, ctx.partitions);
    if (!marks) return std::unexpected(marks.error());
    return std::min(static_cast<std::uint64_t>(marks->records()), events);
  };
  auto have = held();
  if (!have || *have >= events) return have;
  if (auto filled = raw_produce(ctx, events - *have, "fill topic"); !filled) return std::unexpected(filled.error());
  return held();
}

}  // namespace horizons::kafka_bench
