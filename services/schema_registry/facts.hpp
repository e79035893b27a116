// The records of the registry's topic (`_schemas`): each one fact, keyed so that compaction keeps
// the latest fact per key, stamped with the writer that wrote it and the writer's epoch.
//
//   const stamped_fact registered{.what = schema_fact{.subject = "jobs-value", .version = 1, .id = 7,
//                                                     .state = version_state::live, .schema = text},
//                                 .epoch = 3, .writer = instance_id};
//   auto record = encode(registered);
//   // record.key   == R"({"keytype":"SCHEMA","subject":"jobs-value","version":1})"
//   // record.value ==
//   R"({"subject":"jobs-value","version":1,"id":7,"state":"LIVE","schema":"…","epoch":3,"writer":"…"})" auto back =
//   decode(record.key, record.value);   // the same stamped_fact, or why not
//
// Keys and values are JSON (as Confluent's `_schemas` records are), written with a fixed field
// order so that the same key is always the same bytes. The keys:
//   {"keytype":"SCHEMA","subject":S,"version":V}  a version of a subject: live, soft-deleted or removed
//   {"keytype":"CONFIG"} / {"keytype":"CONFIG","subject":S}   the global / a subject's level (or none)
//   {"keytype":"CLAIM","epoch":E}     an instance claims the writer role for epoch E, naming its URL and
//                                     lease (never compacted away: one key per epoch)
//   {"keytype":"RESIGN","epoch":E}    the writer of epoch E steps down (stopping)
//   {"keytype":"HEARTBEAT"}           the writer is alive (compaction keeps the latest only)
// A removed (hard-deleted) version stays as a small marker without its schema: every record is
// stamped, so even a removal is fenced like any other write (schema_store.hpp says how).
// Pure functions; any thread.
#pragma once

#include <cstdint>
#include <expected>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include <horizons/schema_evolution.hpp>

namespace horizons::schema_registry_service {

enum class version_state : std::uint8_t {
  live,
  soft_deleted,  ///< readable by id and with ?deleted=true, hidden from listings
  removed,       ///< hard-deleted: gone; the marker keeps only subject, version and id
};

struct schema_fact {
  std::string subject{};
  int version = 0;
  int id = 0;
  version_state state = version_state::live;
  std::string schema{};  ///< the schema's text as first registered under this id; empty when removed
};

/// A compatibility level; an empty subject is the global one. No level: the subject's own was removed.
struct config_fact {
  std::string subject{};
  std::optional<compatibility_level> level{};
};

/// The stamp's epoch is the epoch claimed; `url` is where the claimant answers writes; `lease_ms`
/// how long the others wait for a sign of life from it before claiming the role themselves (the
/// claimant's own setting, so that instances configured differently still agree).
struct claim_fact {
  std::string url{};
  std::int64_t lease_ms = 0;
};
struct resign_fact {};
struct heartbeat_fact {};

using fact = std::variant<schema_fact, config_fact, claim_fact, resign_fact, heartbeat_fact>;

struct stamped_fact {
  fact what;
  std::int64_t epoch = 0;  ///< the writer's epoch; for a claim, the epoch claimed
  std::string writer{};    ///< the instance that wrote it (a random id per process start)
};

struct encoded_fact {
  std::string key;
  std::string value;
};

/// The record's key alone: what compaction keeps one of.
[[nodiscard]] std::string key_of(const stamped_fact& fact);
[[nodiscard]] encoded_fact encode(const stamped_fact& fact);
/// A record read back; a tombstone (no value) or a record this registry does not write is an
/// error naming why (the store skips it).
[[nodiscard]] std::expected<stamped_fact, std::string> decode(std::string_view key,
                                                              std::optional<std::string_view> value);

}  // namespace horizons::schema_registry_service
