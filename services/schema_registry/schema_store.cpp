#include "services/schema_registry/schema_store.hpp"

#include <nlohmann/json.hpp>

namespace horizons::schema_registry_service {

std::string schema_identity(std::string_view text) {
  try {
    return nlohmann::json::parse(text).dump();
  } catch (const nlohmann::json::exception&) {
    return std::string(text);  // not JSON: only the same text is the same schema
  }
}

bool schema_store::is_writer(std::string_view instance) const {
  return writer_.epoch > 0 && !writer_.resigned && writer_.instance == instance;
}

bool schema_store::stamped_by_writer(const stamped_fact& f) const {
  return writer_.epoch > 0 && f.epoch == writer_.epoch && f.writer == writer_.instance;
}

apply_outcome schema_store::apply(const stamped_fact& f) {
  if (std::holds_alternative<claim_fact>(f.what)) {
    // The compare-and-set: only the next epoch, and only once.
    if (f.epoch != writer_.epoch + 1) return apply_outcome::fenced;
    const auto& claim = std::get<claim_fact>(f.what);
    writer_ = {.epoch = f.epoch,
               .instance = f.writer,
               .url = claim.url,
               .lease = std::chrono::milliseconds(claim.lease_ms),
               .resigned = false};
    return apply_outcome::applied;
  }
  const bool keyed_state = std::holds_alternative<schema_fact>(f.what) || std::holds_alternative<config_fact>(f.what);
  const auto key = keyed_state ? key_of({.what = f.what}) : std::string();
  auto outcome = apply_outcome::fenced;
  if (stamped_by_writer(f)) {
    if (const auto* s = std::get_if<schema_fact>(&f.what)) {
      outcome = apply_schema(*s);
    } else if (const auto* c = std::get_if<config_fact>(&f.what)) {
      outcome = apply_config(*c);
    } else {
      if (std::holds_alternative<resign_fact>(f.what)) writer_.resigned = true;
      outcome = apply_outcome::applied;
    }
  }
  if (keyed_state) {
    if (outcome == apply_outcome::applied) {
      latest_applied_.insert_or_assign(key, f.what);
      latest_refused_.erase(key);
    } else {
      latest_refused_.insert_or_assign(key, f.what);
    }
  }
  return outcome;
}

apply_outcome schema_store::apply_schema(const schema_fact& f) {
  auto subject = subjects_.find(f.subject);
  auto* existing = subject == subjects_.end() ? nullptr : [&]() -> stored_version* {
    auto found = subject->second.find(f.version);
    return found == subject->second.end() ? nullptr : &found->second;
  }();
  if (f.state == version_state::removed) {
    if (existing) {
      release(existing->id);
      subject->second.erase(f.version);
      if (subject->second.empty()) subjects_.erase(subject);
    }
    max_id_ = std::max(max_id_, f.id);
    return apply_outcome::applied;
  }
  const auto identity = schema_identity(f.schema);
  const auto by_id = schemas_.find(f.id);
  const auto by_identity = ids_by_identity_.find(identity);
  if ((existing && existing->id != f.id) || (by_identity != ids_by_identity_.end() && by_identity->second != f.id) ||
      (by_id != schemas_.end() && schema_identity(by_id->second.text) != identity)) {
    return apply_outcome::conflicting;
  }
  if (by_id == schemas_.end()) {
    stored_schema stored{.text = f.schema, .parsed = std::nullopt};
    if (auto parsed = avro_schema::parse(f.schema)) {
      stored.parsed = std::move(*parsed);
    } else {
      stored.parse_error = parsed.error().message;
    }
    schemas_.emplace(f.id, std::move(stored));
    ids_by_identity_.emplace(identity, f.id);
  }
  if (!existing) {
    subjects_[f.subject][f.version] = {.id = f.id, .soft_deleted = f.state == version_state::soft_deleted};
    ++schemas_.at(f.id).versions;
  } else {
    existing->soft_deleted = f.state == version_state::soft_deleted;
  }
  max_id_ = std::max(max_id_, f.id);
  return apply_outcome::applied;
}

apply_outcome schema_store::apply_config(const config_fact& f) {
  if (f.level) {
    levels_.insert_or_assign(f.subject, *f.level);
  } else {
    levels_.erase(f.subject);
  }
  return apply_outcome::applied;
}

void schema_store::release(int id) {
  auto found = schemas_.find(id);
  if (found == schemas_.end() || --found->second.versions > 0) return;
  ids_by_identity_.erase(schema_identity(found->second.text));
  schemas_.erase(found);
}

std::vector<std::string> schema_store::subjects(bool include_soft_deleted) const {
  std::vector<std::string> names;
  for (const auto& [name, versions] : subjects_) {
    const bool listed =
        include_soft_deleted || std::ranges::any_of(versions, [](const auto& v) { return !v.second.soft_deleted; });
    if (listed) names.push_back(name);
  }
  return names;
}

const std::map<int, stored_version>* schema_store::versions_of(std::string_view subject) const {
  const auto found = subjects_.find(subject);
  return found == subjects_.end() ? nullptr : &found->second;
}

const stored_schema* schema_store::schema(int id) const {
  const auto found = schemas_.find(id);
  return found == schemas_.end() ? nullptr : &found->second;
}

std::optional<int> schema_store::id_of(std::string_view identity) const {
  const auto found = ids_by_identity_.find(identity);
  return found == ids_by_identity_.end() ? std::nullopt : std::optional(found->second);
}

std::optional<int> schema_store::version_with(std::string_view subject, std::string_view identity,
                                              bool include_soft_deleted) const {
  const auto id = id_of(identity);
  const auto* versions = versions_of(subject);
  if (!id || !versions) return std::nullopt;
  std::optional<int> soft_deleted;
  for (const auto& [version, stored] : *versions) {
    if (stored.id != *id) continue;
    if (!stored.soft_deleted) return version;
    if (include_soft_deleted && !soft_deleted) soft_deleted = version;
  }
  return soft_deleted;
}

std::optional<compatibility_level> schema_store::own_level(std::string_view subject) const {
  const auto found = levels_.find(subject);
  return found == levels_.end() ? std::nullopt : std::optional(found->second);
}

compatibility_level schema_store::effective_level(std::string_view subject) const {
  if (auto own = own_level(subject); own && !subject.empty()) return *own;
  return own_level("").value_or(compatibility_level::backward);
}

int schema_store::next_version(std::string_view subject) const {
  const auto* versions = versions_of(subject);
  return versions && !versions->empty() ? versions->rbegin()->first + 1 : 1;
}

std::vector<fact> schema_store::repairs() const {
  std::vector<fact> facts;
  for (const auto& [key, refused] : latest_refused_) {
    if (const auto holds = latest_applied_.find(key); holds != latest_applied_.end()) {
      facts.push_back(holds->second);
    } else if (const auto* s = std::get_if<schema_fact>(&refused)) {
      facts.push_back(
          schema_fact{.subject = s->subject, .version = s->version, .id = s->id, .state = version_state::removed});
    } else {
      facts.push_back(config_fact{.subject = std::get<config_fact>(refused).subject, .level = std::nullopt});
    }
  }
  return facts;
}

}  // namespace horizons::schema_registry_service
