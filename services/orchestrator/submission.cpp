#include "services/orchestrator/submission.hpp"

#include <cctype>
#include <cstdint>
#include <type_traits>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <horizons/event_builder.hpp>
#include <horizons/reflection.hpp>

namespace horizons::orchestrator {
namespace {

// "AlphaCal", "alpha_cal", "ALPHA-CAL" -> ALPHA_CAL
std::string avro_symbol(std::string_view name) {
  std::string symbol;
  for (std::size_t i = 0; i < name.size(); ++i) {
    char c = name[i];
    if (c == '-' || c == ' ') c = '_';
    bool boundary =
        i > 0 && std::isupper(static_cast<unsigned char>(c)) && std::islower(static_cast<unsigned char>(name[i - 1]));
    if (boundary) symbol += '_';
    symbol += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  }
  return symbol;
}

template <class Enum>
std::expected<Enum, std::string> enum_field(const nlohmann::json& body, const char* field, Enum fallback) {
  if (!body.contains(field)) return fallback;
  if (!body[field].is_string()) return std::unexpected(fmt::format("\"{}\" must be a string", field));
  auto text = body[field].get<std::string>();
  if (auto value = enum_from_string<Enum>(avro_symbol(text))) return *value;
  std::string allowed;
  for (auto symbol : enum_traits<Enum>::symbols) allowed += fmt::format("{}{}", allowed.empty() ? "" : ", ", symbol);
  return std::unexpected(fmt::format("\"{}\": unknown value '{}' (expected one of {})", field, text, allowed));
}

// body[key] as a T (fallback when absent); an error names the field by its path and what it holds.
template <class T>
std::expected<T, std::string> value_field(const nlohmann::json& body, std::string_view path, const char* key,
                                          T fallback) {
  if (!body.contains(key)) return fallback;
  const auto& value = body[key];
  bool fits = false;
  if constexpr (std::is_same_v<T, std::string>) {
    fits = value.is_string();
  } else if constexpr (std::is_integral_v<T>) {
    fits = value.is_number_integer();
  } else {
    fits = value.is_number();
  }
  if (!fits) {
    auto expected = std::is_same_v<T, std::string> ? "a string" : std::is_integral_v<T> ? "an integer" : "a number";
    return std::unexpected(fmt::format("\"{}{}\" must be {}, got {}", path, key, expected, value.dump()));
  }
  return value.get<T>();
}

}  // namespace

std::expected<event<job_submitted>, std::string> submission_from_json(std::string_view json,
                                                                      std::string_view default_user) {
  auto body = nlohmann::json::parse(json, nullptr, false);
  if (body.is_discarded() || !body.is_object()) return std::unexpected("the submission is not a JSON object");
  job_submitted job;
  std::string error;
  // Each field is read once; the first error is the answer.
  auto read = [&error](auto&& field, auto& into) {
    if (!error.empty()) return;
    if (field) {
      into = std::move(*field);
    } else {
      error = field.error();
    }
  };
  read(value_field<std::string>(body, "", "job_id", "job-" + uuid::random().to_string().substr(0, 13)), job.job_id);
  read(value_field<std::string>(body, "", "job_name", ""), job.job_name);
  read(value_field<std::string>(body, "", "dataset_id", ""), job.dataset_id);
  read(value_field<double>(body, "", "estimated_cost_usd", 0.0), job.estimated_cost_usd);
  auto resources = body.value("resources", nlohmann::json::object());
  if (!resources.is_object()) return std::unexpected("\"resources\" must be an object");
  auto& r = job.resources;
  read(value_field<std::int32_t>(resources, "resources.", "nodes", 1), r.nodes);
  read(value_field<std::int32_t>(resources, "resources.", "cores_per_node", 56), r.cores_per_node);
  read(value_field<std::int32_t>(resources, "resources.", "gpus", 0), r.gpus);
  read(value_field<std::int32_t>(resources, "resources.", "memory_gb", 192), r.memory_gb);
  read(value_field<std::int32_t>(resources, "resources.", "wall_time_minutes", 120), r.wall_time_minutes);
  if (!error.empty()) return std::unexpected(error);
  auto pipe = enum_field(body, "pipeline", pipeline::other);
  if (!pipe) return std::unexpected(pipe.error());
  auto system = enum_field(body, "tacc_system", tacc_system::frontera);
  if (!system) return std::unexpected(system.error());
  auto priority = enum_field(body, "priority", job_priority::normal);
  if (!priority) return std::unexpected(priority.error());
  job.pipeline = *pipe;
  job.tacc_system = *system;
  job.priority = *priority;
  std::string user = body.contains("user_id") && body["user_id"].is_string() ? body["user_id"].get<std::string>()
                                                                             : std::string(default_user);
  if (user.empty()) return std::unexpected("\"user_id\" is required");
  if (job.resources.nodes < 1)
    return std::unexpected(fmt::format("\"resources.nodes\" must be >= 1, got {}", job.resources.nodes));
  auto built = make_event(std::move(job)).user_id(std::move(user)).build();
  if (!built) return std::unexpected(built.error().message);
  return std::move(*built);
}

}  // namespace horizons::orchestrator
