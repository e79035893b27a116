#include "services/compliance_auditor/ledger.hpp"

#include "services/compliance_auditor/auditor.hpp"

#include <horizons/byte_buffer.hpp>
#include <horizons/codec.hpp>
#include <horizons/json.hpp>

#include <openssl/evp.h>

#include <cstring>
#include <limits>
#include <memory>
#include <stdexcept>
#include <tuple>

#include <fmt/format.h>

namespace horizons::compliance {

namespace {

constexpr std::array<sql::migration, 1> schema{{{1, R"sql(
CREATE TABLE IF NOT EXISTS ledger_entries (
  seq         INTEGER PRIMARY KEY,
  event_id    TEXT NOT NULL UNIQUE,
  event_type  TEXT NOT NULL,
  occurred_at INTEGER NOT NULL,
  job_id      TEXT,
  user_id     TEXT,
  appended_at INTEGER NOT NULL,
  body        BLOB NOT NULL,
  prev_hash   BLOB NOT NULL,
  hash        BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS ledger_entries_by_job ON ledger_entries(job_id, seq);
CREATE INDEX IF NOT EXISTS ledger_entries_by_user ON ledger_entries(user_id, seq);
CREATE INDEX IF NOT EXISTS ledger_entries_by_time ON ledger_entries(occurred_at);
CREATE TABLE IF NOT EXISTS ledger_checkpoint (
  id           INTEGER PRIMARY KEY CHECK (id = 1),
  seq          INTEGER NOT NULL,
  hash         BLOB NOT NULL,
  pruned_total INTEGER NOT NULL,
  pruned_at    INTEGER NOT NULL
);
)sql"}}};

constexpr std::string_view entry_columns =
    "seq, prev_hash, hash, body, event_id, event_type, occurred_at, job_id, user_id";

ledger_error from(const sql::error& e) { return {e.message}; }

using sql::from_micros;
using sql::micros;

std::span<const std::byte> bytes_of(const digest& d) { return std::as_bytes(std::span(d)); }

std::optional<digest> as_digest(std::span<const std::byte> blob) {
  if (blob.size() != digest{}.size()) return std::nullopt;
  digest d;
  std::memcpy(d.data(), blob.data(), d.size());
  return d;
}

// Enough of a hash to recognise it in a message.
std::string short_hex(const std::optional<digest>& d) { return d ? to_hex(*d).substr(0, 16) : "(malformed)"; }

// SHA-256 from OpenSSL's EVP interface; one context reused for every entry.
class sha256 {
 public:
  sha256() : ctx_(EVP_MD_CTX_new()) {
    if (!ctx_) throw std::bad_alloc();
  }

  // hash(seq) = SHA-256(prev || seq as 8 bytes big-endian || body)
  digest entry_hash(const digest& prev, std::int64_t seq, std::span<const std::byte> body) {
    std::array<unsigned char, 8> seq_bytes;
    for (std::size_t i = 0; i < seq_bytes.size(); ++i) {
      seq_bytes[i] = static_cast<unsigned char>(static_cast<std::uint64_t>(seq) >> (56 - 8 * i));
    }
    digest out;
    unsigned int size = 0;
    if (EVP_DigestInit_ex(ctx_.get(), EVP_sha256(), nullptr) != 1 ||
        EVP_DigestUpdate(ctx_.get(), prev.data(), prev.size()) != 1 ||
        EVP_DigestUpdate(ctx_.get(), seq_bytes.data(), seq_bytes.size()) != 1 ||
        EVP_DigestUpdate(ctx_.get(), body.data(), body.size()) != 1 ||
        EVP_DigestFinal_ex(ctx_.get(), out.data(), &size) != 1 || size != out.size()) {
      // Only a broken OpenSSL installation gets here; no ledger can work without it.
      throw std::runtime_error("OpenSSL SHA-256 failed");
    }
    return out;
  }

 private:
  struct freer {
    void operator()(EVP_MD_CTX* ctx) const noexcept { EVP_MD_CTX_free(ctx); }
  };
  std::unique_ptr<EVP_MD_CTX, freer> ctx_;
};

// The indexed columns, derived from the event so that verify() can re-derive and compare them.
std::optional<std::string> job_of(const audit_event& e) {
  if (const auto* p = std::get_if<audit_job_lifecycle>(&e.payload)) return p->job_id;
  if (const auto* p = std::get_if<audit_action_recorded>(&e.payload); p && p->resource_type == resource_type::job) {
    return p->resource_id;
  }
  return std::nullopt;
}

std::optional<std::string> user_of(const audit_event& e) {
  if (e.user_id) return e.user_id;
  return std::visit(
      [](const auto& p) -> std::optional<std::string> {
        using payload = std::decay_t<decltype(p)>;
        if constexpr (std::is_same_v<payload, audit_action_recorded>) return p.actor_id;
        if constexpr (std::is_same_v<payload, audit_policy_changed>) return p.changed_by;
        if constexpr (std::is_same_v<payload, audit_data_access>) return p.accessor_id;
        if constexpr (std::is_same_v<payload, audit_job_lifecycle>) return p.initiated_by;
        return std::nullopt;
      },
      e.payload);
}

// Reads the first row of a lookup with `read`, then steps to the end so the statement resets.
template <class Read>
auto first_row(sql::statement& s, Read read)
    -> std::expected<std::optional<std::invoke_result_t<Read, sql::statement&>>, ledger_error> {
  std::optional<std::invoke_result_t<Read, sql::statement&>> value;
  if (s.next()) {
    value = read(s);
    while (s.next()) {
    }
  }
  if (s.last_error()) return std::unexpected(from(*s.last_error()));
  return value;
}

std::expected<sql::statement, ledger_error> prepare(sql::database& db, std::string_view sql) {
  auto s = db.prepare(sql);
  if (!s) return std::unexpected(from(s.error()));
  return std::move(*s);
}

std::expected<std::optional<checkpoint>, ledger_error> read_checkpoint(sql::database& db) {
  auto s = prepare(db, "SELECT seq, hash, pruned_total, pruned_at FROM ledger_checkpoint WHERE id = 1");
  if (!s) return std::unexpected(s.error());
  auto row = first_row(*s, [](sql::statement& r) {
    // A malformed hash (tampering) reads as all ones: it then matches no entry's link.
    digest hash;
    hash.fill(0xff);
    if (auto d = as_digest(r.blob(1))) hash = *d;
    return checkpoint{
        .seq = r.integer(0), .hash = hash, .pruned_total = r.integer(2), .pruned_at = from_micros(r.integer(3))};
  });
  if (!row) return std::unexpected(row.error());
  return *row;
}

// The entry new appends link to: the last entry, else the checkpoint, else the genesis (seq 0, zeros).
std::expected<chain_position, ledger_error> read_head(sql::database& db) {
  auto last = prepare(db, "SELECT seq, hash FROM ledger_entries ORDER BY seq DESC LIMIT 1");
  if (!last) return std::unexpected(last.error());
  auto row = first_row(*last, [](sql::statement& r) { return std::pair{r.integer(0), as_digest(r.blob(1))}; });
  if (!row) return std::unexpected(row.error());
  if (*row) {
    auto [seq, hash] = **row;
    if (!hash) {
      return std::unexpected(ledger_error{
          fmt::format("the last ledger entry ({}) has a malformed hash; run `horizons audit verify`", seq)});
    }
    return chain_position{seq, *hash};
  }
  auto cp = read_checkpoint(db);
  if (!cp) return std::unexpected(cp.error());
  if (*cp) return chain_position{(*cp)->seq, (*cp)->hash};
  return chain_position{};
}

// Appends inside an open write transaction; `head` moves along with each new entry.
class appender {
 public:
  static std::expected<appender, ledger_error> start(sql::database& db) {
    auto head = read_head(db);
    if (!head) return std::unexpected(head.error());
    auto find = prepare(db, "SELECT seq, hash FROM ledger_entries WHERE event_id = ?1");
    if (!find) return std::unexpected(find.error());
    auto insert = prepare(db,
                          "INSERT INTO ledger_entries(seq, event_id, event_type, occurred_at, job_id, user_id, "
                          "appended_at, body, prev_hash, hash) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)");
    if (!insert) return std::unexpected(insert.error());
    return appender(*head, std::move(*find), std::move(*insert));
  }

  std::expected<append_result, ledger_error> append(const audit_event& e) {
    auto event_id = e.event_id.to_string();
    find_.bind(1, event_id);
    auto existing = first_row(find_, [](sql::statement& r) {
      return append_result{.seq = r.integer(0), .hash = as_digest(r.blob(1)).value_or(digest{}), .duplicate = true};
    });
    if (!existing) return std::unexpected(existing.error());
    if (*existing) return **existing;

    body_.clear();
    encode_body(e, body_);
    auto seq = head_.seq + 1;
    auto hash = sha_.entry_hash(head_.hash, seq, body_.bytes());
    auto job = job_of(e);
    auto user = user_of(e);
    insert_.bind(1, seq).bind(2, event_id).bind(3, e.event_type).bind(4, micros(e.occurred_at));
    job ? insert_.bind(5, *job) : insert_.bind_null(5);
    user ? insert_.bind(6, *user) : insert_.bind_null(6);
    insert_.bind(7, micros(now())).bind(8, body_.bytes()).bind(9, bytes_of(head_.hash)).bind(10, bytes_of(hash));
    if (auto done = insert_.run(); !done) return std::unexpected(from(done.error()));
    head_ = {seq, hash};
    return append_result{.seq = seq, .hash = hash, .duplicate = false};
  }

 private:
  appender(chain_position head, sql::statement find, sql::statement insert)
      : head_(head), find_(std::move(find)), insert_(std::move(insert)) {}
  chain_position head_;
  sql::statement find_;
  sql::statement insert_;
  byte_buffer body_;
  sha256 sha_;
};

// One stored entry as verify() reads it; spans point into the current row.
struct stored_entry {
  std::int64_t seq = 0;
  std::optional<digest> prev_hash;
  std::optional<digest> hash;
  std::span<const std::byte> body;
  std::string event_id;
  std::string event_type;
  std::int64_t occurred_at = 0;
  std::optional<std::string> job_id;
  std::optional<std::string> user_id;
};

stored_entry read_entry(const sql::statement& r) {
  auto optional_text = [&](int column) { return r.is_null(column) ? std::nullopt : std::optional(r.text(column)); };
  return {.seq = r.integer(0),
          .prev_hash = as_digest(r.blob(1)),
          .hash = as_digest(r.blob(2)),
          .body = r.blob(3),
          .event_id = r.text(4),
          .event_type = r.text(5),
          .occurred_at = r.integer(6),
          .job_id = optional_text(7),
          .user_id = optional_text(8)};
}

std::string shown(const std::optional<std::string>& value) { return value ? fmt::format("'{}'", *value) : "null"; }

// Walks entries in seq order. Each entry must sit at the next seq, link to the hash before it,
// hash to its stored hash, decode, and agree with its indexed columns. At the first entry that
// does not, the neighbours tell what happened to it.
class chain_checker {
 public:
  using result = std::expected<std::optional<bad_entry>, ledger_error>;

  chain_checker(sql::database& db, std::optional<checkpoint> cp)
      : db_(db), checkpoint_(cp), expected_seq_(cp ? cp->seq + 1 : 1), expected_prev_(cp ? cp->hash : digest{}) {}

  [[nodiscard]] const digest& head_hash() const { return expected_prev_; }

  // nullopt when `e` extends the chain.
  result check(const stored_entry& e) {
    result bad = std::nullopt;
    if (e.seq != expected_seq_) {
      bad = misplaced(e);
    } else if (e.prev_hash != expected_prev_) {
      bad = mislinked(e);
    } else if (e.hash != sha_.entry_hash(*e.prev_hash, e.seq, e.body)) {
      bad = misdigested(e);
    } else {
      bad = undecodable_or_mislabelled(e);
    }
    if (!bad || *bad) return bad;
    expected_prev_ = *e.hash;
    expected_seq_ = e.seq + 1;
    first_ = false;
    return bad;
  }

 private:
  static result found(std::int64_t seq, tamper_kind kind, std::string explanation) {
    return bad_entry{.seq = seq, .kind = kind, .explanation = std::move(explanation)};
  }

  [[nodiscard]] bool self_consistent(const stored_entry& e) {
    return e.prev_hash && e.hash == sha_.entry_hash(*e.prev_hash, e.seq, e.body);
  }
  [[nodiscard]] bool after_checkpoint() const { return first_ && checkpoint_; }

  // What the chain says comes just before `seq`.
  [[nodiscard]] std::string predecessor(std::int64_t seq) const {
    if (checkpoint_ && seq - 1 == checkpoint_->seq) {
      return fmt::format("the checkpoint (last pruned entry {})", seq - 1);
    }
    if (seq - 1 <= 0) return "the start of the ledger";
    return fmt::format("entry {}", seq - 1);
  }

  result checkpoint_edited(const stored_entry& e) {
    return found(e.seq, tamper_kind::checkpoint,
                 fmt::format("entry {} (linked to {}) does not follow the checkpoint (last pruned entry {}, hash {}): "
                             "the checkpoint was edited",
                             e.seq, short_hex(e.prev_hash), checkpoint_->seq, short_hex(checkpoint_->hash)));
  }

  // The entry is not at the next sequence number.
  result misplaced(const stored_entry& e) {
    if (after_checkpoint() && e.prev_hash == checkpoint_->hash && self_consistent(e)) return checkpoint_edited(e);
    if (e.seq < expected_seq_) {
      return found(e.seq, tamper_kind::inserted,
                   checkpoint_
                       ? fmt::format("entry {} was inserted: entries through {} were pruned", e.seq, checkpoint_->seq)
                       : fmt::format("entry {} was inserted: sequence numbers start at 1", e.seq));
    }
    auto missing = e.seq - 1 == expected_seq_ ? fmt::format("entry {} is missing", expected_seq_)
                                              : fmt::format("entries {}..{} are missing", expected_seq_, e.seq - 1);
    return found(expected_seq_, tamper_kind::deleted,
                 fmt::format("{}: entry {} comes right after {}", missing, e.seq, predecessor(expected_seq_)));
  }

  // At the right seq, but its stored link is not the previous entry's hash.
  result mislinked(const stored_entry& e) {
    if (after_checkpoint() && self_consistent(e)) return checkpoint_edited(e);
    if (e.hash == sha_.entry_hash(expected_prev_, e.seq, e.body)) {
      return found(
          e.seq, tamper_kind::edited,
          fmt::format("entry {} was edited: its stored link is not the hash of {}", e.seq, predecessor(e.seq)));
    }
    std::expected<std::optional<std::int64_t>, ledger_error> linked = std::nullopt;
    if (e.prev_hash) linked = seq_with_hash(*e.prev_hash, e.seq);
    if (!linked) return std::unexpected(linked.error());
    if (*linked && **linked > e.seq) {
      return found(
          e.seq, tamper_kind::reordered,
          fmt::format("entry {} is out of order: it holds the entry appended after entry {}", e.seq, **linked));
    }
    if (*linked) {
      // Entries between the one it links to and itself were never appended.
      auto first = **linked + 1;
      auto inserted = first == e.seq - 1 ? fmt::format("entry {} was inserted", first)
                                         : fmt::format("entries {}..{} were inserted", first, e.seq - 1);
      return found(first, tamper_kind::inserted,
                   fmt::format("{}: entry {} links straight to entry {}", inserted, e.seq, **linked));
    }
    if (self_consistent(e)) {
      return found(e.seq, tamper_kind::broken_link,
                   fmt::format("entry {} is intact but links to a hash ({}) that is not {}'s nor any entry's", e.seq,
                               short_hex(e.prev_hash), predecessor(e.seq)));
    }
    return found(e.seq, tamper_kind::deleted,
                 fmt::format("entry {} links to an entry that is no longer in the ledger: an entry before it was "
                             "deleted and the later ones renumbered",
                             e.seq));
  }

  // Linked correctly, but its contents do not hash to its stored hash.
  result misdigested(const stored_entry& e) {
    auto next = prepare(db_, "SELECT prev_hash FROM ledger_entries WHERE seq > ?1 ORDER BY seq LIMIT 1");
    if (!next) return std::unexpected(next.error());
    next->bind(1, e.seq);
    auto next_link = first_row(*next, [](sql::statement& r) { return as_digest(r.blob(0)); });
    if (!next_link) return std::unexpected(next_link.error());
    if (*next_link && **next_link == expected_prev_) {
      return found(
          e.seq, tamper_kind::inserted,
          fmt::format("entry {} was inserted: the entry after it links straight to {}", e.seq, predecessor(e.seq)));
    }
    return found(e.seq, tamper_kind::edited,
                 fmt::format("entry {} was edited: its hash does not match its event bytes", e.seq));
  }

  // The chain holds; the bytes must still decode and the indexed columns must agree with them.
  result undecodable_or_mislabelled(const stored_entry& e) {
    if (auto decoded = decode_body(e.body, event_); !decoded) {
      return found(
          e.seq, tamper_kind::edited,
          fmt::format("entry {} was edited: its event bytes do not decode ({})", e.seq, decoded.error().message));
    }
    using column = std::tuple<std::string_view, std::optional<std::string>, std::optional<std::string>>;
    const std::array<column, 5> columns{{
        {"event_id", e.event_id, event_.event_id.to_string()},
        {"event_type", e.event_type, event_.event_type},
        {"occurred_at", std::to_string(e.occurred_at), std::to_string(micros(event_.occurred_at))},
        {"job_id", e.job_id, job_of(event_)},
        {"user_id", e.user_id, user_of(event_)},
    }};
    for (const auto& [name, stored, derived] : columns) {
      if (stored != derived) {
        return found(e.seq, tamper_kind::edited,
                     fmt::format("entry {} was edited: its {} column says {} but its event says {}", e.seq, name,
                                 shown(stored), shown(derived)));
      }
    }
    return std::nullopt;
  }

  // The seq of another entry whose stored hash is `hash`.
  std::expected<std::optional<std::int64_t>, ledger_error> seq_with_hash(const digest& hash, std::int64_t except) {
    auto s = prepare(db_, "SELECT seq FROM ledger_entries WHERE hash = ?1 AND seq != ?2 LIMIT 1");
    if (!s) return std::unexpected(s.error());
    s->bind(1, bytes_of(hash)).bind(2, except);
    auto seq = s->single_int();
    if (!seq) return std::unexpected(from(seq.error()));
    return *seq;
  }

  sql::database& db_;
  std::optional<checkpoint> checkpoint_;
  std::int64_t expected_seq_;
  digest expected_prev_;
  bool first_ = true;
  sha256 sha_;
  audit_event event_;
};

}  // namespace

std::string to_hex(std::span<const std::byte> bytes) {
  std::string out;
  out.reserve(bytes.size() * 2);
  for (auto b : bytes) fmt::format_to(std::back_inserter(out), "{:02x}", std::to_integer<unsigned>(b));
  return out;
}

std::string to_hex(const digest& d) { return to_hex(bytes_of(d)); }

std::string_view to_string(tamper_kind kind) {
  switch (kind) {
    case tamper_kind::edited: return "edited";
    case tamper_kind::deleted: return "deleted";
    case tamper_kind::inserted: return "inserted";
    case tamper_kind::reordered: return "reordered";
    case tamper_kind::broken_link: return "broken_link";
    case tamper_kind::checkpoint: return "checkpoint";
  }
  return "unknown";
}

sql::location ledger::location_in(const sql::location& root) { return root.of(descriptor.name, "ledger.db"); }

std::expected<ledger, ledger_error> ledger::with_tables(std::expected<sql::database, sql::error> db) {
  if (!db) return std::unexpected(from(db.error()));
  if (auto ok = db->migrate("ledger", schema); !ok) return std::unexpected(from(ok.error()));
  return ledger(std::move(*db));
}

std::expected<ledger, ledger_error> ledger::open(const sql::location& where) {
  auto db = with_tables(sql::database::open(where));
  if (!db) return db;
  if (db->db_.kind() == sql::engine::postgresql) {
    auto turn = prepare(db->db_, "SELECT pg_advisory_xact_lock(hashtext(current_schema() || ' ledger append'))");
    if (!turn) return std::unexpected(turn.error());
    db->append_turn_.emplace(std::move(*turn));
  }
  return db;
}

std::expected<ledger, ledger_error> ledger::open_existing(const sql::location& where) {
  // Writes nothing, so that a ledger on read-only storage (a backup, evidence) can be verified.
  auto db = sql::database::open_existing(where);
  if (!db) {
    if (db.error().what == sql::error::kind::no_database) {
      return std::unexpected(ledger_error{fmt::format("no ledger at {}", where.to_string())});
    }
    return std::unexpected(from(db.error()));
  }
  if (!db->has_table("ledger_entries")) {
    return std::unexpected(
        ledger_error{fmt::format("{} is not a ledger (no ledger_entries table)", where.to_string())});
  }
  return ledger(std::move(*db));
}

std::expected<append_result, ledger_error> ledger::append(const audit_event& e) {
  auto appended = append(std::span(&e, 1));
  if (!appended) return std::unexpected(appended.error());
  return appended->front();
}

std::expected<std::vector<append_result>, ledger_error> ledger::append(std::span<const audit_event> events) {
  // The head read and the inserts form one unit against every other writer: on SQLite BEGIN
  // IMMEDIATE takes the write lock; on PostgreSQL a transaction-scoped advisory lock does (see the
  // header for why not a row lock).
  auto tx = sql::transaction::begin(db_);
  if (!tx) return std::unexpected(from(tx.error()));
  if (append_turn_) {
    if (auto turn = append_turn_->run(); !turn) return std::unexpected(from(turn.error()));
  }
  auto writer = appender::start(db_);
  if (!writer) return std::unexpected(writer.error());
  std::vector<append_result> results;
  results.reserve(events.size());
  for (const auto& e : events) {
    auto appended = writer->append(e);
    if (!appended) return std::unexpected(appended.error());
    results.push_back(*appended);
  }
  if (auto done = tx->commit(); !done) return std::unexpected(from(done.error()));
  return results;
}

std::expected<verify_report, ledger_error> ledger::walk(std::optional<std::int64_t> last_seq) {
  auto cp = read_checkpoint(db_);
  if (!cp) return std::unexpected(cp.error());
  verify_report report{.checkpoint = *cp};
  auto rows = prepare(db_, fmt::format("SELECT {} FROM ledger_entries WHERE seq <= ?1 ORDER BY seq", entry_columns));
  if (!rows) return std::unexpected(rows.error());
  rows->bind(1, last_seq.value_or(std::numeric_limits<std::int64_t>::max()));
  chain_checker checker(db_, *cp);
  while (rows->next()) {
    auto entry = read_entry(*rows);
    auto bad = checker.check(entry);
    if (!bad) return std::unexpected(bad.error());
    if (*bad) {
      report.bad = std::move(**bad);
      break;
    }
    if (report.entries_checked++ == 0) report.first_seq = entry.seq;
    report.last_seq = entry.seq;
  }
  if (rows->last_error()) return std::unexpected(from(*rows->last_error()));
  // Entries found inserted only by the entry after them were counted as good: uncount them.
  if (report.bad && report.entries_checked > 0 && report.bad->seq <= report.last_seq) {
    report.entries_checked -= report.last_seq - report.bad->seq + 1;
    report.last_seq = report.bad->seq - 1;
    if (report.entries_checked == 0) report.first_seq = report.last_seq = 0;
  }
  report.head_hash = checker.head_hash();
  return report;
}

std::expected<verify_report, ledger_error> ledger::verify() { return walk(std::nullopt); }

std::expected<std::vector<ledger_entry>, ledger_error> ledger::query(const query_filter& filter) {
  std::string sql = "SELECT seq, event_id, event_type, occurred_at, job_id, user_id, hash, body FROM ledger_entries";
  std::vector<std::string_view> conditions;
  if (filter.job_id) conditions.push_back("job_id = ?1");
  if (filter.user_id) conditions.push_back("user_id = ?2");
  if (filter.since) conditions.push_back("occurred_at >= ?3");
  if (filter.until) conditions.push_back("occurred_at < ?4");
  for (std::size_t i = 0; i < conditions.size(); ++i) sql += fmt::format(" {} {}", i ? "AND" : "WHERE", conditions[i]);
  sql += " ORDER BY seq";
  if (filter.limit) sql += " LIMIT ?5";

  auto rows = prepare(db_, sql);
  if (!rows) return std::unexpected(rows.error());
  if (filter.job_id) rows->bind(1, *filter.job_id);
  if (filter.user_id) rows->bind(2, *filter.user_id);
  if (filter.since) rows->bind(3, micros(*filter.since));
  if (filter.until) rows->bind(4, micros(*filter.until));
  if (filter.limit) rows->bind(5, static_cast<std::int64_t>(*filter.limit));

  std::vector<ledger_entry> entries;
  audit_event decoded;
  while (rows->next()) {
    auto seq = rows->integer(0);
    if (auto ok = decode_body(rows->blob(7), decoded); !ok) {
      return std::unexpected(ledger_error{fmt::format(
          "entry {}: event bytes do not decode ({}); run `horizons audit verify`", seq, ok.error().message)});
    }
    entries.push_back({.seq = seq,
                       .event_id = rows->text(1),
                       .event_type = rows->text(2),
                       .occurred_at = from_micros(rows->integer(3)),
                       .job_id = rows->is_null(4) ? std::nullopt : std::optional(rows->text(4)),
                       .user_id = rows->is_null(5) ? std::nullopt : std::optional(rows->text(5)),
                       .hash = to_hex(rows->blob(6)),
                       .event_json = to_json(decoded)});
  }
  if (rows->last_error()) return std::unexpected(from(*rows->last_error()));
  return entries;
}

std::expected<prune_report, ledger_error> ledger::prune(timestamp older_than) {
  auto tx = sql::transaction::begin(db_);
  if (!tx) return std::unexpected(from(tx.error()));
  // The prefix ends just before the first entry that is not old enough.
  auto last = prepare(db_,
                      "SELECT MAX(seq) FROM ledger_entries WHERE seq < "
                      "COALESCE((SELECT MIN(seq) FROM ledger_entries WHERE occurred_at >= ?1), 9223372036854775807)");
  if (!last) return std::unexpected(last.error());
  last->bind(1, micros(older_than));
  auto last_seq = last->single_int();
  if (!last_seq) return std::unexpected(from(last_seq.error()));
  if (!*last_seq) {
    auto cp = read_checkpoint(db_);
    if (!cp) return std::unexpected(cp.error());
    return prune_report{.pruned = 0, .checkpoint = *cp};
  }

  auto prefix = walk(*last_seq);
  if (!prefix) return std::unexpected(prefix.error());
  if (prefix->bad) {
    return std::unexpected(ledger_error{fmt::format("refusing to prune: {}", prefix->bad->explanation)});
  }
  auto remove = prepare(db_, "DELETE FROM ledger_entries WHERE seq <= ?1");
  if (!remove) return std::unexpected(remove.error());
  if (auto done = remove->bind(1, **last_seq).run(); !done) return std::unexpected(from(done.error()));
  std::int64_t pruned = db_.changes();

  checkpoint cp{.seq = **last_seq,
                .hash = prefix->head_hash,
                .pruned_total = (prefix->checkpoint ? prefix->checkpoint->pruned_total : 0) + pruned,
                .pruned_at = now()};
  auto record = prepare(db_,
                        "INSERT INTO ledger_checkpoint(id, seq, hash, pruned_total, pruned_at) "
                        "VALUES (1, ?1, ?2, ?3, ?4) ON CONFLICT(id) DO UPDATE SET seq = excluded.seq, "
                        "hash = excluded.hash, pruned_total = excluded.pruned_total, pruned_at = excluded.pruned_at");
  if (!record) return std::unexpected(record.error());
  record->bind(1, cp.seq).bind(2, bytes_of(cp.hash)).bind(3, cp.pruned_total).bind(4, micros(cp.pruned_at));
  if (auto done = record->run(); !done) return std::unexpected(from(done.error()));
  if (auto done = tx->commit(); !done) return std::unexpected(from(done.error()));
  return prune_report{.pruned = pruned, .checkpoint = cp};
}

std::expected<std::int64_t, ledger_error> ledger::count() {
  auto s = prepare(db_, "SELECT COUNT(*) FROM ledger_entries");
  if (!s) return std::unexpected(s.error());
  auto n = s->single_int();
  if (!n) return std::unexpected(from(n.error()));
  return n->value_or(0);
}

std::expected<chain_position, ledger_error> ledger::head() { return read_head(db_); }

std::expected<std::optional<digest>, ledger_error> ledger::hash_at(std::int64_t seq) {
  auto s = prepare(db_, "SELECT hash FROM ledger_entries WHERE seq = ?1");
  if (!s) return std::unexpected(s.error());
  s->bind(1, seq);
  auto row = first_row(*s, [](sql::statement& r) { return as_digest(r.blob(0)); });
  if (!row) return std::unexpected(row.error());
  if (!*row) return std::nullopt;
  return **row;
}

std::expected<bool, ledger_error> ledger::contains(const uuid& event_id) {
  auto s = prepare(db_, "SELECT 1 FROM ledger_entries WHERE event_id = ?1");
  if (!s) return std::unexpected(s.error());
  auto found = s->bind(1, event_id.to_string()).single_int();
  if (!found) return std::unexpected(from(found.error()));
  return found->has_value();
}

}  // namespace horizons::compliance
