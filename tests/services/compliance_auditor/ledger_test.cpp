// The ledger's contract: every audit event once, in a chain that verify() proves intact and
// in which each kind of after-the-fact tampering (raw SQL on the file) is found and named.
#include "services/compliance_auditor/ledger.hpp"

#include "services/common/sql/sql.hpp"

#include <horizons/byte_buffer.hpp>
#include <horizons/catalogue.hpp>
#include <horizons/codec.hpp>
#include <horizons/json.hpp>
#include <horizons/sample.hpp>

#include <openssl/evp.h>

#include <stdexcept>

#include <unistd.h>

#include <fmt/format.h>
#include <gtest/gtest.h>

namespace {

using namespace horizons;
using namespace horizons::compliance;
using namespace std::chrono_literals;

// The formula from the README, computed independently: SHA-256(prev || seq big-endian || body).
digest expected_hash(const digest& prev, std::int64_t seq, std::span<const std::byte> body) {
  std::vector<unsigned char> input(prev.begin(), prev.end());
  for (int shift = 56; shift >= 0; shift -= 8) {
    input.push_back(static_cast<unsigned char>(static_cast<std::uint64_t>(seq) >> shift));
  }
  const auto* bytes = reinterpret_cast<const unsigned char*>(body.data());
  input.insert(input.end(), bytes, bytes + body.size());
  digest out{};
  unsigned int size = 0;
  EXPECT_EQ(EVP_Digest(input.data(), input.size(), out.data(), &size, EVP_sha256(), nullptr), 1);
  return out;
}

std::vector<std::byte> body_of(const audit_event& e) {
  byte_buffer buffer;
  encode_body(e, buffer);
  return {buffer.bytes().begin(), buffer.bytes().end()};
}

class audit_ledger_test : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* test = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = std::filesystem::path(::testing::TempDir()) /
           fmt::format("ledger-{}-{}-{}", test->test_suite_name(), test->name(), ::getpid());
    std::filesystem::remove_all(dir_);
    path_ = ledger::location_in(sql::location(dir_)).file();
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  // `n` events cycling through every audit type, one minute apart from `start`.
  std::vector<audit_event> sample(int n, timestamp start = now() - 24h) {
    std::vector<std::string_view> audit_types;
    for (auto type : all_event_types) {
      if (topic_of_event_type(type) == topic_id::audit_trail) audit_types.push_back(type);
    }
    std::vector<audit_event> events;
    for (int i = 0; i < n; ++i) {
      auto e = std::get<audit_event>(*sampler_.next(audit_types[static_cast<std::size_t>(i) % audit_types.size()]));
      e.occurred_at = start + std::chrono::minutes(i);
      events.push_back(std::move(e));
    }
    return events;
  }

  ledger open() {
    auto opened = ledger::open(path_);
    if (!opened) throw std::runtime_error(opened.error().message);
    return std::move(*opened);
  }

  // For a test that tampers in several ways, each on a fresh ledger.
  void start_over() {
    TearDown();
    SetUp();
  }

  std::vector<append_result> fill(ledger& l, const std::vector<audit_event>& events) {
    auto appended = l.append(events);
    if (!appended) ADD_FAILURE() << appended.error().message;
    return appended.value_or(std::vector<append_result>{});
  }

  // What someone with write access to the file can do, behind the ledger's back.
  void tamper(std::string_view sql) {
    auto db = sql::database::open(path_);
    ASSERT_TRUE(db) << db.error().message;
    auto done = db->exec(sql);
    ASSERT_TRUE(done) << done.error().message;
  }

  // Moves entries seq >= from up by `by` (or down, negative): SQLite checks the key per row.
  void renumber_from(std::int64_t from, std::int64_t by) {
    tamper(
        fmt::format("UPDATE ledger_entries SET seq = -(seq + {}) WHERE seq >= {};"
                    "UPDATE ledger_entries SET seq = -seq WHERE seq < 0;",
                    by, from));
  }

