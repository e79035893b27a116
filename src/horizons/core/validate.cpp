#include <horizons/status_machine.hpp>
#include <horizons/validate.hpp>

#include <cmath>

#include <fmt/format.h>

namespace horizons {

namespace {

// Where a value sits in the event, as a chain on the stack: the text is built only for an error,
// so validating a good event allocates nothing (publish() validates every event).
struct path_node {
  const path_node* parent = nullptr;
  std::string_view name{};
  std::size_t index = std::string_view::npos;  // array position, or npos

  [[nodiscard]] std::string text() const {
    std::string prefix = parent ? parent->text() : std::string();
    if (index != std::string_view::npos) return fmt::format("{}[{}]", prefix, index);
    return prefix.empty() ? std::string(name) : prefix + "." + std::string(name);
  }
};

// Collects the first problem; later checks are skipped once one is found.
class checker {
 public:
  explicit checker(std::string_view event_type) : event_type_(event_type) {}

  void require(bool ok, const path_node& at, std::string_view problem) {
    if (!ok && !error_) error_ = fmt::format("{}: {} {}", event_type_, at.text(), problem);
  }
  void require(bool ok, std::string_view path, std::string_view problem) {
    require(ok, path_node{.name = path}, problem);
  }
  void fail(std::string message) {
    if (!error_) error_ = fmt::format("{}: {}", event_type_, message);
  }
  [[nodiscard]] std::expected<void, validation_error> result() const {
    if (error_) return std::unexpected(validation_error{*error_});
    return {};
  }

  /// `name`: the field the value belongs to (for the `*_id` rule); empty inside maps.
  template <class T>
  void walk(const T& value, const path_node& at, std::string_view name);

