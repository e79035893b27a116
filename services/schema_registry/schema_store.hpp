// The registry's state — subjects, versions, schemas by id, compatibility levels and who the
// writer is — as a pure function of the records of `_schemas`, applied in offset order. Every
// instance applies the same records in the same order and so holds the same state.
//
//   schema_store store;
//   for (const auto& record : records_from_the_beginning)
//     if (auto fact = decode(record.key, record.value)) store.apply(*fact);
//   if (const auto* versions = store.versions_of("jobs-value")) ...;
//   auto id = store.id_of(schema_identity(text));
//
// Fencing. Only one instance writes at a time, and a record counts only if its writer held the
// writer role when the record landed:
//   - a claim of epoch E counts if the epoch before it is E-1 (a compare-and-set on the log: of two
//     claims of the same epoch, the first wins); its writer holds the role from there on;
//   - any other record counts only if stamped with the current epoch by the current holder.
// A writer that lost the role without noticing (paused past its lease) can still append records,
// but they are `fenced` on every instance, now and on every replay: claims are never compacted away
// (one key per epoch), so the same claims precede the same records. Such a record may still be the
// latest of its key, and compaction would then drop the valid fact before it; repairs() lists the
// current fact of each such key so the writer rewrites it (topic_store does).
// Conflicts. A record that would give an id to a second schema, or a second id to a schema, or
// another id to an existing version, is `conflicting` and not applied (defence in depth: a
// writer that read its own writes back never writes one).
// Not thread-safe: topic_store guards it with a lock.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <horizons/schema_evolution.hpp>

#include "services/schema_registry/facts.hpp"

namespace horizons::schema_registry_service {

/// What makes two schema texts the same schema (the same id): their JSON, parsed and written back
/// with sorted keys and no whitespace. Not the Parsing Canonical Form alone: it drops field
/// defaults, and schemas that differ in a default read differently.
[[nodiscard]] std::string schema_identity(std::string_view text);

/// The holder of the writer role: the last claim that counted.
struct writer_role {
  std::int64_t epoch = 0;  ///< 0: nobody ever claimed
  std::string instance{};
  std::string url{};
  std::chrono::milliseconds lease{0};  ///< as the holder claimed it
  bool resigned = false;
};

struct stored_version {
  int id = 0;
  bool soft_deleted = false;
};

struct stored_schema {
  std::string text;  ///< as first registered
  std::optional<avro_schema> parsed;
  std::string parse_error{};  ///< why `parsed` is empty (a schema written by a newer parser, say)
  int versions = 0;           ///< versions (live or soft-deleted) that have this id
};

enum class apply_outcome : std::uint8_t {
  applied,
  fenced,       ///< its writer did not hold the writer role
  conflicting,  ///< it contradicts the state (see above)
};

class schema_store {
 public:
  apply_outcome apply(const stamped_fact& fact);

  [[nodiscard]] const writer_role& writer() const { return writer_; }
  /// `instance` holds the writer role and has not resigned.
  [[nodiscard]] bool is_writer(std::string_view instance) const;

  /// Subjects with a live version, or also with soft-deleted ones; sorted.
  [[nodiscard]] std::vector<std::string> subjects(bool include_soft_deleted) const;
  /// Every version of the subject that is live or soft-deleted; null if none.
  [[nodiscard]] const std::map<int, stored_version>* versions_of(std::string_view subject) const;
  [[nodiscard]] const stored_schema* schema(int id) const;
  [[nodiscard]] std::optional<int> id_of(std::string_view identity) const;
  /// The subject's version with this identity (live ones first, then soft-deleted if asked).
  [[nodiscard]] std::optional<int> version_with(std::string_view subject, std::string_view identity,
                                                bool include_soft_deleted) const;
  /// The subject's own level; an empty subject: the global one as set.
  [[nodiscard]] std::optional<compatibility_level> own_level(std::string_view subject) const;
  /// The subject's own level, else the global one, else BACKWARD.
  [[nodiscard]] compatibility_level effective_level(std::string_view subject) const;
  /// The id a new schema gets: one above every id ever given, removed ones included.
  [[nodiscard]] int next_id() const { return max_id_ + 1; }
  /// The version a new schema of the subject gets: one above its highest (soft-deleted included).
  [[nodiscard]] int next_version(std::string_view subject) const;

  /// For each key whose latest record was fenced or conflicting: the fact that holds for it now
  /// (a removal where none does), for the writer to write again.
  [[nodiscard]] std::vector<fact> repairs() const;

 private:
  apply_outcome apply_schema(const schema_fact& f);
  apply_outcome apply_config(const config_fact& f);
  [[nodiscard]] bool stamped_by_writer(const stamped_fact& f) const;
  void release(int id);

  writer_role writer_{};
  std::map<std::string, std::map<int, stored_version>, std::less<>> subjects_;
  std::map<int, stored_schema> schemas_;
  std::map<std::string, int, std::less<>> ids_by_identity_;
  int max_id_ = 0;
  std::map<std::string, compatibility_level, std::less<>> levels_;  // "" is the global one
  std::map<std::string, fact> latest_applied_;                      // per SCHEMA or CONFIG key, the fact that holds
  std::map<std::string, fact> latest_refused_;                      // keys whose latest record was not applied
};

}  // namespace horizons::schema_registry_service
