// The SQLite layer: opening, statements, transactions, and errors that say
// what failed and where.
#include <gtest/gtest.h>

#include <array>
#include <cstddef>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "scratch.hpp"
#include "services/common/sql/sql.hpp"

namespace horizons::sql {
namespace {

using services::testing_common::count_rows;
using services::testing_common::scratch_dir;

database open_or_fail(const std::filesystem::path& path) {
  auto db = database::open(path);
  EXPECT_TRUE(db) << db.error().message;
  return std::move(*db);
}

TEST(common_sqlite, open_creates_the_parent_directories_and_uses_wal) {
  scratch_dir dir;
  auto path = dir / "a/b/c/state.db";
  auto db = database::open(path);
  ASSERT_TRUE(db) << db.error().message;
  EXPECT_TRUE(std::filesystem::is_regular_file(path));
  EXPECT_EQ(db->where().file(), path);
  auto mode = db->prepare("PRAGMA journal_mode");
  ASSERT_TRUE(mode);
  ASSERT_TRUE(mode->next());
  EXPECT_EQ(mode->text(0), "wal");
}

TEST(common_sqlite, several_openers_creating_one_database_at_once_all_succeed) {
  // Instances of a service starting together each create and switch to WAL the same new file.
  scratch_dir dir;
  for (int round = 0; round < 20; ++round) {
    auto file = dir / ("race-" + std::to_string(round) + ".db");
    std::vector<std::string> errors(6);
    std::vector<std::thread> openers;
    for (std::size_t i = 0; i < errors.size(); ++i) {
      openers.emplace_back([&, i] {
        auto db = database::open(location(file));
        if (!db) errors[i] = db.error().message;
      });
    }
    for (auto& t : openers) t.join();
    for (const auto& e : errors) EXPECT_EQ(e, "") << "round " << round;
  }
}

TEST(common_sqlite, open_below_a_file_fails_naming_the_directory) {
  scratch_dir dir;
  std::filesystem::create_directories(dir.path());
  { std::ofstream(dir / "plain-file") << "not a directory"; }
  auto db = database::open(dir / "plain-file/state.db");
  ASSERT_FALSE(db);
  EXPECT_NE(db.error().message.find("cannot create directory"), std::string::npos) << db.error().message;
  EXPECT_NE(db.error().message.find((dir / "plain-file").string()), std::string::npos) << db.error().message;
}

TEST(common_sqlite, binds_every_type_and_reads_it_back) {
  scratch_dir dir;
  auto db = open_or_fail(dir / "t.db");
  ASSERT_TRUE(db.exec("CREATE TABLE t(id INTEGER, name TEXT, score REAL, body BLOB, note TEXT)"));
  auto insert = db.prepare("INSERT INTO t(id, name, score, body, note) VALUES (?1, ?2, ?3, ?4, ?5)");
  ASSERT_TRUE(insert) << insert.error().message;
  const std::array bytes{std::byte{0}, std::byte{0xff}, std::byte{7}};
  ASSERT_TRUE(insert->bind(1, std::int64_t{1} << 40).bind(2, "job-42").bind(3, 2.5).bind(4, bytes).bind_null(5).run());
  EXPECT_EQ(db.changes(), 1);
  // The same statement again: empty text and an empty blob stay values, never NULL.
  ASSERT_TRUE(insert->bind(1, std::int64_t{2})
                  .bind(2, std::string_view{})
                  .bind(3, -1.0)
                  .bind(4, std::span<const std::byte>{})
                  .bind(5, "x")
                  .run());

  auto rows = db.prepare("SELECT id, name, score, body, note FROM t ORDER BY rowid");
  ASSERT_TRUE(rows);
  ASSERT_TRUE(rows->next());
  EXPECT_EQ(rows->integer(0), std::int64_t{1} << 40);
  EXPECT_EQ(rows->text(1), "job-42");
  EXPECT_EQ(rows->real(2), 2.5);
  auto body = rows->blob(3);
  EXPECT_EQ(std::vector(body.begin(), body.end()), std::vector(bytes.begin(), bytes.end()));
  EXPECT_TRUE(rows->is_null(4));
  ASSERT_TRUE(rows->next());
  EXPECT_EQ(rows->integer(0), 2);
  EXPECT_FALSE(rows->is_null(1)) << "an empty string_view must bind as '' (NOT NULL columns refuse NULL)";
  EXPECT_EQ(rows->text(1), "");
  EXPECT_FALSE(rows->is_null(3));
  EXPECT_TRUE(rows->blob(3).empty());
  EXPECT_EQ(rows->text(4), "x");
  EXPECT_FALSE(rows->next());
  EXPECT_FALSE(rows->last_error());
}

TEST(common_sqlite, a_statement_is_reused_by_binding_again_even_mid_rows) {
  scratch_dir dir;
  auto db = open_or_fail(dir / "t.db");
  ASSERT_TRUE(db.exec("CREATE TABLE t(k INTEGER); INSERT INTO t VALUES (1), (2), (3), (4);"));
  auto above = db.prepare("SELECT k FROM t WHERE k > ?1 ORDER BY k");
  ASSERT_TRUE(above);
  above->bind(1, std::int64_t{1});
  ASSERT_TRUE(above->next());
  EXPECT_EQ(above->integer(0), 2);
  // Binding again while rows remain starts the query over.
  above->bind(1, std::int64_t{2});
  std::vector<std::int64_t> seen;
  while (above->next()) seen.push_back(above->integer(0));
  EXPECT_EQ(seen, (std::vector<std::int64_t>{3, 4}));

  auto count = db.prepare("SELECT count(*) FROM t WHERE k >= ?1");
  ASSERT_TRUE(count);
  EXPECT_EQ(*count->bind(1, std::int64_t{3}).single_int(), std::optional<std::int64_t>(2));
  EXPECT_EQ(*count->bind(1, std::int64_t{1}).single_int(), std::optional<std::int64_t>(4));
  auto none = db.prepare("SELECT k FROM t WHERE k > 100");
  ASSERT_TRUE(none);
  EXPECT_EQ(*none->single_int(), std::nullopt);
}

TEST(common_sqlite, a_failed_step_is_reported_and_forgotten_when_the_statement_runs_again) {
  scratch_dir dir;
  auto db = open_or_fail(dir / "t.db");
  ASSERT_TRUE(db.exec("CREATE TABLE t(k INTEGER PRIMARY KEY)"));
  // Rows from a write, the way the outbox relay claims rows: `while (next())`, then last_error().
  auto insert = db.prepare("INSERT INTO t(k) VALUES (?1) RETURNING k");
  ASSERT_TRUE(insert);
  insert->bind(1, std::int64_t{1});
  ASSERT_TRUE(insert->next());
  EXPECT_FALSE(insert->next());
  EXPECT_FALSE(insert->last_error());

  insert->bind(1, std::int64_t{1});
  EXPECT_FALSE(insert->next());
  ASSERT_TRUE(insert->last_error());
  EXPECT_NE(insert->last_error()->message.find("UNIQUE constraint failed"), std::string::npos)
      << insert->last_error()->message;

  insert->bind(1, std::int64_t{2});
  ASSERT_TRUE(insert->next());
  EXPECT_EQ(insert->integer(0), 2);
  EXPECT_FALSE(insert->next());
  EXPECT_FALSE(insert->last_error()) << "stale: " << insert->last_error()->message;
  EXPECT_EQ(count_rows(dir / "t.db", "t"), 2);
}

TEST(common_sqlite, a_transaction_rolls_back_when_destroyed_and_keeps_what_it_committed) {
  scratch_dir dir;
  auto path = dir / "t.db";
  auto db = open_or_fail(path);
  ASSERT_TRUE(db.exec("CREATE TABLE t(k INTEGER)"));
  auto insert = db.prepare("INSERT INTO t(k) VALUES (?1)");
  ASSERT_TRUE(insert);
  {
    auto tx = transaction::begin(db);
    ASSERT_TRUE(tx) << tx.error().message;
    ASSERT_TRUE(insert->bind(1, std::int64_t{1}).run());
    EXPECT_EQ(count_rows(path, "t"), 0) << "another connection must not see uncommitted rows";
  }
  EXPECT_EQ(count_rows(path, "t"), 0);
  {
    auto tx = transaction::begin(db);
    ASSERT_TRUE(tx);
    ASSERT_TRUE(insert->bind(1, std::int64_t{2}).run());
    auto moved = std::move(*tx);  // the moved-from transaction must not roll back on destruction
    ASSERT_TRUE(moved.commit());
  }
  EXPECT_EQ(count_rows(path, "t"), 1);
  // After a commit the connection is free for the next transaction.
  auto again = transaction::begin(db);
  ASSERT_TRUE(again) << again.error().message;
  ASSERT_TRUE(insert->bind(1, std::int64_t{3}).run());
  ASSERT_TRUE(again->commit());
  EXPECT_EQ(count_rows(path, "t"), 2);
}

TEST(common_sqlite, a_transaction_inside_a_transaction_is_an_error_value) {
  scratch_dir dir;
  auto db = open_or_fail(dir / "t.db");
  auto outer = transaction::begin(db);
  ASSERT_TRUE(outer);
  auto inner = transaction::begin(db);
  ASSERT_FALSE(inner);
  EXPECT_NE(inner.error().message.find("BEGIN IMMEDIATE"), std::string::npos) << inner.error().message;
  EXPECT_NE(inner.error().message.find("within a transaction"), std::string::npos) << inner.error().message;
}

TEST(common_sqlite, errors_name_the_statement_and_the_file) {
  scratch_dir dir;
  auto path = dir / "t.db";
  auto db = open_or_fail(path);
  ASSERT_TRUE(db.exec("CREATE TABLE t(k INTEGER NOT NULL)"));

  auto bad = db.prepare("SELEKT k FROM t");
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find("SELEKT k FROM t"), std::string::npos) << bad.error().message;
  EXPECT_NE(bad.error().message.find("syntax error"), std::string::npos) << bad.error().message;
  EXPECT_NE(bad.error().message.find(path.string()), std::string::npos) << bad.error().message;

