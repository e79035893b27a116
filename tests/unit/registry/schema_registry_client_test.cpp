// The registry client against a scripted HTTP server on loopback: what it sends, how it reads the
// answers, what it retries, what it caches, and how it fails.
#include <horizons/schema_registry.hpp>

#include <gtest/gtest.h>
#include <httplib.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace {

using namespace std::chrono_literals;
using horizons::registry_error;
using horizons::schema_registry;

constexpr auto schema_text = R"({"type":"record","name":"T","fields":[{"name":"a","type":"int"}]})";

// An HTTP server on 127.0.0.1 whose answers the test scripts; it records every request it saw.
class scripted_server {
 public:
  using handler = std::function<void(const httplib::Request&, httplib::Response&)>;

  explicit scripted_server(handler h) : handler_(std::move(h)) {
    const auto record_and_answer = [this](const httplib::Request& request, httplib::Response& response) {
      {
        const std::lock_guard lock(mutex_);
        seen_.push_back(request);
      }
      handler_(request, response);
    };
    server_.Get(".*", record_and_answer);
    server_.Post(".*", record_and_answer);
    server_.Put(".*", record_and_answer);
    server_.Delete(".*", record_and_answer);
    server_.set_tcp_nodelay(true);
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    while (!server_.is_running()) std::this_thread::sleep_for(1ms);
  }
  ~scripted_server() {
    server_.stop();
    thread_.join();
  }

  [[nodiscard]] std::string url(std::string_view path = "") const {
    return "http://127.0.0.1:" + std::to_string(port_) + std::string(path);
  }
  [[nodiscard]] std::vector<httplib::Request> seen() const {
    const std::lock_guard lock(mutex_);
    return seen_;
  }

 private:
  handler handler_;
  httplib::Server server_;
  int port_ = 0;
  std::thread thread_;
  mutable std::mutex mutex_;
  std::vector<httplib::Request> seen_;
};

void answer(httplib::Response& response, int status, std::string body) {
  response.status = status;
  response.set_content(std::move(body), "application/vnd.schemaregistry.v1+json");
}

schema_registry client_for(const std::string& url, std::chrono::milliseconds timeout = 2s) {
  auto registry = schema_registry::create({.url = url, .timeout = timeout, .retry_backoff = 10ms});
  EXPECT_TRUE(registry) << registry.error().message;
  return std::move(*registry);
}

TEST(schema_registry_client, subject_names_follow_the_topic_or_the_record_strategy) {
  using enum horizons::subject_name_strategy;
  EXPECT_EQ(horizons::subject_name(topic_name, "job-lifecycle", "org.x.JobLifecycleEvent"), "job-lifecycle-value");
  EXPECT_EQ(horizons::subject_name(record_name, "job-lifecycle", "org.x.JobLifecycleEvent"), "org.x.JobLifecycleEvent");
}

TEST(schema_registry_client, compatibility_levels_read_and_print_in_the_registrys_spelling) {
  for (const auto* name :
       {"NONE", "BACKWARD", "BACKWARD_TRANSITIVE", "FORWARD", "FORWARD_TRANSITIVE", "FULL", "FULL_TRANSITIVE"}) {
    const auto level = horizons::compatibility_level_from(name);
    ASSERT_TRUE(level) << name;
    EXPECT_EQ(horizons::to_string(*level), name);
  }
  EXPECT_FALSE(horizons::compatibility_level_from("backward"));
}

