// The orchestrator's HTTP API on the embedded cluster, for callers with bearer
// tokens: no token or a bad one is 401; a submission is acknowledged by Kafka
// (202), refused naming its bad field (400) or refused when it names another
// submitter (403); a job's state only for its submitter or an admin (404
// before admission); a cancellation only by the submitter or an admin, seen by
// the engine, refused once the job ended; bodies over the limit 413, callers
// over their rate 429; 200 clients at once each get 202 or 429, and every 202
// is one job.submitted in Kafka and nothing else is.
#include <gtest/gtest.h>

#include <httplib.h>
#include <nlohmann/json.hpp>

#include <horizons/codec.hpp>
#include <horizons/embedded_cluster.hpp>
#include <horizons/testkit/topic_contents.hpp>

#include <cstdlib>
#include <filesystem>
#include <map>
#include <optional>
#include <mutex>
#include <thread>

#include "../common/scratch.hpp"
#include "services/orchestrator/engine.hpp"
#include "services/orchestrator/http_api.hpp"
#include "services/orchestrator/submission.hpp"

namespace horizons::orchestrator {
namespace {

using namespace services::testing_common;
using namespace std::chrono_literals;

const services::token_keys keys{.key = std::string(32, 'k')};

httplib::Headers as(const std::string& subject, bool admin = false) {
  auto token = services::issue_token(keys, {.subject = subject, .admin = admin, .ttl = 1h}, horizons::now());
  EXPECT_TRUE(token) << token.error();
  return {{"Authorization", "Bearer " + token.value_or("")}};
}

constexpr const char* m87 = R"({"job_name": "m87", "job_id": "job-http-1", "dataset_id": "vla-0001"})";

TEST(orchestrator_http_api, submits_shows_and_cancels_jobs_for_their_submitter_only) {
  auto cluster = embedded_cluster::start({.brokers = 1});
  ASSERT_TRUE(cluster) << cluster.error().message;
  scratch_dir dir;
  auto database = dir / "orchestrator.db";
  auto opened = services::state_store::open(database);
  ASSERT_TRUE(opened) << opened.error();
  simulation sim;
  sim.cancel_rate = 0;
  engine jobs(sim, *opened);
  ASSERT_TRUE(jobs.prepare());

  client_config config;
  config.brokers = (*cluster)->bootstrap_servers();
  auto unkeyed = http_api::start({.listen = "127.0.0.1:0", .config = config, .database = sql::location(database)});
  ASSERT_FALSE(unkeyed) << "no key, no API";
  EXPECT_NE(unkeyed.error().find("HORIZONS_JWT_SECRET"), std::string::npos) << unkeyed.error();
  auto api =
      http_api::start({.listen = "127.0.0.1:0", .config = config, .database = sql::location(database), .auth = keys});
  ASSERT_TRUE(api) << api.error();
  auto url = (*api)->url();
  httplib::Client client(url);
  client.set_read_timeout(std::chrono::seconds(40));

  // No token, a header naming a user, a token signed with another key: 401, nothing published.
  for (const auto& headers :
       {httplib::Headers{}, httplib::Headers{{"X-User", "alice"}},
        httplib::Headers{
            {"Authorization", "Bearer " + services::issue_token({.key = std::string(32, 'x')},
                                                                {.subject = "alice", .ttl = 1h}, horizons::now())
                                              .value_or("")}}}) {
    auto refused = client.Post("/jobs", headers, m87, "application/json");
    ASSERT_TRUE(refused);
    EXPECT_EQ(refused->status, 401) << refused->body;
    EXPECT_TRUE(nlohmann::json::parse(refused->body).contains("error")) << refused->body;
    EXPECT_NE(refused->get_header_value("WWW-Authenticate").find("Bearer"), std::string::npos);
  }
  EXPECT_EQ(client.Get("/jobs/job-http-1")->status, 401);
  EXPECT_EQ(client.Post("/jobs/job-http-1/cancel", "", "text/plain")->status, 401);

  auto bad =
      client.Post("/jobs", as("alice"), R"({"job_name": "m87", "resources": {"nodes": "four"}})", "application/json");
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->status, 400);
  EXPECT_NE(bad->body.find("nodes"), std::string::npos) << bad->body;
  auto impostor =
      client.Post("/jobs", as("mallory"), R"({"job_name": "m87", "dataset_id": "vla-0001", "user_id": "alice"})",
                  "application/json");
  ASSERT_TRUE(impostor);
  EXPECT_EQ(impostor->status, 403) << impostor->body;
  auto accepted = client.Post("/jobs", as("alice"), m87, "application/json");
  ASSERT_TRUE(accepted);
  EXPECT_EQ(accepted->status, 202) << accepted->body;
  EXPECT_EQ(nlohmann::json::parse(accepted->body)["job_id"], "job-http-1");

