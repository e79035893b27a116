// horizons schemas list | show | check | diff | register | versions: the event contract and its
// evolution. `check` compares the working schemas (schemas/<topic>.avsc) with their released
// versions (schemas/history/<topic>/v<N>.avsc), with a registry's versions, or with one file.
#include "commands.hpp"
#include "kafka_options.hpp"

#include <horizons/catalogue.hpp>
#include <horizons/schema_evolution.hpp>
#include <horizons/schema_registry.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace horizons::cli {

namespace {

namespace fs = std::filesystem;

std::expected<std::string, std::string> read_text(const fs::path& path) {
  std::ifstream in(path);
  if (!in) return std::unexpected(fmt::format("cannot read {}", path.string()));
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

std::expected<avro_schema, std::string> read_schema(const fs::path& path) {
  auto text = read_text(path);
  if (!text) return std::unexpected(text.error());
  auto schema = avro_schema::parse(*text);
  if (!schema) return std::unexpected(fmt::format("{}: {}", path.string(), schema.error().message));
  return *schema;
}

// The files given, or else schemas/<topic>.avsc of every topic.
std::vector<fs::path> schema_files(const std::vector<std::string>& given, const std::string& schemas_dir) {
  std::vector<fs::path> files(given.begin(), given.end());
  if (files.empty()) {
    for (const auto& t : catalogue) files.push_back(fs::path(schemas_dir) / fmt::format("{}.avsc", t.name()));
  }
  return files;
}

// v1.avsc, v2.avsc, ... in version order.
std::expected<std::vector<avro_schema>, std::string> released_versions(const fs::path& dir) {
  std::vector<std::pair<int, fs::path>> found;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    const auto name = entry.path().filename().string();
    if (name.size() > 6 && name.starts_with('v') && name.ends_with(".avsc")) {
      const auto number = name.substr(1, name.size() - 6);
      if (std::ranges::all_of(number, [](char c) { return c >= '0' && c <= '9'; })) {
        found.emplace_back(std::stoi(number), entry.path());
      }
    }
  }
  std::ranges::sort(found);
  std::vector<avro_schema> versions;
  for (std::size_t i = 0; i < found.size(); ++i) {
    if (found[i].first != static_cast<int>(i) + 1) {
      return std::unexpected(fmt::format("{}: versions must be v1.avsc, v2.avsc, ... without gaps", dir.string()));
    }
    auto schema = read_schema(found[i].second);
    if (!schema) return std::unexpected(schema.error());
    versions.push_back(std::move(*schema));
  }
  return versions;
}

struct check_options {
  std::vector<std::string> files;
  std::string against = "history";
  std::string level;
  std::string schemas_dir = "schemas";
};

// The versions a working schema is checked against, oldest first, and the level to use.
struct baseline {
  std::string subject;
  std::vector<avro_schema> versions;
  compatibility_level level;
};

int run_check(const check_options& options, const kafka_options& connection) {
  constexpr std::string_view command = "schemas check";
  std::optional<compatibility_level> level_flag;
  if (!options.level.empty()) {
    level_flag = compatibility_level_from(options.level);
    if (!level_flag) return fail(command, fmt::format("--level: unknown level '{}'", options.level), exit_usage);
  }
  std::optional<schema_registry> registry;
  subject_name_strategy strategy = subject_name_strategy::topic_name;
  if (options.against == "registry") {
    auto config = resolve_config(connection, false);
    if (!config) return fail(command, config.error(), exit_usage);
    if (config->registry_url.empty()) return fail(command, "--against registry needs --registry URL", exit_usage);
    auto made = schema_registry::create(registry_options(*config));
    if (!made) return fail(command, made.error().message, exit_usage);
    registry.emplace(std::move(*made));
    strategy = config->registry_subject_strategy;
  }

  int result = exit_ok;
  for (const auto& file : schema_files(options.files, options.schemas_dir)) {
    auto candidate = read_schema(file);
    if (!candidate) return fail(command, candidate.error(), exit_usage);
    const auto topic = file.stem().string();
    baseline base{.subject = subject_name(strategy, topic, candidate->name()),
                  .versions = {},
                  .level = level_flag.value_or(compatibility_level::full_transitive)};
    if (options.against == "history") {
      auto versions = released_versions(fs::path(options.schemas_dir) / "history" / topic);
      if (!versions) return fail(command, versions.error(), exit_usage);
      base.versions = std::move(*versions);
    } else if (registry) {
      auto numbers = registry->versions(base.subject);
      if (!numbers && numbers.error().error_code != 40401) return fail(command, numbers.error().message);
      for (int n : numbers.value_or(std::vector<int>{})) {
        auto version = registry->version(base.subject, n);
        if (!version) return fail(command, version.error().message);
        auto schema = avro_schema::parse(version->schema);
        if (!schema) return fail(command, fmt::format("{} version {}: {}", base.subject, n, schema.error().message));
        base.versions.push_back(std::move(*schema));
      }
      if (!level_flag) {
        auto level = registry->compatibility(base.subject);
        if (!level) level = registry->compatibility();
        if (!level) return fail(command, level.error().message);
        base.level = *level;
      }
    } else {
      auto older = read_schema(options.against);
      if (!older) return fail(command, older.error(), exit_usage);
      base.versions.push_back(std::move(*older));
    }
    if (base.versions.empty()) {
      fmt::print("{}: no earlier version to check against\n", base.subject);
      continue;
    }
    const auto problems = check_compatibility(base.level, *candidate, base.versions);
    for (const auto& p : problems) fmt::print("{}: {}\n", base.subject, p.message);
    if (!problems.empty()) {
      result = exit_bad_input;
    } else {
      fmt::print("{}: compatible ({}, {} earlier version{})\n", base.subject, to_string(base.level),
                 base.versions.size(), base.versions.size() == 1 ? "" : "s");
    }
  }
  return result;
}

int run_diff(const std::string& before_file, const std::string& after_file) {
  constexpr std::string_view command = "schemas diff";
  auto before = read_schema(before_file);
  if (!before) return fail(command, before.error(), exit_usage);
  auto after = read_schema(after_file);
  if (!after) return fail(command, after.error(), exit_usage);
  const auto changes = schema_changes(*before, *after);
  if (changes.empty()) fmt::print("no changes\n");
  for (const auto& c : changes) fmt::print("{}\n", c);
  const auto verdict = [](const std::vector<incompatibility>& problems) {
    return problems.empty() ? std::string("yes") : fmt::format("no ({})", problems.front().message);
  };
  fmt::print("new reads old (backward): {}\n", verdict(reader_cannot_read(*after, *before)));
  fmt::print("old reads new (forward): {}\n", verdict(reader_cannot_read(*before, *after)));
  return exit_ok;
}

std::expected<schema_registry, std::string> registry_of(const kafka_options& connection, client_config* config_out) {
  auto config = resolve_config(connection, false);
  if (!config) return std::unexpected(config.error());
  if (config->registry_url.empty()) return std::unexpected("needs --registry URL (or SCHEMA_REGISTRY_URL)");
  auto made = schema_registry::create(registry_options(*config));
  if (!made) return std::unexpected(made.error().message);
  if (config_out) *config_out = *config;
  return std::move(*made);
}

int run_register(const std::vector<std::string>& given, const std::string& schemas_dir,
                 const kafka_options& connection) {
  constexpr std::string_view command = "schemas register";
  client_config config;
  auto registry = registry_of(connection, &config);
  if (!registry) return fail(command, registry.error(), exit_usage);
  for (const auto& file : schema_files(given, schemas_dir)) {
    auto text = read_text(file);
    if (!text) return fail(command, text.error(), exit_usage);
    auto schema = avro_schema::parse(*text);
    if (!schema) return fail(command, fmt::format("{}: {}", file.string(), schema.error().message), exit_usage);
    const auto subject = subject_name(config.registry_subject_strategy, file.stem().string(), schema->name());
    auto id = registry->register_schema(subject, *text);
    if (!id) return fail(command, id.error().message);
    auto found = registry->lookup(subject, *text);
    fmt::print("{} id {} version {}\n", subject, *id, found ? std::to_string(found->version) : "?");
  }
  return exit_ok;
}

int run_versions(const std::string& subject, const kafka_options& connection) {
  constexpr std::string_view command = "schemas versions";
  auto registry = registry_of(connection, nullptr);
  if (!registry) return fail(command, registry.error(), exit_usage);
  auto versions = registry->versions(subject);
  if (!versions) return fail(command, versions.error().message);
  for (int v : *versions) {
    auto found = registry->version(subject, v);
    if (!found) return fail(command, found.error().message);
    fmt::print("{} version {} id {}\n", subject, v, found->id);
  }
  return exit_ok;
}

}  // namespace