TEST(schema_registry_client, unusable_settings_are_refused_by_name_before_any_request) {
  const auto refused = [](horizons::schema_registry_options options, std::string_view expected) {
    auto registry = schema_registry::create(std::move(options));
    ASSERT_FALSE(registry) << expected;
    EXPECT_EQ(registry.error().what, registry_error::kind::bad_settings);
    EXPECT_NE(registry.error().message.find(expected), std::string::npos) << registry.error().message;
  };
  refused({.url = "127.0.0.1:8081"}, "no scheme");
  refused({.url = "ftp://127.0.0.1:8081"}, "unsupported scheme 'ftp'");
  refused({.url = "http://"}, "no host");
  refused({.url = "http://127.0.0.1:99999"}, "bad port '99999'");
  refused({.url = "http://127.0.0.1:80x"}, "bad port '80x'");
  refused({.url = "http://u:secret@127.0.0.1:8081"}, "SCHEMA_REGISTRY_BASIC_AUTH_USER_INFO");
  refused({.url = "http://127.0.0.1:1,http://127.0.0.1:2"}, "second URL");
  refused({.url = "http://127.0.0.1:8081", .basic_auth_user_info = "justauser"}, "expected user:password");
  refused({.url = "https://127.0.0.1:8081", .ca_location = "/nonexistent/ca.pem"}, "not a readable file");
  refused({.url = "http://127.0.0.1:8081", .timeout = 0ms}, "timeout must be positive");
}

TEST(schema_registry_client, register_posts_the_schema_under_the_url_path_and_caches_the_id) {
  scripted_server server(
      [](const httplib::Request&, httplib::Response& response) { answer(response, 200, R"({"id":7})"); });
  auto registry = client_for(server.url("/apis/ccompat/v7/"));

  auto id = registry.register_schema("job lifecycle/value", schema_text);
  ASSERT_TRUE(id) << id.error().message;
  EXPECT_EQ(*id, 7);
  auto again = registry.register_schema("job lifecycle/value", schema_text);
  ASSERT_TRUE(again);
  EXPECT_EQ(*again, 7);

  const auto seen = server.seen();
  ASSERT_EQ(seen.size(), 1U) << "the second registration is answered from the cache";
  EXPECT_EQ(registry.requests_sent(), 1U);
  EXPECT_EQ(seen[0].method, "POST");
  EXPECT_EQ(seen[0].path, "/apis/ccompat/v7/subjects/job lifecycle/value/versions");  // httplib decodes the path
  EXPECT_EQ(seen[0].get_header_value("Content-Type"), "application/vnd.schemaregistry.v1+json");
  EXPECT_EQ(seen[0].body, std::string(R"({"schema":")") +
                              R"({\"type\":\"record\",\"name\":\"T\",\"fields\":[{\"name\":\"a\",\"type\":\"int\"}]})" +
                              R"("})");
  EXPECT_EQ(seen[0].get_header_value("Authorization"), "") << "no credentials unless configured";
}

TEST(schema_registry_client, a_schema_is_fetched_by_id_once_per_client) {
  scripted_server server([](const httplib::Request& request, httplib::Response& response) {
    EXPECT_EQ(request.path, "/schemas/ids/3");
    answer(response, 200, R"({"schema":"\"string\""})");
  });
  auto registry = client_for(server.url());
  for (int i = 0; i < 3; ++i) {
    auto text = registry.schema_by_id(3);
    ASSERT_TRUE(text) << text.error().message;
    EXPECT_EQ(*text, R"("string")");
  }
  EXPECT_EQ(server.seen().size(), 1U);
}

TEST(schema_registry_client, basic_auth_is_sent_when_configured) {
  scripted_server server([](const httplib::Request&, httplib::Response& response) { answer(response, 200, "[]"); });
  auto registry =
      schema_registry::create({.url = server.url(), .basic_auth_user_info = "alice:s3cr:et", .timeout = 2s});
  ASSERT_TRUE(registry);
  ASSERT_TRUE(registry->subjects());
  // base64("alice:s3cr:et"): the password may itself hold ':'.
  EXPECT_EQ(server.seen().at(0).get_header_value("Authorization"), "Basic YWxpY2U6czNjcjpldA==");
}

