// Schema registry instances over one `_schemas` topic on the embedded cluster: a restarted
// registry has everything its predecessor had; two instances serve the same data, one writes, a
// write through the other is forwarded and readable there at once; the writer role moves on a
// clean stop at once and on a crash after the lease; ids are never given twice when both take
// registrations at the same time; a record of a writer that lost the role is fenced and its key
// rewritten; `horizons serve schema-registry` prints its URL, answers and stops on SIGTERM.
#include <horizons/record_writer.hpp>
#include <horizons/topic_reader.hpp>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "child_process.hpp"
#include "registry_fixture.hpp"
#include "services/schema_registry/facts.hpp"

namespace horizons::schema_registry_service::testing {
namespace {

class registry_instances_test : public registry_fixture {
 protected:
  // Every record of the topic, decoded (records that do not decode are a failure).
  std::vector<std::pair<std::int64_t, stamped_fact>> records() {
    std::vector<std::pair<std::int64_t, stamped_fact>> out;
    auto reader = topic_reader::open(config(), options{}.topic, read_from::beginning);
    EXPECT_TRUE(reader) << reader.error().message;
    if (!reader) return out;
    while (auto next = (*reader)->next(2s)) {
      if (!*next) break;
      auto decoded = decode((*next)->key.value_or(""), (*next)->value);
      EXPECT_TRUE(decoded) << decoded.error();
      if (decoded) out.emplace_back((*next)->offset, std::move(*decoded));
    }
    return out;
  }
};

TEST_F(registry_instances_test, a_restarted_registry_has_the_subjects_versions_ids_and_levels_it_had) {
  auto first = start();
  ASSERT_TRUE(first);
  {
    auto client = client_of(*first);
    ASSERT_TRUE(client->register_schema("jobs-value", job_v1));
    ASSERT_TRUE(client->register_schema("jobs-value", job_v2_with_default));
    ASSERT_TRUE(client->register_schema("audit-value", job_v2_with_default));
    ASSERT_TRUE(client->register_schema("gone-value", record_named("Gone")));
    ASSERT_TRUE(client->delete_subject("gone-value"));
    ASSERT_TRUE(client->set_compatibility(compatibility_level::forward_transitive));
    ASSERT_TRUE(client->set_compatibility(compatibility_level::full, "jobs-value"));
  }
  first->stop();
  first.reset();

  auto second = start();
  ASSERT_TRUE(second);
  auto client = client_of(*second);
  EXPECT_EQ(client->subjects().value_or(std::vector<std::string>{}),
            (std::vector<std::string>{"audit-value", "jobs-value"}));
  EXPECT_EQ(call(second->url(), "GET", "/subjects?deleted=true").body,
            json::array({"audit-value", "gone-value", "jobs-value"}));
  EXPECT_EQ(client->versions("jobs-value").value_or(std::vector<int>{}), (std::vector<int>{1, 2}));
  EXPECT_EQ(client->version("jobs-value", 1).value_or(registered_schema{}).id, 1);
  EXPECT_EQ(client->version("jobs-value", 2).value_or(registered_schema{}).id, 2);
  EXPECT_EQ(client->version("audit-value").value_or(registered_schema{}).id, 2);
  EXPECT_EQ(client->schema_by_id(3).value_or(""), record_named("Gone")) << "soft-deleted: still readable by id";
  EXPECT_EQ(client->compatibility().value_or(compatibility_level::none), compatibility_level::forward_transitive);
  EXPECT_EQ(client->compatibility("jobs-value").value_or(compatibility_level::none), compatibility_level::full);
  EXPECT_EQ(call(second->url(), "GET", "/config/audit-value").body.value("error_code", 0), 40408);

  // It writes, and goes on from where its predecessor stopped.
  EXPECT_EQ(client->register_schema("more-value", record_named("More")).value_or(0), 4);
  EXPECT_EQ(client->register_schema("jobs-value", job_v1).value_or(0), 1) << "already version 1";
  EXPECT_TRUE(second->status().this_instance_writes);
  EXPECT_EQ(second->status().writer.epoch, 2);
}

TEST_F(registry_instances_test, two_instances_serve_the_same_data_and_one_of_them_writes) {
  auto a = start();
  auto b = start();
  ASSERT_TRUE(a && b);
  EXPECT_TRUE(a->status().this_instance_writes);
  EXPECT_FALSE(b->status().this_instance_writes);
  EXPECT_EQ(b->status().writer.url, a->url());

  // Written through the writer: the other follows the topic and sees it.
  auto through_a = client_of(*a)->register_schema("jobs-value", job_v1);
  ASSERT_TRUE(through_a) << through_a.error().message;
  EXPECT_TRUE(eventually([&] { return call(b->url(), "GET", "/subjects/jobs-value/versions").status == 200; }));

  // Written through the other: forwarded to the writer, and readable at once where it was sent.
  auto through_b = client_of(*b)->register_schema("jobs-value", job_v2_with_default);
  ASSERT_TRUE(through_b) << through_b.error().message;
  EXPECT_EQ(*through_b, 2);
  auto read_back = client_of(*b)->version("jobs-value");
  ASSERT_TRUE(read_back) << read_back.error().message;
  EXPECT_EQ(read_back->version, 2) << "read-your-writes through the instance that forwarded";
  auto level = call(b->url(), "PUT", "/config/jobs-value", R"({"compatibility":"FULL"})");
  EXPECT_EQ(level.status, 200);
  EXPECT_EQ(call(b->url(), "GET", "/config/jobs-value").body, (json{{"compatibilityLevel", "FULL"}}));
  EXPECT_EQ(call(a->url(), "GET", "/config/jobs-value").body, (json{{"compatibilityLevel", "FULL"}}));
  auto refused = call(b->url(), "POST", "/subjects/jobs-value/versions", schema_body(job_v2_without_default));
  EXPECT_EQ(refused.status, 409) << "the writer's answer, passed back: " << refused.text;
  auto permanent = call(b->url(), "DELETE", "/subjects/jobs-value?permanent=true");
  EXPECT_EQ(permanent.body.value("error_code", 0), 40405) << "the query string is forwarded too: " << permanent.text;

  // Both answer reads alike.
  for (const auto* path : {"/subjects", "/subjects/jobs-value/versions", "/schemas/ids/2", "/config"}) {
    EXPECT_EQ(call(a->url(), "GET", path).text, call(b->url(), "GET", path).text) << path;
  }

  // A request forwarded already is not forwarded again: the error names the writer.
  auto twice = call(b->url(), "POST", "/subjects/x-value/versions", schema_body(job_v1),
                    {{"X-Horizons-Forwarded-By", "someone"}});
  EXPECT_EQ(twice.status, 500);
  EXPECT_EQ(twice.body.value("error_code", 0), 50004);
  EXPECT_NE(twice.body.value("message", "").find(a->url()), std::string::npos) << twice.text;

  // Every record after the claim was written by the writer alone.
  const auto writer = a->status().instance;
  for (const auto& [offset, record] : records()) {
    EXPECT_EQ(record.writer, writer) << "offset " << offset;
    EXPECT_EQ(record.epoch, 1) << "offset " << offset;
  }
}

TEST_F(registry_instances_test, two_instances_started_together_agree_on_one_writer) {
  std::unique_ptr<server> a, b;
  {
    const std::jthread first([&] { a = start(); });
    const std::jthread second([&] { b = start(); });
  }
  ASSERT_TRUE(a && b);
  ASSERT_TRUE(eventually(
      [&] { return a->status().writer.epoch > 0 && a->status().writer.instance == b->status().writer.instance; }));
  EXPECT_NE(a->status().this_instance_writes, b->status().this_instance_writes);
  EXPECT_EQ(a->status().writer.epoch, 1) << "both claimed epoch 1 (or one saw the other's claim); the first won";
  auto id = client_of(a->status().this_instance_writes ? *b : *a)->register_schema("jobs-value", job_v1);
  ASSERT_TRUE(id) << id.error().message;
  EXPECT_EQ(*id, 1);
}

TEST_F(registry_instances_test, a_writer_that_cannot_be_reached_is_named_in_the_error) {
  auto a = start(30s, "http://127.0.0.1:1");  // advertises where nothing listens
  auto b = start();
  ASSERT_TRUE(a && b);
  auto answer = call(b->url(), "POST", "/subjects/jobs-value/versions", schema_body(job_v1));
  EXPECT_EQ(answer.status, 500);
  EXPECT_EQ(answer.body.value("error_code", 0), 50003);
  EXPECT_NE(answer.body.value("message", "").find("http://127.0.0.1:1"), std::string::npos) << answer.text;
  EXPECT_EQ(call(b->url(), "GET", "/subjects").body, json::array()) << "nothing was written";
  EXPECT_EQ(a->url(), "http://127.0.0.1:1") << "url() is the advertised address";
}

TEST_F(registry_instances_test, the_writer_role_moves_at_once_when_the_writer_stops) {
  auto a = start();
  auto b = start();
  ASSERT_TRUE(a && b);
  ASSERT_TRUE(client_of(*a)->register_schema("jobs-value", job_v1));
  a->stop();
  EXPECT_TRUE(eventually([&] { return b->status().this_instance_writes; }, 10s))
      << "a resignation needs no lease to pass (the lease here is 30 s)";
  EXPECT_EQ(b->status().writer.epoch, 2);
  auto id = client_of(*b)->register_schema("jobs-value", job_v2_with_default);
  ASSERT_TRUE(id) << id.error().message;
  EXPECT_EQ(*id, 2);

  auto c = start();
  ASSERT_TRUE(c);
  EXPECT_FALSE(c->status().this_instance_writes);
  EXPECT_EQ(c->status().writer.url, b->url());
  EXPECT_EQ(client_of(*c)->versions("jobs-value").value_or(std::vector<int>{}), (std::vector<int>{1, 2}));
}

TEST_F(registry_instances_test, ids_are_never_given_twice_when_both_instances_register_at_once) {
  auto a = start();
  auto b = start();
  ASSERT_TRUE(a && b);
  ASSERT_TRUE(client_of(*a)->set_compatibility(compatibility_level::none));

  // Four threads per instance; schema i is registered twice, by threads of different instances,
  // under different subjects, so both instances race for the same schemas too.
  constexpr int threads_per_instance = 4;
  constexpr int schemas = 24;
  std::mutex mutex;
  std::map<int, std::set<int>> ids_of_schema;
  std::vector<std::string> failures;
  std::vector<std::jthread> threads;
  for (int t = 0; t < 2 * threads_per_instance; ++t) {
    threads.emplace_back([&, t] {
      const auto& target = t % 2 == 0 ? *a : *b;
      auto client = client_of(target, 30s);
      for (int i = t / 2; i < schemas; i += threads_per_instance) {
        auto id =
            client->register_schema(fmt::format("subject-{}", (i + t % 2) % 5), record_named(fmt::format("R{}", i)));
        const std::scoped_lock lock(mutex);
        if (id) {
          ids_of_schema[i].insert(*id);
        } else {
          failures.push_back(id.error().message);
        }
      }
    });
  }
  threads.clear();  // joins
  EXPECT_TRUE(failures.empty()) << failures.front();
  ASSERT_EQ(ids_of_schema.size(), static_cast<std::size_t>(schemas));
  std::set<int> all_ids;
  for (const auto& [schema, ids] : ids_of_schema) {
    EXPECT_EQ(ids.size(), 1u) << "schema R" << schema << " got ids " << fmt::format("{}", fmt::join(ids, ", "));
    all_ids.insert(ids.begin(), ids.end());
  }
  EXPECT_EQ(all_ids.size(), static_cast<std::size_t>(schemas)) << "distinct schemas, distinct ids";
  EXPECT_EQ(*all_ids.begin(), 1);
  EXPECT_EQ(*all_ids.rbegin(), schemas) << "no id skipped either";

  // Both instances agree on every id, and every subject's versions are 1..n.
  ASSERT_TRUE(eventually([&] { return a->status().applied_offset == b->status().applied_offset; }));
  for (const auto& [schema, ids] : ids_of_schema) {
    const auto path = fmt::format("/schemas/ids/{}", *ids.begin());
    EXPECT_EQ(call(a->url(), "GET", path).body.value("schema", ""), record_named(fmt::format("R{}", schema)));
    EXPECT_EQ(call(b->url(), "GET", path).text, call(a->url(), "GET", path).text);
  }
  int versions_total = 0;
  for (int s = 0; s < 5; ++s) {
    auto versions = call(b->url(), "GET", fmt::format("/subjects/subject-{}/versions", s)).body;
    ASSERT_TRUE(versions.is_array());
    for (std::size_t v = 0; v < versions.size(); ++v) EXPECT_EQ(versions[v], v + 1);
    versions_total += static_cast<int>(versions.size());
  }
  EXPECT_EQ(versions_total, 2 * schemas);
}

TEST_F(registry_instances_test, a_record_of_a_writer_that_lost_the_role_is_fenced_and_its_key_rewritten) {
  auto a = start();
  ASSERT_TRUE(a);
  ASSERT_TRUE(client_of(*a)->register_schema("jobs-value", job_v1));
  const auto old_writer = a->status();
  a->stop();
  auto b = start();
  ASSERT_TRUE(b);
  ASSERT_TRUE(b->status().this_instance_writes);

  // a, as if it had been paused past its lease and woke up: it soft-deletes jobs-value v1 and
  // registers a v2 under its old epoch.
  auto writer = record_writer::create(config());
  ASSERT_TRUE(writer);
  std::vector<keyed_record> zombie;
  for (const auto& f :
       {fact{schema_fact{
            .subject = "jobs-value", .version = 1, .id = 1, .state = version_state::soft_deleted, .schema = job_v1}},
        fact{schema_fact{.subject = "jobs-value",
        .version = 2,
        .id = 2,
        .state = version_state::live,
        .schema = job_v2_with_default}}}) {
    auto record = encode({.what = f, .epoch = old_writer.writer.epoch, .writer = old_writer.instance});
    zombie.push_back({.key = record.key, .value = record.value});
  }
  auto written = (*writer)->write(options{}.topic, zombie);
  ASSERT_TRUE(written) << written.error().message;

  // Fenced: nothing changed.
  ASSERT_TRUE(eventually([&] { return b->status().applied_offset >= written->back(); }));
  EXPECT_EQ(call(b->url(), "GET", "/subjects/jobs-value/versions").body, json::array({1}));
  EXPECT_EQ(call(b->url(), "GET", "/schemas/ids/2").status, 404);

  // Rewritten by the writer, so that compaction keeps a record that counts for both keys.
  ASSERT_TRUE(eventually([&] {
    std::set<std::string> rewritten;
    for (const auto& [offset, record] : records()) {
      if (offset > written->back() && record.writer == b->status().instance &&
          std::holds_alternative<schema_fact>(record.what)) {
        rewritten.insert(key_of(record));
      }
    }
    return rewritten == std::set<std::string>{zombie[0].key, zombie[1].key};
  })) << "the writer rewrites both keys";
  for (const auto& [offset, record] : records()) {
    if (offset <= written->back() || !std::holds_alternative<schema_fact>(record.what)) continue;
    const auto& f = std::get<schema_fact>(record.what);
    EXPECT_EQ(f.state, f.version == 1 ? version_state::live : version_state::removed) << "version " << f.version;
  }

  // A new instance replays the same records to the same state, and the next id is not 2's
  // never-registered schema's.
  auto c = start();
  ASSERT_TRUE(c);
  EXPECT_EQ(call(c->url(), "GET", "/subjects/jobs-value/versions").body, json::array({1}));
  auto next = client_of(*b)->register_schema("next-value", record_named("Next"));
  ASSERT_TRUE(next) << next.error().message;
  EXPECT_EQ(*next, 3) << "id 2 appeared in a removal marker: never given";
}

// `horizons serve schema-registry` as a child process of the test, on the test's cluster.
class registry_command_test : public registry_fixture {
 protected:
  testing_support::child_process serve(const std::vector<std::string>& extra = {}) {
    std::vector<std::string> args{HORIZONS_CLI,     "serve",    "schema-registry", "--brokers",
                                  config().brokers, "--listen", "127.0.0.1:0"};
    args.insert(args.end(), extra.begin(), extra.end());
    return testing_support::child_process(args);
  }
  // The URL from "horizons serve: schema-registry ready at http://…".
  static std::string ready_url(testing_support::child_process& child) {
    auto line = child.read_line(60s);
    if (!line) return {};
    const std::string prefix = "horizons serve: schema-registry ready at ";
    EXPECT_TRUE(line->starts_with(prefix)) << *line;
    auto url = line->substr(std::min(line->size(), prefix.size()));
    while (!url.empty() && (url.back() == '\n' || url.back() == '\r')) url.pop_back();
    return url;
  }
};

TEST_F(registry_command_test, serve_prints_its_url_answers_and_stops_on_sigterm) {
  auto child = serve();
  const auto url = ready_url(child);
  ASSERT_FALSE(url.empty());
  auto id = client_of(url)->register_schema("jobs-value", job_v1);
  ASSERT_TRUE(id) << id.error().message;
  EXPECT_EQ(*id, 1);
  EXPECT_EQ(child.terminate(), 0);
  EXPECT_EQ(call(url, "GET", "/subjects").status, 0) << "no longer answering";

  // What it wrote is there for the next one.
  auto next = start();
  ASSERT_TRUE(next);
  EXPECT_EQ(client_of(*next)->version("jobs-value").value_or(registered_schema{}).id, 1);
  EXPECT_TRUE(next->status().this_instance_writes) << "the stopped one resigned";
}

TEST_F(registry_command_test, a_crashed_writer_is_replaced_once_its_lease_has_passed) {
  auto child = serve({"--writer-lease-ms", "1500"});
  const auto url = ready_url(child);
  ASSERT_FALSE(url.empty());
  auto follower = start();
  ASSERT_TRUE(follower);
  EXPECT_EQ(follower->status().writer.url, url);
  ASSERT_TRUE(client_of(*follower)->register_schema("jobs-value", job_v1)) << "forwarded to the child";

  child.kill_now();  // SIGKILL: no resignation
  const auto killed_at = std::chrono::steady_clock::now();
  // The client retries the 50003 answers (the writer is unreachable) until the follower has claimed the role.
  auto id = client_of(*follower, 30s)->register_schema("jobs-value", job_v2_with_default);
  ASSERT_TRUE(id) << id.error().message;
  EXPECT_EQ(*id, 2);
  EXPECT_TRUE(follower->status().this_instance_writes);
  EXPECT_EQ(follower->status().writer.epoch, 2);
  EXPECT_GE(std::chrono::steady_clock::now() - killed_at, 1s) << "not before the lease (1.5 s) passed";
}

}  // namespace
}  // namespace horizons::schema_registry_service::testing