  // An event to forge: about no job, by one named user, so its indexed columns are easy to fake.
  audit_event forged_event() {
    auto e = to_topic_event(sampler_.next<audit_compliance_check>());
    e.user_id = "mallory";
    return e;
  }

  // Inserts forged_event() `e` at `seq`, linked to `prev` and claiming `hash`.
  void insert_forged(std::int64_t seq, const audit_event& e, const digest& prev, const digest& hash) {
    auto db = sql::database::open(path_);
    ASSERT_TRUE(db);
    auto insert = db->prepare(
        "INSERT INTO ledger_entries(seq, event_id, event_type, occurred_at, job_id, user_id, appended_at, body, "
        "prev_hash, hash) VALUES (?1, ?2, ?3, ?4, NULL, 'mallory', ?4, ?5, ?6, ?7)");
    ASSERT_TRUE(insert);
    auto body = body_of(e);
    insert->bind(1, seq).bind(2, e.event_id.to_string()).bind(3, e.event_type);
    insert->bind(4, e.occurred_at.time_since_epoch().count()).bind(5, body);
    insert->bind(6, std::as_bytes(std::span(prev))).bind(7, std::as_bytes(std::span(hash)));
    ASSERT_TRUE(insert->run());
  }

  static bad_entry expect_bad(ledger& l) {
    auto report = l.verify();
    if (!report) {
      ADD_FAILURE() << report.error().message;
      return {};
    }
    if (report->ok()) {
      ADD_FAILURE() << "tampering not detected";
      return {};
    }
    return *report->bad;
  }

  std::filesystem::path dir_;
  std::filesystem::path path_;
  event_sampler sampler_{20261129};
};

TEST_F(audit_ledger_test, every_audit_type_appends_in_order_and_verifies) {
  auto l = open();
  auto events = sample(20);
  auto appended = fill(l, events);
  ASSERT_EQ(appended.size(), 20u);
  for (std::size_t i = 0; i < appended.size(); ++i) {
    EXPECT_EQ(appended[i].seq, static_cast<std::int64_t>(i + 1));
    EXPECT_FALSE(appended[i].duplicate);
  }
  auto report = l.verify();
  ASSERT_TRUE(report) << report.error().message;
  EXPECT_TRUE(report->ok()) << report->bad->explanation;
  EXPECT_EQ(report->entries_checked, 20);
  EXPECT_EQ(report->first_seq, 1);
  EXPECT_EQ(report->last_seq, 20);
  EXPECT_EQ(report->head_hash, appended.back().hash);
  EXPECT_FALSE(report->checkpoint);
  EXPECT_EQ(l.count().value_or(-1), 20);
}

TEST_F(audit_ledger_test, entry_hash_is_sha256_of_previous_hash_seq_and_avro_body) {
  auto l = open();
  auto events = sample(3);
  digest prev{};
  for (std::size_t i = 0; i < events.size(); ++i) {
    auto appended = l.append(events[i]);
    ASSERT_TRUE(appended);
    auto seq = static_cast<std::int64_t>(i + 1);
    EXPECT_EQ(appended->hash, expected_hash(prev, seq, body_of(events[i])));
    prev = appended->hash;
  }
}

TEST_F(audit_ledger_test, reopened_ledger_keeps_its_entries_and_extends_the_chain) {
  {
    auto l = open();
    fill(l, sample(5));
  }
  auto l = open();
  auto appended = fill(l, sample(5));
  ASSERT_EQ(appended.size(), 5u);
  EXPECT_EQ(appended.front().seq, 6);
  auto report = l.verify();
  ASSERT_TRUE(report);
  EXPECT_TRUE(report->ok());
  EXPECT_EQ(report->entries_checked, 10);
}

