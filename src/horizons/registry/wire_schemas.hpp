// The schema ids Horizons' clients put on the wire and read off it when a schema registry is
// configured (SCHEMA_REGISTRY_URL); private to the library.
//
//   auto wire = detail::wire_schemas::of(config);   // null without a registry
//   auto ids = (*wire)->registered_ids();           // the registry's id of each topic's schema
//   auto plan = (*wire)->plan(topic, id);           // how to read bytes written under `id`
//
// One object per process and registry (URL and credentials), shared by every producer and
// consumer of the process, so each schema is registered and each id fetched once. Without a
// registry, records carry the catalogue's compiled ids and nothing here is used.
// Thread-safe: calls may come from any thread; they block while the registry is asked (bounded by
// the client's timeout), then answer from the cache.
#pragma once

#include <array>
#include <cstdint>
#include <expected>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include <horizons/catalogue.hpp>
#include <horizons/codec.hpp>
#include <horizons/config.hpp>
#include <horizons/schema_evolution.hpp>
#include <horizons/schema_registry.hpp>

namespace horizons::detail {

class wire_schemas {
 public:
  /// The process's object for the configured registry; null when SCHEMA_REGISTRY_URL is empty.
  [[nodiscard]] static std::expected<std::shared_ptr<wire_schemas>, std::string> of(const client_config& config);

  /// The registry's id of each topic's compiled schema, under the configured subject strategy:
  /// registered (SCHEMA_REGISTRY_AUTO_REGISTER=true) or looked up, once per process. The error
  /// names the subject and the registry's answer.
  [[nodiscard]] std::expected<std::array<std::int32_t, topic_count>, std::string> registered_ids();

  /// How this build reads a `topic` record framed with `id`: a plan from the writer's schema
  /// (fetched by id) to the topic's compiled one, built once per (topic, id). Errors, for the
  /// dead-letter topic: unknown_schema_id (the registry does not know the id, or cannot be asked)
  /// and unresolvable_schema (the writer's schema cannot be read as this build's).
  [[nodiscard]] std::expected<const resolution_plan*, codec_error> plan(topic_id topic, std::int32_t id);

  [[nodiscard]] schema_registry& registry() { return registry_; }
  /// The subject of a topic's schema under the configured strategy.
  [[nodiscard]] std::string subject(topic_id topic) const;

  explicit wire_schemas(schema_registry registry, const client_config& config);

 private:
  schema_registry registry_;
  bool auto_register_;
  subject_name_strategy strategy_;
  std::mutex mutex_;
  std::optional<std::array<std::int32_t, topic_count>> ids_;
  std::map<std::pair<topic_id, std::int32_t>, std::expected<resolution_plan, codec_error>> plans_;
};

/// `body`, written with `plan`'s writer schema, in this build's schema: the body itself when the
/// schemas are the same, else translated into `scratch` (valid until it is next used).
[[nodiscard]] std::expected<std::span<const std::byte>, codec_error> in_compiled_schema(const resolution_plan& plan,
                                                                                        std::span<const std::byte> body,
                                                                                        byte_buffer& scratch);

/// The topic's compiled schema, parsed once per process.
[[nodiscard]] const avro_schema& compiled_schema(topic_id topic);

}  // namespace horizons::detail
