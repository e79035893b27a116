// OpenTelemetry traces of Horizons' messaging: every publish is a PRODUCER span, every handler
// call a CONSUMER span whose parent is the record's W3C `traceparent`, and every event emitted
// while a handler runs (published directly or through a service's outbox) is a child of that
// handler's span. So one job's events, across every service, form one trace.
//
//   auto tracing = horizons::tracing::start("orchestrator");   // reads OTEL_*; once per process
//   if (!tracing) { fmt::print(stderr, "{}\n", tracing.error()); return 2; }
//   fmt::print("{}\n", tracing->description());    // "tracing: off (OTEL_EXPORTER_OTLP_ENDPOINT is not set)"
//   ... publish and consume as usual ...
//   // the session's destructor exports what is left (at most 5 s) and stops tracing
//
// Settings are OpenTelemetry's standard environment variables: OTEL_EXPORTER_OTLP_ENDPOINT
// (or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT; without either, tracing is off),
// OTEL_EXPORTER_OTLP_[TRACES_]PROTOCOL (http/protobuf, the default, or http/json),
// OTEL_SERVICE_NAME (default: the name given to start()), OTEL_RESOURCE_ATTRIBUTES,
// OTEL_TRACES_SAMPLER and OTEL_TRACES_SAMPLER_ARG (default parentbased_always_on), and
// OTEL_SDK_DISABLED=true, which turns everything off. A value that cannot be used is an error
// naming the variable. Spans leave in batches over OTLP/HTTP on the SDK's own thread.
//
// Cost: when tracing is off, publish and consume check one flag per record and do nothing else.
// Threads: start() once, from one thread, before clients are created; the rest from any thread.
#pragma once

#include <atomic>
#include <expected>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <variant>

#include <horizons/catalogue.hpp>
#include <horizons/events.hpp>

namespace horizons::tracing {

/// Tracing for this process, from start() until destroyed.
class session {
 public:
  session(session&&) noexcept;
  session& operator=(session&&) noexcept;
  ~session();  ///< exports the spans not yet sent (bounded), then turns tracing off
  /// One line for people: where spans go and how they are sampled, or why tracing is off.
  [[nodiscard]] const std::string& description() const;
  [[nodiscard]] bool active() const;

  struct state;

 private:
  friend std::expected<session, std::string> start(std::string_view default_service_name);
  explicit session(std::unique_ptr<state> s);
  std::unique_ptr<state> state_;
};

/// Reads the OTEL_* variables and, when an endpoint is set and the SDK is not disabled, starts
/// exporting spans. Errors name the variable and its value. At most one active session per process.
[[nodiscard]] std::expected<session, std::string> start(std::string_view default_service_name);

namespace detail {
inline std::atomic<bool> recording{false};
}  // namespace detail

/// Whether spans are being made in this process.
[[nodiscard]] inline bool enabled() noexcept { return detail::recording.load(std::memory_order_relaxed); }

/// The payload's job id, for payloads that have one: owning or view, one type or a topic's variant.
template <class Payload>
[[nodiscard]] std::optional<std::string_view> job_id_of(const Payload& payload) {
  if constexpr (requires { std::string_view(payload.job_id); }) {
    return std::string_view(payload.job_id);
  } else if constexpr (requires { payload.valueless_by_exception(); }) {
    return std::visit([](const auto& p) { return job_id_of(p); }, payload);
  } else {
    return std::nullopt;
  }
}

/// What a span says about one record.
struct record_facts {
  topic_id topic{};
  std::string_view event_type;
  std::optional<std::string_view> key;
  std::optional<std::string_view> job_id;
  const uuid* event_id = nullptr;
};

/// A PRODUCER span ("send <topic>") around handing one event over: to the producer's queue, or
/// into a service's outbox (`via_outbox`). Its parent is the span of the handler running on this
/// thread, else the event's own traceparent (a cause's context carried by caused_by()), else none
/// (a new trace). traceparent() is what the event must carry. Ends when destroyed; fail() marks
/// it as an error. Make one only when enabled().
class producer_span {
 public:
  producer_span(const record_facts& facts, const std::optional<std::string>& own_traceparent, bool via_outbox);
  ~producer_span();
  producer_span(const producer_span&) = delete;
  producer_span& operator=(const producer_span&) = delete;
  [[nodiscard]] std::string traceparent() const;
  void fail(std::string_view message);

  struct state;

 private:
  std::unique_ptr<state> state_;
};

/// A CONSUMER span ("process <topic>") around one handler call, the parent of what the handler
/// emits on this thread while it lives. Its parent is the record's traceparent header, if any.
/// Make one only when enabled().
class consumer_span {
 public:
  struct delivery {
    std::string_view group;
    std::int32_t partition = 0;
    std::int64_t offset = 0;
    std::optional<std::string_view> traceparent;  ///< the record's header
  };
  consumer_span(const record_facts& facts, const delivery& where);
  ~consumer_span();
  consumer_span(const consumer_span&) = delete;
  consumer_span& operator=(const consumer_span&) = delete;
  void fail(std::string_view message);
  /// The record went to the dead-letter topic `dlq_topic` (the span is an error).
  void dead_lettered(std::string_view dlq_topic, std::string_view reason);

  struct state;

 private:
  std::unique_ptr<state> state_;
};

/// `e` with the traceparent of `span`; what publishers and outboxes encode when tracing is on.
template <class Event>
[[nodiscard]] Event with_context(const Event& e, const producer_span& span) {
  Event traced = e;
  traced.traceparent = span.traceparent();
  return traced;
}

/// The facts of an event about to be published.
template <class Payload>
[[nodiscard]] record_facts facts_of(const event<Payload>& e, std::optional<std::string_view> key) {
  return {.topic = topic_of_payload<Payload>,
          .event_type = event_type_of(e.payload),
          .key = key,
          .job_id = job_id_of(e.payload),
          .event_id = &e.event_id};
}

}  // namespace horizons::tracing
