#include <horizons/catalogue.hpp>
#include <horizons/codec.hpp>
#include <horizons/consumer.hpp>
#include <horizons/publisher.hpp>
#include <horizons/tracing.hpp>

#include <atomic>
#include <optional>
#include <thread>

#include <fmt/format.h>

#include "../registry/wire_schemas.hpp"
#include "arrived_records.hpp"
#include "consumer_metrics.hpp"
#include "dead_letter.hpp"
#include "headers.hpp"
#include "rdkafka.hpp"

namespace horizons {

using namespace std::chrono_literals;

namespace detail {

// The only way to a message_context's record: the consumer's.
struct consumer_access {
  static void attach(message_context& at, const rd_kafka_message_t* message) {
    at.record_ = reinterpret_cast<const consumed_record*>(message);
  }
  static const rd_kafka_message_t* record(const message_context& at) {
    return reinterpret_cast<const rd_kafka_message_t*>(at.record_);
  }
  static const std::optional<timestamp>& kept_produced_at(const message_context& at) { return at.kept_produced_at_; }
  static void detach(message_context& at, std::optional<timestamp> produced_at) {
    at.kept_produced_at_ = produced_at;
    at.record_ = nullptr;
  }
};

}  // namespace detail

std::optional<timestamp> message_context::produced_at() const {
  const auto* message = detail::consumer_access::record(*this);
  return message ? detail::produced_at_header(message) : detail::consumer_access::kept_produced_at(*this);
}

message_context message_context::detached() const {
  auto copy = *this;
  detail::consumer_access::detach(copy, produced_at());
  return copy;
}

namespace {

template <std::size_t I>
using topic_payload = decltype(std::variant_alternative_t<I, any_event>::payload);

template <class Indices>
struct payload_views;
template <std::size_t... I>
struct payload_views<std::index_sequence<I...>> {
  using type = std::variant<view_of<topic_payload<I>>...>;
};
// One slot per topic holding views of its payloads, as any_event holds owning events.
using any_payload_view = payload_views<std::make_index_sequence<topic_count>>::type;

// Calls fn(std::integral_constant<std::size_t, I>) where I is `topic`'s index.
template <class Fn>
auto with_topic(topic_id topic, Fn&& fn) {
  return [&]<std::size_t... I>(std::index_sequence<I...>) {
    decltype(fn(std::integral_constant<std::size_t, 0>{})) result{};
    (void)((static_cast<std::size_t>(topic) == I ? (result = fn(std::integral_constant<std::size_t, I>{}), true)
                                                 : false) ||
           ...);
    return result;
  }
  (std::make_index_sequence<topic_count>{});
}

// A counter written by the polling thread alone and read by stats() from any thread: a relaxed
// load and store, not a locked read-modify-write per record.
void bump(std::atomic<std::uint64_t>& counter) {
  counter.store(counter.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
}

}  // namespace

struct consumer::impl {
  options opts;
  std::string group;
  detail::kafka_ptr client;
  std::unique_ptr<detail::dead_letter_writer> dead_letters;
  std::optional<detail::consumer_metrics> metrics;                      // from create(), once the group is known
  const std::array<erased_handler, payload_count>* handlers = nullptr;  // the consumer's
  // One reused event and one reused payload view per topic: decoding reuses their storage.
  std::array<any_event, topic_count> decoded;
  std::array<any_payload_view, topic_count> views;
  event_head view_head;  // the envelope of the record in hand, when read as a view
  // The catalogue topic of the last topic handle seen: records come in runs of one partition.
  const rd_kafka_topic_t* last_rkt = nullptr;
  std::optional<topic_id> last_topic;
  // The last finished record of the current run of one partition, its offset not stored yet: storing
  // takes librdkafka's locks, so it is done once per run (when the partition changes, at the end of
  // poll(), before a revoke commits, at close) rather than once per record.
  detail::message_ptr unstored;
  // What has arrived and is not handled yet, taken from librdkafka in batches.
  std::optional<detail::arrived_records> arrived;
  std::atomic<std::uint64_t> handled{0}, skipped{0}, retries{0}, dead_lettered{0}, undecodable{0}, rebalances{0};
  bool closed = false;
  bool series_declared = false;  // the metrics' zero series, at the first poll (handlers are known then)
  // With a schema registry: how to read each writer id, the last plan per topic (records come in
  // runs from one writer), and the body of the record in hand turned into this build's schema.
  std::shared_ptr<detail::wire_schemas> wire;
  std::array<std::pair<std::int32_t, const resolution_plan*>, topic_count> last_plan{};
  byte_buffer resolved_body;

