// Avro schema evolution: parsing a schema, deciding whether a reader of one version can read what
// a writer of another wrote (the Avro specification's resolution rules), compatibility levels over
// a subject's history, and turning bytes written with one version into bytes of another.
//
//   auto old_schema = horizons::avro_schema::parse(old_text);          // std::expected<…, schema_error>
//   auto new_schema = horizons::avro_schema::parse(new_text);
//   for (const auto& problem : horizons::check_compatibility(horizons::compatibility_level::backward,
//                                                             *new_schema, {&*old_schema, 1}))
//     fmt::print("{}\n", problem.message);   // "field payload.resources.gpus added without a default"
//
//   auto plan = horizons::resolution_plan::build(*writer, *reader);    // once per (writer, reader)
//   horizons::byte_buffer reader_body;
//   if (plan && plan->translate(writer_body, reader_body)) decode_body(reader_body.bytes(), event);
//
// One implementation answers "can reader R read writer W" for the registry's compatibility checks,
// `horizons schemas check` and the consumer's decoding of other versions: resolution_plan::build
// succeeds exactly when reader_cannot_read is empty. The rules: a reader field the writer lacks
// needs a default; a writer field the reader lacks is skipped; int -> long -> float -> double,
// string <-> bytes; a writer enum symbol the reader lacks needs the reader enum's default; every
// writer union branch must match a reader branch (or the reader type itself); named types match by
// unqualified name or alias; fixed sizes must agree. Stricter than the specification in one place,
// as schema registries are: a symbol or branch that could fail at run time fails the check.
//
// Every type here is immutable after construction and safe to share between threads.
#pragma once

#include <cstdint>
#include <expected>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <horizons/byte_buffer.hpp>
#include <horizons/codec.hpp>

namespace horizons {

/// The registry's compatibility levels, in its own spelling by to_string ("BACKWARD_TRANSITIVE").
enum class compatibility_level : std::uint8_t {
  none,
  backward,             ///< the new version reads the latest
  backward_transitive,  ///< the new version reads every earlier one
  forward,              ///< the latest reads the new version
  forward_transitive,   ///< every earlier version reads the new one
  full,                 ///< backward and forward against the latest
  full_transitive,      ///< backward and forward against every earlier version
};
[[nodiscard]] std::string_view to_string(compatibility_level level);
[[nodiscard]] std::optional<compatibility_level> compatibility_level_from(std::string_view name);

/// A schema that is not JSON or not valid Avro; the message names the path ("fields[2].type").
struct schema_error {
  std::string message;
};

namespace detail {
struct schema_node;
}

/// A parsed, validated Avro schema. Cheap to copy (shared, immutable).
class avro_schema {
 public:
  [[nodiscard]] static std::expected<avro_schema, schema_error> parse(std::string_view json);

  /// The Avro specification's Parsing Canonical Form: equal for schemas whose writers write the
  /// same bytes. It drops docs, aliases and defaults, so two schemas of equal form may still
  /// differ as readers (a default added).
  [[nodiscard]] const std::string& canonical_form() const;
  /// The full name of a named top-level type ("org.cosmichorizons.events.JobLifecycleEvent"), else
  /// the type's name ("string").
  [[nodiscard]] std::string_view name() const;

  [[nodiscard]] const detail::schema_node& root() const { return *root_; }

 private:
  struct parsed;
  explicit avro_schema(std::shared_ptr<const parsed> p);
  std::shared_ptr<const parsed> parsed_;
  const detail::schema_node* root_ = nullptr;
};

/// One reason a reader cannot read a writer's data.
struct incompatibility {
  enum class kind : std::uint8_t {
    missing_default,       ///< a reader field the writer lacks has no default
    type_mismatch,         ///< a writer type the reader type cannot take, even promoted
    name_mismatch,         ///< named types (record, enum, fixed) of different names
    fixed_size_mismatch,   ///< fixed types of different sizes
    missing_enum_symbol,   ///< a writer symbol the reader lacks, and the reader enum has no default
    missing_union_branch,  ///< a writer union branch no reader branch can take
  };
  kind what;
  std::string path;     ///< where, in the reader's terms: "payload.resources.gpus" ("" for the root)
  std::string message;  ///< for people, e.g. "field payload.resources.gpus: the reader has no default"
};

/// Why a reader with schema `reader` cannot read data written with `writer`; empty when it can.
[[nodiscard]] std::vector<incompatibility> reader_cannot_read(const avro_schema& reader, const avro_schema& writer);

/// What stops `candidate` from becoming a subject's next version under `level`, given the existing
/// versions oldest first, numbered from 1 in the messages (only the last is checked unless the
/// level is transitive). Each message
/// says which direction broke: "… breaks BACKWARD (the new version cannot read version 3)".
[[nodiscard]] std::vector<incompatibility> check_compatibility(compatibility_level level, const avro_schema& candidate,
                                                               std::span<const avro_schema> existing);

/// What changed from `before` to `after`, one line each, by path: "+ field payload.band (default
/// null)", "- field payload.nodes", "~ payload.gpus: int -> long", "+ symbol VIOLET of t.Color",
/// "+ branch string of payload.v". Named types are compared once each.
[[nodiscard]] std::vector<std::string> schema_changes(const avro_schema& before, const avro_schema& after);

/// Turns a body written with one schema into a body of another, by the resolution rules: fields in
/// the reader's order, defaults for what the writer lacked, promoted numbers, mapped enum symbols
/// and union branches. The result decodes with the reader's exact decoder.
class resolution_plan {
 public:
  /// Fails with every incompatibility reader_cannot_read reports. The plan keeps both schemas alive.
  [[nodiscard]] static std::expected<resolution_plan, std::vector<incompatibility>> build(const avro_schema& writer,
                                                                                          const avro_schema& reader);

  /// Appends the reader's body for `writer_body` to `out`. Refuses malformed writer bytes as the
  /// decoder does (truncated, bad lengths, branch or symbol indexes outside the writer's schema,
  /// trailing bytes), except an identity() plan, which copies the bytes unchecked: the reader's
  /// decoder, whose schema they claim, checks them. Thread-safe: a plan holds no per-call state.
  [[nodiscard]] std::expected<void, codec_error> translate(std::span<const std::byte> writer_body,
                                                           byte_buffer& out) const;

  /// True when writer and reader have the same canonical form (translate copies the bytes).
  [[nodiscard]] bool identity() const;

  resolution_plan(resolution_plan&&) noexcept;
  resolution_plan& operator=(resolution_plan&&) noexcept;
  ~resolution_plan();

 private:
  struct steps;
  explicit resolution_plan(std::unique_ptr<const steps> s);
  std::unique_ptr<const steps> steps_;
};

}  // namespace horizons