 private:
  std::string_view event_type_;
  std::optional<std::string> error_;
};

template <class T>
void checker::walk(const T& value, const path_node& at, std::string_view name) {
  if constexpr (std::is_same_v<T, std::string>) {
    require(!(name.ends_with("_id") && value.empty()), at, "must not be empty");
  } else if constexpr (std::is_same_v<T, double> || std::is_same_v<T, float>) {
    require(std::isfinite(value), at, "must be a finite number");
  } else if constexpr (std::is_same_v<T, timestamp>) {
    // RFC 3339 and most Avro libraries (python's datetime among them) stop at years 1-9999.
    require(is_rfc3339_range(value), at, "must lie within years 1-9999");
  } else if constexpr (avro_enum<T>) {
    // The enum's default is for readers only (a symbol added later reads as it): never written.
    if (value == enum_traits<T>::default_value) {
      require(false, at, fmt::format("must not be {} (a reader-only symbol)", to_string(value)));
    }
  } else if constexpr (is_optional<T>::value) {
    if (value) walk(*value, at, name);
  } else if constexpr (is_vector<T>::value) {
    for (std::size_t i = 0; i < value.size(); ++i) walk(value[i], path_node{&at, {}, i}, name);
  } else if constexpr (is_string_map<T>::value) {
    for (const auto& [key, item] : value) walk(item, path_node{&at, key}, "");
  } else if constexpr (avro_record<T>) {
    for_each_field(value, [&](std::string_view field, const auto& item) {
      walk(item, at.name.empty() && !at.parent ? path_node{nullptr, field} : path_node{&at, field}, field);
    });
  }
}

bool is_lower_hex(std::string_view text) {
  return text.find_first_not_of("0123456789abcdef") == std::string_view::npos;
}

// W3C trace context: version "00", 32-hex trace id, 16-hex parent id, 2-hex flags; ids not all zero.
bool is_traceparent(std::string_view text) {
  if (text.size() != 55 || text[2] != '-' || text[35] != '-' || text[52] != '-') return false;
  auto version = text.substr(0, 2), trace = text.substr(3, 32), parent = text.substr(36, 16),
       flags = text.substr(53, 2);
  auto all_zero = [](std::string_view hex) { return hex.find_first_not_of('0') == std::string_view::npos; };
  return version == "00" && is_lower_hex(trace) && is_lower_hex(parent) && is_lower_hex(flags) && !all_zero(trace) &&
         !all_zero(parent);
}

// Rules beyond the generic walk, one overload per payload that has any.
void check_payload(checker&, const auto&) {}

void check_payload(checker& c, const job_submitted& p) {
  c.require(p.resources.nodes >= 1, "payload.resources.nodes", "must be at least 1");
  c.require(p.resources.cores_per_node >= 1, "payload.resources.cores_per_node", "must be at least 1");
  c.require(p.resources.gpus >= 0, "payload.resources.gpus", "must not be negative");
  c.require(p.resources.memory_gb >= 0, "payload.resources.memory_gb", "must not be negative");
  c.require(p.resources.wall_time_minutes >= 1, "payload.resources.wall_time_minutes", "must be at least 1");
  c.require(p.estimated_cost_usd >= 0, "payload.estimated_cost_usd", "must not be negative");
}

void check_payload(checker& c, const job_status_changed& p) {
  if (auto ok = check_transition(p.previous_status, p.new_status); !ok) c.fail(ok.error());
}

void check_payload(checker& c, const job_failed& p) {
  c.require(p.max_retries >= 0, "payload.max_retries", "must not be negative");
  c.require(p.retry_count >= 0 && p.retry_count <= p.max_retries, "payload.retry_count",
            "must be between 0 and max_retries");
}

void check_payload(checker& c, const job_cancelled& p) {
  c.require(p.refund_usd >= 0, "payload.refund_usd", "must not be negative");
}

void check_payload(checker& c, const job_completed& p) {
  c.require(p.execution_time_ms >= 0, "payload.execution_time_ms", "must not be negative");
  c.require(p.result_size_bytes >= 0, "payload.result_size_bytes", "must not be negative");
}

void check_payload(checker& c, const consumer_lag_evaluated& p) {
  c.require(p.lag_messages >= 0, "payload.lag_messages", "must not be negative");
}

template <class Payload>
std::expected<void, validation_error> validate_event(const event<Payload>& e) {
  auto expected_type = event_type_of(e.payload);
  checker c(expected_type);
  c.require(!e.event_id.is_nil(), "event_id", "must be set");
  c.walk(static_cast<const envelope&>(e), path_node{}, "");
  c.require(!e.correlation_id.is_nil(), "correlation_id", "must be set");
  c.require(e.event_type == expected_type, "event_type",
            fmt::format("is '{}' but the payload is {}", e.event_type, expected_type));
  c.require(e.schema_version >= 1, "schema_version", "must be at least 1");
  c.require(!e.traceparent || is_traceparent(*e.traceparent), "traceparent",
            "is not a W3C traceparent (00-<32 hex>-<16 hex>-<2 hex>)");
  if constexpr (is_variant<Payload>::value) {
    std::visit(
        [&](const auto& p) {
          c.walk(p, path_node{.name = "payload"}, "payload");
          check_payload(c, p);
        },
        e.payload);
  } else {
    c.walk(e.payload, path_node{.name = "payload"}, "payload");
    check_payload(c, e.payload);
  }
  return c.result();
}

}  // namespace

template <class Payload>
std::expected<void, validation_error> validate(const event<Payload>& e) {
  return validate_event(e);
}

std::expected<void, validation_error> validate(const any_event& e) {
  return std::visit([](const auto& topic_event) { return validate_event(topic_event); }, e);
}

#define HORIZONS_INSTANTIATE_VALIDATE(P) template std::expected<void, validation_error> validate<P>(const event<P>&);
HORIZONS_FOR_EACH_PAYLOAD(HORIZONS_INSTANTIATE_VALIDATE)
HORIZONS_FOR_EACH_TOPIC_PAYLOAD(HORIZONS_INSTANTIATE_VALIDATE)
#undef HORIZONS_INSTANTIATE_VALIDATE

}  // namespace horizons