void add_schemas_commands(CLI::App& app, int& result) {
  auto* schemas = app.add_subcommand("schemas", "The Avro schemas of the event contract (one per topic)");
  schemas->require_subcommand(1);

  auto* list = schemas->add_subcommand("list", "List the topic schemas: topic, record, schema id, version");
  list->footer("Example:\n  horizons schemas list");
  list->callback([&result] {
    fmt::print("{:<16} {:<20} {:>9} {:>7}\n", "TOPIC", "RECORD", "SCHEMA_ID", "VERSION");
    auto print_row = [](const topic_spec& t, std::string_view record) {
      fmt::print("{:<16} {:<20} {:>9} {:>7}\n", t.name(), record, t.schema_id, t.schema_version);
    };
    [&]<std::size_t... I>(std::index_sequence<I...>) {
      (print_row(catalogue[I], topic_traits<static_cast<topic_id>(I)>::avro_name), ...);
    }
    (std::make_index_sequence<topic_count>{});
    result = exit_ok;
  });

  auto* show = schemas->add_subcommand("show", "Print one topic's schema (.avsc JSON)");
  auto topic = std::make_shared<std::string>();
  show->add_option("topic", *topic, "Topic name, e.g. job-lifecycle")->required();
  show->footer("Example:\n  horizons schemas show job-lifecycle | python3 -m json.tool");
  show->callback([&result, topic] {
    auto id = topic_from_name(*topic);
    if (!id) {
      fmt::print(stderr, "horizons schemas show: unknown topic '{}' (see `horizons schemas list`)\n", *topic);
      result = exit_usage;
      return;
    }
    fmt::print("{}", schema_json(*id));
    result = exit_ok;
  });

  auto* check = schemas->add_subcommand(
      "check", "Check schema files against their released versions, a registry's, or one file; exit 1 if incompatible");
  auto check_opts = std::make_shared<check_options>();
  auto check_connection = std::make_shared<kafka_options>();
  check->add_option("files", check_opts->files, "Schema files (default: schemas/<topic>.avsc of every topic)");
  check->add_option("--against", check_opts->against,
                    "history (schemas/history/<topic>/v<N>.avsc, default), registry (the subject's versions), or "
                    "an older schema FILE");
  check->add_option("--level", check_opts->level,
                    "NONE, BACKWARD, FORWARD, FULL or their _TRANSITIVE forms (default FULL_TRANSITIVE; with "
                    "--against registry, the subject's level)");
  check->add_option("--schemas-dir", check_opts->schemas_dir, "Where the schemas and history/ are (default schemas)");
  add_kafka_options(check, check_connection);
  check->footer(
      "Examples:\n  horizons schemas check\n  horizons schemas check --against registry --registry "
      "http://127.0.0.1:8081\n  horizons schemas check new.avsc --against old.avsc --level BACKWARD");
  check->callback([&result, check_opts, check_connection] { result = run_check(*check_opts, *check_connection); });

  auto* diff = schemas->add_subcommand("diff", "What changed between two schema files, and who can read whom");
  auto before = std::make_shared<std::string>(), after = std::make_shared<std::string>();
  diff->add_option("before", *before, "The older schema file")->required();
  diff->add_option("after", *after, "The newer schema file")->required();
  diff->footer("Example:\n  horizons schemas diff schemas/history/job-lifecycle/v1.avsc schemas/job-lifecycle.avsc");
  diff->callback([&result, before, after] { result = run_diff(*before, *after); });

  auto* reg = schemas->add_subcommand("register", "Register schema files in a registry under their subjects");
  auto reg_files = std::make_shared<std::vector<std::string>>();
  auto reg_dir = std::make_shared<std::string>("schemas");
  auto reg_connection = std::make_shared<kafka_options>();
  reg->add_option("files", *reg_files, "Schema files (default: schemas/<topic>.avsc of every topic)");
  reg->add_option("--schemas-dir", *reg_dir, "Where the schemas are (default schemas)");
  add_kafka_options(reg, reg_connection);
  reg->footer("Example:\n  horizons schemas register --registry http://127.0.0.1:8081");
  reg->callback(
      [&result, reg_files, reg_dir, reg_connection] { result = run_register(*reg_files, *reg_dir, *reg_connection); });

  auto* versions = schemas->add_subcommand("versions", "A subject's versions and their ids in a registry");
  auto subject = std::make_shared<std::string>();
  auto versions_connection = std::make_shared<kafka_options>();
  versions->add_option("subject", *subject, "e.g. job-lifecycle-value")->required();
  add_kafka_options(versions, versions_connection);
  versions->footer("Example:\n  horizons schemas versions job-lifecycle-value --registry http://127.0.0.1:8081");
  versions->callback(
      [&result, subject, versions_connection] { result = run_versions(*subject, *versions_connection); });
}

}  // namespace horizons::cli
