// The registry's answers that are not a success, in Confluent Schema Registry's own codes, so
// that every Confluent client (Horizons' schema_registry, the Java serializers, ...) understands
// them: the HTTP status and the body {"error_code": 40401, "message": "Subject 'x' not found."}.
//
//   return std::unexpected(api_error::make(error_code::subject_not_found, fmt::format("Subject '{}' not found.", s)));
//
// Plain values; any thread.
#pragma once

#include <string>

namespace horizons::schema_registry_service {

/// Confluent's error codes; the HTTP status is the code's first three digits (409 is its own).
enum class error_code : int {
  bad_request = 400,   ///< a body that is not JSON
  incompatible = 409,  ///< the subject's compatibility level refuses the schema
  subject_not_found = 40401,
  version_not_found = 40402,
  schema_not_found = 40403,
  subject_soft_deleted = 40404,
  subject_not_soft_deleted = 40405,  ///< a permanent delete of a subject not soft-deleted first
  version_soft_deleted = 40406,
  version_not_soft_deleted = 40407,      ///< a permanent delete of a version not soft-deleted first
  subject_level_not_configured = 40408,  ///< GET /config/{subject} without a level of its own
  invalid_schema = 42201,
  invalid_version = 42202,
  invalid_compatibility_level = 42203,
  store_error = 50001,        ///< writing to the `_schemas` topic failed
  operation_timeout = 50002,  ///< written, but not read back in time
  forwarding_error = 50003,   ///< this instance could not reach the writer
  not_the_writer = 50004,     ///< no writer is known, or this instance is not it
};

struct api_error {
  error_code code;
  std::string message;

  [[nodiscard]] static api_error make(error_code code, std::string message) { return {code, std::move(message)}; }
  [[nodiscard]] int http_status() const {
    const int value = static_cast<int>(code);
    return value < 1000 ? value : value / 100;
  }
};

}  // namespace horizons::schema_registry_service
