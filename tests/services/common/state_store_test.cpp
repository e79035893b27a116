// The state store: a record's effects (its handled mark, the service's own
// table changes, its outgoing events) commit together, once.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

#include <horizons/codec.hpp>
#include <horizons/event_builder.hpp>
#include <horizons/sample.hpp>

#include "scratch.hpp"
#include "services/common/state_store.hpp"

namespace horizons::services {
namespace {

using testing_common::count_rows;
using testing_common::scratch_dir;
using testing_common::test_database;

event<job_status_changed> queued(const std::string& job_id) {
  auto e = make_event(job_status_changed{.job_id = job_id,
                                         .previous_status = job_status::submitted,
                                         .new_status = job_status::queued,
                                         .reason = "accepted",
                                         .transitioned_at = now()})
               .build();
  EXPECT_TRUE(e) << e.error().message;
  return *e;
}

state_store open_store(const std::filesystem::path& path, std::function<void()> on_emit = {}) {
  auto store = state_store::open(test_database(path), std::move(on_emit));
  EXPECT_TRUE(store) << store.error();
  return std::move(*store);
}

// The outbox's rows, decoded, in emit order.
std::vector<any_event> outbox_events(const std::filesystem::path& path) {
  std::vector<any_event> events;
  auto db = sql::database::open(test_database(path));
  EXPECT_TRUE(db);
  auto rows = db->prepare("SELECT value FROM outbox ORDER BY seq");
  EXPECT_TRUE(rows);
  while (rows->next()) {
    auto decoded = decode_framed(rows->blob(0));
    EXPECT_TRUE(decoded) << decoded.error().message;
    if (decoded) events.push_back(std::move(*decoded));
  }
  EXPECT_FALSE(rows->last_error());
  return events;
}

class common_state_store : public testing::Test {
 protected:
  void SetUp() override {
    store_.emplace(open_store(path()));
    // A service table of its own, changed inside the steps.
    ASSERT_TRUE(store_->db().exec("CREATE TABLE IF NOT EXISTS jobs(job_id TEXT PRIMARY KEY, status TEXT NOT NULL)"));
    insert_job_.emplace(std::move(*store_->db().prepare("INSERT INTO jobs(job_id, status) VALUES (?1, ?2)")));
  }

  [[nodiscard]] std::filesystem::path path() const { return dir_ / "svc/state.db"; }
  state_store& store() { return *store_; }
  step_result insert_job(const std::string& job_id) {
    if (auto ok = insert_job_->bind(1, job_id).bind(2, "QUEUED").run(); !ok) return std::unexpected(ok.error().message);
    return {};
  }

