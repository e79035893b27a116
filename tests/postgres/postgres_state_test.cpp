// The services' state on a real PostgreSQL server (label `postgres`; the CTest
// fixture starts tools/postgres and sets HORIZONS_TEST_POSTGRES_URL): the SQL
// layer's types and errors, connecting (bad URL, refused, silent server,
// missing database), the connection pool, migrations raced by several
// processes' worth of connections, handle_once raced by two instances, and one
// hash chain from several auditors appending at once.
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <set>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include <horizons/sample.hpp>
#include <horizons/uuid.hpp>

#include "services/common/sql/sql.hpp"
#include "services/common/state_store.hpp"
#include "services/compliance_auditor/ledger.hpp"

namespace horizons {
namespace {

using namespace std::chrono_literals;

std::string server_url() {
  const char* url = std::getenv("HORIZONS_TEST_POSTGRES_URL");
  if (!url || !*url) {
    ADD_FAILURE() << "HORIZONS_TEST_POSTGRES_URL is not set: run through ctest -L postgres (the fixture starts "
                     "tools/postgres and sets it)";
    return "postgresql://horizons@127.0.0.1:1/horizons";
  }
  return url;
}

// A schema no other test uses.
sql::location fresh_schema() {
  return sql::location::postgresql(server_url(), "test_" + uuid::random().to_string().substr(0, 8));
}

sql::database open_or_fail(const sql::location& where) {
  auto db = sql::database::open(where);
  EXPECT_TRUE(db) << db.error().message;
  return std::move(*db);
}

std::int64_t single(sql::database& db, const std::string& query) {
  auto s = db.prepare(query);
  EXPECT_TRUE(s) << s.error().message;
  auto n = s->single_int();
  EXPECT_TRUE(n) << n.error().message;
  return n->value_or(-1);
}

TEST(postgres_sql, binds_every_type_and_reads_it_back) {
  auto db = open_or_fail(fresh_schema());
  ASSERT_TRUE(db.exec("CREATE TABLE t(id INTEGER, name TEXT, score REAL, body BLOB, note TEXT)"));
  auto insert = db.prepare("INSERT INTO t(id, name, score, body, note) VALUES (?1, ?2, ?3, ?4, ?5)");
  ASSERT_TRUE(insert) << insert.error().message;
  const std::array bytes{std::byte{0}, std::byte{0xff}, std::byte{'\\'}, std::byte{'x'}, std::byte{7}};
  ASSERT_TRUE(
      insert->bind(1, std::int64_t{1} << 62).bind(2, "jöb-42 'quoted'").bind(3, 0.1).bind(4, bytes).bind_null(5).run());
  EXPECT_EQ(db.changes(), 1);
  ASSERT_TRUE(insert->bind(1, std::int64_t{-2})
                  .bind(2, std::string_view{})
                  .bind(3, -HUGE_VAL)
                  .bind(4, std::span<const std::byte>{})
                  .bind(5, "x")
                  .run());
  ASSERT_TRUE(insert->bind(1, std::int64_t{3}).bind(2, "nan").bind(3, std::nan("")).bind(4, bytes).bind(5, "").run());

  auto rows = db.prepare("SELECT id, name, score, body, note FROM t ORDER BY id DESC");
  ASSERT_TRUE(rows);
  ASSERT_TRUE(rows->next());
  EXPECT_EQ(rows->integer(0), std::int64_t{1} << 62);
  EXPECT_EQ(rows->text(1), "jöb-42 'quoted'");
  EXPECT_EQ(rows->real(2), 0.1) << "a double travels exactly";
  auto body = rows->blob(3);
  EXPECT_EQ(std::vector(body.begin(), body.end()), std::vector(bytes.begin(), bytes.end()));
  EXPECT_TRUE(rows->is_null(4));
  ASSERT_TRUE(rows->next());
  EXPECT_TRUE(std::isnan(rows->real(2)));
  ASSERT_TRUE(rows->next());
  EXPECT_EQ(rows->integer(0), -2);
  EXPECT_FALSE(rows->is_null(1));
  EXPECT_EQ(rows->text(1), "");
  EXPECT_EQ(rows->real(2), -HUGE_VAL);
  EXPECT_FALSE(rows->is_null(3)) << "an empty blob is a value, not NULL";
  EXPECT_TRUE(rows->blob(3).empty());
  EXPECT_FALSE(rows->next());
  EXPECT_FALSE(rows->last_error());
}

TEST(postgres_sql, a_statement_may_run_while_another_still_has_rows) {
  auto db = open_or_fail(fresh_schema());
  ASSERT_TRUE(db.exec("CREATE TABLE t(k INTEGER PRIMARY KEY, twice INTEGER)"));
  auto insert = db.prepare("INSERT INTO t(k) VALUES (?1)");
  for (std::int64_t k = 1; k <= 50; ++k) ASSERT_TRUE(insert->bind(1, k).run());
  auto all = db.prepare("SELECT k FROM t ORDER BY k");
  auto update = db.prepare("UPDATE t SET twice = ?2 WHERE k = ?1");
  ASSERT_TRUE(all && update);
  std::int64_t seen = 0;
  while (all->next()) {
    ++seen;
    EXPECT_EQ(all->integer(0), seen);
    ASSERT_TRUE(update->bind(1, all->integer(0)).bind(2, 2 * all->integer(0)).run());
    EXPECT_EQ(db.changes(), 1);
  }
  EXPECT_FALSE(all->last_error());
  EXPECT_EQ(seen, 50);
  EXPECT_EQ(single(db, "SELECT sum(twice) FROM t"), 2 * 50 * 51 / 2);
}

TEST(postgres_sql, errors_name_the_statement_and_the_database_but_never_the_password) {
  auto where = fresh_schema();
  auto url = server_url();
  auto with_password =
      sql::location::postgresql(url.replace(url.find("horizons@"), 9, "horizons:s3cret@"), where.schema());
  auto db = open_or_fail(with_password);
  auto bad = db.prepare("SELEKT 1");
  ASSERT_TRUE(bad);  // prepared on first use
  EXPECT_FALSE(bad->next());
  ASSERT_TRUE(bad->last_error());
  const auto& message = bad->last_error()->message;
  EXPECT_NE(message.find("SELEKT 1"), std::string::npos) << message;
  EXPECT_NE(message.find("syntax error"), std::string::npos) << message;
  EXPECT_NE(message.find("schema " + where.schema()), std::string::npos) << message;
  EXPECT_EQ(message.find("s3cret"), std::string::npos) << message;
  EXPECT_NE(message.find("horizons:***@"), std::string::npos) << message;
  // The failure is the statement's: the connection goes on.
  EXPECT_EQ(single(db, "SELECT 41 + 1"), 42);
}

TEST(postgres_sql, a_failed_statement_aborts_only_its_transaction) {
  auto db = open_or_fail(fresh_schema());
  ASSERT_TRUE(db.exec("CREATE TABLE t(k INTEGER PRIMARY KEY)"));
  auto insert = db.prepare("INSERT INTO t(k) VALUES (?1)");
  {
    auto tx = sql::transaction::begin(db);
    ASSERT_TRUE(tx);
    ASSERT_TRUE(insert->bind(1, std::int64_t{1}).run());
    auto dup = insert->bind(1, std::int64_t{1}).run();
    ASSERT_FALSE(dup);
    EXPECT_NE(dup.error().message.find("duplicate key"), std::string::npos) << dup.error().message;
  }  // rolled back
  EXPECT_EQ(single(db, "SELECT count(*) FROM t"), 0);
  auto tx = sql::transaction::begin(db);
  ASSERT_TRUE(tx) << tx.error().message;
  ASSERT_TRUE(insert->bind(1, std::int64_t{2}).run());
  ASSERT_TRUE(tx->commit());
  EXPECT_EQ(single(db, "SELECT count(*) FROM t"), 1);
}

TEST(postgres_connect, a_bad_url_is_refused_before_connecting) {
  auto scheme = sql::location::parse("mysql://root@db/horizons");
  ASSERT_FALSE(scheme);
  EXPECT_NE(scheme.error().message.find("expected sqlite:///<directory> or postgresql://"), std::string::npos)
      << scheme.error().message;
  auto malformed = sql::database::open(sql::location::postgresql("postgresql://horizons@127.0.0.1:15439/h?sslmode"));
  ASSERT_FALSE(malformed);
  EXPECT_NE(malformed.error().message.find("bad PostgreSQL URL"), std::string::npos) << malformed.error().message;
}

TEST(postgres_connect, a_refused_port_a_wrong_password_an_unknown_role_a_missing_database_and_a_silent_server_fail) {
  // Nothing listens on a port just closed.
  auto refused = sql::database::open(sql::location::postgresql("postgresql://horizons@127.0.0.1:1/horizons"));
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().message.find("cannot connect to PostgreSQL at postgresql://horizons@127.0.0.1:1/horizons"),
            std::string::npos)
      << refused.error().message;
  EXPECT_NE(refused.error().message.find("Connection refused"), std::string::npos) << refused.error().message;
  EXPECT_EQ(refused.error().what, sql::error::kind::failed) << "a server that is not there is not an empty one";

