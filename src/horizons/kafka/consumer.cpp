#include <horizons/catalogue.hpp>
#include <horizons/codec.hpp>
#include <horizons/consumer.hpp>
#include <horizons/publisher.hpp>

#include <atomic>
#include <charconv>
#include <thread>

#include <fmt/format.h>

#include "rdkafka.hpp"

namespace horizons {

using namespace std::chrono_literals;

namespace {

std::optional<topic_id> topic_of_message(const rd_kafka_message_t* message) {
  return topic_from_name(rd_kafka_topic_name(message->rkt));
}

std::optional<timestamp> produced_at_header(const rd_kafka_message_t* message) {
  rd_kafka_headers_t* headers = nullptr;
  const void* value = nullptr;
  std::size_t size = 0;
  if (rd_kafka_message_headers(message, &headers) != RD_KAFKA_RESP_ERR_NO_ERROR ||
      rd_kafka_header_get_last(headers, header::produced_at.data(), &value, &size) != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return std::nullopt;
  }
  std::int64_t micros = 0;
  auto* text = static_cast<const char*>(value);
  if (std::from_chars(text, text + size, micros).ec != std::errc{}) return std::nullopt;
  return timestamp{std::chrono::microseconds{micros}};
}

}  // namespace

std::optional<timestamp> message_context::produced_at() const {
  return record ? produced_at_header(static_cast<const rd_kafka_message_t*>(record)) : kept_produced_at;
}

message_context message_context::detached() const {
  auto copy = *this;
  copy.kept_produced_at = produced_at();
  copy.record = nullptr;
  return copy;
}

struct consumer::impl {
  options opts;
  std::string group;
  detail::kafka_ptr client;
  detail::kafka_ptr dlq_producer;  // writes dead letters; flushed per letter, so nothing is lost
  std::array<any_event, topic_count> decoded;  // one reused event per topic: decoding reuses string storage
  std::atomic<rd_kafka_resp_err_t> dlq_delivery{RD_KAFKA_RESP_ERR_NO_ERROR};
  std::atomic<std::uint64_t> handled{0}, skipped{0}, retries{0}, dead_lettered{0}, undecodable{0}, rebalances{0};
  bool closed = false;

  impl() {
    [&]<std::size_t... I>(std::index_sequence<I...>) {
      ((decoded[I] = any_event(std::in_place_index<I>)), ...);
    }(std::make_index_sequence<topic_count>{});
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

  static void on_dlq_delivery(rd_kafka_t*, const rd_kafka_message_t* message, void* opaque) noexcept {
    static_cast<impl*>(opaque)->dlq_delivery.store(message->err);
  }