  scratch_dir dir_;
  std::optional<state_store> store_;
  std::optional<sql::statement> insert_job_;
};

TEST_F(common_state_store, open_creates_the_shared_tables_at_the_state_path) {
  EXPECT_EQ(state_location(sql::location("/data"), "metrics-aggregator").file(),
            std::filesystem::path("/data/metrics-aggregator/state.db"));
  EXPECT_EQ(store().where(), test_database(path()));
  for (auto table : {"handled", "outbox", "delivered"}) EXPECT_EQ(count_rows(path(), table), 0) << table;
  // Opening again (a restart) keeps what is there.
  ASSERT_TRUE(store().handle_once(uuid::random(), [](outbox&) -> step_result { return {}; }));
  auto again = state_store::open(test_database(path()));
  ASSERT_TRUE(again) << again.error();
  EXPECT_EQ(count_rows(path(), "handled"), 1);
}

TEST_F(common_state_store, a_source_is_handled_once_and_its_duplicate_emits_nothing) {
  auto source = uuid::random();
  int runs = 0;
  auto step = [&](outbox& out) -> step_result {
    ++runs;
    if (auto ok = insert_job("job-1"); !ok) return ok;
    return out.emit(queued("job-1"));
  };
  auto first = store().handle_once(source, step);
  ASSERT_TRUE(first) << first.error();
  EXPECT_TRUE(*first);
  auto second = store().handle_once(source, step);
  ASSERT_TRUE(second) << second.error();
  EXPECT_FALSE(*second);
  EXPECT_EQ(runs, 1);
  EXPECT_EQ(count_rows(path(), "handled"), 1);
  EXPECT_EQ(count_rows(path(), "outbox"), 1);
  EXPECT_EQ(count_rows(path(), "jobs"), 1);

  // Another source runs, even right after a duplicate (the duplicate left no open transaction).
  auto other = store().handle_once(uuid::random(), [&](outbox& out) -> step_result {
    ++runs;
    return out.emit(queued("job-2"));
  });
  ASSERT_TRUE(other) << other.error();
  EXPECT_TRUE(*other);
  EXPECT_EQ(runs, 2);
  EXPECT_EQ(count_rows(path(), "outbox"), 2);
}

TEST_F(common_state_store, a_failing_step_keeps_nothing_and_its_retry_runs_again) {
  auto source = uuid::random();
  int runs = 0;
  bool fail = true;
  auto step = [&](outbox& out) -> step_result {
    ++runs;
    if (auto ok = insert_job("job-1"); !ok) return ok;
    if (auto ok = out.emit(queued("job-1")); !ok) return ok;
    if (fail) return std::unexpected(std::string("scheduler unavailable"));
    return {};
  };
  auto failed = store().handle_once(source, step);
  ASSERT_FALSE(failed);
  EXPECT_EQ(failed.error(), "scheduler unavailable");
  EXPECT_EQ(count_rows(path(), "handled"), 0);
  EXPECT_EQ(count_rows(path(), "outbox"), 0);
  EXPECT_EQ(count_rows(path(), "jobs"), 0);

  fail = false;
  auto retried = store().handle_once(source, step);
  ASSERT_TRUE(retried) << retried.error();
  EXPECT_TRUE(*retried);
  EXPECT_EQ(runs, 2);
  EXPECT_EQ(count_rows(path(), "handled"), 1);
  EXPECT_EQ(count_rows(path(), "outbox"), 1);
  EXPECT_EQ(count_rows(path(), "jobs"), 1);
}

TEST_F(common_state_store, a_step_that_throws_keeps_nothing) {
  auto source = uuid::random();
  EXPECT_THROW((void)store().handle_once(source,
                                         [&](outbox& out) -> step_result {
                                           (void)insert_job("job-1");
                                           (void)out.emit(queued("job-1"));
                                           throw std::runtime_error("bug");
                                         }),
               std::runtime_error);
  EXPECT_EQ(count_rows(path(), "handled"), 0);
  EXPECT_EQ(count_rows(path(), "outbox"), 0);
  EXPECT_EQ(count_rows(path(), "jobs"), 0);
  auto retried = store().handle_once(source, [&](outbox&) -> step_result { return insert_job("job-1"); });
  ASSERT_TRUE(retried) << retried.error();
  EXPECT_TRUE(*retried);
}

TEST_F(common_state_store, transact_commits_or_rolls_back_everything) {
  auto ok = store().transact([&](outbox& out) -> step_result {
    if (auto done = insert_job("job-1"); !done) return done;
    if (auto done = out.emit(queued("job-1")); !done) return done;
    return out.emit(queued("job-1"));
  });
  ASSERT_TRUE(ok) << ok.error();
  EXPECT_EQ(count_rows(path(), "outbox"), 2);
  EXPECT_EQ(count_rows(path(), "jobs"), 1);
  EXPECT_EQ(count_rows(path(), "handled"), 0) << "transact() marks no source";

  auto failed = store().transact([&](outbox& out) -> step_result {
    if (auto done = insert_job("job-2"); !done) return done;
    if (auto done = out.emit(queued("job-2")); !done) return done;
    return insert_job("job-1");  // the primary key refuses it
  });
  ASSERT_FALSE(failed);
  // SQLite and PostgreSQL each say it their way.
  EXPECT_TRUE(failed.error().find("UNIQUE constraint failed: jobs.job_id") != std::string::npos ||
              failed.error().find("duplicate key value violates unique constraint \"jobs_pkey\"") != std::string::npos)
      << failed.error();
  EXPECT_EQ(count_rows(path(), "outbox"), 2);
  EXPECT_EQ(count_rows(path(), "jobs"), 1);
}

TEST_F(common_state_store, emit_refuses_an_invalid_event_and_keeps_nothing_of_it) {
  auto invalid = queued("job-1");
  invalid.payload.job_id.clear();
  auto refused = store().handle_once(uuid::random(), [&](outbox& out) -> step_result {
    if (auto ok = insert_job("job-1"); !ok) return ok;
    return out.emit(invalid);
  });
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().find("refusing to publish job.status.changed"), std::string::npos) << refused.error();
  EXPECT_NE(refused.error().find("job_id"), std::string::npos) << refused.error();
  EXPECT_EQ(count_rows(path(), "handled"), 0);
  EXPECT_EQ(count_rows(path(), "outbox"), 0);
  EXPECT_EQ(count_rows(path(), "jobs"), 0);