  auto missing = db.prepare("SELECT k FROM no_such_table");
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.error().message.find("no such table: no_such_table"), std::string::npos) << missing.error().message;

  auto exec = db.exec("INSERT INTO nowhere VALUES (1)");
  ASSERT_FALSE(exec);
  EXPECT_NE(exec.error().message.find("INSERT INTO nowhere"), std::string::npos) << exec.error().message;
  EXPECT_NE(exec.error().message.find(path.string()), std::string::npos) << exec.error().message;

  auto insert = db.prepare("INSERT INTO t(k) VALUES (?1)");
  ASSERT_TRUE(insert);
  auto refused = insert->bind_null(1).run();
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().message.find("INSERT INTO t(k)"), std::string::npos) << refused.error().message;
  EXPECT_NE(refused.error().message.find("NOT NULL constraint failed: t.k"), std::string::npos)
      << refused.error().message;
  EXPECT_NE(refused.error().message.find(path.string()), std::string::npos) << refused.error().message;
  // The failure is the statement's, not the connection's: the next run succeeds.
  ASSERT_TRUE(insert->bind(1, std::int64_t{5}).run());
  EXPECT_EQ(count_rows(path, "t"), 1);
}

TEST(common_sqlite, open_existing_refuses_a_missing_file_and_creates_nothing) {
  scratch_dir dir;
  auto path = dir / "missing/state.db";
  auto db = database::open_existing(path);
  ASSERT_FALSE(db);
  EXPECT_EQ(db.error().message, "no database at " + path.string());
  EXPECT_EQ(db.error().what, error::kind::no_database);
  EXPECT_FALSE(std::filesystem::exists(path.parent_path()));
}