  // Writes the original record, its headers plus the failure, to <topic>.dlq and waits for the acknowledgement.
  std::expected<void, kafka_error> dead_letter(const rd_kafka_message_t* message, std::string_view error_class,
                                               std::string_view error_message, int attempts) {
    auto topic = topic_of_message(message);
    auto dlq_topic = topic ? spec(*topic).dlq_name() : std::string(rd_kafka_topic_name(message->rkt)) + ".dlq";
    rd_kafka_headers_t* original = nullptr;
    auto* headers = rd_kafka_message_headers(message, &original) == RD_KAFKA_RESP_ERR_NO_ERROR
                        ? rd_kafka_headers_copy(original)
                        : rd_kafka_headers_new(8);
    auto add = [&](std::string_view name, std::string_view value) {
      rd_kafka_header_add(headers, name.data(), static_cast<ssize_t>(name.size()), value.data(),
                          static_cast<ssize_t>(value.size()));
    };
    add(dlq_header::original_topic, rd_kafka_topic_name(message->rkt));
    add(dlq_header::original_partition, std::to_string(message->partition));
    add(dlq_header::original_offset, std::to_string(message->offset));
    add(dlq_header::error_class, error_class);
    add(dlq_header::error_message, error_message);
    add(dlq_header::attempts, std::to_string(attempts));
    add(dlq_header::failed_at, std::to_string(now().time_since_epoch().count()));

    dlq_delivery.store(RD_KAFKA_RESP_ERR__IN_PROGRESS);
    auto err = rd_kafka_producev(dlq_producer.get(), RD_KAFKA_V_TOPIC(dlq_topic.c_str()),
                                 RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                 RD_KAFKA_V_VALUE(message->payload, message->len),
                                 RD_KAFKA_V_KEY(message->key, message->key_len),
                                 RD_KAFKA_V_PARTITION(RD_KAFKA_PARTITION_UA), RD_KAFKA_V_HEADERS(headers),
                                 RD_KAFKA_V_END);
    if (err) {
      rd_kafka_headers_destroy(headers);
      return std::unexpected(detail::make_kafka_error(err, fmt::format("dead-letter to {}", dlq_topic)));
    }
    rd_kafka_flush(dlq_producer.get(), static_cast<int>(opts.config.delivery_timeout.count()) + 5'000);
    if (auto result = dlq_delivery.load(); result != RD_KAFKA_RESP_ERR_NO_ERROR) {
      return std::unexpected(detail::make_kafka_error(result, fmt::format("dead-letter to {}", dlq_topic)));
    }
    dead_lettered.fetch_add(1, std::memory_order_relaxed);
    detail::log().warn("consumer {}: {}[{}]@{} dead-lettered to {} ({}: {})", group,
                       rd_kafka_topic_name(message->rkt), message->partition, message->offset, dlq_topic, error_class,
                       error_message);
    return {};
  }

  void finish(const rd_kafka_message_t* message) {
    auto err = rd_kafka_offset_store(message->rkt, message->partition, message->offset);
    // _STATE: the partition was revoked meanwhile; its new owner will see the record again (at-least-once).
    if (err && err != RD_KAFKA_RESP_ERR__STATE) {
      detail::log().warn("consumer {}: offset store: {}", group, rd_kafka_err2str(err));
    }
  }
};

std::expected<std::unique_ptr<consumer>, kafka_error> consumer::create(options opts) {
  if (opts.topics.empty()) {
    return std::unexpected(kafka_error{.code = RD_KAFKA_RESP_ERR__INVALID_ARG, .name = "_INVALID_ARG",
                                       .message = "consumer: no topics to consume"});
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

  auto dlq_conf = detail::make_conf(config, detail::client_role::producer);
  if (!dlq_conf) return std::unexpected(dlq_conf.error());
  for (auto [name, value] : std::initializer_list<std::pair<std::string_view, std::string_view>>{
           {"enable.idempotence", "true"}, {"acks", "all"}, {"linger.ms", "0"}, {"compression.codec", "lz4"}}) {
    if (auto ok = detail::set_property(dlq_conf->get(), name, value); !ok) return std::unexpected(ok.error());
  }
  rd_kafka_conf_set_opaque(dlq_conf->get(), state.get());
  rd_kafka_conf_set_dr_msg_cb(dlq_conf->get(), impl::on_dlq_delivery);
  auto dlq = detail::make_client(RD_KAFKA_PRODUCER, *dlq_conf);
  if (!dlq) return std::unexpected(dlq.error());
  state->dlq_producer = std::move(*dlq);

  rd_kafka_poll_set_consumer(state->client.get());
  detail::partition_list_ptr subscription(rd_kafka_topic_partition_list_new(static_cast<int>(state->opts.topics.size())));
  for (auto t : state->opts.topics) {
    rd_kafka_topic_partition_list_add(subscription.get(), std::string(topic_name(t)).c_str(), RD_KAFKA_PARTITION_UA);
  }
  if (auto err = rd_kafka_subscribe(state->client.get(), subscription.get())) {
    return std::unexpected(detail::make_kafka_error(err, "subscribe"));
  }
  return std::unique_ptr<consumer>(new consumer(std::move(state)));
}

consumer::consumer(std::unique_ptr<impl> state) : impl_(std::move(state)) {}

consumer::~consumer() {
  if (impl_ && !impl_->closed) {
    if (auto closed = close(); !closed) detail::log().error("consumer {}: close: {}", impl_->group, closed.error().message);
  }
}

const std::string& consumer::group() const { return impl_->group; }

consumer_stats consumer::stats() const {
  return {impl_->handled.load(), impl_->skipped.load(),       impl_->retries.load(),
          impl_->dead_lettered.load(), impl_->undecodable.load(), impl_->rebalances.load()};
}

std::expected<std::size_t, kafka_error> consumer::poll(std::chrono::milliseconds timeout, std::size_t max_records) {
  auto& state = *impl_;
  std::size_t finished = 0;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (finished < max_records) {
    // Only the first record is waited for; the clock is read for it alone.
    int wait_ms = 0;
    if (finished == 0) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      wait_ms = static_cast<int>(std::max(left.count(), 0L));
    }
    detail::message_ptr message(rd_kafka_consumer_poll(state.client.get(), wait_ms));
    if (!message) break;
    if (message->err) {
      if (message->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) continue;
      auto error = detail::make_kafka_error(message->err, "consume");
      if (message->err == RD_KAFKA_RESP_ERR__FATAL) {
        error.fatal = true;
        return std::unexpected(error);
      }
      detail::log().warn("consumer {}: {}", state.group, error.message);
      continue;
    }

    auto topic = topic_of_message(message.get());
    auto bytes = std::span(static_cast<const std::byte*>(message->payload), message->len);
    std::expected<void, codec_error> decoded =
        std::unexpected(codec_error{codec_errc::unknown_schema_id, "not a catalogue topic"});
    if (topic) {
      auto framed = parse_frame(bytes);
      if (!framed) {
        decoded = std::unexpected(framed.error());
      } else if (framed->schema_id != spec(*topic).schema_id) {
        decoded = std::unexpected(codec_error{
            codec_errc::unknown_schema_id,
            fmt::format("unknown schema id {} for topic {} (its schema is {})", framed->schema_id,
                        topic_name(*topic), spec(*topic).schema_id)});
      } else {
        decoded = std::visit([&](auto& slot) { return decode_body(framed->body, slot); },
                             state.decoded[static_cast<std::size_t>(*topic)]);
      }
    }
    if (!decoded) {
      state.undecodable.fetch_add(1, std::memory_order_relaxed);
      if (state.opts.undecodable == undecodable_policy::skip) {
        detail::log().warn("consumer {}: skipped {}[{}]@{}: {}", state.group, rd_kafka_topic_name(message->rkt),
                           message->partition, message->offset, decoded.error().message);
      } else if (auto sent = state.dead_letter(message.get(), "decode", decoded.error().message, 0); !sent) {
        return std::unexpected(sent.error());
      }
      state.finish(message.get());
      ++finished;
      continue;
    }

    rd_kafka_timestamp_type_t kind;
    message_context at{.topic = *topic,
                       .partition = message->partition,
                       .offset = message->offset,
                       .record_time = timestamp{std::chrono::milliseconds{rd_kafka_message_timestamp(message.get(), &kind)}},
                       .attempt = 1,
                       .record = message.get()};
    // Find the handler of the decoded payload's type.
    const envelope* meta = nullptr;
    const void* payload = nullptr;
    std::size_t index = 0;
    std::visit(
        [&](const auto& e) {
          meta = &e;
          std::visit(
              [&](const auto& p) {
                payload = &p;
                index = payload_index<std::decay_t<decltype(p)>>;
              },
              e.payload);
        },
        state.decoded[static_cast<std::size_t>(*topic)]);
    const auto& handle = handlers_[index];
    if (!handle) {
      state.skipped.fetch_add(1, std::memory_order_relaxed);
      state.finish(message.get());
      ++finished;
      continue;
    }

    handler_result result;
    auto backoff = state.opts.retry.initial_backoff;
    for (;; ++at.attempt) {
      try {
        result = handle(*meta, payload, at);
      } catch (const std::exception& e) {
        result = std::unexpected(fmt::format("handler threw: {}", e.what()));
      }
      if (result || at.attempt >= state.opts.retry.max_attempts) break;
      state.retries.fetch_add(1, std::memory_order_relaxed);
      std::this_thread::sleep_for(backoff);
      backoff = std::min(backoff * 2, state.opts.retry.max_backoff);
    }
    if (result) {
      state.handled.fetch_add(1, std::memory_order_relaxed);
    } else if (auto sent = state.dead_letter(message.get(), "handler", result.error(), at.attempt); !sent) {
      return std::unexpected(sent.error());
    }
    state.finish(message.get());
    ++finished;
  }
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
