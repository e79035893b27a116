// tracing::start reads OpenTelemetry's variables: off without an endpoint or with
// OTEL_SDK_DISABLED=true, and a value it cannot use is an error naming the variable. (Spans
// themselves are tested end to end, across processes, by tests/embedded/check_traces.py.)
#include <horizons/tracing.hpp>

#include <gtest/gtest.h>

#include <cstdlib>
#include <string>
#include <vector>

namespace {

const std::vector<std::string> variables{"OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
                                         "OTEL_EXPORTER_OTLP_PROTOCOL", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
                                         "OTEL_TRACES_SAMPLER",         "OTEL_TRACES_SAMPLER_ARG",
                                         "OTEL_SDK_DISABLED",           "OTEL_SERVICE_NAME"};

class tracing_settings : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const auto& name : variables) ::unsetenv(name.c_str());
  }
  void TearDown() override { SetUp(); }
  static void set(const char* name, const char* value) { ::setenv(name, value, 1); }
  static std::string refused() {
    auto started = horizons::tracing::start("test");
    EXPECT_FALSE(started) << "started: " << started->description();
    EXPECT_FALSE(horizons::tracing::enabled());
    return started ? std::string() : started.error();
  }
  static std::string off() {
    auto started = horizons::tracing::start("test");
    EXPECT_TRUE(started) << started.error();
    if (!started) return {};
    EXPECT_FALSE(started->active());
    EXPECT_FALSE(horizons::tracing::enabled());
    return started->description();
  }
};

TEST_F(tracing_settings, without_an_endpoint_tracing_is_off) {
  EXPECT_EQ(off(), "tracing: off (OTEL_EXPORTER_OTLP_ENDPOINT is not set)");
}

TEST_F(tracing_settings, sdk_disabled_wins_over_an_endpoint) {
  set("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318");
  set("OTEL_SDK_DISABLED", "TRUE");
  EXPECT_EQ(off(), "tracing: off (OTEL_SDK_DISABLED=true)");
}

TEST_F(tracing_settings, values_it_cannot_use_are_named) {
  set("OTEL_SDK_DISABLED", "yes");
  EXPECT_EQ(refused(), "OTEL_SDK_DISABLED=yes: expected true or false");
  ::unsetenv("OTEL_SDK_DISABLED");

  set("OTEL_EXPORTER_OTLP_ENDPOINT", "127.0.0.1:4318");
  EXPECT_EQ(refused(), "OTEL_EXPORTER_OTLP_ENDPOINT=127.0.0.1:4318: expected an http:// or https:// URL");
  set("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318");

  set("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc");
  EXPECT_EQ(refused(),
            "OTEL_EXPORTER_OTLP_PROTOCOL=grpc: Horizons exports over OTLP/HTTP: use http/protobuf or "
            "http/json");
  ::unsetenv("OTEL_EXPORTER_OTLP_PROTOCOL");

  set("OTEL_TRACES_SAMPLER", "sometimes");
  EXPECT_NE(refused().find("OTEL_TRACES_SAMPLER=sometimes: expected always_on, always_off, traceidratio"),
            std::string::npos);
  set("OTEL_TRACES_SAMPLER", "parentbased_traceidratio");
  set("OTEL_TRACES_SAMPLER_ARG", "1.5");
  EXPECT_EQ(refused(),
            "OTEL_TRACES_SAMPLER_ARG=1.5: expected a probability between 0 and 1 for parentbased_traceidratio");
}

}  // namespace
