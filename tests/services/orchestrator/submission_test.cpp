// POST /jobs and `horizons submit --json` bodies: a submission, or an error naming the bad field.
#include <gtest/gtest.h>

#include "services/orchestrator/submission.hpp"

namespace horizons::orchestrator {
namespace {

TEST(submission, reads_a_full_submission_and_fills_defaults) {
  auto e = submission_from_json(
      R"({"job_name": "m87", "pipeline": "ImageReconstruction", "tacc_system": "lonestar6", "dataset_id": "vla-1",
          "resources": {"nodes": 2, "gpus": 4}, "estimated_cost_usd": 3, "job_id": "job-1"})",
      "alice");
  ASSERT_TRUE(e) << e.error();
  EXPECT_EQ(e->payload.job_id, "job-1");
  EXPECT_EQ(e->payload.pipeline, pipeline::image_reconstruction);
  EXPECT_EQ(e->payload.tacc_system, tacc_system::lonestar6);
  EXPECT_EQ(e->payload.resources.nodes, 2);
  EXPECT_EQ(e->payload.resources.gpus, 4);
  EXPECT_EQ(e->payload.resources.cores_per_node, 56) << "a default";
  EXPECT_DOUBLE_EQ(e->payload.estimated_cost_usd, 3);
  EXPECT_EQ(e->user_id, std::optional<std::string>("alice"));
}

TEST(submission, an_error_names_the_field_and_what_it_holds) {
  auto error = [](std::string_view json) {
    auto e = submission_from_json(json, "alice");
    EXPECT_FALSE(e) << json;
    return e ? std::string() : e.error();
  };
  EXPECT_EQ(error(R"({"dataset_id": "d", "resources": {"nodes": "four"}})"),
            R"("resources.nodes" must be an integer, got "four")");
  EXPECT_EQ(error(R"({"dataset_id": "d", "estimated_cost_usd": "lots"})"),
            R"("estimated_cost_usd" must be a number, got "lots")");
  EXPECT_EQ(error(R"({"dataset_id": 7})"), R"("dataset_id" must be a string, got 7)");
  EXPECT_EQ(error(R"({"dataset_id": "d", "resources": 3})"), R"("resources" must be an object)");
  EXPECT_NE(error(R"({"dataset_id": "d", "pipeline": "Astrology"})").find("unknown value 'Astrology'"),
            std::string::npos);
  EXPECT_EQ(error(R"([1, 2])"), "the submission is not a JSON object");
  EXPECT_FALSE(submission_from_json(R"({"dataset_id": "d"})", ""));  // no user
}

}  // namespace
}  // namespace horizons::orchestrator
