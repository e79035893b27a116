#include "services/common/sql/sql.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>

#include <fmt/format.h>

#include "services/common/sql/backend.hpp"

namespace horizons::sql {
namespace {

// "postgresql://user:secret@host/db" -> "postgresql://user:***@host/db".
std::string without_password(const std::string& url) {
  auto scheme_end = url.find("://");
  if (scheme_end == std::string::npos) return url;
  auto authority_end = url.find_first_of("/?", scheme_end + 3);
  auto at = url.rfind('@', authority_end == std::string::npos ? url.size() : authority_end);
  if (at == std::string::npos || at < scheme_end) return url;
  auto colon = url.find(':', scheme_end + 3);
  if (colon == std::string::npos || colon > at) return url;
  return url.substr(0, colon + 1) + "***" + url.substr(at);
}

}  // namespace

std::expected<location, error> location::parse(std::string_view url) {
  if (url.starts_with("sqlite://")) {
    auto path = url.substr(std::string_view("sqlite://").size());
    if (path.empty()) return std::unexpected(error{"sqlite:// needs a directory: sqlite:///var/lib/horizons"});
    return location(std::filesystem::path(path));
  }
  if (url.starts_with("postgresql://") || url.starts_with("postgres://")) return postgresql(std::string(url));
  return std::unexpected(error{fmt::format(
      "unsupported state URL '{}': expected sqlite:///<directory> or postgresql://user@host:port/database", url)});
}

location location::postgresql(std::string url, std::string schema) {
  location l;
  l.engine_ = engine::postgresql;
  l.url_ = std::move(url);
  l.schema_ = std::move(schema);
  return l;
}

location location::of(std::string_view component, std::string_view file_name) const {
  if (engine_ == engine::sqlite) return location(file_ / component / file_name);
  std::string schema(component);
  std::ranges::replace(schema, '-', '_');
  return postgresql(url_, std::move(schema));
}

std::string location::to_string() const {
  if (engine_ == engine::sqlite) return file_.string();
  return fmt::format("{} (schema {})", without_password(url_), schema_);
}

// statement: forwards to the engine's.
statement::statement(std::unique_ptr<detail::statement_backend> impl) : impl_(std::move(impl)) {}
statement::statement(statement&&) noexcept = default;
statement& statement::operator=(statement&&) noexcept = default;
statement::~statement() = default;

statement& statement::bind(int index, std::int64_t value) {
  impl_->bind(index, value);
  return *this;
}
statement& statement::bind(int index, double value) {
  impl_->bind(index, value);
  return *this;
}
statement& statement::bind(int index, std::string_view text) {
  impl_->bind(index, text);
  return *this;
}
statement& statement::bind(int index, std::span<const std::byte> blob) {
  impl_->bind(index, blob);
  return *this;
}
statement& statement::bind_null(int index) {
  impl_->bind_null(index);
  return *this;
}
bool statement::next() { return impl_->next(); }

std::expected<void, error> statement::run() {
  while (next()) {
  }
  if (impl_->error_) return std::unexpected(*impl_->error_);
  return {};
}

std::expected<std::optional<std::int64_t>, error> statement::single_int() {
  std::optional<std::int64_t> value;
  if (next()) {
    if (!is_null(0)) value = integer(0);
    impl_->reset();
  }
  if (impl_->error_) return std::unexpected(*impl_->error_);
  return value;
}

std::int64_t statement::integer(int column) const { return impl_->integer(column); }
double statement::real(int column) const { return impl_->real(column); }
std::string statement::text(int column) const { return impl_->text(column); }
std::span<const std::byte> statement::blob(int column) const { return impl_->blob(column); }
bool statement::is_null(int column) const { return impl_->is_null(column); }
const std::optional<error>& statement::last_error() const { return impl_->error_; }

// database
database::database(std::unique_ptr<detail::connection_backend> impl, location where)
    : impl_(std::move(impl)), where_(std::move(where)) {}
database::database(database&&) noexcept = default;
database& database::operator=(database&& other) noexcept {
  if (this != &other) {
    if (impl_ && where_.kind() == engine::postgresql) detail::release_postgresql(std::move(impl_), where_);
    impl_ = std::move(other.impl_);
    where_ = std::move(other.where_);
  }
  return *this;
}
database::~database() {
  // A PostgreSQL connection goes back to the process's pool; a SQLite one closes.
  if (impl_ && where_.kind() == engine::postgresql) detail::release_postgresql(std::move(impl_), where_);
}

std::expected<database, error> database::open(const location& where) {
  auto impl = where.kind() == engine::sqlite ? detail::open_sqlite(where, true) : detail::open_postgresql(where, true);
  if (!impl) return std::unexpected(impl.error());
  return database(std::move(*impl), where);
}

std::expected<database, error> database::open_existing(const location& where) {
  auto impl =
      where.kind() == engine::sqlite ? detail::open_sqlite(where, false) : detail::open_postgresql(where, false);
  if (!impl) return std::unexpected(impl.error());
  return database(std::move(*impl), where);
}

std::expected<void, error> database::exec(std::string_view sql) { return impl_->exec(sql); }

std::expected<statement, error> database::prepare(std::string_view sql) {
  auto made = impl_->prepare(sql);
  if (!made) return std::unexpected(made.error());
  return statement(std::move(*made));
}

std::int64_t database::changes() const { return impl_->changes(); }
bool database::has_table(std::string_view table) { return impl_->has_table(table); }

std::expected<void, error> database::migrate(std::string_view component, std::span<const migration> steps) {
  if (auto made = exec("CREATE TABLE IF NOT EXISTS schema_versions (component TEXT PRIMARY KEY, "
                       "version INTEGER NOT NULL, migrated_at INTEGER NOT NULL)");
      !made) {
    // Two first instances may race to create it; the loser finds it made.
    if (!has_table("schema_versions")) return made;
  }
  if (auto locked = impl_->lock_migrations(component); !locked) return locked;
  struct unlock {
    detail::connection_backend* c;
    std::string_view component;
    ~unlock() { c->unlock_migrations(component); }
  } unlock_at_end{impl_.get(), component};

  auto read = prepare("SELECT version FROM schema_versions WHERE component = ?1");
  auto record = prepare(
      "INSERT INTO schema_versions(component, version, migrated_at) VALUES (?1, ?2, ?3) "
      "ON CONFLICT(component) DO UPDATE SET version = excluded.version, migrated_at = excluded.migrated_at");
  if (!read) return std::unexpected(read.error());
  if (!record) return std::unexpected(record.error());
  const int newest = steps.empty() ? 0 : steps.back().version;
  for (const auto& step : steps) {
    auto tx = transaction::begin(*this);
    if (!tx) return std::unexpected(tx.error());
    auto current = read->bind(1, component).single_int();
    if (!current) return std::unexpected(current.error());
    const auto at = current->value_or(0);
    if (at > newest) {
      return std::unexpected(error{
          fmt::format("{}: the tables of {} are at version {}, newer than this build knows ({}); run a newer horizons",
                      where_.to_string(), component, at, newest)});
    }
    if (at >= step.version) continue;
    if (auto ok = exec(step.sql); !ok) {
      return std::unexpected(
          error{fmt::format("migrating {} to version {}: {}", component, step.version, ok.error().message)});
    }
    record->bind(1, component).bind(2, static_cast<std::int64_t>(step.version)).bind(3, micros(now()));
    if (auto ok = record->run(); !ok) return std::unexpected(ok.error());
    if (auto ok = tx->commit(); !ok) return std::unexpected(ok.error());
  }
  return {};
}

// transaction
std::expected<transaction, error> transaction::begin(database& db) {
  if (auto ok = db.impl_->begin(); !ok) return std::unexpected(ok.error());
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

// exclusive_role
struct exclusive_role::held {
  std::optional<database> session;  // PostgreSQL: the connection whose session holds the lock
  int fd = -1;                      // SQLite: the flock()ed file
  ~held() {
    if (fd >= 0) ::close(fd);  // releases the flock
    // The session lock goes with the connection, which must not return to the pool holding it.
    if (session) (void)session->exec("SELECT pg_advisory_unlock_all()");
  }
};

exclusive_role::exclusive_role(std::unique_ptr<held> h) : held_(std::move(h)) {}

bool exclusive_role::still_held() {
  if (!held_->session) return true;  // an flock lasts as long as its file descriptor
  // A session reset after a break is a new session, without the lock: ask the server whose it is.
  auto mine = held_->session->prepare(
      "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid() AND granted");
  if (!mine) return false;
  auto n = mine->single_int();
  return n && n->value_or(0) > 0;
}
exclusive_role::exclusive_role(exclusive_role&&) noexcept = default;
exclusive_role& exclusive_role::operator=(exclusive_role&&) noexcept = default;
exclusive_role::~exclusive_role() = default;

std::expected<std::optional<exclusive_role>, error> exclusive_role::try_take(const location& where,
                                                                             std::string_view name) {
  auto h = std::make_unique<held>();
  if (where.kind() == engine::sqlite) {
    auto path = where.file();
    path += fmt::format(".{}.lock", name);
    std::error_code ec;
    if (path.has_parent_path()) std::filesystem::create_directories(path.parent_path(), ec);
    h->fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (h->fd < 0)
      return std::unexpected(error{fmt::format("cannot open {}: {}", path.string(), std::strerror(errno))});
    if (::flock(h->fd, LOCK_EX | LOCK_NB) != 0) {
      if (errno == EWOULDBLOCK) return std::nullopt;
      return std::unexpected(error{fmt::format("cannot lock {}: {}", path.string(), std::strerror(errno))});
    }
    return exclusive_role(std::move(h));
  }
  auto db = database::open(where);
  if (!db) return std::unexpected(db.error());
  {
    auto take = db->prepare(
        "SELECT CASE WHEN pg_try_advisory_lock(hashtext(current_schema() || ' role ' || ?1)) "
        "THEN 1 ELSE 0 END");
    if (!take) return std::unexpected(take.error());
    auto got = take->bind(1, name).single_int();
    if (!got) return std::unexpected(got.error());
    if (got->value_or(0) == 0) return std::nullopt;
  }
  h->session.emplace(std::move(*db));
  return exclusive_role(std::move(h));
}

}  // namespace horizons::sql