  EXPECT_EQ(client.Get("/jobs/job-http-1", as("alice"))->status, 404) << "not admitted yet";
  EXPECT_EQ(client.Post("/jobs/job-http-1/cancel", as("alice"), "", "text/plain")->status, 404);
  // The orchestrator admits it (as its consumer would, from the record the API published).
  auto parsed = submission_from_json(m87, "alice");
  ASSERT_TRUE(parsed) << parsed.error();
  ASSERT_TRUE(jobs.admit(*parsed, parsed->payload));
  auto shown = client.Get("/jobs/job-http-1", as("alice"));
  ASSERT_TRUE(shown);
  ASSERT_EQ(shown->status, 200);
  auto state = nlohmann::json::parse(shown->body);
  EXPECT_EQ(state["status"], "SUBMITTED");
  EXPECT_EQ(state["user_id"], "alice");
  EXPECT_EQ(state["cancel_requested"], false);
  EXPECT_EQ(client.Get("/jobs/job-http-1", as("mallory"))->status, 403) << "another user's job";
  EXPECT_EQ(client.Get("/jobs/job-http-1", as("ops", true))->status, 200) << "an admin sees every job";

  auto other = client.Post("/jobs/job-http-1/cancel", as("mallory"), "", "text/plain");
  EXPECT_EQ(other->status, 403);
  EXPECT_NE(other->body.find("submitter"), std::string::npos) << other->body;
  auto cancel = client.Post("/jobs/job-http-1/cancel", as("alice"), "", "text/plain");
  EXPECT_EQ(cancel->status, 202) << cancel->body;
  EXPECT_EQ(nlohmann::json::parse(client.Get("/jobs/job-http-1", as("alice"))->body)["cancel_requested"], true);

  // The engine's next step cancels it: the request made the step due at once.
  EXPECT_EQ(jobs.advance_due(), 1u);
  state = nlohmann::json::parse(client.Get("/jobs/job-http-1", as("alice"))->body);
  EXPECT_EQ(state["status"], "CANCELLED");
  EXPECT_EQ(state["finished"], true);
  auto late = client.Post("/jobs/job-http-1/cancel", as("alice"), "", "text/plain");
  EXPECT_EQ(late->status, 409) << late->body;
}

// The API with given limits on an embedded cluster and an orchestrator's tables.
class orchestrator_http_limits : public ::testing::Test {
 protected:
  void start(rate_limit::settings per_caller, std::size_t max_body_bytes = 64 * 1024,
             std::optional<services::tls_files> tls = std::nullopt) {
    auto cluster = embedded_cluster::start({.brokers = 1});
    ASSERT_TRUE(cluster) << cluster.error().message;
    cluster_ = std::move(*cluster);
    auto opened = services::state_store::open(dir_ / "orchestrator.db");
    ASSERT_TRUE(opened) << opened.error();
    engine tables(simulation{}, *opened);
    ASSERT_TRUE(tables.prepare());
    config_.brokers = cluster_->bootstrap_servers();
    auto api = http_api::start({.listen = "127.0.0.1:0",
                                .config = config_,
                                .database = sql::location(dir_ / "orchestrator.db"),
                                .auth = keys,
                                .per_caller = per_caller,
                                .max_body_bytes = max_body_bytes,
                                .tls = tls});
    ASSERT_TRUE(api) << api.error();
    api_ = std::move(*api);
  }