  auto url = server_url();
  // tools/postgres admits the role horizons_password only with its password.
  auto wrong = sql::database::open(
      sql::location::postgresql("postgresql://horizons_password:guess@" + url.substr(url.find('@') + 1)));
  ASSERT_FALSE(wrong);
  EXPECT_NE(wrong.error().message.find("password authentication failed for user \"horizons_password\""),
            std::string::npos)
      << wrong.error().message;
  EXPECT_EQ(wrong.error().message.find("guess"), std::string::npos) << "the password is never shown";
  auto right = sql::database::open(
      sql::location::postgresql("postgresql://horizons_password:horizons-password@" + url.substr(url.find('@') + 1)));
  EXPECT_TRUE(right) << right.error().message;

  auto nobody = sql::database::open(sql::location::postgresql("postgresql://nobody@" + url.substr(url.find('@') + 1)));
  ASSERT_FALSE(nobody);
  EXPECT_NE(nobody.error().message.find("role \"nobody\" does not exist"), std::string::npos) << nobody.error().message;

  auto missing = sql::database::open(sql::location::postgresql(url.substr(0, url.rfind('/')) + "/no_such_db"));
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.error().message.find("database \"no_such_db\" does not exist"), std::string::npos)
      << missing.error().message;

  // A server that accepts the connection and never answers: the open ends at connect_timeout.
  int listener = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(listener, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(listener, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
  ASSERT_EQ(::listen(listener, 4), 0);
  socklen_t length = sizeof address;
  ::getsockname(listener, reinterpret_cast<sockaddr*>(&address), &length);
  auto started = std::chrono::steady_clock::now();
  auto silent = sql::database::open(sql::location::postgresql(
      fmt::format("postgresql://horizons@127.0.0.1:{}/horizons?connect_timeout=2", ntohs(address.sin_port))));
  auto took = std::chrono::steady_clock::now() - started;
  ::close(listener);
  ASSERT_FALSE(silent);
  EXPECT_NE(silent.error().message.find("timeout"), std::string::npos) << silent.error().message;
  EXPECT_LT(took, 10s) << "the open must end at connect_timeout, not hang";
}

TEST(postgres_connect, open_existing_refuses_a_missing_schema_and_creates_nothing) {
  auto where = fresh_schema();
  auto db = sql::database::open_existing(where);
  ASSERT_FALSE(db);
  EXPECT_EQ(db.error().message, "no database at " + where.to_string());
  EXPECT_EQ(db.error().what, sql::error::kind::no_database);
  auto other = open_or_fail(sql::location::postgresql(server_url(), "public"));
  auto found = other.prepare("SELECT count(*) FROM pg_namespace WHERE nspname = ?1");
  ASSERT_TRUE(found);
  EXPECT_EQ(*found->bind(1, where.schema()).single_int(), std::optional<std::int64_t>(0));
}

TEST(postgres_connect, a_closed_database_hands_its_connection_to_the_next_open) {
  auto where = fresh_schema();
  std::int64_t first = 0;
  {
    auto db = open_or_fail(where);
    first = single(db, "SELECT pg_backend_pid()");
  }
  auto again = open_or_fail(where);
  EXPECT_EQ(single(again, "SELECT pg_backend_pid()"), first) << "the process's pool reuses the connection";
  auto second = open_or_fail(where);
  EXPECT_NE(single(second, "SELECT pg_backend_pid()"), first) << "a connection in use is never shared";
}

TEST(postgres_connect, a_connection_the_server_dropped_is_reset_before_the_next_statement) {
  auto where = fresh_schema();
  auto db = open_or_fail(where);
  ASSERT_TRUE(db.exec("CREATE TABLE t (k INTEGER)"));
  auto pid = single(db, "SELECT pg_backend_pid()");
  {
    auto other = open_or_fail(where);  // a second connection: the first is in use
    auto end = other.prepare("SELECT pg_terminate_backend(CAST(?1 AS INTEGER))");
    ASSERT_TRUE(end->bind(1, pid).run());
  }
  // The statement that finds the connection gone fails; the caller's retry runs on a new session, with the
  // location's schema again.
  auto insert = db.prepare("INSERT INTO t(k) VALUES (?1)");
  auto lost = insert->bind(1, std::int64_t{1}).run();
  EXPECT_FALSE(lost);
  ASSERT_TRUE(insert->bind(1, std::int64_t{2}).run()) << "the retry runs on a new session";
  EXPECT_NE(single(db, "SELECT pg_backend_pid()"), pid);
  EXPECT_EQ(single(db, "SELECT count(*) FROM t"), 1);
}

TEST(postgres_role, one_process_holds_a_role_and_gives_it_up_when_its_session_is_lost) {
  auto where = fresh_schema();
  auto first = sql::exclusive_role::try_take(where, "evaluator");
  ASSERT_TRUE(first) << first.error().message;
  ASSERT_TRUE(*first);
  auto second = sql::exclusive_role::try_take(where, "evaluator");
  ASSERT_TRUE(second) << second.error().message;
  EXPECT_FALSE(*second) << "two holders of one role";
  EXPECT_TRUE((**first).still_held());

  // The server ends the holder's session (as a restart would): the lock is free, and the holder knows.
  auto admin = open_or_fail(where);
  auto end = admin.prepare(
      "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' AND granted AND objsubid = 1 "
      "AND objid = (hashtext(?1 || ' role ' || ?2)::bigint & 4294967295)::oid");
  ASSERT_TRUE(end->bind(1, where.schema()).bind(2, "evaluator").run());
  EXPECT_FALSE((**first).still_held());
  auto third = sql::exclusive_role::try_take(where, "evaluator");
  ASSERT_TRUE(third) << third.error().message;
  EXPECT_TRUE(*third) << "the role is free once its holder's session ended";
}

constexpr std::array<sql::migration, 2> steps{{
    {1, "CREATE TABLE once (id INTEGER PRIMARY KEY); INSERT INTO once VALUES (1);"},
    {2, "ALTER TABLE once ADD COLUMN note TEXT; INSERT INTO once VALUES (2, 'v2');"},
}};

TEST(postgres_migrate, many_instances_migrating_at_once_apply_each_step_once) {
  auto where = fresh_schema();
  std::vector<std::jthread> instances;
  std::atomic<int> failed{0};
  for (int i = 0; i < 6; ++i) {
    instances.emplace_back([&] {
      auto db = sql::database::open(where);
      if (!db) {
        ++failed;
        ADD_FAILURE() << db.error().message;
        return;
      }
      if (auto done = db->migrate("widgets", steps); !done) {
        ++failed;
        ADD_FAILURE() << done.error().message;
      }
    });
  }
  instances.clear();
  EXPECT_EQ(failed, 0);
  auto db = open_or_fail(where);
  EXPECT_EQ(single(db, "SELECT count(*) FROM once"), 2) << "each step's INSERT ran exactly once";
  EXPECT_EQ(single(db, "SELECT version FROM schema_versions WHERE component = 'widgets'"), 2);
  // A build that knows only version 1 refuses the newer tables.
  auto older = db.migrate("widgets", std::span(steps).first(1));
  ASSERT_FALSE(older);
  EXPECT_NE(older.error().message.find("at version 2, newer than this build knows (1)"), std::string::npos)
      << older.error().message;
}

TEST(postgres_state_store, two_instances_racing_for_one_record_apply_it_once) {
  auto where = fresh_schema();
  auto a = services::state_store::open(where);
  auto b = services::state_store::open(where);
  ASSERT_TRUE(a && b) << (a ? b.error() : a.error());
  ASSERT_TRUE(a->db().exec("CREATE TABLE IF NOT EXISTS effects (source TEXT NOT NULL)"));
  std::vector<uuid> sources(200);
  for (auto& s : sources) s = uuid::random();
  event_sampler sampler(7);
  auto e = sampler.next<job_submitted>();
  std::atomic<int> applied{0};
  auto instance = [&](services::state_store& store) {
    auto effect = store.db().prepare("INSERT INTO effects(source) VALUES (?1)");
    for (const auto& source : sources) {
      auto done = store.handle_once(source, [&](services::outbox& out) -> services::step_result {
        if (auto ok = effect->bind(1, source.to_string()).run(); !ok) return std::unexpected(ok.error().message);
        return out.emit(e);
      });
      ASSERT_TRUE(done) << done.error();
      if (*done) ++applied;
    }
  };
  {
    std::jthread first([&] { instance(*a); });
    std::jthread second([&] { instance(*b); });
  }
  EXPECT_EQ(applied, 200) << "every record once: the second instance saw the first's mark";
  auto db = open_or_fail(where);
  EXPECT_EQ(single(db, "SELECT count(*) FROM effects"), 200);
  EXPECT_EQ(single(db, "SELECT count(DISTINCT source) FROM effects"), 200);
  EXPECT_EQ(single(db, "SELECT count(*) FROM outbox"), 200);
}

TEST(postgres_ledger, auditors_appending_at_once_build_one_verified_chain) {
  auto where = sql::location::postgresql(server_url(), "test_ledger_" + uuid::random().to_string().substr(0, 8));
  event_sampler sampler(11);
  std::vector<audit_event> events;
  for (int i = 0; i < 400; ++i) events.push_back(to_topic_event(sampler.next<audit_compliance_check>()));
  // Four auditors; each appends its quarter plus the next quarter's first 25 (redelivered duplicates).
  std::vector<std::jthread> auditors;
  for (int a = 0; a < 4; ++a) {
    auditors.emplace_back([&, a] {
      auto book = compliance::ledger::open(where);
      ASSERT_TRUE(book) << book.error().message;
      for (int i = a * 100; i < a * 100 + 125; ++i) {
        auto appended = book->append(events[static_cast<std::size_t>(i % 400)]);
        ASSERT_TRUE(appended) << appended.error().message;
      }
    });
  }
  auditors.clear();
  auto book = compliance::ledger::open_existing(where);
  ASSERT_TRUE(book) << book.error().message;
  EXPECT_EQ(*book->count(), 400) << "every event exactly once";
  auto report = book->verify();
  ASSERT_TRUE(report) << report.error().message;
  EXPECT_TRUE(report->ok()) << report->bad->explanation;
  EXPECT_EQ(report->entries_checked, 400);
  EXPECT_EQ(report->first_seq, 1);
  EXPECT_EQ(report->last_seq, 400);

  // Verified in place: an edited entry is found.
  auto db = open_or_fail(where);
  auto edit = db.prepare("UPDATE ledger_entries SET event_type = ?1 WHERE seq = 123");
  ASSERT_TRUE(edit->bind(1, "audit.user.action").run());
  auto tampered = book->verify();
  ASSERT_TRUE(tampered);
  ASSERT_FALSE(tampered->ok());
  EXPECT_EQ(tampered->bad->seq, 123);
}

TEST(postgres_cli, state_migrate_and_audit_verify_work_on_a_state_url) {
  auto url = server_url();
  auto run = [](const std::string& command) {
    std::string output;
    FILE* pipe = ::popen((command + " 2>&1").c_str(), "r");
    std::array<char, 4096> buffer{};
    while (auto n = std::fread(buffer.data(), 1, buffer.size(), pipe)) output.append(buffer.data(), n);
    return std::pair{::pclose(pipe), output};
  };
  auto [migrated, said] = run(fmt::format("'{}' state migrate --state '{}'", HORIZONS_CLI, url));
  EXPECT_EQ(migrated, 0) << said;
  for (auto service :
       {"orchestrator", "metrics-aggregator", "notification-dispatcher", "compliance-auditor", "health-monitor"}) {
    EXPECT_NE(said.find(service), std::string::npos) << said;
  }
  auto [verified, report] = run(fmt::format("HORIZONS_STATE_URL='{}' '{}' audit verify", url, HORIZONS_CLI));
  EXPECT_EQ(verified, 0) << report;
  EXPECT_NE(report.find("schema compliance_auditor"), std::string::npos) << report;
  auto [refused, why] = run(fmt::format("'{}' state migrate --state 'postgres:/nowhere'", HORIZONS_CLI));
  EXPECT_EQ(WEXITSTATUS(refused), 2) << why;
  EXPECT_NE(why.find("--state: unsupported state URL"), std::string::npos) << why;
}

}  // namespace
}  // namespace horizons