TEST_F(audit_ledger_test, appending_an_event_again_changes_nothing) {
  auto l = open();
  auto events = sample(3);
  auto first = l.append(events[0]);
  ASSERT_TRUE(first);
  auto again = l.append(events[0]);
  ASSERT_TRUE(again);
  EXPECT_TRUE(again->duplicate);
  EXPECT_EQ(again->seq, first->seq);
  EXPECT_EQ(again->hash, first->hash);

  // A redelivered batch: the known event is skipped, the new ones appended once each.
  std::vector batch{events[0], events[1], events[2], events[1]};
  auto results = fill(l, batch);
  ASSERT_EQ(results.size(), 4u);
  EXPECT_TRUE(results[0].duplicate);
  EXPECT_FALSE(results[1].duplicate);
  EXPECT_EQ(results[1].seq, 2);
  EXPECT_EQ(results[2].seq, 3);
  EXPECT_TRUE(results[3].duplicate);
  EXPECT_EQ(results[3].seq, 2);
  EXPECT_EQ(l.count().value_or(-1), 3);
  EXPECT_TRUE(l.verify()->ok());
}

TEST_F(audit_ledger_test, two_ledger_objects_on_one_file_extend_one_chain) {
  auto a = open();
  auto b = open();
  auto events = sample(6);
  for (std::size_t i = 0; i < events.size(); ++i) {
    auto appended = (i % 2 ? a : b).append(events[i]);
    ASSERT_TRUE(appended) << appended.error().message;
    EXPECT_EQ(appended->seq, static_cast<std::int64_t>(i + 1));
  }
  EXPECT_TRUE(a.verify()->ok());
}

// --- tampering: each is found, classified, and the first bad seq named

class audit_ledger_tampering_test : public audit_ledger_test {
 protected:
  void SetUp() override {
    audit_ledger_test::SetUp();
    auto l = open();
    appended_ = fill(l, sample(10));
    ASSERT_EQ(appended_.size(), 10u);
  }
  std::vector<append_result> appended_;
};

TEST_F(audit_ledger_tampering_test, an_edited_event_byte_is_found) {
  {
    auto db = sql::database::open(path_);
    ASSERT_TRUE(db);
    auto read = db->prepare("SELECT body FROM ledger_entries WHERE seq = 4");
    ASSERT_TRUE(read && read->next());
    std::vector<std::byte> body(read->blob(0).begin(), read->blob(0).end());
    while (read->next()) {
    }
    body[body.size() / 2] ^= std::byte{0x01};
    auto write = db->prepare("UPDATE ledger_entries SET body = ?1 WHERE seq = 4");
    ASSERT_TRUE(write);
    ASSERT_TRUE(write->bind(1, body).run());
  }
  auto l = open();
  auto bad = expect_bad(l);
  EXPECT_EQ(bad.seq, 4);
  EXPECT_EQ(bad.kind, tamper_kind::edited);
  EXPECT_NE(bad.explanation.find("entry 4"), std::string::npos) << bad.explanation;
}

TEST_F(audit_ledger_tampering_test, an_edited_hash_is_found) {
  tamper("UPDATE ledger_entries SET hash = zeroblob(32) WHERE seq = 4");
  auto l = open();
  auto bad = expect_bad(l);
  EXPECT_EQ(bad.seq, 4);
  EXPECT_EQ(bad.kind, tamper_kind::edited);
}

TEST_F(audit_ledger_tampering_test, an_edited_link_is_found) {
  tamper("UPDATE ledger_entries SET prev_hash = zeroblob(32) WHERE seq = 6");
  auto l = open();
  auto bad = expect_bad(l);
  EXPECT_EQ(bad.seq, 6);
  EXPECT_EQ(bad.kind, tamper_kind::edited);
}

TEST_F(audit_ledger_tampering_test, edited_indexed_columns_are_found) {
  for (auto [column, value] : {std::pair{"job_id", "'job-forged'"}, std::pair{"user_id", "'mallory'"},
                               std::pair{"occurred_at", "0"}, std::pair{"event_id", "'not-the-event'"}}) {
    SCOPED_TRACE(column);
    tamper(fmt::format("UPDATE ledger_entries SET {} = {} WHERE seq = 7", column, value));
    auto l = open();
    auto bad = expect_bad(l);
    EXPECT_EQ(bad.seq, 7);
    EXPECT_EQ(bad.kind, tamper_kind::edited);
    EXPECT_NE(bad.explanation.find(column), std::string::npos) << bad.explanation;
    start_over();
  }
}

