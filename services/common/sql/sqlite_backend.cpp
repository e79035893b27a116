// SQLite behind sql.hpp: a file per database, WAL, a busy timeout so several
// processes may share it.
#include <sqlite3.h>

#include <chrono>
#include <thread>

#include <fmt/format.h>

#include "services/common/sql/backend.hpp"

namespace horizons::sql::detail {
namespace {

error make_error(sqlite3* db, std::string_view doing) {
  const char* file = db ? sqlite3_db_filename(db, "main") : nullptr;
  return {
      fmt::format("{}: {} ({})", doing, db ? sqlite3_errmsg(db) : "out of memory", file && *file ? file : "memory")};
}

struct finalizer {
  void operator()(sqlite3_stmt* s) const noexcept { sqlite3_finalize(s); }
};
struct closer {
  void operator()(sqlite3* db) const noexcept { sqlite3_close_v2(db); }
};

class sqlite_statement final : public statement_backend {
 public:
  sqlite_statement(sqlite3* db, sqlite3_stmt* stmt) : db_(db), stmt_(stmt) {}

  void bind(int index, std::int64_t value) override {
    reset_if_stepped();
    sqlite3_bind_int64(stmt_.get(), index, value);
  }
  void bind(int index, double value) override {
    reset_if_stepped();
    sqlite3_bind_double(stmt_.get(), index, value);
  }
  void bind(int index, std::string_view text) override {
    reset_if_stepped();
    // An empty string_view may have no data pointer, which SQLite would bind as NULL.
    sqlite3_bind_text(stmt_.get(), index, text.data() ? text.data() : "", static_cast<int>(text.size()),
                      SQLITE_TRANSIENT);
  }
  void bind(int index, std::span<const std::byte> blob) override {
    reset_if_stepped();
    // A zero-length blob must still be a blob, not NULL.
    static const std::byte empty{};
    sqlite3_bind_blob(stmt_.get(), index, blob.empty() ? &empty : blob.data(), static_cast<int>(blob.size()),
                      SQLITE_TRANSIENT);
  }
  void bind_null(int index) override {
    reset_if_stepped();
    sqlite3_bind_null(stmt_.get(), index);
  }

  bool next() override {
    if (!stepped_) error_.reset();  // a new run: an earlier run's error is no longer this one's
    stepped_ = true;
    int rc = sqlite3_step(stmt_.get());
    if (rc == SQLITE_ROW) return true;
    if (rc != SQLITE_DONE)
      error_ = make_error(db_, fmt::format("step '{}'", std::string_view(sqlite3_sql(stmt_.get())).substr(0, 60)));
    reset();
    return false;
  }
  void reset() override {
    sqlite3_reset(stmt_.get());
    stepped_ = false;
  }

  std::int64_t integer(int column) const override { return sqlite3_column_int64(stmt_.get(), column); }
  double real(int column) const override { return sqlite3_column_double(stmt_.get(), column); }
  std::string text(int column) const override {
    const auto* p = sqlite3_column_text(stmt_.get(), column);
    return p ? std::string(reinterpret_cast<const char*>(p),
                           static_cast<std::size_t>(sqlite3_column_bytes(stmt_.get(), column)))
             : std::string();
  }
  std::span<const std::byte> blob(int column) const override {
    const auto* p = static_cast<const std::byte*>(sqlite3_column_blob(stmt_.get(), column));
    return {p, static_cast<std::size_t>(sqlite3_column_bytes(stmt_.get(), column))};
  }
  bool is_null(int column) const override { return sqlite3_column_type(stmt_.get(), column) == SQLITE_NULL; }

 private:
  void reset_if_stepped() {
    if (stepped_) reset();
  }
  sqlite3* db_;
  std::unique_ptr<sqlite3_stmt, finalizer> stmt_;
  bool stepped_ = false;
};

class sqlite_connection final : public connection_backend {
 public:
  sqlite_connection(std::unique_ptr<sqlite3, closer> db, std::filesystem::path path)
      : db_(std::move(db)), path_(std::move(path)) {}

