// The catalogue, the status machine, the builder and validation: the rules
// of the contract that the schemas alone cannot state.
#include <horizons/catalogue.hpp>
#include <horizons/event_builder.hpp>
#include <horizons/json.hpp>
#include <horizons/sample.hpp>
#include <horizons/status_machine.hpp>

#include <gtest/gtest.h>

#include <set>

namespace horizons {
namespace {

using enum job_status;

// ---------------------------------------------------------------- catalogue

TEST(catalogue, matches_the_specified_topic_table) {
  struct row {
    std::string_view name;
    int partitions;
    int retention_days;
    compression codec;
    std::string_view group;
  };
  const row expected[] = {
      {"job-lifecycle", 10, 30, compression::snappy, "job-processor"},
      {"job-metrics", 10, 30, compression::snappy, "metrics-aggregator"},
      {"notifications", 5, 7, compression::lz4, "notification-dispatcher"},
      {"audit-trail", 3, 90, compression::snappy, "compliance-auditor"},
      {"system-health", 1, 7, compression::lz4, "health-monitor"},
  };
  ASSERT_EQ(std::size(expected), catalogue.size());
  for (std::size_t i = 0; i < catalogue.size(); ++i) {
    const auto& t = catalogue[i];
    EXPECT_EQ(t.name(), expected[i].name);
    EXPECT_EQ(t.partitions, expected[i].partitions) << t.name();
    EXPECT_EQ(t.retention.count(), expected[i].retention_days) << t.name();
    EXPECT_EQ(t.compression_type, expected[i].codec) << t.name();
    EXPECT_EQ(t.consumer_group, expected[i].group) << t.name();
    EXPECT_EQ(t.replication_factor, 3) << t.name();
    EXPECT_EQ(t.min_insync_replicas, 2) << t.name();
    EXPECT_EQ(t.dlq_name(), std::string(expected[i].name) + ".dlq");
    EXPECT_EQ(topic_from_name(t.name()), t.id);
    EXPECT_EQ(topic_from_schema_id(t.schema_id), t.id);
  }
  EXPECT_FALSE(topic_from_name("job_lifecycle"));
  EXPECT_FALSE(topic_from_schema_id(0));
}

TEST(catalogue, every_event_type_is_listed_once_and_maps_to_its_topic) {
  std::set<std::string_view> seen(all_event_types.begin(), all_event_types.end());
  EXPECT_EQ(seen.size(), all_event_types.size());
  EXPECT_EQ(all_event_types.size(), 20u);
  EXPECT_EQ(topic_of_event_type("job.submitted"), topic_id::job_lifecycle);
  EXPECT_EQ(topic_of_event_type("resource.allocation.changed"), topic_id::job_metrics);
  EXPECT_EQ(topic_of_event_type("alert.raised"), topic_id::notifications);
  EXPECT_EQ(topic_of_event_type("audit.compliance.check"), topic_id::audit_trail);
  EXPECT_EQ(topic_of_event_type("consumer.lag.evaluated"), topic_id::system_health);
  EXPECT_FALSE(topic_of_event_type("job.Submitted"));
}

TEST(catalogue, partition_keys_follow_the_topic_rules) {
  event_sampler sampler(1);
  auto submitted = sampler.next<job_submitted>();
  EXPECT_EQ(partition_key(submitted), submitted.payload.job_id);
  auto sent = sampler.next<notification_sent>();
  EXPECT_EQ(partition_key(sent), sent.payload.recipient_id);
  auto alert = sampler.next<alert_raised>();
  EXPECT_EQ(partition_key(alert), alert.payload.alert_id);
  auto action = sampler.next<audit_action_recorded>();
  EXPECT_EQ(partition_key(action), action.payload.resource_id);
  EXPECT_FALSE(partition_key(sampler.next<system_health_check>()));
  // Through the topic variant too.
  EXPECT_EQ(partition_key(to_topic_event(submitted)), submitted.payload.job_id);
}

// ---------------------------------------------------------------- status machine

TEST(status_machine, accepts_exactly_the_specified_transitions) {
  const std::set<std::pair<job_status, job_status>> legal{
      {submitted, queued},    {queued, running},   {running, completed}, {running, failed}, {running, cancelled},
      {submitted, cancelled}, {queued, cancelled}, {failed, queued},     {queued, failed}};
  const job_status all[] = {unknown, submitted, queued, running, completed, failed, cancelled};
  for (auto from : all) {
    for (auto to : all) {
      bool expected = legal.contains({from, to});
      EXPECT_EQ(is_legal_transition(from, to), expected) << to_string(from) << " -> " << to_string(to);
      auto checked = check_transition(from, to);
      EXPECT_EQ(checked.has_value(), expected);
      if (!expected) {
        EXPECT_EQ(checked.error(), "illegal job status transition " + std::string(to_string(from)) + " -> " +
                                       std::string(to_string(to)));
      }
    }
  }
}

TEST(status_machine, retries_only_while_budget_remains) {
  EXPECT_TRUE(check_retry(0, 3));
  EXPECT_TRUE(check_retry(2, 3));
  auto exhausted = check_retry(3, 3);
  ASSERT_FALSE(exhausted);
  EXPECT_NE(exhausted.error().find("FAILED -> QUEUED"), std::string::npos);
  EXPECT_TRUE(is_terminal(completed));
  EXPECT_FALSE(is_terminal(running));
}

// ---------------------------------------------------------------- builder and validation

job_submitted a_submission() {
  return {.job_id = "job-42",
          .job_name = "vlass-quicklook-T12t34",
          .pipeline = pipeline::image_reconstruction,
          .dataset_id = "vlass-2.1",
          .tacc_system = tacc_system::frontera,
          .resources = {.nodes = 4, .cores_per_node = 56, .gpus = 0, .memory_gb = 192, .wall_time_minutes = 120},
          .estimated_cost_usd = 37.5,
          .priority = job_priority::normal};
}

TEST(event_builder, fills_ids_time_type_and_version) {
  auto before = now();
  auto built = make_event(a_submission()).user_id("alice").tag("campaign", "vlass").build();
  ASSERT_TRUE(built) << built.error().message;
  EXPECT_FALSE(built->event_id.is_nil());
  EXPECT_EQ(built->event_id.bytes()[6] >> 4, 4) << "UUID version 4";
  EXPECT_FALSE(built->correlation_id.is_nil());
  EXPECT_NE(built->event_id, built->correlation_id);
  EXPECT_EQ(built->event_type, "job.submitted");
  EXPECT_EQ(built->schema_version, spec(topic_id::job_lifecycle).schema_version);
  EXPECT_GE(built->occurred_at, before);
  EXPECT_LE(built->occurred_at, now());
  EXPECT_EQ(built->user_id, "alice");
  EXPECT_EQ(built->tags.at("campaign"), "vlass");
  EXPECT_FALSE(built->causation_id);
  auto again = make_event(a_submission()).build();
  EXPECT_NE(again->event_id, built->event_id);
}

TEST(event_builder, caused_by_joins_the_flow) {
  auto submitted = make_event(a_submission()).build();
  ASSERT_TRUE(submitted);
  auto queued = make_event(job_status_changed{.job_id = "job-42",
                                              .previous_status = job_status::submitted,
                                              .new_status = job_status::queued,
                                              .reason = "scheduler accepted",
                                              .transitioned_at = now()})
                    .caused_by(*submitted)
                    .build();
  ASSERT_TRUE(queued) << queued.error().message;
  EXPECT_EQ(queued->correlation_id, submitted->correlation_id);
  EXPECT_EQ(queued->causation_id, submitted->event_id);
}

TEST(event_builder, refuses_an_illegal_status_transition_naming_both_states) {
  auto refused = make_event(job_status_changed{.job_id = "job-42",
                                               .previous_status = running,
                                               .new_status = queued,
                                               .reason = "oops",
                                               .transitioned_at = now()})
                     .build();
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().message, "job.status.changed: illegal job status transition RUNNING -> QUEUED");
}

TEST(event_builder, refuses_missing_ids_unknown_symbols_and_bad_numbers) {
  auto no_id = a_submission();
  no_id.job_id.clear();
  EXPECT_EQ(make_event(no_id).build().error().message, "job.submitted: payload.job_id must not be empty");

  auto unknown_priority = a_submission();
  unknown_priority.priority = job_priority::unknown;
  EXPECT_EQ(make_event(unknown_priority).build().error().message,
            "job.submitted: payload.priority must not be UNKNOWN (a reader-only symbol)");

  auto no_nodes = a_submission();
  no_nodes.resources.nodes = 0;
  EXPECT_EQ(make_event(no_nodes).build().error().message, "job.submitted: payload.resources.nodes must be at least 1");

  auto bad_trace = make_event(a_submission()).traceparent("00-abc").build();
  ASSERT_FALSE(bad_trace);
  EXPECT_NE(bad_trace.error().message.find("traceparent"), std::string::npos);

  auto good_trace =
      make_event(a_submission()).traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01").build();
  EXPECT_TRUE(good_trace) << good_trace.error().message;

  auto over_budget = make_event(job_failed{.job_id = "job-1",
                                           .error_code = "OOM",
                                           .error_message = "killed",
                                           .exit_code = 137,
                                           .retry_count = 4,
                                           .max_retries = 3})
                         .build();
  ASSERT_FALSE(over_budget);
  EXPECT_EQ(over_budget.error().message, "job.failed: payload.retry_count must be between 0 and max_retries");
}

TEST(validation, every_valid_sample_of_every_type_passes) {
  event_sampler sampler(321);
  for (auto type : all_event_types) {
    for (int i = 0; i < 200; ++i) {
      auto e = *sampler.next(type);
      auto ok = validate(e);
      ASSERT_TRUE(ok) << ok.error().message << "\n" << to_json(e);
    }
  }
}

TEST(validation, times_must_lie_within_years_1_to_9999) {
  auto e = *make_event(a_submission()).build();
  e.occurred_at = timestamp{std::chrono::microseconds{253'402'300'800'000'000}};  // year 10000
  auto checked = validate(e);
  ASSERT_FALSE(checked);
  EXPECT_EQ(checked.error().message, "job.submitted: occurred_at must lie within years 1-9999");
}

TEST(validation, event_type_must_name_the_payload) {
  auto e = *make_event(a_submission()).build();
  e.event_type = "job.failed";
  auto checked = validate(e);
  ASSERT_FALSE(checked);
  EXPECT_NE(checked.error().message.find("event_type is 'job.failed'"), std::string::npos);
}

// ---------------------------------------------------------------- uuid and time

TEST(uuid_text, round_trips_and_rejects_malformed_text) {
  auto id = uuid::parse("1B4E28BA-2FA1-41D2-883F-0016D3CCA427");
  ASSERT_TRUE(id);
  EXPECT_EQ(id->to_string(), "1b4e28ba-2fa1-41d2-883f-0016d3cca427");
  EXPECT_FALSE(uuid::parse("1b4e28ba2fa141d2883f0016d3cca427"));
  EXPECT_FALSE(uuid::parse("1b4e28ba-2fa1-41d2-883f-0016d3cca42g"));
  EXPECT_FALSE(uuid::parse("1b4e28ba-2fa1-41d2-883f-0016d3cca4270"));
  EXPECT_TRUE(uuid{}.is_nil());
}

TEST(rfc3339, formats_and_parses_to_the_microsecond) {
  timestamp t{std::chrono::microseconds{1'795'000'000'123'456}};
  auto text = format_rfc3339(t);
  ASSERT_TRUE(text);
  EXPECT_EQ(*text, "2026-11-18T11:06:40.123456Z");
  EXPECT_EQ(parse_rfc3339(*text), t);
  EXPECT_EQ(parse_rfc3339("2026-11-18T12:06:40.123456+01:00"), t);
  EXPECT_EQ(parse_rfc3339("2026-11-18T11:06:40.1234560Z"), std::nullopt) << "sub-microsecond digits would be lost";
  EXPECT_EQ(parse_rfc3339("2026-11-18T11:06:40Z"), timestamp{std::chrono::seconds{1'795'000'000}});
  EXPECT_EQ(parse_rfc3339("2026-02-30T00:00:00Z"), std::nullopt);
  EXPECT_EQ(parse_rfc3339("2026-11-18 09:46:40Z"), std::nullopt);
  EXPECT_EQ(format_rfc3339(timestamp{std::chrono::microseconds{-62'200'000'000'000'000}}), std::nullopt);
  EXPECT_EQ(format_rfc3339(timestamp{std::chrono::microseconds{4'162'374'839'975'734'535}}), std::nullopt)
      << "year 131,900 must not wrap into a plausible date";
  EXPECT_EQ(format_rfc3339(timestamp{std::chrono::microseconds{253'402'300'799'999'999}}),
            "9999-12-31T23:59:59.999999Z");
}

}  // namespace
}  // namespace horizons
