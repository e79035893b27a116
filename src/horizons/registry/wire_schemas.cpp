#include "wire_schemas.hpp"

#include <fmt/format.h>

#include <stdexcept>
#include <utility>
#include <vector>

namespace horizons::detail {

const avro_schema& compiled_schema(topic_id topic) {
  static const auto schemas = [] {
    std::vector<avro_schema> parsed;
    for (const auto& t : catalogue) {
      auto schema = avro_schema::parse(schema_json(t.id));
      // The build generated its types from these very texts: a failure here is a build defect.
      if (!schema) throw std::logic_error(fmt::format("{}: {}", t.name(), schema.error().message));
      parsed.push_back(std::move(*schema));
    }
    return parsed;
  }();
  return schemas[static_cast<std::size_t>(topic)];
}

std::expected<std::span<const std::byte>, codec_error> in_compiled_schema(const resolution_plan& plan,
                                                                          std::span<const std::byte> body,
                                                                          byte_buffer& scratch) {
  if (plan.identity()) return body;
  scratch.clear();
  if (auto ok = plan.translate(body, scratch); !ok) return std::unexpected(std::move(ok.error()));
  return scratch.bytes();
}

std::expected<std::shared_ptr<wire_schemas>, std::string> wire_schemas::of(const client_config& config) {
  if (config.registry_url.empty()) return nullptr;
  static std::mutex mutex;
  static std::map<std::string, std::weak_ptr<wire_schemas>> by_registry;
  const auto key = fmt::format("{}\n{}\n{}\n{}\n{}", config.registry_url, config.registry_basic_auth_user_info,
                               config.registry_ca_location, config.registry_auto_register,
                               to_string(config.registry_subject_strategy));
  const std::lock_guard lock(mutex);
  if (auto existing = by_registry[key].lock()) return existing;
  auto registry = schema_registry::create(registry_options(config));
  if (!registry) return std::unexpected(registry.error().message);
  auto made = std::make_shared<wire_schemas>(std::move(*registry), config);
  by_registry[key] = made;
  return made;
}

wire_schemas::wire_schemas(schema_registry registry, const client_config& config)
    : registry_(std::move(registry)),
      auto_register_(config.registry_auto_register),
      strategy_(config.registry_subject_strategy) {}

std::string wire_schemas::subject(topic_id topic) const {
  return subject_name(strategy_, topic_name(topic), compiled_schema(topic).name());
}

std::expected<std::array<std::int32_t, topic_count>, std::string> wire_schemas::registered_ids() {
  const std::lock_guard lock(mutex_);
  if (ids_) return *ids_;
  std::array<std::int32_t, topic_count> ids{};
  for (const auto& t : catalogue) {
    const auto name = subject(t.id);
    const auto text = schema_json(t.id);
    std::expected<int, registry_error> id = 0;
    if (auto_register_) {
      id = registry_.register_schema(name, text);
    } else if (auto found = registry_.lookup(name, text); found) {
      id = found->id;
    } else {
      id = std::unexpected(found.error());
    }
    if (!id) {
      return std::unexpected(fmt::format("the schema of topic {} in the registry: {}{}", t.name(), id.error().message,
                                         auto_register_ ? "" : " (SCHEMA_REGISTRY_AUTO_REGISTER is false)"));
    }
    ids[static_cast<std::size_t>(t.id)] = *id;
  }
  ids_ = ids;
  return ids;
}

std::expected<const resolution_plan*, codec_error> wire_schemas::plan(topic_id topic, std::int32_t id) {
  const std::lock_guard lock(mutex_);
  const auto key = std::pair{topic, id};
  if (auto found = plans_.find(key); found != plans_.end()) {
    if (!found->second) return std::unexpected(found->second.error());
    return &*found->second;
  }
  const auto fail = [&](codec_errc code, std::string message) -> std::expected<resolution_plan, codec_error> {
    return std::unexpected(codec_error{code, std::move(message)});
  };
  auto text = registry_.schema_by_id(id);
  if (!text) {
    // A registry that cannot be asked now may answer later: not remembered.
    if (text.error().what == registry_error::kind::unreachable) {
      return std::unexpected(codec_error{codec_errc::unknown_schema_id, text.error().message});
    }
    auto made = fail(codec_errc::unknown_schema_id,
                     fmt::format("schema id {} of a {} record: {}", id, topic_name(topic), text.error().message));
    return std::unexpected(plans_.emplace(key, std::move(made)).first->second.error());
  }
  std::expected<resolution_plan, codec_error> made = [&]() -> std::expected<resolution_plan, codec_error> {
    auto writer = avro_schema::parse(*text);
    if (!writer) {
      return fail(codec_errc::unresolvable_schema, fmt::format("schema id {} of a {} record is not a valid schema: {}",
                                                               id, topic_name(topic), writer.error().message));
    }
    auto built = resolution_plan::build(*writer, compiled_schema(topic));
    if (!built) {
      std::string reasons;
      for (const auto& p : built.error()) reasons += (reasons.empty() ? "" : "; ") + p.message;
      return fail(
          codec_errc::unresolvable_schema,
          fmt::format("schema id {} cannot be read as this build's {} schema: {}", id, topic_name(topic), reasons));
    }
    return std::move(*built);
  }();
  auto& stored = plans_.emplace(key, std::move(made)).first->second;
  if (!stored) return std::unexpected(stored.error());
  return &*stored;
}

}  // namespace horizons::detail