  // A step that ignores the refusal commits its other effects, but never the invalid event.
  auto illegal = queued("job-2");
  illegal.payload.previous_status = job_status::completed;  // COMPLETED -> QUEUED is not a transition
  std::size_t emitted = 99;
  auto ignored = store().handle_once(uuid::random(), [&](outbox& out) -> step_result {
    EXPECT_FALSE(out.emit(illegal));
    EXPECT_FALSE(out.emit(invalid));
    if (auto ok = out.emit(queued("job-3")); !ok) return ok;
    emitted = out.emitted();
    return {};
  });
  ASSERT_TRUE(ignored) << ignored.error();
  EXPECT_EQ(emitted, 1u);
  auto events = outbox_events(path());
  ASSERT_EQ(events.size(), 1u);
  const auto& kept = std::get<job_lifecycle_event>(events[0]);
  EXPECT_EQ(std::get<job_status_changed>(kept.payload).job_id, "job-3");
}

TEST_F(common_state_store, the_outbox_holds_the_emitted_events_in_emit_order) {
  event_sampler sampler(7);
  std::vector<any_event> emitted;
  for (int record = 0; record < 20; ++record) {
    auto done = store().handle_once(uuid::random(), [&](outbox& out) -> step_result {
      for (int i = 0; i < 3; ++i) {
        auto e = *sampler.next(all_event_types[emitted.size() % all_event_types.size()]);
        if (auto ok = std::visit([&](const auto& topic_event) { return out.emit(topic_event); }, e); !ok) return ok;
        emitted.push_back(std::move(e));
      }
      return {};
    });
    ASSERT_TRUE(done) << done.error();
  }
  EXPECT_EQ(outbox_events(path()), emitted);
}

TEST_F(common_state_store, on_emit_fires_only_after_a_commit_that_emitted) {
  int fired = 0;
  std::int64_t visible_at_fire = -1;
  auto watched = open_store(dir_ / "watched/state.db", [&] {
    ++fired;
    visible_at_fire = count_rows(dir_ / "watched/state.db", "outbox");  // committed: another connection sees it
  });
  auto emit_two = [&](outbox& out) -> step_result {
    if (auto ok = out.emit(queued("job-1")); !ok) return ok;
    return out.emit(queued("job-2"));
  };
  auto source = uuid::random();
  ASSERT_TRUE(watched.handle_once(source, emit_two));
  EXPECT_EQ(fired, 1);
  EXPECT_EQ(visible_at_fire, 2);

  ASSERT_TRUE(watched.handle_once(source, emit_two));                                           // duplicate
  ASSERT_TRUE(watched.handle_once(uuid::random(), [](outbox&) -> step_result { return {}; }));  // emits nothing
  EXPECT_FALSE(watched.handle_once(uuid::random(), [&](outbox& out) -> step_result {
    (void)emit_two(out);
    return std::unexpected(std::string("no"));
  }));
  EXPECT_FALSE(watched.transact([&](outbox& out) -> step_result {
    (void)emit_two(out);
    return std::unexpected(std::string("no"));
  }));
  EXPECT_EQ(fired, 1);

  ASSERT_TRUE(watched.transact(emit_two));
  EXPECT_EQ(fired, 2);
  EXPECT_EQ(visible_at_fire, 4);
}

TEST_F(common_state_store, two_connections_on_one_file_handle_each_source_once) {
  auto other = open_store(path());
  auto source = uuid::random();
  auto emit = [](outbox& out) -> step_result { return out.emit(queued("job-1")); };
  auto first = store().handle_once(source, emit);
  ASSERT_TRUE(first && *first);
  auto second = other.handle_once(source, emit);
  ASSERT_TRUE(second) << second.error();
  EXPECT_FALSE(*second);

  // Two "processes" racing over the same 1,000 redelivered records: each record's step runs once.
  constexpr int records = 1'000;
  std::vector<uuid> sources(records);
  for (auto& s : sources) s = uuid::random();
  std::atomic<int> runs{0}, failures{0};
  auto worker = [&](state_store& store, bool backwards) {
    for (int i = 0; i < records; ++i) {
      const auto& s = sources[backwards ? records - 1 - i : i];
      auto done = store.handle_once(s, [&](outbox& out) -> step_result {
        ++runs;
        return out.emit(queued("job-" + s.to_string()));
      });
      if (!done) {
        ADD_FAILURE() << done.error();
        ++failures;
      }
    }
  };
  auto racer = open_store(path());
  std::thread a([&] { worker(other, false); });
  std::thread b([&] { worker(racer, true); });
  a.join();
  b.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(runs.load(), records);
  EXPECT_EQ(count_rows(path(), "handled"), records + 1);
  EXPECT_EQ(count_rows(path(), "outbox"), records + 1);
}

}  // namespace
}  // namespace horizons::services
