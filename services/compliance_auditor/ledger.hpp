// The compliance auditor's ledger: every audit event, once, in a hash-chained,
// append-only table (SQLite or PostgreSQL), so that editing, deleting, inserting or reordering
// an entry after the fact is detected by verify().
//
//   using horizons::compliance::ledger;
//   auto book = ledger::open(ledger::location_in(root));   // root: the state root (--state)
//   if (!book) return fail(book.error().message);
//   auto appended = book->append(event);                // idempotent by event_id: appended->duplicate
//   auto report = book->verify();                       // report->ok(), else report->bad->seq
//   auto entries = book->query({.job_id = "job-42"});
//   auto pruned = book->prune(horizons::now() - horizons::compliance::retention);
//
// Entry n stores the event's canonical bytes (its Avro body, codec.hpp's
// encode_body) and hash(n) = SHA-256(hash(n-1) || n as 8 bytes big-endian ||
// bytes), where hash(0) is 32 zero bytes, or after a prune the checkpoint's
// hash of the last pruned entry. The indexed columns (event id, type, time,
// job, user) are derived from the bytes and checked against them by verify().
//
// What the chain cannot tell on its own: entries removed from the end, or a
// whole chain rewritten by someone who recomputes every hash. The auditor
// signs the head now and then, outside the database (signed_heads.hpp), so
// that `horizons audit verify --checkpoints` catches those.
//
// Several processes may share one ledger, on one host (SQLite) or many
// (PostgreSQL): each append is one transaction that reads the head and
// inserts after it while holding the ledger's write turn, so sequence numbers
// and links never race and there is one chain. SQLite: BEGIN IMMEDIATE is the
// turn. PostgreSQL: a transaction-scoped advisory lock, taken before the head
// is read. Not a row lock on the head: the head is the last entry, or the
// prune checkpoint, or nothing at all in an empty ledger, so there is no one
// row every appender could lock; and SERIALIZABLE would turn every race into
// a failed transaction to retry. Under READ COMMITTED each statement after the
// lock sees what the previous holder committed. Threads: one ledger object per
// thread.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <expected>
#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include <horizons/events.hpp>
#include <horizons/timestamp.hpp>

#include "services/common/sql/sql.hpp"

namespace horizons::compliance {

/// How long entries are kept (the audit-trail topic's retention too).
inline constexpr std::chrono::days retention{90};

using digest = std::array<std::uint8_t, 32>;
[[nodiscard]] std::string to_hex(const digest& d);
/// Lower-case hex of any bytes.
[[nodiscard]] std::string to_hex(std::span<const std::byte> bytes);

struct ledger_error {
  std::string message{};
};

struct append_result {
  std::int64_t seq = 0;
  digest hash{};
  bool duplicate = false;  // the event id was already in the ledger; nothing changed
};

/// An entry of the chain: its sequence number and hash.
struct chain_position {
  std::int64_t seq = 0;
  digest hash{};
};

/// Entries before the chain's first remaining entry were pruned; the chain continues from here.
struct checkpoint {
  std::int64_t seq = 0;           // the last pruned entry
  digest hash{};                  // its hash
  std::int64_t pruned_total = 0;  // entries pruned over the ledger's life
  timestamp pruned_at{};
};

enum class tamper_kind : std::uint8_t {
  edited,       // an entry's bytes, hash or indexed columns no longer match
  deleted,      // an entry is missing from the chain
  inserted,     // an entry that was never appended sits in the chain
  reordered,    // entries are out of their appended order
  broken_link,  // an intact entry links to a predecessor that is not there
  checkpoint,   // the checkpoint does not lead to the first remaining entry
};
[[nodiscard]] std::string_view to_string(tamper_kind kind);

struct bad_entry {
  std::int64_t seq = 0;  // the first entry that is wrong (or missing)
  tamper_kind kind = tamper_kind::edited;
  std::string explanation{};  // one line naming the entry
};

struct verify_report {
  std::int64_t entries_checked = 0;  // entries found good before the first bad one
  std::int64_t first_seq = 0;        // the range checked (0 when empty)
  std::int64_t last_seq = 0;
  digest head_hash{};  // when ok(): the hash new entries link to (last entry's, checkpoint's or zeros)
  std::optional<compliance::checkpoint> checkpoint{};
  std::optional<bad_entry> bad{};
  [[nodiscard]] bool ok() const { return !bad; }
};

struct query_filter {
  std::optional<std::string> job_id{};
  std::optional<std::string> user_id{};
  std::optional<timestamp> since{};  // occurred_at >= since
  std::optional<timestamp> until{};  // occurred_at < until
  std::optional<std::size_t> limit{};
};

struct ledger_entry {
  std::int64_t seq = 0;
  std::string event_id{};
  std::string event_type{};
  timestamp occurred_at{};
  std::optional<std::string> job_id{};
  std::optional<std::string> user_id{};
  std::string hash{};        // hex
  std::string event_json{};  // the decoded event, json.hpp's to_json
};

struct prune_report {
  std::int64_t pruned = 0;
  std::optional<compliance::checkpoint> checkpoint{};  // after the prune (nullopt: never pruned)
};

class ledger {
 public:
  /// Opens the ledger at `where`, creating the database and its tables if needed.
  [[nodiscard]] static std::expected<ledger, ledger_error> open(const sql::location& where);
  /// Opens an existing ledger without writing to it, so a read-only copy can be verified;
  /// a missing database, or one without a ledger, is an error.
  [[nodiscard]] static std::expected<ledger, ledger_error> open_existing(const sql::location& where);
  /// The ledger under a state root: <data_dir>/compliance-auditor/ledger.db, or the PostgreSQL
  /// schema compliance_auditor.
  [[nodiscard]] static sql::location location_in(const sql::location& root);

