#include "services/schema_registry/registry_api.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <limits>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

namespace horizons::schema_registry_service {

namespace {

using json = nlohmann::json;

api_error fail(error_code code, std::string message) { return api_error::make(code, std::move(message)); }

api_error subject_not_found(std::string_view subject) {
  return fail(error_code::subject_not_found, fmt::format("Subject '{}' not found.", subject));
}

api_error version_not_found(std::string_view subject, int version) {
  return fail(error_code::version_not_found, fmt::format("Subject '{}' Version {} not found.", subject, version));
}

// A schema from a request body {"schema": "...", "schemaType": "AVRO", "references": []}.
struct candidate {
  std::string text;
  std::string identity;
  avro_schema schema;
};

std::expected<candidate, api_error> candidate_from(std::string_view body) {
  json request;
  try {
    request = json::parse(body);
  } catch (const json::exception& e) {
    return std::unexpected(fail(error_code::bad_request, fmt::format("The request body is not JSON: {}", e.what())));
  }
  const auto text = request.find("schema");
  if (!request.is_object() || text == request.end() || !text->is_string() || text->get<std::string>().empty()) {
    return std::unexpected(fail(error_code::invalid_schema, "Invalid schema: the request has no \"schema\" string"));
  }
  if (const auto type = request.find("schemaType"); type != request.end() && !type->is_null() && *type != "AVRO") {
    return std::unexpected(fail(error_code::invalid_schema,
                                fmt::format("Invalid schema: schemaType {} is not served here; this registry serves "
                                            "AVRO schemas only",
                                            type->dump())));
  }
  if (const auto references = request.find("references");
      references != request.end() && !references->is_null() && !references->empty()) {
    return std::unexpected(
        fail(error_code::invalid_schema, "Invalid schema: schema references are not supported by this registry"));
  }
  auto parsed = avro_schema::parse(text->get<std::string>());
  if (!parsed) {
    return std::unexpected(fail(error_code::invalid_schema, fmt::format("Invalid schema: {}", parsed.error().message)));
  }
  return candidate{.text = text->get<std::string>(),
                   .identity = schema_identity(text->get<std::string>()),
                   .schema = std::move(*parsed)};
}

// "latest" / -1: nullopt; 1..2^31-1: that version; anything else: 42202.
std::expected<std::optional<int>, api_error> version_from(std::string_view text) {
  if (text == "latest" || text == "-1") return std::nullopt;
  int version = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), version);
  if (ec != std::errc() || end != text.data() + text.size() || version < 1) {
    return std::unexpected(fail(error_code::invalid_version,
                                fmt::format("The specified version '{}' is not a valid version id. Allowed values are "
                                            "between [1, 2^31-1] and the string \"latest\"",
                                            text)));
  }
  return version;
}

bool visible(const stored_version& v, deleted_versions deleted) {
  return !v.soft_deleted || deleted == deleted_versions::included;
}

// The subject's versions that count; 40401 when there are none.
std::expected<const std::map<int, stored_version>*, api_error> subject_versions(const schema_store& state,
                                                                                std::string_view subject,
                                                                                deleted_versions deleted) {
  const auto* versions = state.versions_of(subject);
  if (!versions || !std::ranges::any_of(*versions, [&](const auto& v) { return visible(v.second, deleted); })) {
    return std::unexpected(subject_not_found(subject));
  }
  return versions;
}

// The version `wanted` names (the highest visible one for latest); 40402 when it is not there.
std::expected<int, api_error> resolve(const std::map<int, stored_version>& versions, std::string_view subject,
                                      std::optional<int> wanted, deleted_versions deleted) {
  if (!wanted) {
    for (auto v = versions.rbegin(); v != versions.rend(); ++v) {
      if (visible(v->second, deleted)) return v->first;
    }
    return std::unexpected(
        fail(error_code::version_not_found, fmt::format("Subject '{}' Version latest not found.", subject)));
  }
  const auto found = versions.find(*wanted);
  if (found == versions.end() || !visible(found->second, deleted)) {
    return std::unexpected(version_not_found(subject, *wanted));
  }
  return *wanted;
}