TEST(schema_registry_client, server_errors_and_throttling_are_retried_until_an_answer) {
  std::atomic<int> calls{0};
  scripted_server server([&](const httplib::Request&, httplib::Response& response) {
    const int n = ++calls;
    if (n == 1) return answer(response, 503, R"({"error_code":50003,"message":"forwarding failed"})");
    if (n == 2) return answer(response, 429, "slow down");
    answer(response, 200, R"(["a-value","b-value"])");
  });
  auto registry = client_for(server.url());
  auto subjects = registry.subjects();
  ASSERT_TRUE(subjects) << subjects.error().message;
  EXPECT_EQ(*subjects, (std::vector<std::string>{"a-value", "b-value"}));
  EXPECT_EQ(calls.load(), 3);
}

TEST(schema_registry_client, a_client_error_is_returned_at_once_with_the_registrys_code_and_message) {
  scripted_server server([](const httplib::Request&, httplib::Response& response) {
    answer(response, 404, R"({"error_code":40402,"message":"Version 7 not found."})");
  });
  auto registry = client_for(server.url());
  auto found = registry.version("job-lifecycle-value", 7);
  ASSERT_FALSE(found);
  EXPECT_EQ(found.error().what, registry_error::kind::rejected);
  EXPECT_EQ(found.error().http_status, 404);
  EXPECT_EQ(found.error().error_code, 40402);
  EXPECT_EQ(found.error().message,
            "subject job-lifecycle-value, version 7: registry error 40402: Version 7 not found. (HTTP 404)");
  EXPECT_EQ(server.seen().size(), 1U) << "a 4xx other than 429 is not retried";
}

TEST(schema_registry_client, a_server_error_that_persists_ends_at_the_deadline_with_its_status) {
  scripted_server server([](const httplib::Request&, httplib::Response& response) {
    answer(response, 500, R"({"error_code":50001,"message":"store error"})");
  });
  auto registry = client_for(server.url(), 300ms);
  const auto start = std::chrono::steady_clock::now();
  auto id = registry.register_schema("s-value", schema_text);
  const auto took = std::chrono::steady_clock::now() - start;
  ASSERT_FALSE(id);
  EXPECT_EQ(id.error().what, registry_error::kind::rejected);
  EXPECT_EQ(id.error().error_code, 50001);
  EXPECT_NE(id.error().message.find("registering a schema under subject s-value: registry error 50001: store error"),
            std::string::npos)
      << id.error().message;
  EXPECT_NE(id.error().message.find("attempts"), std::string::npos) << id.error().message;
  EXPECT_GT(server.seen().size(), 2U);
  EXPECT_LT(took, 2s);
}

TEST(schema_registry_client, an_unreachable_registry_is_a_named_error_after_the_timeout) {
  int closed_port = 0;
  {
    httplib::Server probe;
    closed_port = probe.bind_to_any_port("127.0.0.1");
  }  // closed again: nothing listens there now
  auto registry = client_for("http://127.0.0.1:" + std::to_string(closed_port), 400ms);
  const auto start = std::chrono::steady_clock::now();
  auto text = registry.schema_by_id(1);
  const auto took = std::chrono::steady_clock::now() - start;
  ASSERT_FALSE(text);
  EXPECT_EQ(text.error().what, registry_error::kind::unreachable);
  EXPECT_NE(text.error().message.find("schema id 1: no answer from the schema registry at http://127.0.0.1:"),
            std::string::npos)
      << text.error().message;
  EXPECT_LT(took, 2s);
}

TEST(schema_registry_client, a_registry_that_never_answers_does_not_hang_the_caller) {
  scripted_server server([](const httplib::Request&, httplib::Response& response) {
    std::this_thread::sleep_for(1500ms);
    answer(response, 200, R"({"id":1})");
  });
  auto registry = client_for(server.url(), 300ms);
  const auto start = std::chrono::steady_clock::now();
  auto id = registry.register_schema("s-value", schema_text);
  const auto took = std::chrono::steady_clock::now() - start;
  ASSERT_FALSE(id);
  EXPECT_EQ(id.error().what, registry_error::kind::unreachable);
  EXPECT_LT(took, 1200ms);
}