  ledger(ledger&&) noexcept = default;
  ledger& operator=(ledger&&) noexcept = default;

  /// Appends one event in its own transaction. A second append of the same event id is a no-op.
  [[nodiscard]] std::expected<append_result, ledger_error> append(const audit_event& e);
  /// Appends several events in one transaction (all or none); results in input order.
  [[nodiscard]] std::expected<std::vector<append_result>, ledger_error> append(std::span<const audit_event> events);

  /// Walks the whole chain from the checkpoint and stops at the first bad entry.
  /// An error only when the ledger cannot be read; tampering is in the report.
  [[nodiscard]] std::expected<verify_report, ledger_error> verify();

  /// Entries matching every given filter, in chain order.
  [[nodiscard]] std::expected<std::vector<ledger_entry>, ledger_error> query(const query_filter& filter);

  /// Removes the longest prefix of the chain whose entries all occurred before `older_than`
  /// and records the last removed entry as the checkpoint, in one transaction. Refuses
  /// (error) if that prefix does not verify: pruning must never launder tampering.
  [[nodiscard]] std::expected<prune_report, ledger_error> prune(timestamp older_than);

  [[nodiscard]] std::expected<std::int64_t, ledger_error> count();
  /// The position new entries link to: the last entry, else the prune checkpoint, else seq 0 and zeros.
  [[nodiscard]] std::expected<chain_position, ledger_error> head();
  /// The stored hash of entry `seq`; nullopt when the ledger holds no such entry (or a malformed hash).
  [[nodiscard]] std::expected<std::optional<digest>, ledger_error> hash_at(std::int64_t seq);
  /// Whether the ledger holds an entry for `event_id`.
  [[nodiscard]] std::expected<bool, ledger_error> contains(const uuid& event_id);
  [[nodiscard]] const sql::location& where() const { return db_.where(); }

 private:
  explicit ledger(sql::database db) : db_(std::move(db)) {}
  static std::expected<ledger, ledger_error> with_tables(std::expected<sql::database, sql::error> db);
  // Verifies the chain from the checkpoint through `last_seq` (all of it when nullopt).
  std::expected<verify_report, ledger_error> walk(std::optional<std::int64_t> last_seq);

  sql::database db_;
  std::optional<sql::statement> append_turn_;  // PostgreSQL: the advisory lock appends take turns by
};

}  // namespace horizons::compliance