// The parsed schemas of `versions` of the subject, in that order.
std::expected<std::vector<avro_schema>, api_error> parsed_versions(const schema_store& state,
                                                                   const std::map<int, stored_version>& all,
                                                                   std::string_view subject,
                                                                   const std::vector<int>& versions) {
  std::vector<avro_schema> schemas;
  for (const int version : versions) {
    const auto* stored = state.schema(all.at(version).id);
    if (!stored || !stored->parsed) {
      return std::unexpected(fail(error_code::store_error,
                                  fmt::format("Subject '{}' Version {}: the stored schema does not parse: {}", subject,
                                              version, stored ? stored->parse_error : "no schema for its id")));
    }
    schemas.push_back(*stored->parsed);
  }
  return schemas;
}

std::vector<int> live_versions(const std::map<int, stored_version>& versions) {
  std::vector<int> live;
  for (const auto& [version, stored] : versions) {
    if (!stored.soft_deleted) live.push_back(version);
  }
  return live;
}

std::vector<std::string> messages_of(const std::vector<incompatibility>& problems) {
  std::vector<std::string> messages;
  for (const auto& p : problems) messages.push_back(p.message);
  return messages;
}

std::string version_body(std::string_view subject, int version, int id, const std::string& schema) {
  return json{{"subject", subject}, {"version", version}, {"id", id}, {"schema", schema}}.dump();
}

std::string level_names() {
  std::vector<std::string_view> names;
  for (int i = 0; i <= static_cast<int>(compatibility_level::full_transitive); ++i) {
    names.push_back(to_string(static_cast<compatibility_level>(i)));
  }
  return fmt::format("{}", fmt::join(names, ", "));
}

}  // namespace

api_result registry_api::register_schema(std::string_view subject, std::string_view body) {
  auto wanted = candidate_from(body);
  if (!wanted) return std::unexpected(wanted.error());
  int id = 0;
  auto written = store_.write([&](const schema_store& state) -> decision {
    if (auto version = state.version_with(subject, wanted->identity, false)) {
      id = state.versions_of(subject)->at(*version).id;
      return std::vector<fact>{};
    }
    if (const auto* versions = state.versions_of(subject);
        versions && state.effective_level(subject) != compatibility_level::none) {
      auto existing = parsed_versions(state, *versions, subject, live_versions(*versions));
      if (!existing) return std::unexpected(existing.error());
      const auto level = state.effective_level(subject);
      if (auto problems = check_compatibility(level, wanted->schema, *existing); !problems.empty()) {
        return std::unexpected(fail(error_code::incompatible,
                                    fmt::format("Schema being registered is incompatible with an earlier schema for "
                                                "subject \"{}\" under {}, details: [{}]",
                                                subject, to_string(level), fmt::join(messages_of(problems), "; "))));
      }
    }
    const auto known = state.id_of(wanted->identity);
    id = known.value_or(state.next_id());
    return std::vector<fact>{schema_fact{.subject = std::string(subject),
                                         .version = state.next_version(subject),
                                         .id = id,
                                         .state = version_state::live,
                                         .schema = known ? state.schema(*known)->text : wanted->text}};
  });
  if (!written) return std::unexpected(written.error());
  return api_answer{.body = json{{"id", id}}.dump(), .written_up_to = *written};
}

api_result registry_api::lookup(std::string_view subject, std::string_view body, deleted_versions deleted) const {
  auto wanted = candidate_from(body);
  if (!wanted) return std::unexpected(wanted.error());
  return store_.read([&](const schema_store& state) -> api_result {
    auto versions = subject_versions(state, subject, deleted);
    if (!versions) return std::unexpected(versions.error());
    const auto version = state.version_with(subject, wanted->identity, deleted == deleted_versions::included);
    if (!version) return std::unexpected(fail(error_code::schema_not_found, "Schema not found"));
    const int id = (*versions)->at(*version).id;
    return api_answer{.body = version_body(subject, *version, id, state.schema(id)->text)};
  });
}

api_result registry_api::schema_by_id(std::string_view id_text) const {
  int id = 0;
  const auto [end, ec] = std::from_chars(id_text.data(), id_text.data() + id_text.size(), id);
  const bool number = ec == std::errc() && end == id_text.data() + id_text.size();
  return store_.read([&](const schema_store& state) -> api_result {
    const auto* stored = number ? state.schema(id) : nullptr;
    if (!stored)
      return std::unexpected(fail(error_code::schema_not_found, fmt::format("Schema {} not found", id_text)));
    return api_answer{.body = json{{"schema", stored->text}}.dump()};
  });
}

api_result registry_api::schema_types() { return api_answer{.body = json::array({"AVRO"}).dump()}; }

