// The services' SQL databases: SQLite (the embedded default, a file per
// service) or PostgreSQL (one database every instance on every host shares),
// behind one small RAII API whose errors are values.
//
//   auto root = horizons::sql::location::parse("postgresql://horizons@db:5432/horizons");  // or "sqlite:///var/lib/h"
//   auto db = horizons::sql::database::open(root->of("metrics-aggregator"));  // schema metrics_aggregator
//   if (!db) return fail(db.error());
//   auto insert = db->prepare("INSERT INTO t(id, body) VALUES (?1, ?2) ON CONFLICT DO NOTHING");
//   insert->bind(1, "job-42").bind(2, bytes);
//   if (auto done = insert->run(); !done) ...;
//   for (auto rows = db->prepare("SELECT id FROM t"); rows->next();) use(rows->text(0));
//
// One SQL text serves both engines. Write the common subset: `?N`
// parameters, `ON CONFLICT ... DO NOTHING / DO UPDATE`, `RETURNING`, no
// engine functions (a scalar max() is `CASE WHEN`). Schemas (migrate(), exec())
// are written in SQLite's types; on PostgreSQL INTEGER becomes BIGINT, REAL
// DOUBLE PRECISION, BLOB BYTEA, `INTEGER PRIMARY KEY AUTOINCREMENT` an
// identity column, and `WITHOUT ROWID` is dropped.
//
// SQLite: WAL mode with a busy timeout; several processes of one service may
// share a file; a transaction takes the write lock at BEGIN (IMMEDIATE).
// PostgreSQL: each component's tables live in its own schema (a location's
// schema; search_path is set on connect), so components never read each
// other's tables; transactions run at READ COMMITTED (the services' notes say
// what each relies on); connections are reused through a small per-process
// pool (database's destructor hands a clean connection back); a server that
// does not answer fails the open after `connect_timeout` (10 s unless the
// URL says otherwise), never hangs.
//
// Threads: one database object (and its statements) per thread at a time.
#pragma once

#include <cstdint>
#include <expected>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include <horizons/timestamp.hpp>

namespace horizons::sql {

namespace detail {
class connection_backend;
class statement_backend;
}  // namespace detail

/// "what was being done: the engine's message (where)".
struct error {
  std::string message;
  /// no_database: open_existing() found nothing there (no SQLite file, no PostgreSQL schema), which
  /// readers of another component's state take as "nothing yet".
  enum class kind : std::uint8_t { failed, no_database } what = kind::failed;
};

/// Time columns hold microseconds since the epoch, timestamp's own count.
[[nodiscard]] inline std::int64_t micros(timestamp t) { return t.time_since_epoch().count(); }
[[nodiscard]] inline timestamp from_micros(std::int64_t us) { return timestamp(std::chrono::microseconds(us)); }

enum class engine { sqlite, postgresql };

/// Where a database is: a SQLite file, or a PostgreSQL database and the schema holding its tables.
/// A state root (what `--state` names) is a location too: a SQLite data directory, or a PostgreSQL
/// database; of() gives one component's database under it.
class location {
 public:
  /// A SQLite file (implicit: every path the services used before is a SQLite file).
  location(std::filesystem::path sqlite_file) : engine_(engine::sqlite), file_(std::move(sqlite_file)) {}  // NOLINT
  /// "sqlite:///abs/dir", "sqlite://rel/dir", "postgresql://user[:password]@host[:port]/db[?params]"
  /// ("postgres://" too). Errors say what was expected.
  [[nodiscard]] static std::expected<location, error> parse(std::string_view url);
  [[nodiscard]] static location postgresql(std::string url, std::string schema = "public");

  /// The database of `component` under this root: SQLite <dir>/<component>/<file_name>; PostgreSQL the
  /// same database, schema `component` with '-' as '_'.
  [[nodiscard]] location of(std::string_view component, std::string_view file_name = "state.db") const;

  [[nodiscard]] engine kind() const { return engine_; }
  [[nodiscard]] const std::filesystem::path& file() const { return file_; }  // SQLite
  [[nodiscard]] const std::string& url() const { return url_; }              // PostgreSQL
  [[nodiscard]] const std::string& schema() const { return schema_; }        // PostgreSQL
  /// For messages: the file, or the URL without its password and the schema.
  [[nodiscard]] std::string to_string() const;

  friend bool operator==(const location&, const location&) = default;

 private:
  location() = default;
  engine engine_ = engine::sqlite;
  std::filesystem::path file_;
  std::string url_;
  std::string schema_;
};

class statement {
 public:
  statement(statement&&) noexcept;
  statement& operator=(statement&&) noexcept;
  ~statement();

  // Binds parameter `index` (1-based); resets the statement first if it was stepped.
  statement& bind(int index, std::int64_t value);
  statement& bind(int index, double value);
  statement& bind(int index, std::string_view text);
  statement& bind(int index, std::span<const std::byte> blob);
  statement& bind_null(int index);

  /// Steps to the next row: true while there is one. An error ends the rows and is kept in last_error()
  /// until the statement runs again.
  [[nodiscard]] bool next();
  /// Runs a statement that returns no rows (INSERT, UPDATE, ...) and resets it for reuse.
  [[nodiscard]] std::expected<void, error> run();
  /// next() then reset: the first row's column 0 as an integer, if there is a row.
  [[nodiscard]] std::expected<std::optional<std::int64_t>, error> single_int();

