// Builds a valid event around a payload: fills the event id (UUID v4), the
// time, the correlation id and the schema version, then validates.
//
//   auto submitted = horizons::make_event(horizons::job_submitted{.job_id = "job-42", ...})
//                        .user_id("alice")
//                        .build();                      // std::expected<event<job_submitted>, validation_error>
//   auto queued = horizons::make_event(horizons::job_status_changed{...})
//                     .caused_by(*submitted)            // same correlation id, causation = its event id
//                     .build();
#pragma once

#include <expected>
#include <optional>
#include <string>

#include <horizons/catalogue.hpp>
#include <horizons/events.hpp>
#include <horizons/validate.hpp>

namespace horizons {

template <payload_record Payload>
class event_builder {
 public:
  explicit event_builder(Payload payload) { event_.payload = std::move(payload); }

  /// Joins an existing flow; without it a new correlation id is drawn.
  event_builder& correlation_id(uuid id) {
    event_.correlation_id = id;
    return *this;
  }
  /// This event was caused by `cause`: same flow, causation_id = cause's event id, and the same
  /// trace (cause's traceparent, which tracing replaces with a child span's when it is on).
  event_builder& caused_by(const envelope& cause) {
    event_.correlation_id = cause.correlation_id;
    event_.causation_id = cause.event_id;
    event_.traceparent = cause.traceparent;
    return *this;
  }
  event_builder& user_id(std::string id) {
    event_.user_id = std::move(id);
    return *this;
  }
  event_builder& idempotency_key(std::string key) {
    event_.idempotency_key = std::move(key);
    return *this;
  }
  event_builder& tag(std::string key, std::string value) {
    event_.tags.insert_or_assign(std::move(key), std::move(value));
    return *this;
  }
  event_builder& traceparent(std::string value) {
    event_.traceparent = std::move(value);
    return *this;
  }
  /// Defaults to the time of build().
  event_builder& occurred_at(timestamp when) {
    occurred_at_ = when;
    return *this;
  }
  /// Defaults to a fresh UUID v4 (set it only to reproduce an event).
  event_builder& event_id(uuid id) {
    event_.event_id = id;
    return *this;
  }

  /// The finished event, or the first rule it breaks. The builder can build again.
  [[nodiscard]] std::expected<event<Payload>, validation_error> build() const {
    event<Payload> e = event_;
    if (e.event_id.is_nil()) e.event_id = uuid::random();
    if (e.correlation_id.is_nil()) e.correlation_id = uuid::random();
    e.occurred_at = occurred_at_.value_or(now());
    e.event_type = std::string(payload_traits<Payload>::event_type);
    e.schema_version = spec_of<Payload>().schema_version;
    if (auto ok = validate(e); !ok) return std::unexpected(std::move(ok.error()));
    return e;
  }

 private:
  event<Payload> event_;
  std::optional<timestamp> occurred_at_;
};

template <payload_record Payload>
[[nodiscard]] event_builder<Payload> make_event(Payload payload) {
  return event_builder<Payload>(std::move(payload));
}

}  // namespace horizons