TEST_F(audit_ledger_tampering_test, a_deleted_entry_is_found) {
  tamper("DELETE FROM ledger_entries WHERE seq = 5");
  auto l = open();
  auto bad = expect_bad(l);
  EXPECT_EQ(bad.seq, 5);
  EXPECT_EQ(bad.kind, tamper_kind::deleted);
  EXPECT_NE(bad.explanation.find("entry 5 is missing"), std::string::npos) << bad.explanation;
}

TEST_F(audit_ledger_tampering_test, a_deletion_hidden_by_renumbering_is_found) {
  tamper("DELETE FROM ledger_entries WHERE seq = 5");
  renumber_from(6, -1);
  auto l = open();
  EXPECT_EQ(l.count().value_or(-1), 9);
  auto bad = expect_bad(l);
  EXPECT_EQ(bad.seq, 5);
  EXPECT_EQ(bad.kind, tamper_kind::deleted);
}

TEST_F(audit_ledger_tampering_test, a_crudely_forged_entry_is_found_as_inserted) {
  renumber_from(6, 1);
  insert_forged(6, forged_event(), appended_[4].hash, digest{});
  auto l = open();
  auto bad = expect_bad(l);
  EXPECT_EQ(bad.seq, 6);
  EXPECT_EQ(bad.kind, tamper_kind::inserted);
}

TEST_F(audit_ledger_tampering_test, a_forged_entry_with_a_correct_hash_is_found_by_the_entry_after_it) {
  // The forger knows the formula: entry 6 hashes and links correctly, only entry 7 can tell.
  renumber_from(6, 1);
  auto forged = forged_event();
  insert_forged(6, forged, appended_[4].hash, expected_hash(appended_[4].hash, 6, body_of(forged)));
  auto l = open();
  auto report = l.verify();
  ASSERT_TRUE(report);
  ASSERT_FALSE(report->ok());
  EXPECT_EQ(report->bad->seq, 6);
  EXPECT_EQ(report->bad->kind, tamper_kind::inserted);
  EXPECT_EQ(report->entries_checked, 5);
  EXPECT_EQ(report->last_seq, 5);
}

TEST_F(audit_ledger_tampering_test, swapped_entries_are_found_as_reordered) {
  for (auto [a, b] : {std::pair{4, 7}, std::pair{4, 5}}) {
    SCOPED_TRACE(fmt::format("swap {} and {}", a, b));
    tamper(
        fmt::format("UPDATE ledger_entries SET seq = -1 WHERE seq = {0};"
                    "UPDATE ledger_entries SET seq = {0} WHERE seq = {1};"
                    "UPDATE ledger_entries SET seq = {1} WHERE seq = -1;",
                    a, b));
    auto l = open();
    auto bad = expect_bad(l);
    EXPECT_EQ(bad.seq, a);
    EXPECT_EQ(bad.kind, tamper_kind::reordered);
    start_over();
  }
}

TEST_F(audit_ledger_tampering_test, bytes_that_no_longer_decode_are_found_even_with_a_recomputed_hash) {
  // The last entry rewritten with garbage and a hash that matches it: only decoding tells.
  std::vector<std::byte> garbage(12, std::byte{0x7f});
  auto hash = expected_hash(appended_[8].hash, 10, garbage);
  {
    auto db = sql::database::open(path_);
    ASSERT_TRUE(db);
    auto write = db->prepare("UPDATE ledger_entries SET body = ?1, hash = ?2 WHERE seq = 10");
    ASSERT_TRUE(write);
    ASSERT_TRUE(write->bind(1, garbage).bind(2, std::as_bytes(std::span(hash))).run());
  }
  auto l = open();
  auto bad = expect_bad(l);
  EXPECT_EQ(bad.seq, 10);
  EXPECT_EQ(bad.kind, tamper_kind::edited);
  EXPECT_NE(bad.explanation.find("do not decode"), std::string::npos) << bad.explanation;
}

// --- retention

