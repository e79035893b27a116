// The registry's state machine without Kafka: records encode to stable keys and decode back; the
// writer role moves only by a claim of the next epoch (the first of two wins); records of anyone
// but the current holder are fenced, on a replay too; a fenced record that is the latest of its
// key is listed for repair until the holder rewrites the key; conflicting ids are refused; a
// removed schema's id is never given again.
#include "services/schema_registry/facts.hpp"
#include "services/schema_registry/schema_store.hpp"

#include <gtest/gtest.h>

#include <vector>

namespace horizons::schema_registry_service {
namespace {

const std::string job_v1 = R"({"type":"record","name":"Job","fields":[{"name":"id","type":"string"}]})";
const std::string job_v1_spaced =
    R"({ "name": "Job", "type": "record", "fields": [ {"type": "string", "name": "id"} ] })";
const std::string job_v2 = R"({"type":"record","name":"Job","fields":[{"name":"id","type":"string"},)"
                           R"({"name":"band","type":["null","string"],"default":null}]})";

stamped_fact claim(std::int64_t epoch, std::string writer) {
  return {.what = claim_fact{.url = "http://" + writer, .lease_ms = 1000}, .epoch = epoch, .writer = std::move(writer)};
}

stamped_fact version(std::string subject, int number, int id, const std::string& schema, std::int64_t epoch,
                     std::string writer, version_state state = version_state::live) {
  return {.what = schema_fact{.subject = std::move(subject),
                              .version = number,
                              .id = id,
                              .state = state,
                              .schema = state == version_state::removed ? std::string() : schema},
          .epoch = epoch,
          .writer = std::move(writer)};
}

// Every record through encode() and decode(), as the topic would carry it.
apply_outcome apply_encoded(schema_store& store, const stamped_fact& f) {
  const auto record = encode(f);
  auto decoded = decode(record.key, record.value);
  EXPECT_TRUE(decoded) << decoded.error();
  return decoded ? store.apply(*decoded) : apply_outcome::conflicting;
}

TEST(schema_registry_facts, a_fact_decodes_to_what_was_encoded_and_a_key_is_always_the_same_bytes) {
  const auto registered = version("jobs-value", 3, 7, job_v1, 2, "a");
  const auto record = encode(registered);
  EXPECT_EQ(record.key, R"({"keytype":"SCHEMA","subject":"jobs-value","version":3})");
  EXPECT_EQ(record.key, key_of(version("jobs-value", 3, 9, job_v2, 5, "b", version_state::soft_deleted)));
  auto back = decode(record.key, record.value);
  ASSERT_TRUE(back) << back.error();
  EXPECT_EQ(back->epoch, 2);
  EXPECT_EQ(back->writer, "a");
  const auto& f = std::get<schema_fact>(back->what);
  EXPECT_EQ(f.subject, "jobs-value");
  EXPECT_EQ(f.version, 3);
  EXPECT_EQ(f.id, 7);
  EXPECT_EQ(f.state, version_state::live);
  EXPECT_EQ(f.schema, job_v1);

  EXPECT_EQ(encode({.what = config_fact{}, .epoch = 1, .writer = "a"}).key, R"({"keytype":"CONFIG"})");
  EXPECT_EQ(
      encode({.what = config_fact{.subject = "s", .level = compatibility_level::full}, .epoch = 1, .writer = "a"}).key,
      R"({"keytype":"CONFIG","subject":"s"})");
  EXPECT_EQ(encode(claim(4, "a")).key, R"({"keytype":"CLAIM","epoch":4})") << "one key per epoch: never compacted";
  auto claimed = decode(encode(claim(4, "a")).key, encode(claim(4, "a")).value);
  ASSERT_TRUE(claimed);
  EXPECT_EQ(std::get<claim_fact>(claimed->what).lease_ms, 1000);
}

TEST(schema_registry_facts, records_this_registry_does_not_write_are_refused_with_the_reason) {
  EXPECT_FALSE(decode(R"({"keytype":"SCHEMA","subject":"s","version":1})", std::nullopt));
  EXPECT_FALSE(decode(R"({"keytype":"NOOP"})", R"({"epoch":1,"writer":"a"})"));
  EXPECT_FALSE(decode("not json", "{}"));
  auto mismatched =
      decode(R"({"keytype":"SCHEMA","subject":"s","version":1})", encode(version("s", 2, 1, job_v1, 1, "a")).value);
  ASSERT_FALSE(mismatched);
  EXPECT_NE(mismatched.error().find("different versions"), std::string::npos) << mismatched.error();
}

TEST(schema_registry_store, the_first_claim_of_an_epoch_wins_and_only_its_holder_writes) {
  schema_store store;
  EXPECT_EQ(apply_encoded(store, version("s", 1, 1, job_v1, 0, "a")), apply_outcome::fenced) << "nobody holds the role";
  EXPECT_EQ(apply_encoded(store, claim(1, "a")), apply_outcome::applied);
  EXPECT_EQ(apply_encoded(store, claim(1, "b")), apply_outcome::fenced) << "epoch 1 is taken";
  EXPECT_EQ(apply_encoded(store, claim(3, "b")), apply_outcome::fenced) << "only the next epoch";
  EXPECT_TRUE(store.is_writer("a"));
  EXPECT_FALSE(store.is_writer("b"));
  EXPECT_EQ(store.writer().lease, std::chrono::milliseconds(1000));

  EXPECT_EQ(apply_encoded(store, version("s", 1, 1, job_v1, 1, "b")), apply_outcome::fenced) << "b does not hold it";
  EXPECT_EQ(apply_encoded(store, version("s", 1, 1, job_v1, 1, "a")), apply_outcome::applied);
  EXPECT_EQ(apply_encoded(store, claim(2, "b")), apply_outcome::applied);
  EXPECT_EQ(apply_encoded(store, version("s", 2, 2, job_v2, 1, "a")), apply_outcome::fenced) << "a was superseded";
  ASSERT_NE(store.versions_of("s"), nullptr);
  EXPECT_EQ(store.versions_of("s")->size(), 1u);
  EXPECT_EQ(store.next_id(), 2);

  EXPECT_EQ(apply_encoded(store, {.what = resign_fact{}, .epoch = 2, .writer = "b"}), apply_outcome::applied);
  EXPECT_FALSE(store.is_writer("b")) << "resigned";
  EXPECT_EQ(apply_encoded(store, claim(3, "a")), apply_outcome::applied);
  EXPECT_TRUE(store.is_writer("a"));
}

TEST(schema_registry_store, a_fenced_record_that_is_the_latest_of_its_key_is_listed_until_rewritten) {
  schema_store store;
  apply_encoded(store, claim(1, "a"));
  apply_encoded(store, version("s", 1, 1, job_v1, 1, "a"));
  apply_encoded(store, claim(2, "b"));
  EXPECT_TRUE(store.repairs().empty());
  // a, paused past its lease, soft-deletes s v1 and registers s v2: both fenced.
  EXPECT_EQ(apply_encoded(store, version("s", 1, 1, job_v1, 1, "a", version_state::soft_deleted)),
            apply_outcome::fenced);
  EXPECT_EQ(apply_encoded(store, version("s", 2, 2, job_v2, 1, "a")), apply_outcome::fenced);
  EXPECT_FALSE(store.versions_of("s")->at(1).soft_deleted);
  auto repairs = store.repairs();
  ASSERT_EQ(repairs.size(), 2u);
  // s v1: the fact that holds (live); s v2: never held, so a removal.
  const auto& v1 = std::get<schema_fact>(repairs[0]);
  const auto& v2 = std::get<schema_fact>(repairs[1]);
  EXPECT_EQ(v1.version, 1);
  EXPECT_EQ(v1.state, version_state::live);
  EXPECT_EQ(v1.schema, job_v1);
  EXPECT_EQ(v2.version, 2);
  EXPECT_EQ(v2.state, version_state::removed);
  for (const auto& f : repairs)
    EXPECT_EQ(apply_encoded(store, {.what = f, .epoch = 2, .writer = "b"}), apply_outcome::applied);
  EXPECT_TRUE(store.repairs().empty());
  EXPECT_EQ(store.versions_of("s")->size(), 1u);
}

TEST(schema_registry_store, a_replay_of_the_same_records_gives_the_same_state) {
  const std::vector<stamped_fact> log{
      claim(1, "a"),
      version("s", 1, 1, job_v1, 1, "a"),
      claim(2, "b"),
      version("s", 2, 2, job_v2, 1, "a"),  // fenced
      version("t", 1, 1, job_v1, 2, "b"),
      {.what = config_fact{.subject = "t", .level = compatibility_level::full}, .epoch = 2, .writer = "b"}};
  schema_store first, second;
  for (const auto& f : log) apply_encoded(first, f);
  for (const auto& f : log) apply_encoded(second, f);
  EXPECT_EQ(first.subjects(true), second.subjects(true));
  EXPECT_EQ(first.subjects(true), (std::vector<std::string>{"s", "t"}));
  EXPECT_EQ(first.versions_of("s")->size(), 1u);
  EXPECT_EQ(second.versions_of("s")->size(), 1u);
  EXPECT_EQ(first.own_level("t"), compatibility_level::full);
  EXPECT_EQ(second.effective_level("t"), compatibility_level::full);
  EXPECT_EQ(second.effective_level("s"), compatibility_level::backward) << "the default";
  EXPECT_EQ(first.writer().instance, second.writer().instance);
}

TEST(schema_registry_store, an_id_names_one_schema_and_a_schema_has_one_id) {
  schema_store store;
  apply_encoded(store, claim(1, "a"));
  EXPECT_EQ(apply_encoded(store, version("s", 1, 1, job_v1, 1, "a")), apply_outcome::applied);
  EXPECT_EQ(apply_encoded(store, version("t", 1, 1, job_v1_spaced, 1, "a")), apply_outcome::applied)
      << "the same schema, spelled differently, under another subject";
  EXPECT_EQ(apply_encoded(store, version("u", 1, 1, job_v2, 1, "a")), apply_outcome::conflicting)
      << "id 1 is another schema";
  EXPECT_EQ(apply_encoded(store, version("u", 1, 2, job_v1, 1, "a")), apply_outcome::conflicting)
      << "that schema has id 1";
  EXPECT_EQ(apply_encoded(store, version("s", 1, 2, job_v2, 1, "a")), apply_outcome::conflicting) << "s v1 has id 1";
  EXPECT_EQ(store.id_of(schema_identity(job_v1_spaced)), 1);
  EXPECT_EQ(store.version_with("t", schema_identity(job_v1), false), 1);
  EXPECT_EQ(store.schema(1)->versions, 2);
  EXPECT_TRUE(store.schema(1)->parsed.has_value());
}

TEST(schema_registry_store, a_removed_schema_leaves_its_id_behind_for_good) {
  schema_store store;
  apply_encoded(store, claim(1, "a"));
  apply_encoded(store, version("s", 1, 1, job_v1, 1, "a"));
  apply_encoded(store, version("s", 2, 2, job_v2, 1, "a"));
  apply_encoded(store, version("s", 2, 2, job_v2, 1, "a", version_state::soft_deleted));
  EXPECT_EQ(store.subjects(false), std::vector<std::string>{"s"});
  EXPECT_TRUE(store.versions_of("s")->at(2).soft_deleted);
  EXPECT_NE(store.schema(2), nullptr) << "a soft-deleted version's schema stays readable";
  apply_encoded(store, version("s", 2, 2, job_v2, 1, "a", version_state::removed));
  EXPECT_EQ(store.schema(2), nullptr);
  EXPECT_FALSE(store.id_of(schema_identity(job_v2)));
  EXPECT_EQ(store.next_id(), 3) << "id 2 is never given again";
  EXPECT_EQ(store.next_version("s"), 2);
  apply_encoded(store, version("s", 1, 1, job_v1, 1, "a", version_state::soft_deleted));
  EXPECT_TRUE(store.subjects(false).empty());
  EXPECT_EQ(store.subjects(true), std::vector<std::string>{"s"});
  apply_encoded(store, version("s", 1, 1, job_v1, 1, "a", version_state::removed));
  EXPECT_EQ(store.versions_of("s"), nullptr);
  EXPECT_EQ(store.next_id(), 3);
}

}  // namespace
}  // namespace horizons::schema_registry_service
