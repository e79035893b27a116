// The typed Kafka producer: idempotent, acks=all, each topic's compression
// from the catalogue, murmur2 partitioning of the catalogue key (the Java
// client's, so every client puts a key on the same partition).
//
//   auto made = horizons::producer::create({
//       .config = config,
//       .on_delivery = [](const horizons::delivery_report& r) { if (r.error) ...; },
//   });
//   if (!made) return fail(made.error());
//   auto& producer = **made;
//   producer.publish(event);                      // queued; reported once on the delivery thread
//   auto pending = producer.close(std::chrono::seconds(30));   // flush, then stop
//
// Threads: publish() may be called from any thread. By default on_delivery
// runs on the producer's own delivery thread, one report at a time; keep it
// short. With `.reports = delivery_reports::on_caller`, there is no such
// thread: publish(), flush(), poll() and close() serve the reports waiting,
// one caller at a time, on the calling thread. That is librdkafka's own
// pattern and the fastest for a single publishing thread (messages are freed
// where they were made); a caller that stops publishing must call poll() or
// flush() to hear about what it sent.
// Back-pressure: when librdkafka's local queue is full, publish() waits for
// room up to `enqueue_timeout`, then fails with "_QUEUE_FULL" — never drops.
// A fatal error (e.g. an idempotence sequence desynchronisation) makes every
// later publish() fail with `fatal = true`: destroy the producer and create
// a new one; records not yet delivered are reported as failed.
//
// Sharing one producer (librdkafka's advice: one producer per process, so the
// records of several users bound for one broker travel in the same requests):
// channel() gives a user a publisher of its own whose delivery reports reach
// only that user's handler.
//
//   auto relay_a = producer.channel([](const horizons::delivery_report& r) { ... });   // only a's reports
//   auto relay_b = producer.channel([](const horizons::delivery_report& r) { ... });   // only b's reports
//   (*relay_a)->publish(event, 42);   // reported to a's handler with tag 42
//
// A channel's number travels in the top `channel_bits` bits of the record's
// tag (librdkafka's per-message opaque), so routing costs neither an
// allocation nor a lock per record on the plain path. Limits: a channel's tags
// must be at most `max_channel_tag` (larger ones fail with _INVALID_ARG); once
// a producer has channels, the same holds for publish_encoded() on the
// producer itself; a producer gives out at most `max_channels` channels in its
// life (numbers are never reused, so a late report never reaches a newer
// channel). Destroying a channel waits for a report being handed to it and
// drops its later reports (records it queued are still sent). A channel's
// flush() flushes the whole producer. Every channel must be destroyed before
// its producer, and a delivery handler must not create or destroy channels.
#pragma once

#include <chrono>
#include <expected>
#include <memory>

#include <horizons/config.hpp>
#include <horizons/publisher.hpp>

namespace horizons {

/// Where delivery reports are served (see the threads note above).
enum class delivery_reports : std::uint8_t { on_delivery_thread, on_caller };

struct producer_stats {
  std::uint64_t queued = 0;
  std::uint64_t delivered = 0;
  std::uint64_t failed = 0;
  std::uint64_t queue_full_waits = 0;  // times publish() had to wait for room
};

class producer final : public publisher {
 public:
  struct options {
    client_config config{};
    delivery_handler on_delivery{};
    std::chrono::milliseconds enqueue_timeout{30'000};
    /// librdkafka's queue.buffering.max.messages: records held locally before back-pressure.
    int max_queued_messages = client_settings{}.max_queued_messages;
    delivery_reports reports = delivery_reports::on_delivery_thread;
  };

  [[nodiscard]] static std::expected<std::unique_ptr<producer>, kafka_error> create(options opts);
  /// Flushes for at most 10 s, then stops; records still pending are logged, not silently lost.
  ~producer() override;
  producer(const producer&) = delete;
  producer& operator=(const producer&) = delete;

  /// Tag bits a channel's number takes (the top ones); see the sharing note above.
  static constexpr int channel_bits = 16;
  static constexpr std::uint64_t max_channel_tag = (std::uint64_t{1} << (64 - channel_bits)) - 1;
  static constexpr std::uint64_t max_channels = (std::uint64_t{1} << channel_bits) - 1;

  /// A publisher on this producer whose reports go to `on_delivery` only (see the sharing note above).
  /// Any thread. Fails with _INVALID_ARG after `max_channels` channels.
  [[nodiscard]] std::expected<std::unique_ptr<publisher>, kafka_error> channel(delivery_handler on_delivery);

  [[nodiscard]] std::expected<void, kafka_error> publish_encoded(const outgoing_record& record,
                                                                 std::uint64_t tag) override;
  [[nodiscard]] std::size_t flush(std::chrono::milliseconds timeout) override;
  /// Serves the delivery reports waiting, waiting up to `timeout` for one (on_caller); returns how many
  /// were served. With a delivery thread it serves nothing and returns 0 at once.
  std::size_t poll(std::chrono::milliseconds timeout = std::chrono::milliseconds{0});
  /// Flushes up to `timeout`, stops the delivery thread; returns records left undelivered.
  std::size_t close(std::chrono::milliseconds timeout);

  [[nodiscard]] producer_stats stats() const;
  /// The fatal error that stopped this producer, if any.
  [[nodiscard]] std::optional<kafka_error> fatal_error() const;

  struct impl;

 private:
  class channel_publisher;
  explicit producer(std::unique_ptr<impl> state);
  // publish_encoded() without the tag check: `tag` goes to librdkafka as it is.
  std::expected<void, kafka_error> enqueue(const outgoing_record& record, std::uint64_t tag);
  std::unique_ptr<impl> impl_;
};

}  // namespace horizons