  impl() {
    [&]<std::size_t... I>(std::index_sequence<I...>) {
      ((decoded[I] = any_event(std::in_place_index<I>), views[I] = any_payload_view(std::in_place_index<I>)), ...);
    }
    (std::make_index_sequence<topic_count>{});
  }

  // Rebalance: commit finished work before giving partitions up. The classic protocol with the default
  // assignors is eager (the whole assignment changes at once); KIP-848's consumer protocol is incremental
  // (only the listed partitions come or go), and librdkafka then wants the incremental calls.
  static void on_rebalance(rd_kafka_t* client, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t* partitions,
                           void* opaque) noexcept {
    auto* self = static_cast<impl*>(opaque);
    self->rebalances.fetch_add(1, std::memory_order_relaxed);
    const bool incremental = std::string_view(rd_kafka_rebalance_protocol(client)) == "COOPERATIVE";
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
      detail::log().debug("consumer {}: assigned {} partitions", self->group, partitions->cnt);
      if (incremental) {
        detail::error_ptr failed(rd_kafka_incremental_assign(client, partitions));
        if (failed) detail::log().error("consumer {}: assign: {}", self->group, rd_kafka_error_string(failed.get()));
      } else {
        rd_kafka_assign(client, partitions);
      }
      return;
    }
    self->store_finished();
    auto commit = rd_kafka_commit(client, nullptr, 0);
    if (commit && commit != RD_KAFKA_RESP_ERR__NO_OFFSET) {
      detail::log().warn("consumer {}: commit on revoke: {}", self->group, rd_kafka_err2str(commit));
    }
    if (incremental) {
      detail::error_ptr failed(rd_kafka_incremental_unassign(client, partitions));
      if (failed) detail::log().error("consumer {}: unassign: {}", self->group, rd_kafka_error_string(failed.get()));
    } else {
      rd_kafka_assign(client, nullptr);
    }
  }

  // The next record to handle: waits until `deadline` when `wait`, else takes only what has arrived.
  // Null when nothing came; partition ends and transient errors are passed over (logged).
  std::expected<detail::message_ptr, kafka_error> next_record(std::chrono::steady_clock::time_point deadline,
                                                              bool wait) {
    for (;;) {
      int wait_ms = 0;
      if (wait) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
        wait_ms = static_cast<int>(std::max(left.count(), 0L));
      }
      detail::message_ptr message = arrived->take(wait_ms);
      if (!message || !message->err) return message;
      if (message->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) continue;
      auto error = detail::make_kafka_error(message->err, "consume");
      if (message->err == RD_KAFKA_RESP_ERR__FATAL) {
        error.fatal = true;
        return std::unexpected(error);
      }
      detail::log().warn("consumer {}: {}", group, error.message);
    }
  }