  [[nodiscard]] std::int64_t integer(int column) const;
  [[nodiscard]] double real(int column) const;
  [[nodiscard]] std::string text(int column) const;
  [[nodiscard]] std::span<const std::byte> blob(int column) const;  // valid until the next step
  [[nodiscard]] bool is_null(int column) const;

  [[nodiscard]] const std::optional<error>& last_error() const;

 private:
  friend class database;
  explicit statement(std::unique_ptr<detail::statement_backend> impl);
  std::unique_ptr<detail::statement_backend> impl_;
};

/// One database version step of a component's tables (migrate()).
struct migration {
  int version;
  std::string_view sql;  // SQLite's types; see the top of this header
};

class database {
 public:
  /// Opens the database at `where`: SQLite creates the file and its folders; PostgreSQL connects and
  /// creates the schema. Errors name the location and say why (bad URL, refused, timed out,
  /// authentication failed, no such database).
  [[nodiscard]] static std::expected<database, error> open(const location& where);
  /// Opens an existing database and creates nothing: a missing SQLite file or PostgreSQL schema is an error.
  [[nodiscard]] static std::expected<database, error> open_existing(const location& where);

  database(database&&) noexcept;
  database& operator=(database&&) noexcept;
  ~database();

  /// Runs one or more statements without results (schema, settings).
  [[nodiscard]] std::expected<void, error> exec(std::string_view sql);
  [[nodiscard]] std::expected<statement, error> prepare(std::string_view sql);
  /// Rows changed by the last INSERT, UPDATE or DELETE run on this database.
  [[nodiscard]] std::int64_t changes() const;
  [[nodiscard]] bool has_table(std::string_view table);
  /// " FOR UPDATE" on PostgreSQL, "" on SQLite: appended to a SELECT inside a transaction, it locks the
  /// rows read until the transaction ends, so a read-then-write is never interleaved with another
  /// instance's (SQLite's BEGIN IMMEDIATE already holds the whole database).
  [[nodiscard]] std::string_view for_update() const { return kind() == engine::postgresql ? " FOR UPDATE" : ""; }
  /// " FOR UPDATE SKIP LOCKED" on PostgreSQL, "" on SQLite: a SELECT (or an UPDATE's subquery) that
  /// claims rows passes over the rows another instance is claiming at that moment.
  [[nodiscard]] std::string_view skip_locked() const {
    return kind() == engine::postgresql ? " FOR UPDATE SKIP LOCKED" : "";
  }
  [[nodiscard]] engine kind() const { return where_.kind(); }
  [[nodiscard]] const location& where() const { return where_; }

  /// Brings `component`'s tables to the last of `steps` (ascending versions), each step in its own
  /// transaction, recording the version in schema_versions. Several processes may migrate at once:
  /// they take turns (SQLite's write lock, a PostgreSQL advisory lock). A database newer than `steps`
  /// is an error (this build is older than the one that wrote it).
  [[nodiscard]] std::expected<void, error> migrate(std::string_view component, std::span<const migration> steps);

 private:
  friend class transaction;
  database(std::unique_ptr<detail::connection_backend> impl, location where);
  std::unique_ptr<detail::connection_backend> impl_;
  location where_;
};

/// One holder at a time among every process sharing a database, for work that must not run twice
/// (the health monitor's evaluation): PostgreSQL, a session advisory lock on a connection of its own;
/// SQLite, an flock() on "<file>.<name>.lock" beside the database. Released when destroyed, and by the
/// server or the kernel when the holder's process dies, so a standby takes over.
class exclusive_role {
 public:
  /// Takes the role if free: nullopt when another process holds it. Errors: the database cannot be
  /// reached, the lock file cannot be made.
  [[nodiscard]] static std::expected<std::optional<exclusive_role>, error> try_take(const location& where,
                                                                                    std::string_view name);
  exclusive_role(exclusive_role&&) noexcept;
  exclusive_role& operator=(exclusive_role&&) noexcept;
  ~exclusive_role();

  /// Whether the role is still this process's: false once a PostgreSQL session holding it was lost (a
  /// server restart or a network break frees the lock for another process). Ask before each piece of
  /// work; drop the role when false. Blocks for one round trip on PostgreSQL.
  [[nodiscard]] bool still_held();

 private:
  struct held;
  explicit exclusive_role(std::unique_ptr<held> h);
  std::unique_ptr<held> held_;
};

/// Begins on construction — SQLite: BEGIN IMMEDIATE (the write lock at once, so two processes never
/// deadlock upgrading a read); PostgreSQL: BEGIN (READ COMMITTED). ROLLBACK on destruction unless
/// commit() succeeded.
class transaction {
 public:
  [[nodiscard]] static std::expected<transaction, error> begin(database& db);
  transaction(transaction&& other) noexcept : db_(other.db_), open_(other.open_) { other.open_ = false; }
  transaction& operator=(transaction&&) = delete;
  ~transaction();
  [[nodiscard]] std::expected<void, error> commit();

 private:
  explicit transaction(database& db) : db_(&db) {}
  database* db_;
  bool open_ = true;
};

}  // namespace horizons::sql
