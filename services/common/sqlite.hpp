// A small RAII layer over SQLite for the services' state: a database, its
// prepared statements and transactions. Errors are values.
//
//   auto db = horizons::sqlite::database::open("horizons-data/auditor.db");
//   if (!db) return fail(db.error());
//   auto insert = db->prepare("INSERT INTO t(id, body) VALUES (?1, ?2)");
//   insert->bind(1, "job-42").bind(2, bytes);
//   if (auto done = insert->run(); !done) ...;
//   for (auto rows = db->prepare("SELECT id FROM t"); rows->next();) use(rows->text(0));
//
// A database opens in WAL mode with a busy timeout, so several processes of
// one service (scale-out) can share a file. Threads: one database object per
// thread; SQLite itself serialises writers across processes.
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

struct sqlite3;
struct sqlite3_stmt;

namespace horizons::sqlite {

/// "what was being done: SQLite's message (file)".
struct error {
  std::string message;
};

/// Time columns hold microseconds since the epoch, timestamp's own count.
[[nodiscard]] inline std::int64_t micros(timestamp t) { return t.time_since_epoch().count(); }
[[nodiscard]] inline timestamp from_micros(std::int64_t us) { return timestamp(std::chrono::microseconds(us)); }

class statement {
 public:
  statement(statement&&) noexcept = default;
  statement& operator=(statement&&) noexcept = default;

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

  [[nodiscard]] const std::optional<error>& last_error() const { return error_; }

 private:
  friend class database;
  struct finalizer {
    void operator()(sqlite3_stmt* s) const noexcept;
  };
  statement(sqlite3* db, sqlite3_stmt* stmt) : db_(db), stmt_(stmt) {}
  void reset_if_stepped();
  sqlite3* db_;
  std::unique_ptr<sqlite3_stmt, finalizer> stmt_;
  bool stepped_ = false;
  std::optional<error> error_;
};

class database {
 public:
  /// Opens (creating it and its parent directories) the database at `path`.
  [[nodiscard]] static std::expected<database, error> open(const std::filesystem::path& path);
  /// Opens an existing database (read-write, like open()); a missing file is an error and nothing is created.
  [[nodiscard]] static std::expected<database, error> open_existing(const std::filesystem::path& path);

  database(database&&) noexcept = default;
  database& operator=(database&&) noexcept = default;

  /// Runs one or more statements without results (schema, pragmas).
  [[nodiscard]] std::expected<void, error> exec(std::string_view sql);
  [[nodiscard]] std::expected<statement, error> prepare(std::string_view sql);
  [[nodiscard]] std::int64_t last_insert_rowid() const;
  [[nodiscard]] int changes() const;
  [[nodiscard]] const std::filesystem::path& path() const { return path_; }

 private:
  struct closer {
    void operator()(sqlite3* db) const noexcept;
  };
  static std::expected<database, error> connect(const std::filesystem::path& path, int flags);
  database(std::unique_ptr<sqlite3, closer> db, std::filesystem::path path)
      : db_(std::move(db)), path_(std::move(path)) {}
  std::unique_ptr<sqlite3, closer> db_;
  std::filesystem::path path_;
};

/// BEGIN IMMEDIATE on construction (takes the write lock at once, so two processes never
/// deadlock upgrading a read); ROLLBACK on destruction unless commit() succeeded.
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

}  // namespace horizons::sqlite