  // Step one: what a record is, enough to pick its handler. Its envelope is read owning, into the
  // topic's reused event, unless a handler of the topic takes views; then as a view. So no
  // envelope is read twice, but for an owning handler on a topic that also has view handlers.
  struct record_head {
    topic_id topic;
    std::span<const std::byte> body;
    payload_position payload;
    const void* meta;             // an envelope_view if `as_view`, else an envelope
    std::string_view event_type;  // the envelope's
    bool as_view;
  };
  std::expected<record_head, codec_error> decode_head(const rd_kafka_message_t* message) {
    if (message->rkt != last_rkt) {
      last_rkt = message->rkt;
      last_topic = topic_from_name(rd_kafka_topic_name(message->rkt));
    }
    auto topic = last_topic;
    if (!topic) return std::unexpected(codec_error{codec_errc::unknown_schema_id, "not a catalogue topic"});
    auto framed = parse_frame(std::span(static_cast<const std::byte*>(message->payload), message->len));
    if (!framed) return std::unexpected(std::move(framed.error()));
    if (wire) {
      auto body = in_compiled_schema(*topic, *framed);
      if (!body) return std::unexpected(std::move(body.error()));
      framed->body = *body;
    } else if (framed->schema_id != spec(*topic).schema_id) {
      return std::unexpected(codec_error{codec_errc::unknown_schema_id,
                                         fmt::format("unknown schema id {} for topic {} (its schema is {})",
                                                     framed->schema_id, topic_name(*topic), spec(*topic).schema_id)});
    }
    if (has_view_handler(*topic)) {
      auto head = horizons::decode_head(*topic, framed->body);
      if (!head) return std::unexpected(std::move(head.error()));
      view_head = *head;
      return record_head{*topic, framed->body, view_head.payload, &view_head.meta, view_head.meta.event_type, true};
    }
    return with_topic(*topic, [&](auto index) -> std::expected<record_head, codec_error> {
      auto& event = std::get<index()>(decoded[index()]);
      auto at = decode_envelope(*topic, framed->body, event);
      if (!at) return std::unexpected(std::move(at.error()));
      return record_head{*topic, framed->body, *at, static_cast<const envelope*>(&event), event.event_type, false};
    });
  }

  // A registry id names the writer's schema: the body as is when that is this build's schema, else
  // translated into it (valid until the next record).
  std::expected<std::span<const std::byte>, codec_error> in_compiled_schema(topic_id topic, const frame& framed) {
    auto& [last_id, last] = last_plan[static_cast<std::size_t>(topic)];
    if (!last || last_id != framed.schema_id) {
      auto plan = wire->plan(topic, framed.schema_id);
      if (!plan) return std::unexpected(std::move(plan.error()));
      last_id = framed.schema_id;
      last = *plan;
    }
    return detail::in_compiled_schema(*last, framed.body, resolved_body);
  }

  [[nodiscard]] bool has_view_handler(topic_id topic) const {
    auto t = static_cast<std::size_t>(topic);
    for (auto i = detail::topic_payload_offsets[t]; i < detail::topic_payload_offsets[t + 1]; ++i) {
      if ((*handlers)[i].kind == handler_kind::view) return true;
    }
    return false;
  }

  // Step two: the payload a handler of `kind` takes, into the topic's reused slot. With no handler
  // the payload is only checked, in place, as a view.
  struct decoded_event {
    const void* meta = nullptr;
    const void* payload = nullptr;
    std::optional<std::string_view> job_id{};  // read only when tracing
  };
  std::expected<decoded_event, codec_error> decode(const record_head& record, handler_kind kind) {
    return with_topic(record.topic, [&](auto index) -> std::expected<decoded_event, codec_error> {
      auto payload_of = [](const auto& payload) {
        return std::visit([](const auto& p) { return static_cast<const void*>(&p); }, payload);
      };
      if (kind == handler_kind::owning) {
        auto& event = std::get<index()>(decoded[index()]);
        auto ok = record.as_view ? decode_body(record.body, event)
                                 : decode_payload(record.body, record.payload, record.event_type, event.payload);
        if (!ok) return std::unexpected(std::move(ok.error()));
        return decoded_event{static_cast<const envelope*>(&event), payload_of(event.payload),
                             tracing::enabled() ? tracing::job_id_of(event.payload) : std::nullopt};
      }
      auto& payload = std::get<index()>(views[index()]);
      auto ok = decode_payload_view<topic_payload<index()>>(record.body, record.payload, record.event_type, payload);
      if (!ok) return std::unexpected(std::move(ok.error()));
      return decoded_event{record.meta, payload_of(payload),
                           tracing::enabled() ? tracing::job_id_of(payload) : std::nullopt};
    });
  }

