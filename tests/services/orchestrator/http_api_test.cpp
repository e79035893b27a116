// The orchestrator's HTTP API on the embedded cluster: a submission is
// acknowledged by Kafka (202) or refused naming its bad field (400); a job's
// state (404 before admission); a cancellation only by the job's submitter,
// seen by the engine, refused once the job ended.
#include <gtest/gtest.h>

#include <httplib.h>
#include <nlohmann/json.hpp>

#include <horizons/embedded_cluster.hpp>

#include "../common/scratch.hpp"
#include "services/orchestrator/engine.hpp"
#include "services/orchestrator/http_api.hpp"
#include "services/orchestrator/submission.hpp"

namespace horizons::orchestrator {
namespace {

using namespace services::testing_common;

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
  auto api = http_api::start({.listen = "127.0.0.1:0", .config = config, .database = sql::location(database)});
  ASSERT_TRUE(api) << api.error();
  auto url = (*api)->url();
  httplib::Client client(url);
  client.set_read_timeout(std::chrono::seconds(40));

  auto bad = client.Post("/jobs", R"({"job_name": "m87", "resources": {"nodes": "four"}})", "application/json");
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->status, 400);
  EXPECT_NE(bad->body.find("nodes"), std::string::npos) << bad->body;
  auto accepted =
      client.Post("/jobs", {{"X-User", "alice"}},
                  R"({"job_name": "m87", "job_id": "job-http-1", "dataset_id": "vla-0001"})", "application/json");
  ASSERT_TRUE(accepted);
  EXPECT_EQ(accepted->status, 202) << accepted->body;
  EXPECT_EQ(nlohmann::json::parse(accepted->body)["job_id"], "job-http-1");

  EXPECT_EQ(client.Get("/jobs/job-http-1")->status, 404) << "not admitted yet";
  EXPECT_EQ(client.Post("/jobs/job-http-1/cancel", {{"X-User", "alice"}}, "", "text/plain")->status, 404);
  // The orchestrator admits it (as its consumer would, from the record the API published).
  auto parsed =
      submission_from_json(R"({"job_name": "m87", "job_id": "job-http-1", "dataset_id": "vla-0001"})", "alice");
  ASSERT_TRUE(parsed) << parsed.error();
  ASSERT_TRUE(jobs.admit(*parsed, parsed->payload));
  auto shown = client.Get("/jobs/job-http-1");
  ASSERT_TRUE(shown);
  ASSERT_EQ(shown->status, 200);
  auto state = nlohmann::json::parse(shown->body);
  EXPECT_EQ(state["status"], "SUBMITTED");
  EXPECT_EQ(state["cancel_requested"], false);

  EXPECT_EQ(client.Post("/jobs/job-http-1/cancel", "", "text/plain")->status, 400) << "no X-User";
  auto other = client.Post("/jobs/job-http-1/cancel", {{"X-User", "mallory"}}, "", "text/plain");
  EXPECT_EQ(other->status, 403);
  EXPECT_NE(other->body.find("submitter"), std::string::npos) << other->body;
  auto cancel = client.Post("/jobs/job-http-1/cancel", {{"X-User", "alice"}}, "", "text/plain");
  EXPECT_EQ(cancel->status, 202) << cancel->body;
  EXPECT_EQ(nlohmann::json::parse(client.Get("/jobs/job-http-1")->body)["cancel_requested"], true);

  // The engine's next step cancels it: the request made the step due at once.
  EXPECT_EQ(jobs.advance_due(), 1u);
  state = nlohmann::json::parse(client.Get("/jobs/job-http-1")->body);
  EXPECT_EQ(state["status"], "CANCELLED");
  EXPECT_EQ(state["finished"], true);
  auto late = client.Post("/jobs/job-http-1/cancel", {{"X-User", "alice"}}, "", "text/plain");
  EXPECT_EQ(late->status, 409) << late->body;
}

}  // namespace
}  // namespace horizons::orchestrator
