// A tiny service on service_host: one job.status.changed per job.submitted,
// stopped half-way and started again on the same data directory, then run in
// a new consumer group that is redelivered everything. Every submission gets
// exactly one outgoing event, none twice.
#include <gtest/gtest.h>

#include <array>
#include <atomic>
#include <cstdio>
#include <set>
#include <thread>
#include <unordered_map>

#include <horizons/codec.hpp>
#include <horizons/consumer.hpp>
#include <horizons/event_builder.hpp>
#include <horizons/producer.hpp>
#include <horizons/sample.hpp>
#include <horizons/testkit/cluster_fixture.hpp>
#include <horizons/testkit/topic_contents.hpp>

#include "scratch.hpp"
#include "services/common/service_host.hpp"

namespace horizons::services {
namespace {

using namespace std::chrono_literals;
using testing_common::count_rows;
using testing_common::scratch_dir;

constexpr std::string_view service_name = "queuer";
constexpr std::array queuer_topics{topic_id::job_lifecycle};

struct run_counts {
  std::atomic<int> handled{0};     // steps that ran and committed
  std::atomic<int> duplicates{0};  // redelivered records that handle_once skipped
};

// The service: queues every submitted job. Runs until `stop`; `on_handled` sees the running count.
std::expected<void, std::string> run_queuer(const service_options& options, const std::string& group,
                                            std::stop_token stop, run_counts& counts,
                                            const std::function<void(int)>& on_handled) {
  // The group varies by run: a descriptor of this run's, living as long as the host.
  service_descriptor queuer{.name = service_name, .group = group, .topics = queuer_topics};
  auto host = service_host::start(queuer, options);
  if (!host) return std::unexpected(host.error());
  auto in = (*host)->subscribe();
  if (!in) return std::unexpected(in.error());
  if ((*in)->group() != group)
    return std::unexpected(fmt::format("subscribed in group {}, not {}", (*in)->group(), group));
  auto& store = (*host)->store();
  (*in)->on<job_submitted>(
      [&](const envelope& meta, const job_submitted& job, const message_context&) -> handler_result {
        auto done = store.handle_once(meta.event_id, [&](outbox& out) -> step_result {
          auto queued = make_event(job_status_changed{.job_id = job.job_id,
                                                      .previous_status = job_status::submitted,
                                                      .new_status = job_status::queued,
                                                      .reason = "accepted",
                                                      .transitioned_at = now()})
                            .caused_by(meta)
                            .build();
          if (!queued) return std::unexpected(queued.error().message);
          return out.emit(*queued);
        });
        if (!done) return std::unexpected(done.error());
        if (*done) {
          on_handled(++counts.handled);
        } else {
          ++counts.duplicates;
        }
        return {};
      });
  return (*host)->run(**in, stop);
}

bool wait_until(const std::function<bool()>& done, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!done()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(20ms);
  }
  return true;
}

class common_service_host : public testkit::cluster_fixture {
 protected:
  [[nodiscard]] service_options options() const {
    auto short_session = config();
    // The mock cluster lets a restarted member join only once the session of the member that
    // closed has expired: 6 s instead of the default 45 s.
    short_session.session_timeout = 6s;
    return {.config = short_session, .data_dir = dir_.path()};
  }
  [[nodiscard]] std::filesystem::path state() const {
    return state_location(sql::location(dir_.path()), service_name).file();
  }

