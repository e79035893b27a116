// What the schema registry's embedded tests share: a fresh embedded cluster per test with the
// registry's topic, servers on free ports, Horizons' client for them, plain HTTP calls for what the
// client does not ask (or asks with retries a test must not have), and a few Avro schemas.
#pragma once

#include <horizons/schema_registry.hpp>
#include <horizons/testkit/cluster_fixture.hpp>

#include <gtest/gtest.h>
#include <httplib.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "services/schema_registry/service.hpp"

namespace horizons::schema_registry_service::testing {

using namespace std::chrono_literals;
using json = nlohmann::json;

// A record Job {id: string}, and versions of it.
inline const std::string job_v1 =
    R"({"type":"record","name":"Job","namespace":"t","fields":[{"name":"id","type":"string"}]})";
inline const std::string job_v1_reformatted =
    "{\n  \"namespace\": \"t\",\n  \"name\": \"Job\",\n  \"type\": \"record\",\n"
    "  \"fields\": [ { \"type\": \"string\", \"name\": \"id\" } ]\n}";
// Adds a field with a default: BACKWARD and FORWARD compatible with job_v1.
inline const std::string job_v2_with_default =
    R"({"type":"record","name":"Job","namespace":"t","fields":[{"name":"id","type":"string"},)"
    R"({"name":"band","type":["null","string"],"default":null}]})";
// Adds a field without a default: FORWARD compatible with job_v1, not BACKWARD.
inline const std::string job_v2_without_default =
    R"({"type":"record","name":"Job","namespace":"t","fields":[{"name":"id","type":"string"},)"
    R"({"name":"nodes","type":"int"}]})";
// The same field as job_v2_with_default, without its default: another schema.
inline const std::string job_v2_band_without_default =
    R"({"type":"record","name":"Job","namespace":"t","fields":[{"name":"id","type":"string"},)"
    R"({"name":"band","type":["null","string"]}]})";

/// A record named `name` with one string field: distinct schemas for tests that need many.
inline std::string record_named(const std::string& name) {
  return json{{"type", "record"}, {"name", name}, {"fields", json::array({{{"name", "id"}, {"type", "string"}}})}}
      .dump();
}

inline std::string schema_body(const std::string& schema) { return json{{"schema", schema}}.dump(); }

struct http_answer {
  int status = 0;  ///< 0: no answer
  json body;       ///< discarded when the answer is not JSON
  std::string text;
  std::string content_type;
};

/// One request, no retries.
inline http_answer call(const std::string& url, const std::string& method, const std::string& path,
                        const std::string& body = {}, const httplib::Headers& headers = {}) {
  httplib::Client client(url);
  client.set_read_timeout(30, 0);
  const std::string type = "application/vnd.schemaregistry.v1+json";
  httplib::Result r = method == "GET"      ? client.Get(path, headers)
                      : method == "PUT"    ? client.Put(path, headers, body, type)
                      : method == "DELETE" ? client.Delete(path, headers, body, type)
                                           : client.Post(path, headers, body, type);
  if (!r) return {};
  return {.status = r->status,
          .body = json::parse(r->body, nullptr, false),
          .text = r->body,
          .content_type = r->get_header_value("Content-Type")};
}

/// Calls `check` until it is true or `timeout` passes; whether it became true.
inline bool eventually(const std::function<bool()>& check, std::chrono::milliseconds timeout = 10s) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!check()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(20ms);
  }
  return true;
}

class registry_fixture : public testkit::cluster_fixture {
 protected:
  void SetUp() override {
    cluster_fixture::SetUp();
    if (HasFatalFailure()) return;
    // The mock cluster answers an empty fetch only after the fetch wait; the registry caps its own.
    config().fetch_wait = 10ms;
    config().delivery_timeout = 5s;
    auto made = cluster().create_topic(options{}.topic, 1);
    ASSERT_TRUE(made) << made.error().message;
  }

  std::unique_ptr<server> start(std::chrono::milliseconds lease = 30s, const std::string& advertised_url = {}) {
    auto started = server::start(
        {.config = config(), .listen = "127.0.0.1:0", .advertised_url = advertised_url, .writer_lease = lease});
    EXPECT_TRUE(started) << started.error();
    return started ? std::move(*started) : nullptr;
  }

  /// Horizons' client; it retries 5xx answers while `timeout` allows.
  static std::unique_ptr<schema_registry> client_of(const std::string& url, std::chrono::milliseconds timeout = 10s) {
    auto made = schema_registry::create({.url = url, .timeout = timeout});
    EXPECT_TRUE(made) << made.error().message;
    return made ? std::make_unique<schema_registry>(std::move(*made)) : nullptr;
  }
  static std::unique_ptr<schema_registry> client_of(const server& s, std::chrono::milliseconds timeout = 10s) {
    return client_of(s.url(), timeout);
  }
};

}  // namespace horizons::schema_registry_service::testing
