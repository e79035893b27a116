// The typed Kafka consumer: handlers per event type, at-least-once.
//
//   auto made = horizons::consumer::create({.config = config, .topics = {horizons::topic_id::job_lifecycle}});
//   auto& consumer = **made;
//   consumer.on<horizons::job_submitted>(
//       [](const horizons::envelope& meta, const horizons::job_submitted& job, const horizons::message_context& at)
//           -> horizons::handler_result { return schedule(job); });
//   consumer.run(stop_token);          // until stop is requested; then commits and leaves the group
//
// A view handler reads the record in place, without copying it (views.hpp):
//
//   consumer.on_view<horizons::job_submitted>(
//       [](const horizons::envelope_view& meta, const horizons::job_submitted_view& job,
//          const horizons::message_context& at) -> horizons::handler_result { return count(job.pipeline); });
//
// Its views point into the record librdkafka holds: they are valid only during
// the handler call (call `.to_owned()` to keep one). One handler per event
// type: on() and on_view() for the same type replace each other.
//
// Guarantees: a record's offset is committed only after its handler returned
// success (or after the record was written to the dead-letter topic); records
// of one partition are handled in order, one at a time. A failing handler is
// retried with exponential backoff (`retry`); after the last attempt the
// record goes to `<topic>.dlq` with headers naming the original topic,
// partition, offset, error class, message and attempts. A record that does
// not decode goes to the DLQ at once and the consumer carries on; so does a
// record whose value is longer than config.max_record_bytes, undecoded, its
// letter without the value (headers and key kept, `dlq-omitted-value-bytes`
// saying how long it was): the record stays in its topic for as long as the
// topic keeps it. Event
// types with no handler are acknowledged and counted as skipped: the consumer
// reads the envelope and the payload's union branch, finds no handler, and
// checks the payload in place (a view decode: nothing copied or allocated)
// instead of decoding it, so that a record that does not decode is still
// dead-lettered, never acknowledged unseen.
// On a rebalance the consumer commits what it finished before giving
// partitions up. Because delivery is at-least-once, a handler may see a
// record again after a crash: deduplicate by meta.event_id where effects
// must happen once.
//
// Records that have arrived are taken from librdkafka in batches (one call for
// up to 512, where librdkafka's own poll takes one) and handled one at a time;
// a poll waits only while nothing has arrived.
//
// Threads: create(), on(), on_view() and run()/poll() from one thread; handlers run on
// that thread. stats() from any thread.
#pragma once

#include <array>
#include <chrono>
#include <expected>
#include <functional>
#include <memory>
#include <optional>
#include <stop_token>
#include <string>
#include <vector>

#include <horizons/config.hpp>
#include <horizons/events.hpp>
#include <horizons/kafka_error.hpp>
#include <horizons/topic_reader.hpp>

namespace horizons {

namespace detail {
struct consumed_record;  // opaque: librdkafka's message, during the handler call
struct consumer_access;
}  // namespace detail

/// Where a record came from, for the handler call.
class message_context {
 public:
  topic_id topic{};
  std::int32_t partition = 0;
  std::int64_t offset = 0;
  timestamp record_time{};  // the record's Kafka timestamp
  int attempt = 1;          // 1 on first delivery to the handler

  /// From the produced-at header. Read on first use: parsing a record's headers costs more than
  /// decoding its event, and most handlers never ask.
  [[nodiscard]] std::optional<timestamp> produced_at() const;

  /// A copy to keep after the handler returned: produced_at() read now, the record let go.
  [[nodiscard]] message_context detached() const;

 private:
  friend struct detail::consumer_access;
  const detail::consumed_record* record_ = nullptr;  // the record during the handler call; null once detached
  std::optional<timestamp> kept_produced_at_{};
};

/// A handler's verdict: success, or an error message (retried, then dead-lettered).
using handler_result = std::expected<void, std::string>;

template <payload_record Payload>
using handler = std::function<handler_result(const envelope&, const Payload&, const message_context&)>;

/// A handler of views (views.hpp), valid during the call only.
template <payload_record Payload>
using view_handler =
    std::function<handler_result(const envelope_view&, const view_of<Payload>&, const message_context&)>;

struct retry_policy {
  int max_attempts = 3;
  std::chrono::milliseconds initial_backoff{20};
  std::chrono::milliseconds max_backoff{1'000};
};

enum class start_position : std::uint8_t { earliest, latest };

/// What happens to a record that does not decode or is longer than config.max_record_bytes:
/// written to `<topic>.dlq` (services), or
/// logged and acknowledged (tools that only read a topic and must not move its records).
enum class undecodable_policy : std::uint8_t { dead_letter, skip };

struct consumer_stats {
  std::uint64_t handled = 0;        // handler succeeded
  std::uint64_t skipped = 0;        // no handler for the event type
  std::uint64_t retries = 0;        // handler attempts beyond the first
  std::uint64_t dead_lettered = 0;  // written to a .dlq topic
  std::uint64_t undecodable = 0;    // of those, records that did not decode
  std::uint64_t rebalances = 0;
};

/// DLQ headers added to the original record's headers.
namespace dlq_header {
inline constexpr std::string_view original_topic = "dlq-original-topic";
inline constexpr std::string_view original_partition = "dlq-original-partition";
inline constexpr std::string_view original_offset = "dlq-original-offset";
inline constexpr std::string_view error_class = "dlq-error-class";  // "decode", "size" or "handler"
inline constexpr std::string_view error_message = "dlq-error-message";
inline constexpr std::string_view attempts = "dlq-attempts";
inline constexpr std::string_view failed_at = "dlq-failed-at";                      // microseconds since the epoch
inline constexpr std::string_view omitted_value_bytes = "dlq-omitted-value-bytes";  // on a "size" letter only
}  // namespace dlq_header

/// A dead letter read back from a `.dlq` topic (`horizons dlq list`): its dlq_header:: headers, each
/// nullopt when missing; a number that does not parse (another writer's letter) is nullopt as well.
struct dead_letter {
  std::optional<std::string> original_topic{};
  std::optional<std::int32_t> original_partition{};
  std::optional<std::int64_t> original_offset{};
  std::optional<std::string> error_class{};
  std::optional<std::string> error_message{};
  std::optional<std::int32_t> attempts{};
  std::optional<timestamp> failed_at{};
  std::optional<std::int64_t> omitted_value_bytes{};  ///< a "size" letter: the value left out, in bytes
};
[[nodiscard]] dead_letter read_dead_letter(const raw_record& record);

class consumer {
 public:
  struct options {
    client_config config{};
    std::vector<topic_id> topics{};
    /// Empty: config.consumer_group, else the catalogue's group of the first topic.
    std::string group{};
    retry_policy retry{};
    start_position start = start_position::earliest;
    undecodable_policy undecodable = undecodable_policy::dead_letter;
  };

