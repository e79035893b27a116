// What each engine implements behind sql.hpp. Private to services/common/sql.
#pragma once

#include <cstdint>
#include <expected>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "services/common/sql/sql.hpp"

namespace horizons::sql::detail {

class statement_backend {
 public:
  virtual ~statement_backend() = default;
  virtual void bind(int index, std::int64_t value) = 0;
  virtual void bind(int index, double value) = 0;
  virtual void bind(int index, std::string_view text) = 0;
  virtual void bind(int index, std::span<const std::byte> blob) = 0;
  virtual void bind_null(int index) = 0;
  /// Steps (running the statement on the first call); false at the end or on error (kept in error_).
  virtual bool next() = 0;
  /// Ends the current run (the rest of its rows are dropped); the bindings stay.
  virtual void reset() = 0;
  [[nodiscard]] virtual std::int64_t integer(int column) const = 0;
  [[nodiscard]] virtual double real(int column) const = 0;
  [[nodiscard]] virtual std::string text(int column) const = 0;
  [[nodiscard]] virtual std::span<const std::byte> blob(int column) const = 0;
  [[nodiscard]] virtual bool is_null(int column) const = 0;

  std::optional<error> error_;
};

class connection_backend {
 public:
  virtual ~connection_backend() = default;
  virtual std::expected<void, error> exec(std::string_view sql) = 0;
  virtual std::expected<std::unique_ptr<statement_backend>, error> prepare(std::string_view sql) = 0;
  [[nodiscard]] virtual std::int64_t changes() const = 0;
  virtual std::expected<void, error> begin() = 0;
  /// Serialises migrations of `component` across processes until unlock_migrations() (or the end of
  /// the connection).
  virtual std::expected<void, error> lock_migrations(std::string_view component) = 0;
  virtual void unlock_migrations(std::string_view component) = 0;
  [[nodiscard]] virtual bool has_table(std::string_view table) = 0;
};

std::expected<std::unique_ptr<connection_backend>, error> open_sqlite(const location& where, bool create);
std::expected<std::unique_ptr<connection_backend>, error> open_postgresql(const location& where, bool create);
/// Hands a PostgreSQL connection back to the process's pool (or closes it when it is not clean).
void release_postgresql(std::unique_ptr<connection_backend> connection, const location& where);

}  // namespace horizons::sql::detail