  // Calls the handler, retrying with exponential backoff; the last result.
  handler_result dispatch(const erased_handler& handler, std::size_t handler_index, const decoded_event& event,
                          message_context& at, std::chrono::steady_clock::time_point started) {
    handler_result result;
    auto backoff = opts.retry.initial_backoff;
    for (;; ++at.attempt) {
      try {
        result = handler.call(event.meta, event.payload, at);
      } catch (const std::exception& e) {
        result = std::unexpected(fmt::format("handler threw: {}", e.what()));
      }
      metrics->handler_call(handler_index,
                            std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
      if (result || at.attempt >= opts.retry.max_attempts) return result;
      bump(retries);
      metrics->retry(handler_index);
      std::this_thread::sleep_for(backoff);
      backoff = std::min(backoff * 2, opts.retry.max_backoff);
      started = std::chrono::steady_clock::now();
    }
  }

  // Writes the record to its DLQ; `span`, when tracing, says where it went (or that it could not).
  std::expected<void, kafka_error> dead_letter(const rd_kafka_message_t* message,
                                               const detail::dead_letter_reason& reason,
                                               tracing::consumer_span* span = nullptr) {
    auto written = dead_letters->write(message, reason);
    if (span) {
      if (written)
        span->dead_lettered(*written, reason.message);
      else
        span->fail(reason.message);
    }
    if (!written) return std::unexpected(written.error());
    bump(dead_lettered);
    metrics->dead_letter(rd_kafka_topic_name(message->rkt), reason.error_class);
    detail::log().warn("consumer {}: {}[{}]@{} dead-lettered to {} ({}: {})", group, rd_kafka_topic_name(message->rkt),
                       message->partition, message->offset, *written, reason.error_class, reason.message);
    return {};
  }

  // A record that does not decode: dead-lettered, or skipped where the options say so.
  std::expected<void, kafka_error> undecodable_record(const rd_kafka_message_t* message, const codec_error& error) {
    bump(undecodable);
    if (opts.undecodable == undecodable_policy::skip) {
      detail::log().warn("consumer {}: skipped {}[{}]@{}: {}", group, rd_kafka_topic_name(message->rkt),
                         message->partition, message->offset, error.message);
      return {};
    }
    return dead_letter(message, {.error_class = "decode", .message = error.message, .attempts = 0});
  }

  // A record longer than the configured limit: dead-lettered undecoded and without its value (a
  // letter as long would pass no broker's default limit), or skipped where the options say so.
  std::expected<void, kafka_error> oversized_record(const rd_kafka_message_t* message) {
    const auto why = fmt::format(
        "record of {} bytes is longer than this consumer's limit of {} (KAFKA_CONSUMER_MAX_RECORD_BYTES): not "
        "decoded, and its value left out of this letter; it stays at {}[{}]@{} while the topic keeps it",
        message->len, opts.config.max_record_bytes, rd_kafka_topic_name(message->rkt), message->partition,
        message->offset);
    if (opts.undecodable == undecodable_policy::skip) {
      detail::log().warn("consumer {}: skipped {}", group, why);
      return {};
    }
    return dead_letter(message, {.error_class = "size", .message = why, .attempts = 0, .omit_value = true});
  }

  // One record, from its bytes to its verdict; the offset is stored unless an error is returned.
  std::expected<void, kafka_error> handle(detail::message_ptr& owned) {
    const rd_kafka_message_t* message = owned.get();
    if (static_cast<std::int64_t>(message->len) > opts.config.max_record_bytes) {
      return finish(owned, oversized_record(message));
    }
    auto head = decode_head(message);
    if (!head) return finish(owned, undecodable_record(message, head.error()));
    const auto handler_index =
        detail::topic_payload_offsets[static_cast<std::size_t>(head->topic)] + head->payload.branch;
    const auto& handler = (*handlers)[handler_index];
    auto event = decode(*head, handler.kind);
    if (!event) return finish(owned, undecodable_record(message, event.error()));
    if (handler.kind == handler_kind::none) {
      bump(skipped);
      return finish(owned, {});
    }
    rd_kafka_timestamp_type_t kind;
    message_context at;
    at.topic = head->topic;
    at.partition = message->partition;
    at.offset = message->offset;
    at.record_time = timestamp{std::chrono::milliseconds{rd_kafka_message_timestamp(message, &kind)}};
    detail::consumer_access::attach(at, message);
    // Horizons' producer gives a record its produced-at as its CreateTime too: that is read without
    // parsing the headers. A LogAppendTime topic leaves the header to read.
    const auto started = std::chrono::steady_clock::now();
    auto produced =
        kind == RD_KAFKA_TIMESTAMP_CREATE_TIME ? std::optional(at.record_time) : detail::produced_at_header(message);
    if (produced) metrics->latency(head->topic, metrics->seconds_between(*produced, started));
    std::optional<tracing::consumer_span> span;
    if (tracing::enabled()) [[unlikely]]
      span.emplace(facts_of(message, *head, *event),
                   tracing::consumer_span::delivery{
                       .group = group,
                       .partition = message->partition,
                       .offset = message->offset,
                       .traceparent = detail::last_header(message, header::traceparent),
                   });
    auto result = dispatch(handler, handler_index, *event, at, started);
    if (result) {
      bump(handled);
      return finish(owned, {});
    }
    return finish(owned,
                  dead_letter(message, {.error_class = "handler", .message = result.error(), .attempts = at.attempt},
                              span ? &*span : nullptr));
  }

  // What a span says about a record (tracing only).
  static tracing::record_facts facts_of(const rd_kafka_message_t* message, const record_head& head,
                                        const decoded_event& event) {
    std::optional<std::string_view> key;
    if (message->key) key = std::string_view(static_cast<const char*>(message->key), message->key_len);
    return {.topic = head.topic, .event_type = head.event_type, .key = key, .job_id = event.job_id};
  }

  // Marks the record finished once its fate is settled (`settled`); its offset is stored with its run's
  // (store_finished), and auto-commit writes it later.
  std::expected<void, kafka_error> finish(detail::message_ptr& message, std::expected<void, kafka_error> settled) {
    if (!settled) return settled;
    if (unstored && (unstored->rkt != message->rkt || unstored->partition != message->partition)) store_finished();
    unstored = std::move(message);
    return {};
  }

  void declare_series() {
    for (std::size_t i = 0; i < handlers->size(); ++i) {
      if ((*handlers)[i].kind != handler_kind::none) metrics->declare_handler(i);
    }
    for (auto topic : opts.topics) metrics->declare_topic(topic_name(topic));
    series_declared = true;
  }

  // Stores the offset of the last finished record, if any.
  void store_finished() {
    if (!unstored) return;
    auto err = rd_kafka_offset_store(unstored->rkt, unstored->partition, unstored->offset);
    // _STATE: the partition was revoked meanwhile; its new owner will see the record again (at-least-once).
    if (err && err != RD_KAFKA_RESP_ERR__STATE) {
      detail::log().warn("consumer {}: offset store: {}", group, rd_kafka_err2str(err));
    }
    unstored.reset();
  }
};

std::expected<std::unique_ptr<consumer>, kafka_error> consumer::create(options opts) {
  if (opts.topics.empty()) {
    return std::unexpected(kafka_error{
        .code = RD_KAFKA_RESP_ERR__INVALID_ARG, .name = "_INVALID_ARG", .message = "consumer: no topics to consume"});
  }
  auto state = std::make_unique<impl>();
  state->opts = std::move(opts);
  const auto& config = state->opts.config;
  state->group = !state->opts.group.empty() ? state->opts.group
                 : config.consumer_group    ? *config.consumer_group
                                            : std::string(spec(state->opts.topics.front()).consumer_group);

  auto conf = detail::make_client_conf(
      config, client_role::consumer,
      {.group = state->group,
       .start = state->opts.start == start_position::earliest ? offset_reset::earliest : offset_reset::latest});
  if (!conf) return std::unexpected(conf.error());
  rd_kafka_conf_set_opaque(conf->get(), state.get());
  rd_kafka_conf_set_rebalance_cb(conf->get(), impl::on_rebalance);
  auto client = detail::make_client(RD_KAFKA_CONSUMER, *conf);
  if (!client) return std::unexpected(client.error());
  state->client = std::move(*client);
  if (auto reachable = detail::await_brokers(state->client.get(), config); !reachable) {
    return std::unexpected(reachable.error());
  }

  auto dead_letters = detail::dead_letter_writer::create(config);
  if (!dead_letters) return std::unexpected(dead_letters.error());
  state->dead_letters = std::move(*dead_letters);
  state->metrics.emplace(state->group);
  auto wire = detail::wire_schemas::of(config);
  if (!wire) return std::unexpected(detail::make_kafka_error(RD_KAFKA_RESP_ERR__INVALID_ARG, wire.error()));
  state->wire = std::move(*wire);

  rd_kafka_poll_set_consumer(state->client.get());
  state->arrived.emplace(state->client.get());
  detail::partition_list_ptr subscription(
      rd_kafka_topic_partition_list_new(static_cast<int>(state->opts.topics.size())));
  for (auto t : state->opts.topics) {
    rd_kafka_topic_partition_list_add(subscription.get(), std::string(topic_name(t)).c_str(), RD_KAFKA_PARTITION_UA);
  }
  if (auto err = rd_kafka_subscribe(state->client.get(), subscription.get())) {
    return std::unexpected(detail::make_kafka_error(err, "subscribe"));
  }
  return std::unique_ptr<consumer>(new consumer(std::move(state)));
}

consumer::consumer(std::unique_ptr<impl> state) : impl_(std::move(state)) { impl_->handlers = &handlers_; }

consumer::~consumer() {
  if (impl_ && !impl_->closed) {
    if (auto closed = close(); !closed)
      detail::log().error("consumer {}: close: {}", impl_->group, closed.error().message);
  }
}

const std::string& consumer::group() const { return impl_->group; }

consumer_stats consumer::stats() const {
  return {impl_->handled.load(),       impl_->skipped.load(),     impl_->retries.load(),
          impl_->dead_lettered.load(), impl_->undecodable.load(), impl_->rebalances.load()};
}

std::expected<std::size_t, kafka_error> consumer::poll(std::chrono::milliseconds timeout, std::size_t max_records) {
  if (!impl_->series_declared) impl_->declare_series();
  std::expected<std::size_t, kafka_error> finished = 0;
  // Only the first record is waited for; the clock is read for it alone.
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (*finished < max_records) {
    auto message = impl_->next_record(deadline, *finished == 0);
    if (!message) {
      finished = std::unexpected(message.error());
      break;
    }
    if (!*message) break;
    if (auto handled = impl_->handle(*message); !handled) {
      finished = std::unexpected(handled.error());
      break;
    }
    ++*finished;
  }
  // What finished is stored, whether the poll ended or failed.
  impl_->store_finished();
  impl_->metrics->flush(impl_->client.get());
  return finished;
}

std::expected<void, kafka_error> consumer::run(std::stop_token stop) {
  while (!stop.stop_requested()) {
    if (auto polled = poll(100ms); !polled) {
      (void)close();
      return std::unexpected(polled.error());
    }
  }
  return close();
}

std::expected<void, kafka_error> consumer::close() {
  auto& state = *impl_;
  if (state.closed) return {};
  state.closed = true;
  state.arrived->drop();  // not handled, so not stored: they come again
  state.store_finished();
  state.metrics->flush(state.client.get());
  state.metrics->forget_partitions();
  // A commit refused because the group is rebalancing (its members are leaving too) loses nothing:
  // leaving revokes the partitions, and the revoke commits again; at worst records are seen twice.
  auto commit = rd_kafka_commit(state.client.get(), nullptr, 0);
  if (commit && commit != RD_KAFKA_RESP_ERR__NO_OFFSET) {
    detail::log().warn("consumer {}: final commit: {} (finished records may be delivered again)", state.group,
                       rd_kafka_err2str(commit));
  }
  if (auto err = rd_kafka_consumer_close(state.client.get())) {
    return std::unexpected(detail::make_kafka_error(err, fmt::format("consumer {}: leave group", state.group)));
  }
  return {};
}

}  // namespace horizons