api_result registry_api::subjects(deleted_versions deleted) const {
  return store_.read([&](const schema_store& state) -> api_result {
    return api_answer{.body = json(state.subjects(deleted == deleted_versions::included)).dump()};
  });
}

api_result registry_api::versions(std::string_view subject, deleted_versions deleted) const {
  return store_.read([&](const schema_store& state) -> api_result {
    auto versions = subject_versions(state, subject, deleted);
    if (!versions) return std::unexpected(versions.error());
    std::vector<int> listed;
    for (const auto& [version, stored] : **versions) {
      if (visible(stored, deleted)) listed.push_back(version);
    }
    return api_answer{.body = json(listed).dump()};
  });
}

api_result registry_api::version(std::string_view subject, std::string_view version_text,
                                 deleted_versions deleted) const {
  auto wanted = version_from(version_text);
  if (!wanted) return std::unexpected(wanted.error());
  return store_.read([&](const schema_store& state) -> api_result {
    auto versions = subject_versions(state, subject, deleted);
    if (!versions) return std::unexpected(versions.error());
    auto version = resolve(**versions, subject, *wanted, deleted);
    if (!version) return std::unexpected(version.error());
    const int id = (*versions)->at(*version).id;
    return api_answer{.body = version_body(subject, *version, id, state.schema(id)->text)};
  });
}

api_result registry_api::version_schema(std::string_view subject, std::string_view version_text,
                                        deleted_versions deleted) const {
  auto answer = version(subject, version_text, deleted);
  if (!answer) return answer;
  return api_answer{.body = json::parse(answer->body).at("schema").get<std::string>()};
}

api_result registry_api::test_compatibility(std::string_view subject, std::string_view version_text,
                                            std::string_view body, verbosity verbose) const {
  auto wanted_version = version_from(version_text);
  if (!wanted_version) return std::unexpected(wanted_version.error());
  auto wanted = candidate_from(body);
  if (!wanted) return std::unexpected(wanted.error());
  return store_.read([&](const schema_store& state) -> api_result {
    auto versions = subject_versions(state, subject, deleted_versions::hidden);
    if (!versions) return std::unexpected(versions.error());
    auto version = resolve(**versions, subject, *wanted_version, deleted_versions::hidden);
    if (!version) return std::unexpected(version.error());
    // Against the latest: every live version (a transitive level looks at them all); else that one.
    const auto against = *wanted_version ? std::vector<int>{*version} : live_versions(**versions);
    auto existing = parsed_versions(state, **versions, subject, against);
    if (!existing) return std::unexpected(existing.error());
    const auto level = state.effective_level(subject);
    const auto problems = check_compatibility(level, wanted->schema, *existing);
    json answer{{"is_compatible", problems.empty()}};
    if (verbose == verbosity::with_messages) answer["messages"] = messages_of(problems);
    return api_answer{.body = answer.dump()};
  });
}

api_result registry_api::config(std::string_view subject, level_fallback fallback) const {
  return store_.read([&](const schema_store& state) -> api_result {
    const auto own = state.own_level(subject);
    if (!subject.empty() && !own && fallback == level_fallback::none) {
      return std::unexpected(
          fail(error_code::subject_level_not_configured,
               fmt::format("Subject '{}' does not have subject-level compatibility configured", subject)));
    }
    return api_answer{.body = json{{"compatibilityLevel", to_string(state.effective_level(subject))}}.dump()};
  });
}

