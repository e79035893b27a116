#include <horizons/testkit/mock_publisher.hpp>

#include <algorithm>

#include <fmt/format.h>
#include <gtest/gtest.h>

namespace horizons::testkit {

using namespace std::chrono_literals;

namespace {

// librdkafka's codes (rdkafka.h stays out of the test kit's headers and sources alike).
constexpr int err_bad_msg = -199;
constexpr int err_destroy = -197;
constexpr int err_queue_full = -184;
constexpr int err_purge_queue = -152;
constexpr int err_not_enough_replicas = 19;

kafka_error default_error(failure_stage stage, std::string_view event_type, topic_id topic) {
  if (stage == failure_stage::publish) {
    return {
        .code = err_queue_full,
        .name = "_QUEUE_FULL",
        .message = fmt::format("publish {} to {}: simulated failure (mock_publisher)", event_type, topic_name(topic)),
        .retriable = true};
  }
  return {.code = err_not_enough_replicas,
          .name = "NOT_ENOUGH_REPLICAS",
          .message = fmt::format("deliver {} to {}: simulated failure (mock_publisher)", event_type, topic_name(topic)),
          .retriable = true};
}

// The headers producer::publish_encoded() attaches, in its order.
std::vector<record_header> headers_of(const outgoing_record& record, timestamp produced_at) {
  std::vector<record_header> headers{
      {std::string(header::event_type), std::string(record.event_type)},
      {std::string(header::event_id), record.meta.event_id.to_string()},
      {std::string(header::correlation_id), record.meta.correlation_id.to_string()},
      {std::string(header::content_type), std::string(header::content_type_value)},
      {std::string(header::produced_at), std::to_string(produced_at.time_since_epoch().count())},
  };
  if (record.meta.traceparent) headers.push_back({std::string(header::traceparent), *record.meta.traceparent});
  return headers;
}

// Why the decoded record disagrees with what publish() said it is; empty when it agrees.
std::string mismatch(const outgoing_record& record, const any_event& decoded) {
  const auto& meta = envelope_of(decoded);
  auto payload_type = std::visit([](const auto& e) { return event_type_of(e.payload); }, decoded);
  auto key = std::visit([](const auto& e) { return partition_key(e.payload); }, decoded);
  if (topic_of(decoded) != record.topic) {
    return fmt::format("the value decodes as a {} record, the record is for {}", topic_name(topic_of(decoded)),
                       topic_name(record.topic));
  }
  if (payload_type != record.event_type || meta.event_type != record.event_type) {
    return fmt::format("the value decodes as {} (event_type field \"{}\"), the record says {}", payload_type,
                       meta.event_type, record.event_type);
  }
  if (meta.event_id != record.meta.event_id) {
    return fmt::format("the value's event_id {} is not the record's {}", meta.event_id.to_string(),
                       record.meta.event_id.to_string());
  }
  if (key != record.key) {
    return fmt::format("the record's key \"{}\" is not the value's partition key \"{}\"", record.key.value_or("<none>"),
                       key.value_or("<none>"));
  }
  return {};
}

}  // namespace

std::int32_t detail::murmur2_partition(std::string_view key, std::int32_t partitions) {
  // Kafka's Utils.murmur2 (MurmurHash2, seed 0x9747b28c), then toPositive(hash) % partitions.
  constexpr std::uint32_t m = 0x5bd1e995;
  constexpr int r = 24;
  auto length = static_cast<std::uint32_t>(key.size());
  std::uint32_t h = 0x9747b28c ^ length;
  auto byte = [&](std::size_t i) { return static_cast<std::uint32_t>(static_cast<unsigned char>(key[i])); };
  std::size_t i = 0;
  for (; i + 4 <= key.size(); i += 4) {
    std::uint32_t k = byte(i) | byte(i + 1) << 8 | byte(i + 2) << 16 | byte(i + 3) << 24;
    k *= m;
    k ^= k >> r;
    k *= m;
    h *= m;
    h ^= k;
  }
  switch (key.size() % 4) {
    case 3: h ^= byte(i + 2) << 16; [[fallthrough]];
    case 2: h ^= byte(i + 1) << 8; [[fallthrough]];
    case 1:
      h ^= byte(i);
      h *= m;
      break;
    default: break;
  }
  h ^= h >> 13;
  h *= m;
  h ^= h >> 15;
  return static_cast<std::int32_t>((h & 0x7fffffff) % static_cast<std::uint32_t>(partitions));
}

std::optional<std::string_view> published_record::header(std::string_view name) const {
  for (auto it = headers.rbegin(); it != headers.rend(); ++it) {
    if (it->name == name) return it->value;
  }
  return std::nullopt;
}

mock_publisher::mock_publisher() : mock_publisher(options{}) {}

mock_publisher::mock_publisher(options opts)
    : on_delivery_(std::move(opts.on_delivery)), latency_(opts.delivery_latency) {
  set_failures(std::move(opts.failures));
  for (const auto& t : catalogue) next_offset_.emplace_back(static_cast<std::size_t>(t.partitions), 0);
  round_robin_.assign(topic_count, 0);
  delivery_thread_ = std::jthread([this](std::stop_token stop) { deliver(stop); });
  std::scoped_lock lock(mutex_);
  delivery_thread_id_ = delivery_thread_.get_id();
}

mock_publisher::~mock_publisher() { (void)close(10s); }

std::expected<void, kafka_error> mock_publisher::refuse(kafka_error error) {
  std::scoped_lock lock(mutex_);
  ++stats_.rejected;
  return std::unexpected(std::move(error));
}

std::expected<void, kafka_error> mock_publisher::publish_encoded(const outgoing_record& record, std::uint64_t tag) {
  {
    std::scoped_lock lock(mutex_);
    if (closed_) {
      ++stats_.rejected;
      return std::unexpected(
          kafka_error{.code = err_destroy, .name = "_DESTROY", .message = "mock_publisher: publish after close"});
    }
  }
  // The bytes must be what the real producer would send: decode them back and compare.
  auto decoded = decode_framed(record.value);
  std::string problem =
      decoded ? mismatch(record, *decoded) : fmt::format("the value does not decode: {}", decoded.error().message);
  if (!problem.empty()) {
    ADD_FAILURE() << "mock_publisher: bad record for " << topic_name(record.topic) << " (" << record.event_type
                  << "): " << problem;
    return refuse({.code = err_bad_msg, .name = "_BAD_MSG", .message = "mock_publisher: " + problem});
  }

  published_record kept{
      .topic = record.topic,
      .key = record.key ? std::optional<std::string>(*record.key) : std::nullopt,
      .headers = {},
      .value = std::vector<std::byte>(record.value.begin(), record.value.end()),
      .event = std::move(*decoded),
      .tag = tag,
      .published_at = now(),
      .partition = -1,
      .report = std::nullopt,
  };
  kept.headers = headers_of(record, kept.published_at);
  auto partitions = spec(record.topic).partitions;
  if (kept.key) kept.partition = detail::murmur2_partition(*kept.key, partitions);

  std::optional<failure_rule> failing;
  {
    std::scoped_lock lock(rules_mutex_);
    for (auto& [rule, seen] : rules_) {
      ++seen;
      bool matched = (rule.every_nth != 0 && seen % rule.every_nth == 0) || (rule.when && rule.when(kept));
      if (matched && !failing) failing = rule;
    }
  }
  if (failing && failing->stage == failure_stage::publish) {
    return refuse(failing->error.value_or(default_error(failure_stage::publish, record.event_type, record.topic)));
  }

  std::scoped_lock lock(mutex_);
  if (closed_) {
    ++stats_.rejected;
    return std::unexpected(
        kafka_error{.code = err_destroy, .name = "_DESTROY", .message = "mock_publisher: publish after close"});
  }
  kept.sequence = next_sequence_++;
  if (!kept.key)
    kept.partition = static_cast<std::int32_t>(round_robin_[static_cast<std::size_t>(record.topic)]++ %
                                               static_cast<std::uint32_t>(partitions));
  delivery_report report{.topic = record.topic,
                         .partition = kept.partition,
                         .offset = -1,
                         .event_id = record.meta.event_id,
                         .tag = tag,
                         .error = std::nullopt};
  if (failing) {
    report.error = failing->error.value_or(default_error(failure_stage::delivery, record.event_type, record.topic));
  }
  // One FIFO queue: a report never overtakes an earlier one, even after the latency was lowered.
  queue_.push_back({std::chrono::steady_clock::now() + latency_, kept.sequence, std::move(report)});
  records_.push_back(std::move(kept));
  ++stats_.accepted;
  ++stats_.pending;
  queued_.notify_all();
  return {};
}

void mock_publisher::deliver(std::stop_token stop) {
  std::unique_lock lock(mutex_);
  for (;;) {
    bool purge = purging_ || stop.stop_requested();
    if (queue_.empty()) {
      if (purge) return;
      queued_.wait(lock, stop, [&] { return !queue_.empty() || purging_; });
      continue;
    }
    if (!purge && std::chrono::steady_clock::now() < queue_.front().due) {
      auto due = queue_.front().due;
      queued_.wait_until(lock, stop, due, [&] { return purging_; });
      continue;
    }
    auto item = std::move(queue_.front());
    queue_.pop_front();
    auto& r = item.report;
    if (purge && !r.error) {
      r.error = kafka_error{.code = err_purge_queue,
                            .name = "_PURGE_QUEUE",
                            .message = "mock_publisher: closed before the delivery was due"};
    }
    if (!r.error) r.offset = next_offset_[static_cast<std::size_t>(r.topic)][static_cast<std::size_t>(r.partition)]++;
    if (!records_.empty() && item.sequence >= records_.front().sequence) {
      records_[static_cast<std::size_t>(item.sequence - records_.front().sequence)].report = r;
    }
    ++(r.error ? stats_.failed : stats_.delivered);
    lock.unlock();
    report(r);
    lock.lock();
    --stats_.pending;
    delivered_.notify_all();
  }
}

void mock_publisher::report(const delivery_report& r) {
  if (!on_delivery_) return;
  try {
    on_delivery_(r);
  } catch (const std::exception& e) {
    ADD_FAILURE() << "mock_publisher: on_delivery threw: " << e.what();
  } catch (...) {
    ADD_FAILURE() << "mock_publisher: on_delivery threw";
  }
}

std::size_t mock_publisher::flush(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  if (std::this_thread::get_id() == delivery_thread_id_) return stats_.pending;  // would wait for itself
  delivered_.wait_for(lock, timeout, [&] { return stats_.pending == 0; });
  return stats_.pending;
}

std::size_t mock_publisher::close(std::chrono::milliseconds timeout) {
  {
    std::scoped_lock lock(mutex_);
    if (closed_) return 0;
  }
  (void)flush(timeout);
  std::size_t purged = 0;
  {
    std::scoped_lock lock(mutex_);
    if (closed_) return 0;
    closed_ = true;
    purging_ = true;
    purged = queue_.size();
  }
  queued_.notify_all();
  if (std::this_thread::get_id() != delivery_thread_id_) {
    delivery_thread_.request_stop();
    if (delivery_thread_.joinable()) delivery_thread_.join();
  }
  return purged;
}

void mock_publisher::set_delivery_latency(std::chrono::microseconds latency) {
  std::scoped_lock lock(mutex_);
  latency_ = latency;
}

void mock_publisher::set_failures(std::vector<failure_rule> rules) {
  std::vector<rule_state> states;
  for (auto& rule : rules) states.push_back({std::move(rule), 0});
  std::scoped_lock lock(rules_mutex_);
  rules_ = std::move(states);
}

std::vector<published_record> mock_publisher::all() const {
  std::scoped_lock lock(mutex_);
  return {records_.begin(), records_.end()};
}

std::vector<published_record> mock_publisher::of_topic(topic_id topic) const {
  std::vector<published_record> out;
  std::scoped_lock lock(mutex_);
  std::ranges::copy_if(records_, std::back_inserter(out), [&](const auto& r) { return r.topic == topic; });
  return out;
}

std::vector<published_record> mock_publisher::with_correlation(uuid correlation_id) const {
  std::vector<published_record> out;
  std::scoped_lock lock(mutex_);
  std::ranges::copy_if(records_, std::back_inserter(out),
                       [&](const auto& r) { return r.correlation_id() == correlation_id; });
  return out;
}

std::size_t mock_publisher::count() const {
  std::scoped_lock lock(mutex_);
  return records_.size();
}

void mock_publisher::clear() {
  std::scoped_lock lock(mutex_);
  records_.clear();
}

mock_publisher_stats mock_publisher::stats() const {
  std::scoped_lock lock(mutex_);
  return stats_;
}

}  // namespace horizons::testkit