TEST_F(audit_ledger_test, pruning_removes_old_entries_and_the_chain_still_verifies_from_the_checkpoint) {
  auto l = open();
  auto old = fill(l, sample(6, now() - 100 * 24h));
  fill(l, sample(4, now() - 1h));

  auto pruned = l.prune(now() - retention);
  ASSERT_TRUE(pruned) << pruned.error().message;
  EXPECT_EQ(pruned->pruned, 6);
  ASSERT_TRUE(pruned->checkpoint);
  EXPECT_EQ(pruned->checkpoint->seq, 6);
  EXPECT_EQ(pruned->checkpoint->hash, old.back().hash);
  EXPECT_EQ(pruned->checkpoint->pruned_total, 6);
  EXPECT_EQ(l.count().value_or(-1), 4);

  auto report = l.verify();
  ASSERT_TRUE(report);
  EXPECT_TRUE(report->ok()) << report->bad->explanation;
  EXPECT_EQ(report->first_seq, 7);
  EXPECT_EQ(report->last_seq, 10);
  ASSERT_TRUE(report->checkpoint);
  EXPECT_EQ(report->checkpoint->seq, 6);

  // Appends continue the chain, and a second prune with nothing old keeps the checkpoint.
  auto next = l.append(sample(1).front());
  ASSERT_TRUE(next);
  EXPECT_EQ(next->seq, 11);
  auto again = l.prune(now() - retention);
  ASSERT_TRUE(again);
  EXPECT_EQ(again->pruned, 0);
  EXPECT_EQ(again->checkpoint->seq, 6);
  EXPECT_TRUE(l.verify()->ok());
}

TEST_F(audit_ledger_test, pruning_stops_at_the_first_entry_that_is_not_old_enough) {
  auto l = open();
  fill(l, sample(2, now() - 100 * 24h));
  fill(l, sample(1, now() - 1h));
  fill(l, sample(2, now() - 200 * 24h));  // old, but after a recent one: kept, the chain stays contiguous
  auto pruned = l.prune(now() - retention);
  ASSERT_TRUE(pruned);
  EXPECT_EQ(pruned->pruned, 2);
  EXPECT_EQ(pruned->checkpoint->seq, 2);
  EXPECT_EQ(l.count().value_or(-1), 3);
  EXPECT_TRUE(l.verify()->ok());

  // Later prunes add up.
  fill(l, sample(1, now()));
  auto until_now = l.prune(now() + 1s);
  ASSERT_TRUE(until_now);
  EXPECT_EQ(until_now->pruned, 4);
  EXPECT_EQ(until_now->checkpoint->pruned_total, 6);
  EXPECT_EQ(l.count().value_or(-1), 0);
  EXPECT_TRUE(l.verify()->ok());
}

TEST_F(audit_ledger_test, pruning_refuses_a_prefix_that_does_not_verify) {
  auto l = open();
  fill(l, sample(6, now() - 100 * 24h));
  fill(l, sample(2, now() - 1h));
  tamper("UPDATE ledger_entries SET hash = zeroblob(32) WHERE seq = 3");
  auto pruned = l.prune(now() - retention);
  ASSERT_FALSE(pruned);
  EXPECT_NE(pruned.error().message.find("entry 3"), std::string::npos) << pruned.error().message;
  EXPECT_EQ(l.count().value_or(-1), 8);
}

class audit_ledger_pruned_test : public audit_ledger_test {
 protected:
  void SetUp() override {
    audit_ledger_test::SetUp();
    auto l = open();
    fill(l, sample(6, now() - 100 * 24h));
    fill(l, sample(4, now() - 1h));
    auto pruned = l.prune(now() - retention);
    ASSERT_TRUE(pruned && pruned->pruned == 6);
  }
};

TEST_F(audit_ledger_pruned_test, tampering_with_the_first_remaining_entry_is_found) {
  tamper("UPDATE ledger_entries SET body = body || x'00' WHERE seq = 7");
  auto l = open();
  auto bad = expect_bad(l);
  EXPECT_EQ(bad.seq, 7);
  EXPECT_EQ(bad.kind, tamper_kind::edited);
}

