// Tracing with the OpenTelemetry C++ SDK: settings from OTEL_* (the SDK reads the exporter's own;
// the sampler and OTEL_SDK_DISABLED are read here, as the SDK does not), a batch processor and an
// OTLP/HTTP exporter, and the spans of tracing.hpp. Span names and attributes follow
// OpenTelemetry's messaging semantic conventions.
#include <horizons/tracing.hpp>

#include <opentelemetry/context/propagation/text_map_propagator.h>
#include <opentelemetry/context/runtime_context.h>
#include <opentelemetry/exporters/otlp/otlp_http_exporter_factory.h>
#include <opentelemetry/exporters/otlp/otlp_http_exporter_options.h>
#include <opentelemetry/sdk/common/global_log_handler.h>
#include <opentelemetry/sdk/resource/resource.h>
#include <opentelemetry/sdk/trace/batch_span_processor_factory.h>
#include <opentelemetry/sdk/trace/batch_span_processor_options.h>
#include <opentelemetry/sdk/trace/samplers/always_off.h>
#include <opentelemetry/sdk/trace/samplers/always_on.h>
#include <opentelemetry/sdk/trace/samplers/parent.h>
#include <opentelemetry/sdk/trace/samplers/trace_id_ratio.h>
#include <opentelemetry/sdk/trace/tracer_provider.h>
#include <opentelemetry/sdk/trace/tracer_provider_factory.h>
#include <opentelemetry/trace/propagation/http_trace_context.h>
#include <opentelemetry/trace/provider.h>
#include <opentelemetry/trace/scope.h>

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <chrono>
#include <cstdlib>
#include <map>