  std::expected<void, error> exec(std::string_view sql) override {
    std::string text(sql);
    char* message = nullptr;
    if (sqlite3_exec(db_.get(), text.c_str(), nullptr, nullptr, &message) != SQLITE_OK) {
      auto failure = error{fmt::format("{} ({}): {}", text.substr(0, 60), path_.string(),
                                       message ? message : sqlite3_errmsg(db_.get()))};
      sqlite3_free(message);
      return std::unexpected(std::move(failure));
    }
    return {};
  }

  std::expected<std::unique_ptr<statement_backend>, error> prepare(std::string_view sql) override {
    sqlite3_stmt* raw = nullptr;
    if (sqlite3_prepare_v2(db_.get(), sql.data(), static_cast<int>(sql.size()), &raw, nullptr) != SQLITE_OK) {
      sqlite3_finalize(raw);
      return std::unexpected(make_error(db_.get(), fmt::format("prepare '{}'", sql.substr(0, 60))));
    }
    return std::make_unique<sqlite_statement>(db_.get(), raw);
  }

  std::int64_t changes() const override { return sqlite3_changes(db_.get()); }
  std::expected<void, error> begin() override { return exec("BEGIN IMMEDIATE"); }
  // Each migration step re-reads the version inside its BEGIN IMMEDIATE, which already takes turns.
  std::expected<void, error> lock_migrations(std::string_view) override { return {}; }
  void unlock_migrations(std::string_view) override {}

  bool has_table(std::string_view table) override {
    sqlite3_stmt* raw = nullptr;
    const char* sql = "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1";
    if (sqlite3_prepare_v2(db_.get(), sql, -1, &raw, nullptr) != SQLITE_OK) {
      sqlite3_finalize(raw);
      return false;
    }
    std::unique_ptr<sqlite3_stmt, finalizer> s(raw);
    sqlite3_bind_text(raw, 1, table.data(), static_cast<int>(table.size()), SQLITE_TRANSIENT);
    return sqlite3_step(raw) == SQLITE_ROW;
  }

 private:
  std::unique_ptr<sqlite3, closer> db_;
  std::filesystem::path path_;
};

}  // namespace

std::expected<std::unique_ptr<connection_backend>, error> open_sqlite(const location& where, bool create) {
  const auto& path = where.file();
  if (create) {
    std::error_code ec;
    if (path.has_parent_path()) std::filesystem::create_directories(path.parent_path(), ec);
    if (ec)
      return std::unexpected(
          error{fmt::format("cannot create directory {}: {}", path.parent_path().string(), ec.message())});
  } else if (!std::filesystem::exists(path)) {
    return std::unexpected(error{fmt::format("no database at {}", path.string()), error::kind::no_database});
  }
  sqlite3* raw = nullptr;
  int flags = SQLITE_OPEN_READWRITE | (create ? SQLITE_OPEN_CREATE : 0) | SQLITE_OPEN_FULLMUTEX;
  int rc = sqlite3_open_v2(path.c_str(), &raw, flags, nullptr);
  std::unique_ptr<sqlite3, closer> owned(raw);
  if (rc != SQLITE_OK) {
    return std::unexpected(error{
        fmt::format("cannot open database {}: {}", path.string(), raw ? sqlite3_errmsg(raw) : sqlite3_errstr(rc))});
  }
  sqlite3_extended_result_codes(raw, 1);
  sqlite3_busy_timeout(raw, 30'000);
  auto connection = std::make_unique<sqlite_connection>(std::move(owned), path);
  if (create) {
    // WAL: readers never block the writer; synchronous=NORMAL survives a process crash (the
    // services' failure model) without an fsync per transaction.
    // Two processes creating one database at once (instances of a service starting together) can both
    // try to switch it to WAL; SQLite answers one of them "database is locked" at once, without its busy
    // handler. Trying again finds the switch made.
    for (int attempt = 1;; ++attempt) {
      auto ok = connection->exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;");
      if (ok) break;
      if ((sqlite3_errcode(raw) & 0xff) != SQLITE_BUSY || attempt == 100) return std::unexpected(ok.error());
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }
  return connection;
}

}  // namespace horizons::sql::detail
