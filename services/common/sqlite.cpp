#include "services/common/sqlite.hpp"

#include <sqlite3.h>

#include <fmt/format.h>

namespace horizons::sqlite {
namespace {

error make_error(sqlite3* db, std::string_view doing) {
  const char* file = db ? sqlite3_db_filename(db, "main") : nullptr;
  return {
      fmt::format("{}: {} ({})", doing, db ? sqlite3_errmsg(db) : "out of memory", file && *file ? file : "memory")};
}

}  // namespace

void statement::finalizer::operator()(sqlite3_stmt* s) const noexcept { sqlite3_finalize(s); }
void database::closer::operator()(sqlite3* db) const noexcept { sqlite3_close_v2(db); }

std::expected<database, error> database::connect(const std::filesystem::path& path, int flags) {
  sqlite3* raw = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &raw, flags | SQLITE_OPEN_FULLMUTEX, nullptr);
  std::unique_ptr<sqlite3, closer> owned(raw);
  if (rc != SQLITE_OK) {
    return std::unexpected(error{
        fmt::format("cannot open database {}: {}", path.string(), raw ? sqlite3_errmsg(raw) : sqlite3_errstr(rc))});
  }
  sqlite3_extended_result_codes(raw, 1);
  sqlite3_busy_timeout(raw, 30'000);
  return database(std::move(owned), path);
}

std::expected<database, error> database::open(const std::filesystem::path& path) {
  std::error_code ec;
  if (path.has_parent_path()) std::filesystem::create_directories(path.parent_path(), ec);
  if (ec)
    return std::unexpected(
        error{fmt::format("cannot create directory {}: {}", path.parent_path().string(), ec.message())});
  auto db = connect(path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
  if (!db) return db;
  // WAL: readers never block the writer; synchronous=NORMAL survives a process crash (the
  // services' failure model) without an fsync per transaction.
  if (auto ok = db->exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;"); !ok) {
    return std::unexpected(ok.error());
  }
  return db;
}

std::expected<database, error> database::open_existing(const std::filesystem::path& path) {
  if (!std::filesystem::exists(path)) return std::unexpected(error{fmt::format("no database at {}", path.string())});
  return connect(path, SQLITE_OPEN_READWRITE);
}

std::expected<void, error> database::exec(std::string_view sql) {
  std::string text(sql);
  char* message = nullptr;
  if (sqlite3_exec(db_.get(), text.c_str(), nullptr, nullptr, &message) != SQLITE_OK) {
    auto failure = error{
        fmt::format("{} ({}): {}", text.substr(0, 60), path_.string(), message ? message : sqlite3_errmsg(db_.get()))};
    sqlite3_free(message);
    return std::unexpected(std::move(failure));
  }
  return {};
}

std::expected<statement, error> database::prepare(std::string_view sql) {
  sqlite3_stmt* raw = nullptr;
  if (sqlite3_prepare_v2(db_.get(), sql.data(), static_cast<int>(sql.size()), &raw, nullptr) != SQLITE_OK) {
    sqlite3_finalize(raw);
    return std::unexpected(make_error(db_.get(), fmt::format("prepare '{}'", sql.substr(0, 60))));
  }
  return statement(db_.get(), raw);
}

std::int64_t database::last_insert_rowid() const { return sqlite3_last_insert_rowid(db_.get()); }
int database::changes() const { return sqlite3_changes(db_.get()); }

void statement::reset_if_stepped() {
  if (stepped_) {
    sqlite3_reset(stmt_.get());
    stepped_ = false;
  }
}

statement& statement::bind(int index, std::int64_t value) {
  reset_if_stepped();
  sqlite3_bind_int64(stmt_.get(), index, value);
  return *this;
}
statement& statement::bind(int index, double value) {
  reset_if_stepped();
  sqlite3_bind_double(stmt_.get(), index, value);
  return *this;
}
statement& statement::bind(int index, std::string_view text) {
  reset_if_stepped();
  // An empty string_view may have no data pointer, which SQLite would bind as NULL.
  sqlite3_bind_text(stmt_.get(), index, text.data() ? text.data() : "", static_cast<int>(text.size()),
                    SQLITE_TRANSIENT);
  return *this;
}
statement& statement::bind(int index, std::span<const std::byte> blob) {
  reset_if_stepped();
  // A zero-length blob must still be a blob, not NULL.
  static const std::byte empty{};
  sqlite3_bind_blob(stmt_.get(), index, blob.empty() ? &empty : blob.data(), static_cast<int>(blob.size()),
                    SQLITE_TRANSIENT);
  return *this;
}
statement& statement::bind_null(int index) {
  reset_if_stepped();
  sqlite3_bind_null(stmt_.get(), index);
  return *this;
}

bool statement::next() {
  if (!stepped_) error_.reset();  // a new run: an earlier run's error is no longer this one's
  stepped_ = true;
  int rc = sqlite3_step(stmt_.get());
  if (rc == SQLITE_ROW) return true;
  if (rc != SQLITE_DONE)
    error_ = make_error(db_, fmt::format("step '{}'", std::string_view(sqlite3_sql(stmt_.get())).substr(0, 60)));
  sqlite3_reset(stmt_.get());
  stepped_ = false;
  return false;
}

std::expected<void, error> statement::run() {
  while (next()) {
  }
  if (error_) return std::unexpected(*error_);
  return {};
}

std::expected<std::optional<std::int64_t>, error> statement::single_int() {
  std::optional<std::int64_t> value;
  if (next()) {
    if (!is_null(0)) value = integer(0);
    sqlite3_reset(stmt_.get());
    stepped_ = false;
  }
  if (error_) return std::unexpected(*error_);
  return value;
}

std::int64_t statement::integer(int column) const { return sqlite3_column_int64(stmt_.get(), column); }
double statement::real(int column) const { return sqlite3_column_double(stmt_.get(), column); }
std::string statement::text(int column) const {
  const auto* p = sqlite3_column_text(stmt_.get(), column);
  return p ? std::string(reinterpret_cast<const char*>(p),
                         static_cast<std::size_t>(sqlite3_column_bytes(stmt_.get(), column)))
           : std::string();
}
std::span<const std::byte> statement::blob(int column) const {
  const auto* p = static_cast<const std::byte*>(sqlite3_column_blob(stmt_.get(), column));
  return {p, static_cast<std::size_t>(sqlite3_column_bytes(stmt_.get(), column))};
}
bool statement::is_null(int column) const { return sqlite3_column_type(stmt_.get(), column) == SQLITE_NULL; }

std::expected<transaction, error> transaction::begin(database& db) {
  if (auto ok = db.exec("BEGIN IMMEDIATE"); !ok) return std::unexpected(ok.error());
  return transaction(db);
}

transaction::~transaction() {
  if (open_) (void)db_->exec("ROLLBACK");
}

std::expected<void, error> transaction::commit() {
  if (auto ok = db_->exec("COMMIT"); !ok) return std::unexpected(ok.error());
  open_ = false;
  return {};
}

}  // namespace horizons::sqlite