TEST_F(audit_ledger_pruned_test, an_edited_checkpoint_is_found) {
  for (auto edit : {"UPDATE ledger_checkpoint SET hash = zeroblob(32)", "UPDATE ledger_checkpoint SET seq = 4"}) {
    SCOPED_TRACE(edit);
    tamper(edit);
    auto l = open();
    auto bad = expect_bad(l);
    EXPECT_EQ(bad.seq, 7);
    EXPECT_EQ(bad.kind, tamper_kind::checkpoint);
    EXPECT_NE(bad.explanation.find("checkpoint"), std::string::npos) << bad.explanation;
    start_over();
  }
}

TEST_F(audit_ledger_pruned_test, a_deleted_checkpoint_leaves_the_pruned_entries_missing) {
  tamper("DELETE FROM ledger_checkpoint");
  auto l = open();
  auto bad = expect_bad(l);
  EXPECT_EQ(bad.seq, 1);
  EXPECT_EQ(bad.kind, tamper_kind::deleted);
  EXPECT_NE(bad.explanation.find("entries 1..6 are missing"), std::string::npos) << bad.explanation;
}

// --- queries

TEST_F(audit_ledger_test, queries_filter_by_job_user_and_time) {
  auto l = open();
  auto start = now() - 24h;
  auto events = sample(10, start);
  // Two records about one job: its lifecycle, and an action whose target is the job.
  auto lifecycle = to_topic_event(sampler_.next<audit_job_lifecycle>());
  lifecycle.payload = audit_job_lifecycle{.job_id = "job-42",
                                          .lifecycle_event = "submitted",
                                          .previous_state = std::nullopt,
                                          .new_state = job_status::submitted,
                                          .initiated_by = "alice",
                                          .datasets_affected = 1,
                                          .records_affected = 10,
                                          .compute_hours = 0};
  lifecycle.user_id.reset();
  lifecycle.occurred_at = start + 30min;
  auto action = to_topic_event(sampler_.next<audit_action_recorded>());
  std::get<audit_action_recorded>(action.payload).resource_type = resource_type::job;
  std::get<audit_action_recorded>(action.payload).resource_id = "job-42";
  action.user_id = "bob";
  action.occurred_at = start + 40min;
  events.push_back(lifecycle);
  events.push_back(action);
  fill(l, events);

  auto by_job = l.query({.job_id = "job-42"});
  ASSERT_TRUE(by_job) << by_job.error().message;
  ASSERT_EQ(by_job->size(), 2u);
  EXPECT_EQ((*by_job)[0].seq, 11);
  EXPECT_EQ((*by_job)[0].event_type, "audit.job.lifecycle");
  EXPECT_EQ((*by_job)[0].user_id, "alice");  // no envelope user: the one who initiated it
  EXPECT_EQ((*by_job)[0].event_json, to_json(lifecycle));
  EXPECT_EQ((*by_job)[1].user_id, "bob");
  EXPECT_EQ((*by_job)[1].event_id, action.event_id.to_string());
  EXPECT_EQ((*by_job)[1].hash.size(), 64u);

  auto by_user = l.query({.user_id = "alice"});
  ASSERT_TRUE(by_user);
  ASSERT_EQ(by_user->size(), 1u);
  EXPECT_EQ(by_user->front().seq, 11);

  // Minutes 3..6 of the first ten, then the limit.
  auto window = l.query({.since = start + 3min, .until = start + 7min});
  ASSERT_TRUE(window);
  ASSERT_EQ(window->size(), 4u);
  EXPECT_EQ(window->front().seq, 4);
  EXPECT_EQ(window->back().seq, 7);
  auto limited = l.query({.since = start + 3min, .limit = 2});
  ASSERT_TRUE(limited);
  EXPECT_EQ(limited->size(), 2u);
  auto combined = l.query({.job_id = "job-42", .since = start + 35min});
  ASSERT_TRUE(combined);
  ASSERT_EQ(combined->size(), 1u);
  EXPECT_EQ(combined->front().seq, 12);
  EXPECT_TRUE(l.query({.job_id = "job-none"})->empty());
}

}  // namespace