api_result registry_api::set_config(std::string_view subject, std::string_view body) {
  json request;
  try {
    request = json::parse(body);
  } catch (const json::exception& e) {
    return std::unexpected(fail(error_code::bad_request, fmt::format("The request body is not JSON: {}", e.what())));
  }
  const auto name =
      request.is_object() ? request.value("compatibility", request.value("compatibilityLevel", json())) : json();
  // Confluent takes the level's name in any case.
  auto upper = name.is_string() ? name.get<std::string>() : std::string();
  std::ranges::transform(upper, upper.begin(), [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  const auto level = name.is_string() ? compatibility_level_from(upper) : std::nullopt;
  if (!level) {
    return std::unexpected(fail(error_code::invalid_compatibility_level,
                                fmt::format("Invalid compatibility level {}. Valid values are {}",
                                            name.is_null() ? "(none given)" : name.dump(), level_names())));
  }
  auto written = store_.write([&](const schema_store& state) -> decision {
    if (state.own_level(subject) == level) return std::vector<fact>{};
    return std::vector<fact>{config_fact{.subject = std::string(subject), .level = level}};
  });
  if (!written) return std::unexpected(written.error());
  return api_answer{.body = json{{"compatibility", to_string(*level)}}.dump(), .written_up_to = *written};
}

api_result registry_api::delete_config(std::string_view subject) {
  compatibility_level removed{};
  auto written = store_.write([&](const schema_store& state) -> decision {
    const auto own = state.own_level(subject);
    if (!own) {
      return std::unexpected(
          fail(error_code::subject_level_not_configured,
               fmt::format("Subject '{}' does not have subject-level compatibility configured", subject)));
    }
    removed = *own;
    return std::vector<fact>{config_fact{.subject = std::string(subject), .level = std::nullopt}};
  });
  if (!written) return std::unexpected(written.error());
  return api_answer{.body = json{{"compatibilityLevel", to_string(removed)}}.dump(), .written_up_to = *written};
}

api_result registry_api::delete_subject(std::string_view subject, deletion_mode mode) {
  std::vector<int> deleted;
  auto written = store_.write([&](const schema_store& state) -> decision {
    const auto* versions = state.versions_of(subject);
    if (!versions) return std::unexpected(subject_not_found(subject));
    const auto live = live_versions(*versions);
    std::vector<fact> facts;
    if (mode == deletion_mode::soft) {
      if (live.empty()) {
        return std::unexpected(fail(error_code::subject_soft_deleted,
                                    fmt::format("Subject '{}' was soft deleted. Set permanent=true to delete "
                                                "permanently",
                                                subject)));
      }
      for (const int version : live) {
        const int id = versions->at(version).id;
        facts.push_back(schema_fact{.subject = std::string(subject),
                                    .version = version,
                                    .id = id,
                                    .state = version_state::soft_deleted,
                                    .schema = state.schema(id)->text});
      }
      deleted = live;
      return facts;
    }
    if (!live.empty()) {
      return std::unexpected(
          fail(error_code::subject_not_soft_deleted,
               fmt::format("Subject '{}' was not deleted first before being permanently deleted", subject)));
    }
    for (const auto& [version, stored] : *versions) {
      facts.push_back(schema_fact{
          .subject = std::string(subject), .version = version, .id = stored.id, .state = version_state::removed});
      deleted.push_back(version);
    }
    if (state.own_level(subject)) facts.push_back(config_fact{.subject = std::string(subject), .level = std::nullopt});
    return facts;
  });
  if (!written) return std::unexpected(written.error());
  return api_answer{.body = json(deleted).dump(), .written_up_to = *written};
}

api_result registry_api::delete_version(std::string_view subject, std::string_view version_text, deletion_mode mode) {
  auto wanted = version_from(version_text);
  if (!wanted) return std::unexpected(wanted.error());
  int deleted = 0;
  auto written = store_.write([&](const schema_store& state) -> decision {
    const auto* versions = state.versions_of(subject);
    if (!versions) return std::unexpected(subject_not_found(subject));
    // A soft delete of latest means the latest live version; a permanent one, the latest of all.
    auto version = resolve(*versions, subject, *wanted,
                           mode == deletion_mode::soft ? deleted_versions::hidden : deleted_versions::included);
    if (!version && *wanted && versions->contains(**wanted)) {
      return std::unexpected(fail(error_code::version_soft_deleted,
                                  fmt::format("Subject '{}' Version {} was soft deleted. Set permanent=true to delete "
                                              "permanently",
                                              subject, **wanted)));
    }
    if (!version) return std::unexpected(version.error());
    const auto& stored = versions->at(*version);
    if (mode == deletion_mode::permanent && !stored.soft_deleted) {
      return std::unexpected(fail(error_code::version_not_soft_deleted,
                                  fmt::format("Subject '{}' Version {} was not deleted first before being permanently "
                                              "deleted",
                                              subject, *version)));
    }
    deleted = *version;
    if (mode == deletion_mode::soft) {
      return std::vector<fact>{schema_fact{.subject = std::string(subject),
                                           .version = *version,
                                           .id = stored.id,
                                           .state = version_state::soft_deleted,
                                           .schema = state.schema(stored.id)->text}};
    }
    return std::vector<fact>{schema_fact{
        .subject = std::string(subject), .version = *version, .id = stored.id, .state = version_state::removed}};
  });
  if (!written) return std::unexpected(written.error());
  return api_answer{.body = json(deleted).dump(), .written_up_to = *written};
}

}  // namespace horizons::schema_registry_service