TEST(schema_registry_client, answers_that_are_not_the_documented_shape_are_bad_responses) {
  scripted_server server([](const httplib::Request& request, httplib::Response& response) {
    if (request.path.starts_with("/schemas")) return answer(response, 200, "<html>proxy</html>");
    answer(response, 200, R"({"identifier":4})");
  });
  auto registry = client_for(server.url());
  auto text = registry.schema_by_id(4);
  ASSERT_FALSE(text);
  EXPECT_EQ(text.error().what, registry_error::kind::bad_response);
  EXPECT_NE(text.error().message.find("schema id 4: the registry's answer is not JSON"), std::string::npos);
  auto id = registry.register_schema("s-value", schema_text);
  ASSERT_FALSE(id);
  EXPECT_EQ(id.error().message, "registering a schema under subject s-value: the registry's answer has no 'id'");
}

TEST(schema_registry_client, compatibility_tests_and_levels_use_the_documented_requests) {
  scripted_server server([](const httplib::Request& request, httplib::Response& response) {
    if (request.method == "POST") {
      return answer(response, 200, R"({"is_compatible":false,"messages":["READER_FIELD_MISSING_DEFAULT_VALUE: b"]})");
    }
    if (request.method == "PUT") return answer(response, 200, request.body);
    answer(response, 200, R"({"compatibilityLevel":"FULL_TRANSITIVE"})");
  });
  auto registry = client_for(server.url());

  auto verdict = registry.test_compatibility("s-value", schema_text);
  ASSERT_TRUE(verdict) << verdict.error().message;
  EXPECT_FALSE(verdict->compatible);
  EXPECT_EQ(verdict->messages, (std::vector<std::string>{"READER_FIELD_MISSING_DEFAULT_VALUE: b"}));

  auto level = registry.compatibility("s-value");
  ASSERT_TRUE(level) << level.error().message;
  EXPECT_EQ(*level, horizons::compatibility_level::full_transitive);
  ASSERT_TRUE(registry.set_compatibility(horizons::compatibility_level::backward, "s-value"));
  ASSERT_TRUE(registry.set_compatibility(horizons::compatibility_level::none));

  const auto seen = server.seen();
  ASSERT_EQ(seen.size(), 4U);
  EXPECT_EQ(seen[0].path, "/compatibility/subjects/s-value/versions/latest");
  EXPECT_EQ(seen[0].get_param_value("verbose"), "true");
  EXPECT_EQ(seen[1].path, "/config/s-value");
  EXPECT_EQ(seen[2].method, "PUT");
  EXPECT_EQ(seen[2].body, R"({"compatibility":"BACKWARD"})");
  EXPECT_EQ(seen[3].path, "/config");
}

TEST(schema_registry_client, deletes_ask_for_permanence_only_when_hard) {
  scripted_server server([](const httplib::Request& request, httplib::Response& response) {
    answer(response, 200, request.path.contains("/versions/") ? "2" : "[1,2]");
  });
  auto registry = client_for(server.url());
  auto versions = registry.delete_subject("s-value");
  ASSERT_TRUE(versions) << versions.error().message;
  EXPECT_EQ(*versions, (std::vector<int>{1, 2}));
  ASSERT_TRUE(registry.delete_subject("s-value", horizons::deletion::hard));
  ASSERT_TRUE(registry.delete_version("s-value", 2, horizons::deletion::hard));
  const auto seen = server.seen();
  ASSERT_EQ(seen.size(), 3U);
  EXPECT_FALSE(seen[0].has_param("permanent"));
  EXPECT_EQ(seen[1].get_param_value("permanent"), "true");
  EXPECT_EQ(seen[2].path, "/subjects/s-value/versions/2");
}

}  // namespace