namespace horizons::tracing {

namespace otel = opentelemetry;
namespace trace_api = opentelemetry::trace;
namespace trace_sdk = opentelemetry::sdk::trace;

namespace {

std::string env(const char* name) {
  const char* value = std::getenv(name);
  return value ? value : "";
}

std::string lowered(std::string text) {
  std::ranges::transform(text, text.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return text;
}

// OTEL_TRACES_SAMPLER and OTEL_TRACES_SAMPLER_ARG, as the specification lists them.
std::expected<std::unique_ptr<trace_sdk::Sampler>, std::string> sampler_from_environment(std::string& described) {
  const auto name =
      env("OTEL_TRACES_SAMPLER").empty() ? std::string("parentbased_always_on") : lowered(env("OTEL_TRACES_SAMPLER"));
  double ratio = 1.0;
  const auto arg = env("OTEL_TRACES_SAMPLER_ARG");
  if (name.ends_with("traceidratio") && !arg.empty()) {
    const auto [end, error] = std::from_chars(arg.data(), arg.data() + arg.size(), ratio);
    if (error != std::errc{} || end != arg.data() + arg.size() || ratio < 0 || ratio > 1)
      return std::unexpected(
          fmt::format("OTEL_TRACES_SAMPLER_ARG={}: expected a probability between 0 and 1 for {}", arg, name));
  }
  described = name.ends_with("traceidratio") ? fmt::format("{} {}", name, ratio) : name;
  auto plain = [ratio](std::string_view kind) -> std::unique_ptr<trace_sdk::Sampler> {
    if (kind == "always_on") return std::make_unique<trace_sdk::AlwaysOnSampler>();
    if (kind == "always_off") return std::make_unique<trace_sdk::AlwaysOffSampler>();
    return std::make_unique<trace_sdk::TraceIdRatioBasedSampler>(ratio);
  };
  if (name == "always_on" || name == "always_off" || name == "traceidratio") return plain(name);
  constexpr std::string_view parent_based = "parentbased_";
  if (name == "parentbased_always_on" || name == "parentbased_always_off" || name == "parentbased_traceidratio")
    return std::make_unique<trace_sdk::ParentBasedSampler>(
        std::shared_ptr<trace_sdk::Sampler>(plain(std::string_view(name).substr(parent_based.size()))));
  return std::unexpected(
      fmt::format("OTEL_TRACES_SAMPLER={}: expected always_on, always_off, traceidratio, parentbased_always_on, "
                  "parentbased_always_off or parentbased_traceidratio",
                  env("OTEL_TRACES_SAMPLER")));
}

// Checks what the SDK's exporter will read, so that a bad value is an error here rather than
// spans silently going nowhere.
std::expected<std::string, std::string> endpoint_from_environment() {
  for (const char* name : {"OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL"}) {
    const auto protocol = env(name);
    if (protocol.empty()) continue;
    if (protocol != "http/protobuf" && protocol != "http/json")
      return std::unexpected(
          fmt::format("{}={}: Horizons exports over OTLP/HTTP: use http/protobuf or http/json", name, protocol));
    break;
  }
  for (const char* name : {"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT"}) {
    const auto url = env(name);
    if (url.empty()) continue;
    if (!url.starts_with("http://") && !url.starts_with("https://"))
      return std::unexpected(fmt::format("{}={}: expected an http:// or https:// URL", name, url));
    return url;
  }
  return std::string{};
}

// The resource's service.name: OTEL_SERVICE_NAME, else service.name in OTEL_RESOURCE_ATTRIBUTES
// (the SDK's resource detector reads both), else the program's default.
otel::sdk::resource::Resource resource(std::string_view default_service_name) {
  const bool named =
      !env("OTEL_SERVICE_NAME").empty() || env("OTEL_RESOURCE_ATTRIBUTES").find("service.name=") != std::string::npos;
  otel::sdk::resource::ResourceAttributes attributes;
  if (!named) attributes.SetAttribute("service.name", std::string(default_service_name));
  return otel::sdk::resource::Resource::Create(attributes);
}

constexpr std::string_view instrumentation = "horizons";

otel::nostd::string_view text(std::string_view s) { return {s.data(), s.size()}; }

// The session's tracer, fetched once at start(): asking the provider takes its lock every time.
otel::nostd::shared_ptr<trace_api::Tracer>& current_tracer() {
  static otel::nostd::shared_ptr<trace_api::Tracer> tracer;
  return tracer;
}
trace_api::Tracer& tracer() { return *current_tracer(); }

// "send <topic>" and "process <topic>", made once.
const std::string& span_name(std::string_view operation, topic_id topic) {
  static const auto names = [] {
    std::array<std::array<std::string, topic_count>, 2> made;
    for (std::size_t t = 0; t < topic_count; ++t) {
      made[0][t] = fmt::format("send {}", topic_name(static_cast<topic_id>(t)));
      made[1][t] = fmt::format("process {}", topic_name(static_cast<topic_id>(t)));
    }
    return made;
  }();
  return names[operation == "send" ? 0 : 1][static_cast<std::size_t>(topic)];
}

// A traceparent string as a carrier for the W3C propagator.
class one_header final : public otel::context::propagation::TextMapCarrier {
 public:
  explicit one_header(std::string value = {}) : value_(std::move(value)) {}
  otel::nostd::string_view Get(otel::nostd::string_view key) const noexcept override {
    return key == "traceparent" ? otel::nostd::string_view(value_) : otel::nostd::string_view();
  }
  void Set(otel::nostd::string_view key, otel::nostd::string_view value) noexcept override {
    if (key == "traceparent") value_.assign(value.data(), value.size());
  }
  [[nodiscard]] const std::string& value() const { return value_; }

 private:
  std::string value_;
};

trace_api::propagation::HttpTraceContext& w3c() {
  static trace_api::propagation::HttpTraceContext propagator;
  return propagator;
}

// The span context a traceparent names; invalid when it names none.
trace_api::SpanContext context_of(std::string_view traceparent) {
  one_header carrier{std::string(traceparent)};
  otel::context::Context empty;
  auto context = w3c().Extract(carrier, empty);
  return trace_api::GetSpan(context)->GetContext();
}

// Only for a span that records: an unsampled span ignores attributes, and making them costs.
void set_record_attributes(trace_api::Span& span, const record_facts& facts, std::string_view operation) {
  span.SetAttribute("messaging.system", "kafka");
  span.SetAttribute("messaging.operation.type", text(operation));
  span.SetAttribute("messaging.operation.name", text(operation));
  span.SetAttribute("messaging.destination.name", text(topic_name(facts.topic)));
  if (facts.key) span.SetAttribute("messaging.kafka.message.key", text(*facts.key));
  if (facts.event_id) span.SetAttribute("messaging.message.id", facts.event_id->to_string());
  span.SetAttribute("horizons.event_type", text(facts.event_type));
  if (facts.job_id) span.SetAttribute("horizons.job_id", text(*facts.job_id));
}

}  // namespace

// ------------------------------------------------------------------ session

struct session::state {
  std::string description;
  std::shared_ptr<trace_sdk::TracerProvider> provider;  // null when off
};

session::session(std::unique_ptr<state> s) : state_(std::move(s)) {}
session::session(session&&) noexcept = default;
session& session::operator=(session&&) noexcept = default;
session::~session() {
  if (!state_ || !state_->provider) return;
  detail::recording.store(false, std::memory_order_relaxed);
  state_->provider->ForceFlush(std::chrono::seconds(5));
  state_->provider->Shutdown();
  current_tracer() = otel::nostd::shared_ptr<trace_api::Tracer>();
  trace_api::Provider::SetTracerProvider(otel::nostd::shared_ptr<trace_api::TracerProvider>());
}
const std::string& session::description() const { return state_->description; }
bool session::active() const { return state_->provider != nullptr; }

std::expected<session, std::string> start(std::string_view default_service_name) {
  auto off = [](std::string why) {
    return session(std::make_unique<session::state>(
        session::state{.description = "tracing: off (" + why + ")", .provider = nullptr}));
  };
  const auto disabled = lowered(env("OTEL_SDK_DISABLED"));
  if (disabled == "true") return off("OTEL_SDK_DISABLED=true");
  if (!disabled.empty() && disabled != "false")
    return std::unexpected(fmt::format("OTEL_SDK_DISABLED={}: expected true or false", env("OTEL_SDK_DISABLED")));
  auto endpoint = endpoint_from_environment();
  if (!endpoint) return std::unexpected(endpoint.error());
  std::string sampling;
  auto sampler = sampler_from_environment(sampling);
  if (!sampler) return std::unexpected(sampler.error());
  if (endpoint->empty()) return off("OTEL_EXPORTER_OTLP_ENDPOINT is not set");
  if (detail::recording.load()) return std::unexpected(std::string("tracing was started twice in one process"));

  // A full queue drops spans with one warning each; the count is what matters, not the warnings.
  otel::sdk::common::internal_log::GlobalLogHandler::SetLogLevel(otel::sdk::common::internal_log::LogLevel::Error);
  otel::exporter::otlp::OtlpHttpExporterOptions exporter_options;  // reads OTEL_EXPORTER_OTLP_*
  auto exporter = otel::exporter::otlp::OtlpHttpExporterFactory::Create(exporter_options);
  trace_sdk::BatchSpanProcessorOptions batching;
  batching.schedule_delay_millis = std::chrono::milliseconds(500);
  auto processor = trace_sdk::BatchSpanProcessorFactory::Create(std::move(exporter), batching);
  std::shared_ptr<trace_sdk::TracerProvider> provider = trace_sdk::TracerProviderFactory::Create(
      std::move(processor), resource(default_service_name), std::move(*sampler));
  trace_api::Provider::SetTracerProvider(otel::nostd::shared_ptr<trace_api::TracerProvider>(provider));
  current_tracer() = provider->GetTracer(std::string(instrumentation));
  detail::recording.store(true);
  const auto service = env("OTEL_SERVICE_NAME").empty() ? std::string(default_service_name) : env("OTEL_SERVICE_NAME");
  return session(std::make_unique<session::state>(session::state{
      .description =
          fmt::format("tracing: OTLP/HTTP to {} as service {}, sampler {}", exporter_options.url, service, sampling),
      .provider = std::move(provider)}));
}

// ------------------------------------------------------------------ spans

struct producer_span::state {
  otel::nostd::shared_ptr<trace_api::Span> span;
};

producer_span::producer_span(const record_facts& facts, const std::optional<std::string>& own_traceparent,
                             bool via_outbox)
    : state_(std::make_unique<state>()) {
  trace_api::StartSpanOptions options;
  options.kind = trace_api::SpanKind::kProducer;
  // No handler span on this thread: the event's own context (its cause's), if it has one.
  const bool in_handler = trace_api::GetSpan(otel::context::RuntimeContext::GetCurrent())->GetContext().IsValid();
  if (!in_handler && own_traceparent) {
    if (auto parent = context_of(*own_traceparent); parent.IsValid()) options.parent = parent;
  }
  state_->span = tracer().StartSpan(span_name("send", facts.topic), {}, options);
  if (!state_->span->IsRecording()) return;
  set_record_attributes(*state_->span, facts, "send");
  if (via_outbox) state_->span->SetAttribute("horizons.outbox", true);
}

producer_span::~producer_span() { state_->span->End(); }

std::string producer_span::traceparent() const {
  one_header carrier;
  otel::context::Context empty;
  auto context = trace_api::SetSpan(empty, state_->span);
  w3c().Inject(carrier, context);
  return carrier.value();
}

void producer_span::fail(std::string_view message) {
  state_->span->SetStatus(trace_api::StatusCode::kError, text(message));
}

struct consumer_span::state {
  otel::nostd::shared_ptr<trace_api::Span> span;
  std::optional<trace_api::Scope> scope;  // the handler's span is current on this thread
};

consumer_span::consumer_span(const record_facts& facts, const delivery& where) : state_(std::make_unique<state>()) {
  trace_api::StartSpanOptions options;
  options.kind = trace_api::SpanKind::kConsumer;
  if (where.traceparent) {
    if (auto parent = context_of(*where.traceparent); parent.IsValid()) options.parent = parent;
  }
  state_->span = tracer().StartSpan(span_name("process", facts.topic), {}, options);
  state_->scope.emplace(state_->span);  // unsampled too: what the handler emits follows its decision
  if (!state_->span->IsRecording()) return;
  set_record_attributes(*state_->span, facts, "process");
  state_->span->SetAttribute("messaging.consumer.group.name", text(where.group));
  state_->span->SetAttribute("messaging.destination.partition.id", std::to_string(where.partition));
  state_->span->SetAttribute("messaging.kafka.offset", where.offset);
}

consumer_span::~consumer_span() {
  state_->scope.reset();
  state_->span->End();
}

void consumer_span::fail(std::string_view message) {
  state_->span->SetStatus(trace_api::StatusCode::kError, text(message));
}

void consumer_span::dead_lettered(std::string_view dlq_topic, std::string_view reason) {
  state_->span->SetAttribute("horizons.dead_letter_topic", text(dlq_topic));
  state_->span->SetStatus(trace_api::StatusCode::kError, text(reason));
}

}  // namespace horizons::tracing