TEST(common_sqlite, open_existing_reads_what_open_wrote) {
  scratch_dir dir;
  auto path = dir / "state.db";
  {
    auto db = open_or_fail(path);
    ASSERT_TRUE(db.exec("CREATE TABLE t(k INTEGER); INSERT INTO t VALUES (7);"));
  }
  auto db = database::open_existing(path);
  ASSERT_TRUE(db) << db.error().message;
  auto k = db->prepare("SELECT k FROM t");
  ASSERT_TRUE(k);
  EXPECT_EQ(*k->single_int(), std::optional<std::int64_t>(7));
}

TEST(common_sqlite, an_exclusive_role_has_one_holder_until_it_is_dropped) {
  scratch_dir dir;
  auto where = location(dir / "svc/state.db");
  auto first = exclusive_role::try_take(where, "evaluator");
  ASSERT_TRUE(first) << first.error().message;
  ASSERT_TRUE(*first);
  EXPECT_TRUE((**first).still_held());
  auto second = exclusive_role::try_take(where, "evaluator");
  ASSERT_TRUE(second) << second.error().message;
  EXPECT_FALSE(*second) << "two holders of one role";
  EXPECT_TRUE(std::filesystem::exists(dir / "svc/state.db.evaluator.lock"));
  first->reset();
  auto third = exclusive_role::try_take(where, "evaluator");
  ASSERT_TRUE(third);
  EXPECT_TRUE(*third) << "the role is free once its holder is gone";
}

}  // namespace
}  // namespace horizons::sql
