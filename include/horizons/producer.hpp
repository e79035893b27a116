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
  explicit producer(std::unique_ptr<impl> state);
  std::unique_ptr<impl> impl_;
};

}  // namespace horizons