  [[nodiscard]] static std::expected<std::unique_ptr<consumer>, kafka_error> create(options opts);
  /// Closes (commits, leaves the group) if close() was not called.
  ~consumer();
  consumer(const consumer&) = delete;
  consumer& operator=(const consumer&) = delete;

  /// Registers `fn` for one event type:
  /// fn(const envelope&, const Payload&, const message_context&) -> handler_result (a handler<Payload>).
  template <payload_record Payload, class Fn>
  consumer& on(Fn&& fn) {
    handlers_[payload_index<Payload>] = {handler_kind::owning,
                                         [fn = std::forward<Fn>(fn)](const void* meta, const void* payload,
                                                                     const message_context& at) -> handler_result {
                                           return fn(*static_cast<const envelope*>(meta),
                                                     *static_cast<const Payload*>(payload), at);
                                         }};
    return *this;
  }

  /// Registers `fn` for one event type, given views into the record (valid during the call only):
  /// fn(const envelope_view&, const view_of<Payload>&, const message_context&) -> handler_result
  /// (a view_handler<Payload>). No copy of the record is made and nothing is allocated for it.
  template <payload_record Payload, class Fn>
  consumer& on_view(Fn&& fn) {
    handlers_[payload_index<Payload>] = {handler_kind::view,
                                         [fn = std::forward<Fn>(fn)](const void* meta, const void* payload,
                                                                     const message_context& at) -> handler_result {
                                           return fn(*static_cast<const envelope_view*>(meta),
                                                     *static_cast<const view_of<Payload>*>(payload), at);
                                         }};
    return *this;
  }

  /// Registers one generic handler for every event type:
  /// fn(const envelope&, const auto& payload, const message_context&) -> handler_result.
  template <class Fn>
  consumer& on_every(const Fn& fn) {
#define HORIZONS_ON_EVERY_PAYLOAD(P) on<P>(fn);
    HORIZONS_FOR_EACH_PAYLOAD(HORIZONS_ON_EVERY_PAYLOAD)
#undef HORIZONS_ON_EVERY_PAYLOAD
    return *this;
  }

  /// Registers one generic view handler for every event type:
  /// fn(const envelope_view&, const auto& payload_view, const message_context&) -> handler_result.
  template <class Fn>
  consumer& on_every_view(const Fn& fn) {
#define HORIZONS_ON_EVERY_PAYLOAD_VIEW(P) on_view<P>(fn);
    HORIZONS_FOR_EACH_PAYLOAD(HORIZONS_ON_EVERY_PAYLOAD_VIEW)
#undef HORIZONS_ON_EVERY_PAYLOAD_VIEW
    return *this;
  }

  /// Handles what arrives within `timeout` (at most `max_records`); returns how many records were finished.
  /// An error means the consumer cannot go on (fatal client error, or a DLQ write that failed).
  [[nodiscard]] std::expected<std::size_t, kafka_error> poll(std::chrono::milliseconds timeout,
                                                             std::size_t max_records = 500);
  /// Polls until `stop` is requested, then close()s.
  [[nodiscard]] std::expected<void, kafka_error> run(std::stop_token stop);
  /// Commits finished offsets and leaves the group. Idempotent.
  [[nodiscard]] std::expected<void, kafka_error> close();

  [[nodiscard]] consumer_stats stats() const;
  [[nodiscard]] const std::string& group() const;

  struct impl;

 private:
  enum class handler_kind : std::uint8_t { none, owning, view };
  // One per payload type. `meta` and `payload` are an envelope and a Payload (owning), or an
  // envelope_view and a view_of<Payload> (view).
  struct erased_handler {
    handler_kind kind = handler_kind::none;
    std::function<handler_result(const void* meta, const void* payload, const message_context&)> call;
  };
  explicit consumer(std::unique_ptr<impl> state);
  std::array<erased_handler, payload_count> handlers_;
  std::unique_ptr<impl> impl_;
};

}  // namespace horizons