  scratch_dir dir_;
};

TEST_F(common_service_host, a_stopped_and_restarted_service_emits_one_event_per_record) {
  constexpr int total = 2'000;
  std::set<uuid> submitted;
  {
    auto out = producer::create({.config = config()});
    ASSERT_TRUE(out) << out.error().message;
    event_sampler sampler(21);
    for (int i = 0; i < total; ++i) {
      auto e = sampler.next<job_submitted>();
      submitted.insert(e.event_id);
      ASSERT_TRUE((*out)->publish(e));
    }
    ASSERT_EQ((*out)->flush(30s), 0u);
  }

  // First run: stop requested from inside the service once 600 records are handled.
  run_counts first;
  {
    std::stop_source stop;
    std::expected<void, std::string> result;
    std::atomic<bool> finished{false};
    std::thread service([&] {
      result = run_queuer(options(), "queuer", stop.get_token(), first, [&](int handled) {
        if (handled == 600) stop.request_stop();
      });
      finished = true;
    });
    bool stopped_in_time = wait_until([&] { return finished.load(); }, 60s);
    stop.request_stop();  // bounds the test if the service never reached 600
    service.join();
    ASSERT_TRUE(stopped_in_time) << "handled " << first.handled << " in 60 s";
    ASSERT_TRUE(result) << result.error();
  }
  std::printf("first run: handled %d, duplicates %d\n", first.handled.load(), first.duplicates.load());
  EXPECT_GE(first.handled, 600);
  EXPECT_LT(first.handled, total) << "the stop was not mid-way";
  EXPECT_EQ(count_rows(state(), "outbox"), 0) << "run() returns with the outbox drained";
  EXPECT_EQ(count_rows(state(), "delivered"), first.handled.load());
  EXPECT_EQ(count_rows(state(), "handled"), first.handled.load());

  // Second run on the same data directory: resumes from the committed offsets.
  run_counts second;
  {
    std::stop_source stop;
    std::expected<void, std::string> result;
    std::thread service([&] { result = run_queuer(options(), "queuer", stop.get_token(), second, [](int) {}); });
    bool all_delivered = wait_until([&] { return count_rows(state(), "delivered") >= total; }, 90s);
    stop.request_stop();
    service.join();
    ASSERT_TRUE(result) << result.error();
    ASSERT_TRUE(all_delivered) << count_rows(state(), "delivered") << " delivered";
  }
  std::printf("second run: handled %d, duplicates %d\n", second.handled.load(), second.duplicates.load());
  EXPECT_EQ(first.handled + second.handled, total);
  EXPECT_EQ(count_rows(state(), "outbox"), 0);

  // A third run in a new consumer group is redelivered every record: each finds its mark.
  run_counts replay;
  {
    std::stop_source stop;
    std::expected<void, std::string> result;
    std::thread service([&] { result = run_queuer(options(), "queuer-replay", stop.get_token(), replay, [](int) {}); });
    bool all_seen = wait_until([&] { return replay.duplicates + replay.handled >= total; }, 60s);
    stop.request_stop();
    service.join();
    ASSERT_TRUE(result) << result.error();
    ASSERT_TRUE(all_seen) << replay.duplicates << " redelivered records seen";
  }
  EXPECT_EQ(replay.handled, 0) << "a redelivered record ran its step again";
  EXPECT_EQ(count_rows(state(), "delivered"), total);

  // What reached Kafka: one job.status.changed per submission, caused by it.
  auto events = testkit::read_events(config(), "job-lifecycle");
  ASSERT_TRUE(events) << events.error();
  std::unordered_map<uuid, int> caused;
  std::size_t status_changes = 0, submissions = 0;
  for (const auto& decoded : *events) {
    const auto& e = std::get<job_lifecycle_event>(decoded);
    if (std::holds_alternative<job_submitted>(e.payload)) {
      ++submissions;
      continue;
    }
    ASSERT_TRUE(std::holds_alternative<job_status_changed>(e.payload)) << e.event_type;
    ++status_changes;
    ASSERT_TRUE(e.causation_id);
    ++caused[*e.causation_id];
  }
  EXPECT_EQ(submissions, static_cast<std::size_t>(total));
  EXPECT_EQ(status_changes, static_cast<std::size_t>(total)) << "an outgoing event was published twice or lost";
  EXPECT_EQ(caused.size(), static_cast<std::size_t>(total));
  std::size_t twice = 0, unknown = 0;
  for (const auto& [cause, n] : caused) {
    twice += n > 1 ? 1 : 0;
    unknown += submitted.contains(cause) ? 0 : 1;
  }
  EXPECT_EQ(twice, 0u);
  EXPECT_EQ(unknown, 0u);
}

TEST_F(common_service_host, on_ready_is_called_once_on_the_services_thread_when_its_consumer_holds_its_partitions) {
  std::atomic<int> calls{0};
  std::thread::id ready_on, service_on;
  auto opts = options();
  opts.on_ready = [&] {
    ++calls;
    ready_on = std::this_thread::get_id();
  };
  run_counts counts;
  std::stop_source stop;
  std::expected<void, std::string> result;
  std::thread service([&] {
    service_on = std::this_thread::get_id();
    result = run_queuer(opts, "ready-check", stop.get_token(), counts, [](int) {});
  });
  bool ready = wait_until([&] { return calls.load() > 0; }, 30s);
  // The service goes on reading after the call, and no later rebalance or poll calls it again.
  if (ready) {
    auto out = producer::create({.config = config()});
    ASSERT_TRUE(out) << out.error().message;
    event_sampler sampler(5);
    for (int i = 0; i < 20; ++i) ASSERT_TRUE((*out)->publish(sampler.next<job_submitted>()));
    ASSERT_EQ((*out)->flush(30s), 0u);
  }
  bool handled = ready && wait_until([&] { return counts.handled.load() == 20; }, 30s);
  stop.request_stop();
  service.join();
  ASSERT_TRUE(result) << result.error();
  ASSERT_TRUE(ready) << "on_ready was not called within 30 s";
  EXPECT_TRUE(handled) << "handled " << counts.handled.load() << " of 20";
  EXPECT_EQ(calls.load(), 1);
  EXPECT_EQ(ready_on, service_on);
}

}  // namespace
}  // namespace horizons::services
