#include "services/notification_dispatcher/compose.hpp"

#include <gtest/gtest.h>

#include <horizons/event_builder.hpp>

#include "test_support.hpp"

namespace horizons::notification_dispatcher {
namespace {

using testing::source_event;

job_completed completed_job() {
  return {.job_id = "job-42",
          .execution_time_ms = 3'723'000,
          .output_location = "s3://vlass/job-42/image.fits",
          .result_size_bytes = 1'234'000'000,
          .cpu_utilization_pct = 87.5,
          .gpu_utilization_pct = 0,
          .memory_used_gb = 12.25,
          .io_throughput_mb_per_s = 150};
}

job_failed failed_job(std::int32_t retry_count, std::int32_t max_retries, std::optional<timestamp> next_retry_at) {
  return {.job_id = "job-7",
          .error_code = "OOM_KILLED",
          .error_message = "process exceeded 192 GB",
          .exit_code = 137,
          .retry_count = retry_count,
          .max_retries = max_retries,
          .next_retry_at = next_retry_at};
}

// What the dispatcher will do with the result: it must be a valid notification.sent event.
void expect_publishable(const notification_sent& sent, const envelope& source) {
  auto built = make_event(sent).caused_by(source).build();
  EXPECT_TRUE(built.has_value()) << built.error().message;
}

TEST(notification_dispatcher_compose, completed_job_tells_its_owner_how_it_went) {
  auto source = source_event(completed_job());
  auto sent = compose(source, source.payload);
  ASSERT_TRUE(sent);
  EXPECT_EQ(sent->notification_id, "ntf-" + source.event_id.to_string());
  EXPECT_EQ(sent->recipient_id, "alice");
  EXPECT_EQ(sent->channel, notification_channel::in_app);
  EXPECT_EQ(sent->related_job_id, "job-42");
  EXPECT_EQ(sent->subject, "Job job-42 completed");
  EXPECT_NE(sent->body.find("completed in 1 h 02 min 03 s"), std::string::npos) << sent->body;
  EXPECT_NE(sent->body.find("s3://vlass/job-42/image.fits (1.2 GB)"), std::string::npos) << sent->body;
  EXPECT_NE(sent->body.find("CPU 87.5 %"), std::string::npos) << sent->body;
  EXPECT_EQ(sent->data.at("source_event_id"), source.event_id.to_string());
  EXPECT_EQ(sent->data.at("source_event_type"), "job.completed");
  EXPECT_EQ(sent->data.at("channels"), "in_app,email");
  expect_publishable(*sent, source);
}

TEST(notification_dispatcher_compose, same_source_same_notification_other_source_other_id) {
  auto source = source_event(completed_job());
  EXPECT_EQ(compose(source, source.payload), compose(source, source.payload));
  auto other = source_event(completed_job());
  EXPECT_NE(compose(source, source.payload)->notification_id, compose(other, other.payload)->notification_id);
  EXPECT_EQ(notification_id_for(source.event_id), compose(source, source.payload)->notification_id);
}

TEST(notification_dispatcher_compose, webhook_is_listed_among_the_channels_when_configured) {
  auto source = source_event(completed_job());
  EXPECT_EQ(compose(source, source.payload, webhook_channel::on)->data.at("channels"), "in_app,email,webhook");
}

TEST(notification_dispatcher_compose, job_event_without_owner_goes_to_operators) {
  auto source = source_event(completed_job(), "");
  EXPECT_EQ(compose(source, source.payload)->recipient_id, "operators");
}

TEST(notification_dispatcher_compose, failure_with_a_retry_scheduled_is_not_notified) {
  auto source = source_event(failed_job(1, 3, horizons::now() + std::chrono::seconds(30)));
  EXPECT_EQ(compose(source, source.payload), std::nullopt);
}

TEST(notification_dispatcher_compose, final_failure_reports_error_and_retries) {
  auto source = source_event(failed_job(3, 3, std::nullopt));
  auto sent = compose(source, source.payload);
  ASSERT_TRUE(sent);
  EXPECT_EQ(sent->subject, "Job job-7 failed: OOM_KILLED");
  EXPECT_NE(sent->body.find("error OOM_KILLED (exit code 137)"), std::string::npos) << sent->body;
  EXPECT_NE(sent->body.find("process exceeded 192 GB"), std::string::npos) << sent->body;
  EXPECT_NE(sent->body.find("Retries used: 3 of 3"), std::string::npos) << sent->body;
  EXPECT_EQ(sent->data.at("source_event_type"), "job.failed");
  expect_publishable(*sent, source);
}

TEST(notification_dispatcher_compose, failure_not_retried_despite_budget_is_final) {
  // The orchestrator decides whether to retry; without next_retry_at nothing will run again.
  auto source = source_event(failed_job(0, 3, std::nullopt));
  auto sent = compose(source, source.payload);
  ASSERT_TRUE(sent);
  EXPECT_NE(sent->body.find("Retries used: 0 of 3"), std::string::npos) << sent->body;
}

TEST(notification_dispatcher_compose, cancelled_job_names_who_why_and_the_refund) {
  auto source = source_event(
      job_cancelled{.job_id = "job-9", .cancelled_by = "bob", .reason = "wrong dataset", .refund_usd = 12.5});
  auto sent = compose(source, source.payload);
  ASSERT_TRUE(sent);
  EXPECT_EQ(sent->subject, "Job job-9 cancelled");
  EXPECT_EQ(sent->body, "Your job job-9 was cancelled by bob: wrong dataset.\nRefund: $12.50\n");
  EXPECT_EQ(sent->related_job_id, "job-9");
  expect_publishable(*sent, source);
}

TEST(notification_dispatcher_compose, raised_alert_goes_to_operators_with_severity_and_metrics) {
  auto source = source_event(alert_raised{.alert_id = "alert-lag-1",
                                          .alert_type = "consumer_lag",
                                          .severity = alert_severity::critical,
                                          .message = "job-processor is 1200 messages behind",
                                          .affected_resource = "job-processor",
                                          .metrics = {{"lag_messages", 1200}, {"lag_seconds", 35.5}}},
                             "health-monitor");
  auto sent = compose(source, source.payload);
  ASSERT_TRUE(sent);
  EXPECT_EQ(sent->recipient_id, "operators");
  EXPECT_EQ(sent->related_job_id, std::nullopt);
  EXPECT_EQ(sent->subject, "[CRITICAL] consumer_lag: job-processor");
  EXPECT_NE(sent->body.find("job-processor is 1200 messages behind"), std::string::npos) << sent->body;
  EXPECT_NE(sent->body.find("Metrics: lag_messages=1200, lag_seconds=35.5"), std::string::npos) << sent->body;
  EXPECT_EQ(sent->data.at("alert_id"), "alert-lag-1");
  EXPECT_EQ(sent->data.at("severity"), "CRITICAL");
  EXPECT_EQ(sent->data.at("source_event_type"), "alert.raised");
  expect_publishable(*sent, source);
}

TEST(notification_dispatcher_compose, resolved_alert_says_how_and_when) {
  auto resolved_at = *parse_rfc3339("2026-11-29T13:03:17Z");
  auto source = source_event(alert_resolved{.alert_id = "alert-lag-1",
                                            .alert_type = "consumer_lag",
                                            .resolution = "lag back under 10 messages",
                                            .resolved_at = resolved_at});
  auto sent = compose(source, source.payload);
  ASSERT_TRUE(sent);
  EXPECT_EQ(sent->recipient_id, "operators");
  EXPECT_EQ(sent->subject, "[RESOLVED] consumer_lag: alert alert-lag-1");
  EXPECT_NE(sent->body.find("resolved at 2026-11-29T13:03:17.000000Z"), std::string::npos) << sent->body;
  EXPECT_NE(sent->body.find("lag back under 10 messages"), std::string::npos) << sent->body;
  EXPECT_EQ(sent->data.at("source_event_type"), "alert.resolved");
  expect_publishable(*sent, source);
}

}  // namespace
}  // namespace horizons::notification_dispatcher