  std::unique_ptr<embedded_cluster> cluster_;
  scratch_dir dir_;
  client_config config_;
  std::unique_ptr<http_api> api_;
};

TEST_F(orchestrator_http_limits, refuses_large_bodies_and_callers_over_their_rate_with_json_errors) {
  start({.per_second = 0.05, .burst = 3}, 1024);
  httplib::Client client(api_->url());

  auto large = client.Post("/jobs", as("carol"), std::string(4096, ' ') + m87, "application/json");
  ASSERT_TRUE(large);
  EXPECT_EQ(large->status, 413);
  EXPECT_NE(large->body.find("too large"), std::string::npos) << large->body;

  // The large request did not count: httplib refuses the body before the route runs.
  for (int i = 0; i < 3; ++i) EXPECT_EQ(client.Get("/jobs/none", as("carol"))->status, 404) << "within the burst";
  auto limited = client.Get("/jobs/none", as("carol"));
  ASSERT_TRUE(limited);
  EXPECT_EQ(limited->status, 429) << limited->body;
  EXPECT_NE(limited->body.find("carol"), std::string::npos) << limited->body;
  EXPECT_EQ(limited->get_header_value("Retry-After"), "20");
  EXPECT_EQ(client.Get("/jobs/none", as("dave"))->status, 404) << "each caller has a bucket of its own";
}

TEST_F(orchestrator_http_limits, two_hundred_clients_at_once_get_an_answer_each_and_every_202_is_one_record) {
  start({.per_second = 1, .burst = 3});

  // 200 clients, 5 submissions each; clients 0-9 share one subject, so most of theirs meet the rate limit.
  constexpr int clients = 200, each = 5;
  std::mutex mutex;
  std::map<int, int> statuses;               // status -> answers
  std::map<std::string, int> accepted_jobs;  // job id -> 202s
  int unanswered = 0;
  std::vector<std::thread> threads;
  for (int c = 0; c < clients; ++c) {
    threads.emplace_back([&, c] {
      httplib::Client client(api_->url());
      client.set_connection_timeout(60s);
      client.set_read_timeout(60s);
      const auto headers = as(c < 10 ? "shared" : fmt::format("user-{}", c));
      for (int i = 0; i < each; ++i) {
        const auto job_id = fmt::format("job-load-{}-{}", c, i);
        auto answer =
            client.Post("/jobs", headers,
                        nlohmann::json{{"job_name", "load"}, {"job_id", job_id}, {"dataset_id", "vla-0001"}}.dump(),
                        "application/json");
        std::lock_guard lock(mutex);
        if (!answer) {
          ++unanswered;
          std::printf("client %d request %d: %s\n", c, i, httplib::to_string(answer.error()).c_str());
          continue;
        }
        ++statuses[answer->status];
        if (answer->status == 202) ++accepted_jobs[job_id];
      }
    });
  }
  for (auto& t : threads) t.join();
  std::printf("%d clients x %d, unanswered %d:", clients, each, unanswered);
  for (const auto& [status, count] : statuses) std::printf(" %d x %d", status, count);
  std::printf("\n");
  EXPECT_EQ(unanswered, 0) << "every request answered";
  int answered = 0;
  for (const auto& [status, count] : statuses) {
    EXPECT_TRUE(status == 202 || status == 429 || status == 503) << status << " x " << count;
    answered += count;
  }
  EXPECT_EQ(answered, clients * each);
  EXPECT_GE(statuses[202], (clients - 10) * 3) << "callers within their burst are served";
  EXPECT_GE(statuses[429], 1) << "the shared subject met its rate limit";

  // Exactly the accepted jobs reached Kafka, each once; a refused request published nothing.
  auto events = testkit::read_events(config_, "job-lifecycle", 60s);
  ASSERT_TRUE(events) << events.error();
  std::map<std::string, int> published;
  for (const auto& e : *events) {
    const auto& lifecycle = std::get<job_lifecycle_event>(e);
    if (const auto* submitted = std::get_if<job_submitted>(&lifecycle.payload)) ++published[submitted->job_id];
  }
  EXPECT_EQ(published, accepted_jobs);
}

// A certificate and key for 127.0.0.1, made with the openssl command line (Debian's openssl).
services::tls_files self_signed(const std::filesystem::path& dir, const std::string& name) {
  std::filesystem::create_directories(dir);
  const auto certificate = dir / (name + ".crt"), key = dir / (name + ".key");
  const auto command = fmt::format(
      "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 -subj /CN=127.0.0.1 "
      "-addext subjectAltName=IP:127.0.0.1 -keyout '{}' -out '{}' 2>/dev/null",
      key.string(), certificate.string());
  EXPECT_EQ(std::system(command.c_str()), 0) << command;
  return {.certificate = certificate, .key = key};
}

class orchestrator_http_tls : public orchestrator_http_limits {};

TEST_F(orchestrator_http_tls, serves_https_only_to_clients_that_trust_its_certificate) {
  const auto tls = self_signed(dir_.path(), "api");
  start({}, 64 * 1024, tls);
  if (HasFatalFailure()) return;
  const auto url = api_->url();
  ASSERT_TRUE(url.starts_with("https://127.0.0.1:")) << url;

  httplib::Client trusting(url);
  trusting.set_ca_cert_path(tls.certificate.c_str());
  auto submitted = trusting.Post("/jobs", as("alice"), m87, "application/json");
  ASSERT_TRUE(submitted) << httplib::to_string(submitted.error());
  EXPECT_EQ(submitted->status, 202) << submitted->body;

  httplib::Client untrusting(url);  // the system's CA store: the certificate chains to none of it
  auto refused = untrusting.Get("/jobs/job-http-1", as("alice"));
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error(), httplib::Error::SSLServerVerification);

  httplib::Client in_clear("http://" + url.substr(std::string_view("https://").size()));
  in_clear.set_read_timeout(std::chrono::seconds(5));
  auto clear = in_clear.Get("/metrics");
  EXPECT_FALSE(clear && clear->status == 200) << "a plain HTTP request is not answered";

  // A key that is not the certificate's is refused at start, naming both files.
  const auto other = self_signed(dir_.path(), "other");
  auto mismatched = http_api::start({.listen = "127.0.0.1:0",
                                     .config = config_,
                                     .database = sql::location(dir_ / "orchestrator.db"),
                                     .auth = keys,
                                     .tls = services::tls_files{.certificate = tls.certificate, .key = other.key}});
  ASSERT_FALSE(mismatched);
  EXPECT_NE(mismatched.error().find("cannot serve HTTPS"), std::string::npos) << mismatched.error();
  EXPECT_NE(mismatched.error().find(other.key.string()), std::string::npos) << mismatched.error();
}

}  // namespace
}  // namespace horizons::orchestrator
