#include "services/schema_registry/facts.hpp"

#include <array>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace horizons::schema_registry_service {

namespace {

using ordered_json = nlohmann::ordered_json;
using json = nlohmann::json;

constexpr std::array<std::string_view, 3> state_names{"LIVE", "SOFT_DELETED", "REMOVED"};

std::string_view state_name(version_state state) { return state_names[static_cast<std::size_t>(state)]; }

std::optional<version_state> state_from(std::string_view name) {
  for (std::size_t i = 0; i < state_names.size(); ++i) {
    if (state_names[i] == name) return static_cast<version_state>(i);
  }
  return std::nullopt;
}

ordered_json key_json(const stamped_fact& f) {
  struct visitor {
    ordered_json operator()(const schema_fact& f) const {
      return {{"keytype", "SCHEMA"}, {"subject", f.subject}, {"version", f.version}};
    }
    ordered_json operator()(const config_fact& f) const {
      ordered_json key{{"keytype", "CONFIG"}};
      if (!f.subject.empty()) key["subject"] = f.subject;
      return key;
    }
    ordered_json operator()(const claim_fact&) const { return {{"keytype", "CLAIM"}, {"epoch", epoch}}; }
    ordered_json operator()(const resign_fact&) const { return {{"keytype", "RESIGN"}, {"epoch", epoch}}; }
    ordered_json operator()(const heartbeat_fact&) const { return {{"keytype", "HEARTBEAT"}}; }
    std::int64_t epoch;
  };
  return std::visit(visitor{f.epoch}, f.what);
}

// What the value says besides the stamp.
ordered_json value_json(const fact& what) {
  struct visitor {
    ordered_json operator()(const schema_fact& f) const {
      ordered_json value{{"subject", f.subject}, {"version", f.version}, {"id", f.id}, {"state", state_name(f.state)}};
      if (f.state != version_state::removed) value["schema"] = f.schema;
      return value;
    }
    ordered_json operator()(const config_fact& f) const {
      return {{"compatibilityLevel", f.level ? ordered_json(to_string(*f.level)) : ordered_json(nullptr)}};
    }
    ordered_json operator()(const claim_fact& f) const { return {{"url", f.url}, {"lease_ms", f.lease_ms}}; }
    ordered_json operator()(const resign_fact&) const { return ordered_json::object(); }
    ordered_json operator()(const heartbeat_fact&) const { return ordered_json::object(); }
  };
  return std::visit(visitor{}, what);
}

// Throws json::exception on a missing or mistyped field; decode() turns that into an error.
std::expected<fact, std::string> fact_from(const json& key, const json& value) {
  const auto keytype = key.at("keytype").get<std::string>();
  if (keytype == "SCHEMA") {
    schema_fact f{.subject = value.at("subject").get<std::string>(),
                  .version = value.at("version").get<int>(),
                  .id = value.at("id").get<int>()};
    auto state = state_from(value.at("state").get<std::string>());
    if (!state) return std::unexpected(fmt::format("unknown version state {}", value.at("state").dump()));
    f.state = *state;
    if (f.state != version_state::removed) f.schema = value.at("schema").get<std::string>();
    if (key.at("subject") != f.subject || key.at("version") != f.version) {
      return std::unexpected("the key and the value name different versions");
    }
    return f;
  }
  if (keytype == "CONFIG") {
    config_fact f{.subject = key.value("subject", std::string())};
    const auto& level = value.at("compatibilityLevel");
    if (!level.is_null()) {
      f.level = compatibility_level_from(level.get<std::string>());
      if (!f.level) return std::unexpected(fmt::format("unknown compatibility level {}", level.dump()));
    }
    return f;
  }
  if (keytype == "CLAIM") {
    if (key.at("epoch") != value.at("epoch")) return std::unexpected("the key and the value name different epochs");
    return claim_fact{.url = value.at("url").get<std::string>(), .lease_ms = value.at("lease_ms").get<std::int64_t>()};
  }
  if (keytype == "RESIGN") return resign_fact{};
  if (keytype == "HEARTBEAT") return heartbeat_fact{};
  return std::unexpected(fmt::format("unknown keytype '{}'", keytype));
}

}  // namespace

std::string key_of(const stamped_fact& f) { return key_json(f).dump(); }

encoded_fact encode(const stamped_fact& f) {
  auto key = key_json(f);
  auto value = value_json(f.what);
  value["epoch"] = f.epoch;
  value["writer"] = f.writer;
  return {key.dump(), value.dump()};
}

std::expected<stamped_fact, std::string> decode(std::string_view key_text, std::optional<std::string_view> value_text) {
  if (!value_text) return std::unexpected(fmt::format("a tombstone for {} (this registry writes none)", key_text));
  try {
    const auto key = json::parse(key_text);
    const auto value = json::parse(*value_text);
    auto what = fact_from(key, value);
    if (!what) return std::unexpected(fmt::format("record {}: {}", key_text, what.error()));
    return stamped_fact{.what = std::move(*what),
                        .epoch = value.at("epoch").get<std::int64_t>(),
                        .writer = value.at("writer").get<std::string>()};
  } catch (const json::exception& e) {
    return std::unexpected(fmt::format("record {}: not a record of this registry: {}", key_text, e.what()));
  }
}

}  // namespace horizons::schema_registry_service
