// A client of the Confluent Schema Registry REST API (also served by Apicurio's `ccompat` API,
// Redpanda and Karapace): register a schema under a subject, look up its id, fetch a schema by id,
// list subjects and versions, test compatibility, read and set compatibility levels, delete.
//
//   auto registry = horizons::schema_registry::create({.url = "http://127.0.0.1:8081"});
//   if (!registry) { fmt::print(stderr, "{}\n", registry.error().message); return 2; }
//   auto id = registry->register_schema("job-lifecycle-value", schema_text);   // std::expected<int, …>
//   auto text = registry->schema_by_id(*id);                                    // fetched once, then cached
//
// Every call blocks the calling thread until the registry answers, for at most `timeout` in all:
// a connection that fails, a 5xx or a 429 is retried with a doubling back-off (from
// `retry_backoff`) while time remains, then returned as an error. Other 4xx answers are returned at
// once. An error names what was asked (subject, version or id) and carries the registry's own
// `error_code` and `message` when it sent them:
//   "subject job-lifecycle-value, version 7: registry error 40402: Version 7 not found (HTTP 404)".
// Calls may come from any thread: requests are serialised on one connection, and answers that can
// never change (a schema by id, the id of a subject's schema) are cached for the object's life.
#pragma once

#include <chrono>
#include <cstdint>
#include <expected>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <horizons/byte_buffer.hpp>
#include <horizons/codec.hpp>
#include <horizons/config.hpp>
#include <horizons/schema_evolution.hpp>  // compatibility_level

namespace horizons {

/// The subject a topic's value schema is registered under: "job-lifecycle-value", or with
/// record_name the record's full name ("org.cosmichorizons.events.JobLifecycleEvent").
[[nodiscard]] std::string subject_name(subject_name_strategy strategy, std::string_view topic,
                                       std::string_view record_full_name);

struct registry_error {
  enum class kind : std::uint8_t {
    unreachable,   ///< no connection, or no answer within the timeout
    rejected,      ///< the registry answered with an error (http_status, error_code)
    bad_response,  ///< an answer that is not what the API documents
    bad_settings,  ///< the URL or credentials given to create() are unusable
  };
  kind what;
  int http_status = 0;  ///< 0 when there was no answer
  int error_code = 0;   ///< the registry's `error_code` (40401 subject not found, 409 incompatible, ...)
  std::string message;  ///< one line for people, naming subject/version/id
};

struct schema_registry_options {
  /// http://host[:port][/path] or https://…; the path prefix is kept ("…/apis/ccompat/v7").
  std::string url{};
  /// "user:password" for HTTP basic authentication; empty sends none.
  std::string basic_auth_user_info{};
  /// CA certificate (PEM) for an https registry; empty uses the system's CA store.
  std::string ca_location{};
  /// Bound on each call, retries included.
  std::chrono::milliseconds timeout{10'000};
  /// First wait between retries; doubled after each.
  std::chrono::milliseconds retry_backoff{100};
};

/// The registry settings of a loaded configuration (SCHEMA_REGISTRY_URL, …), with the default
/// timeout and back-off.
[[nodiscard]] schema_registry_options registry_options(const client_config& config);

/// One version of a subject as the registry stores it.
struct registered_schema {
  std::string subject;
  int version = 0;
  int id = 0;
  std::string schema;       ///< the schema's text as the registry returns it
  std::string schema_type;  ///< "AVRO" (the registry omits it for Avro; filled in here)
};

/// The answer to "may this schema become the subject's next version".
struct compatibility_verdict {
  bool compatible = false;
  std::vector<std::string> messages;  ///< the registry's reasons, when it gives them
};

/// Soft delete keeps the version readable by id and hides it from listings; hard delete (after a
/// soft one) removes it.
enum class deletion : std::uint8_t { soft, hard };

class schema_registry {
 public:
  /// Checks the options (URL shape, user info "user:password", CA file readable); no request is made.
  [[nodiscard]] static std::expected<schema_registry, registry_error> create(schema_registry_options options);

  schema_registry(schema_registry&&) noexcept;
  schema_registry& operator=(schema_registry&&) noexcept;
  ~schema_registry();

  /// Registers `schema` (Avro JSON text) under `subject`, or finds it there already; its global id.
  /// A schema the subject's compatibility level refuses is `rejected` with HTTP 409.
  [[nodiscard]] std::expected<int, registry_error> register_schema(std::string_view subject, std::string_view schema);
  /// The subject's version holding `schema`, without registering; 40401/40403 when absent.
  [[nodiscard]] std::expected<registered_schema, registry_error> lookup(std::string_view subject,
                                                                        std::string_view schema);
  /// The schema text with this global id (cached: an id is fetched once per object).
  [[nodiscard]] std::expected<std::string, registry_error> schema_by_id(int id);
  /// A version of a subject; std::nullopt means the latest.
  [[nodiscard]] std::expected<registered_schema, registry_error> version(std::string_view subject,
                                                                         std::optional<int> version = {});
  [[nodiscard]] std::expected<std::vector<std::string>, registry_error> subjects();
  [[nodiscard]] std::expected<std::vector<int>, registry_error> versions(std::string_view subject);
  /// Whether `schema` may follow `version` (std::nullopt: the latest) under the subject's level.
  [[nodiscard]] std::expected<compatibility_verdict, registry_error> test_compatibility(
      std::string_view subject, std::string_view schema, std::optional<int> version = {});
  /// The subject's own level, or the global one when `subject` is empty.
  [[nodiscard]] std::expected<compatibility_level, registry_error> compatibility(std::string_view subject = {});
  [[nodiscard]] std::expected<void, registry_error> set_compatibility(compatibility_level level,
                                                                      std::string_view subject = {});
  /// Deletes a subject (every version); the versions deleted.
  [[nodiscard]] std::expected<std::vector<int>, registry_error> delete_subject(std::string_view subject,
                                                                               deletion how = deletion::soft);
  [[nodiscard]] std::expected<void, registry_error> delete_version(std::string_view subject, int version,
                                                                   deletion how = deletion::soft);

  /// Requests sent so far (retries included): lets a caller see that the cache answered.
  [[nodiscard]] std::uint64_t requests_sent() const;

 private:
  struct state;
  explicit schema_registry(std::unique_ptr<state> s);
  std::unique_ptr<state> state_;
};

namespace detail {
class wire_schemas;
}

/// Decodes framed records of a known topic as a consumer does, for tools and observers that read
/// records outside one (topic_reader): with a schema registry configured (SCHEMA_REGISTRY_URL),
/// any id the registry knows, other versions of the topic's schema translated into this build's;
/// without one, the catalogue's compiled ids only.
///
///   auto decoder = horizons::record_decoder::create(config);
///   auto event = decoder->decode(horizons::topic_id::job_lifecycle, record_bytes);
///
/// One decoder per thread (it reuses a buffer); errors as the consumer dead-letters them.
class record_decoder {
 public:
  [[nodiscard]] static std::expected<record_decoder, std::string> create(const client_config& config);
  [[nodiscard]] std::expected<any_event, codec_error> decode(topic_id topic, std::span<const std::byte> record);
  /// As above for a topic named by a string; a name outside the catalogue is unknown_schema_id.
  [[nodiscard]] std::expected<any_event, codec_error> decode(std::string_view topic, std::span<const std::byte> record);

 private:
  explicit record_decoder(std::shared_ptr<detail::wire_schemas> wire) : wire_(std::move(wire)) {}
  std::shared_ptr<detail::wire_schemas> wire_;  // null without a registry
  byte_buffer translated_;
};

}  // namespace horizons
