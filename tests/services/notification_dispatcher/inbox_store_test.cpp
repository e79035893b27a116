#include "services/notification_dispatcher/inbox_store.hpp"

#include <gtest/gtest.h>

#include "services/notification_dispatcher/compose.hpp"
#include "services/notification_dispatcher/paths.hpp"
#include "test_support.hpp"

namespace horizons::notification_dispatcher {
namespace {

using testing::source_event;

class notification_dispatcher_inbox : public ::testing::Test {
 protected:
  sql::database open_db() {
    auto db = sql::database::open(state_location(sql::location(dir_.path())));
    EXPECT_TRUE(db.has_value()) << db.error().message;
    return std::move(*db);
  }

  static notification_sent cancelled_for(const event<job_cancelled>& source) {
    return *compose(source, source.payload);
  }

  testing::temp_dir dir_;
  timestamp t0_ = *parse_rfc3339("2026-11-29T13:00:00Z");
};

TEST_F(notification_dispatcher_inbox, rolled_back_insert_leaves_nothing_committed_insert_stays_once) {
  auto db = open_db();
  auto inbox = inbox_store::create(db);
  ASSERT_TRUE(inbox) << inbox.error().message;
  auto source = source_event(job_cancelled{.job_id = "job-1", .cancelled_by = "alice", .reason = "", .refund_usd = 1});
  auto sent = cancelled_for(source);

  {
    auto tx = sql::transaction::begin(db);
    ASSERT_TRUE(tx);
    EXPECT_EQ(inbox->insert(sent, source.event_id, t0_), true);
    EXPECT_EQ(inbox->count_for_source(source.event_id), 1);  // visible inside the transaction
  }                                                          // not committed: rolled back
  EXPECT_EQ(inbox->count(), 0);
  EXPECT_EQ(inbox->count_for_source(source.event_id), 0);

  {
    auto tx = sql::transaction::begin(db);
    ASSERT_TRUE(tx);
    EXPECT_EQ(inbox->insert(sent, source.event_id, t0_), true);
    EXPECT_EQ(inbox->insert(sent, source.event_id, t0_), false);  // same transaction, same source
    ASSERT_TRUE(tx->commit());
  }
  {
    auto tx = sql::transaction::begin(db);
    ASSERT_TRUE(tx);
    EXPECT_EQ(inbox->insert(sent, source.event_id, t0_ + std::chrono::hours(1)), false);  // redelivery
    ASSERT_TRUE(tx->commit());
  }
  EXPECT_EQ(inbox->count(), 1);
  EXPECT_EQ(inbox->count_for_source(source.event_id), 1);
  auto listed = inbox->list("alice", 10);
  ASSERT_TRUE(listed);
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ(listed->front().created_at, t0_);  // the first insert's row, untouched
}

TEST_F(notification_dispatcher_inbox, survives_reopening_and_still_refuses_the_duplicate) {
  auto source = source_event(job_cancelled{.job_id = "job-2", .cancelled_by = "ops", .reason = "", .refund_usd = 0});
  auto sent = cancelled_for(source);
  {
    auto db = open_db();
    auto inbox = inbox_store::create(db);
    ASSERT_TRUE(inbox);
    EXPECT_EQ(inbox->insert(sent, source.event_id, t0_), true);  // autocommit, no caller transaction
  }
  auto db = open_db();
  auto inbox = inbox_store::create(db);  // the table exists: created again without harm
  ASSERT_TRUE(inbox) << inbox.error().message;
  EXPECT_EQ(inbox->insert(sent, source.event_id, t0_), false);
  EXPECT_EQ(inbox->count(), 1);
}

TEST_F(notification_dispatcher_inbox, lists_one_recipient_newest_first_with_all_fields) {
  auto db = open_db();
  auto inbox = inbox_store::create(db);
  ASSERT_TRUE(inbox);
  std::vector<uuid> sources;
  for (int i = 0; i < 3; ++i) {
    auto source = source_event(
        job_cancelled{.job_id = fmt::format("job-{}", i), .cancelled_by = "alice", .reason = "", .refund_usd = 0});
    ASSERT_EQ(inbox->insert(cancelled_for(source), source.event_id, t0_ + std::chrono::minutes(i)), true);
    sources.push_back(source.event_id);
  }
  auto alert = source_event(alert_raised{.alert_id = "a-1",
                                         .alert_type = "consumer_lag",
                                         .severity = alert_severity::warning,
                                         .message = "behind",
                                         .affected_resource = "job-processor",
                                         .metrics = {}});
  ASSERT_EQ(inbox->insert(*compose(alert, alert.payload), alert.event_id, t0_), true);

  auto listed = inbox->list("alice", 2);
  ASSERT_TRUE(listed) << listed.error().message;
  ASSERT_EQ(listed->size(), 2u);
  EXPECT_EQ((*listed)[0].related_job_id, "job-2");
  EXPECT_EQ((*listed)[0].source_event_id, sources[2].to_string());
  EXPECT_EQ((*listed)[0].notification_id, notification_id_for(sources[2]));
  EXPECT_EQ((*listed)[0].subject, "Job job-2 cancelled");
  EXPECT_EQ((*listed)[0].created_at, t0_ + std::chrono::minutes(2));
  EXPECT_EQ((*listed)[0].read_at, std::nullopt);
  EXPECT_EQ((*listed)[1].related_job_id, "job-1");

  auto operators = inbox->list("operators", 10);
  ASSERT_TRUE(operators);
  ASSERT_EQ(operators->size(), 1u);
  EXPECT_EQ(operators->front().related_job_id, std::nullopt);
  EXPECT_EQ(operators->front().recipient, "operators");
  EXPECT_EQ(inbox->count(), 4);
}

}  // namespace
}  // namespace horizons::notification_dispatcher
