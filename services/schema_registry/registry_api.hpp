// What each endpoint of the Confluent Schema Registry REST API does, over a topic_store: the
// request's parts in (path parameters as text, the body as text), an answer or an api_error out.
// http_server.hpp maps routes onto these; nothing here knows HTTP.
//
//   registry_api api(store);
//   auto answer = api.register_schema("jobs-value", R"({"schema": "{\"type\": \"string\"}"})");
//   // answer->body == R"({"id":1})", answer->written_up_to == the offset of the record written
//   auto refused = api.version("jobs-value", "seven", deleted_versions::hidden);
//   // refused.error().code == error_code::invalid_version
//
// Semantics follow Confluent's (7.x), including:
//   - a schema is the same as another when schema_identity() says so; it keeps its id under every
//     subject (global ids); registering it again under a subject where it is a live version
//     returns that version's id and writes nothing;
//   - a new version is checked against the subject's live versions, oldest first, under the
//     subject's level, else the global one, else BACKWARD (check_compatibility); refused: 409;
//   - versions are "latest", -1, or 1..2^31-1 (else 42202);
//   - soft deletes hide versions from listings and lookups (ids stay readable); a permanent delete
//     needs a soft one first (40405 / 40407) and removes the versions, and for a whole subject its
//     own compatibility level;
//   - only AVRO schemas (schemaType absent or "AVRO"), without references (else 42201).
// Writes go through topic_store::write: on an instance that is not the writer they fail with
// not_the_writer, which the HTTP layer forwards.
// Threads: any; reads take the store's shared lock, writes its write lock.
#pragma once

#include <cstdint>
#include <expected>
#include <optional>
#include <string>
#include <string_view>

#include "services/schema_registry/errors.hpp"
#include "services/schema_registry/topic_store.hpp"

namespace horizons::schema_registry_service {

struct api_answer {
  std::string body;  ///< JSON; the schema text itself for .../schema
  /// On a write: the offset the answer depends on (an instance that forwarded the write waits
  /// until it has read that far before answering, so its client reads its own write there too).
  std::optional<std::int64_t> written_up_to{};
};
using api_result = std::expected<api_answer, api_error>;

/// Whether soft-deleted versions count (Confluent's `?deleted=true`).
enum class deleted_versions : std::uint8_t { hidden, included };
/// Confluent's `?permanent=true`.
enum class deletion_mode : std::uint8_t { soft, permanent };
/// Confluent's `?verbose=true` on compatibility tests.
enum class verbosity : std::uint8_t { verdict_only, with_messages };
/// Confluent's `?defaultToGlobal=true` on GET /config/{subject}.
enum class level_fallback : std::uint8_t { none, global };

class registry_api {
 public:
  explicit registry_api(topic_store& store) : store_(store) {}

  // POST /subjects/{s}/versions, POST /subjects/{s}
  [[nodiscard]] api_result register_schema(std::string_view subject, std::string_view body);
  [[nodiscard]] api_result lookup(std::string_view subject, std::string_view body, deleted_versions deleted) const;
  // GET /schemas/ids/{id}, GET /schemas/types
  [[nodiscard]] api_result schema_by_id(std::string_view id) const;
  [[nodiscard]] static api_result schema_types();
  // GET /subjects, /subjects/{s}/versions, /subjects/{s}/versions/{v}, /subjects/{s}/versions/{v}/schema
  [[nodiscard]] api_result subjects(deleted_versions deleted) const;
  [[nodiscard]] api_result versions(std::string_view subject, deleted_versions deleted) const;
  [[nodiscard]] api_result version(std::string_view subject, std::string_view version, deleted_versions deleted) const;
  [[nodiscard]] api_result version_schema(std::string_view subject, std::string_view version,
                                          deleted_versions deleted) const;
  // POST /compatibility/subjects/{s}/versions/{v}
  [[nodiscard]] api_result test_compatibility(std::string_view subject, std::string_view version, std::string_view body,
                                              verbosity verbose) const;
  // GET|PUT /config, GET|PUT|DELETE /config/{s}; an empty subject is the global level.
  [[nodiscard]] api_result config(std::string_view subject, level_fallback fallback) const;
  [[nodiscard]] api_result set_config(std::string_view subject, std::string_view body);
  [[nodiscard]] api_result delete_config(std::string_view subject);
  // DELETE /subjects/{s}, DELETE /subjects/{s}/versions/{v}
  [[nodiscard]] api_result delete_subject(std::string_view subject, deletion_mode mode);
  [[nodiscard]] api_result delete_version(std::string_view subject, std::string_view version, deletion_mode mode);

 private:
  topic_store& store_;
};

}  // namespace horizons::schema_registry_service
