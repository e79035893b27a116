// The registry client: each API call is one request description (method, path, body, what is being
// asked for the error message) sent by send(), which owns the retries, the deadline and turning an
// answer into either its JSON body or a registry_error.
#include <horizons/schema_registry.hpp>

#include <fmt/format.h>
#include <httplib.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <array>
#include <atomic>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <thread>
#include <utility>

namespace horizons {

namespace {

using json = nlohmann::json;
using clock = std::chrono::steady_clock;
using enum registry_error::kind;

constexpr std::string_view content_type = "application/vnd.schemaregistry.v1+json";

registry_error settings_error(std::string message) { return {.what = bad_settings, .message = std::move(message)}; }

// Percent-encodes one path segment (a subject may hold '/', ':', spaces).
std::string encode_segment(std::string_view text) {
  std::string out;
  for (const char c : text) {
    const auto u = static_cast<unsigned char>(c);
    const bool unreserved = std::isalnum(u) || c == '-' || c == '.' || c == '_' || c == '~';
    out += unreserved ? std::string(1, c) : fmt::format("%{:02X}", u);
  }
  return out;
}

struct parsed_url {
  std::string scheme_host_port;  // "http://127.0.0.1:8081", what httplib::Client takes
  std::string path_prefix;       // "" or "/apis/ccompat/v7", without a trailing '/'
};

std::expected<parsed_url, registry_error> parse_url(std::string_view url) {
  const auto refuse = [&](std::string_view why) {
    return std::unexpected(
        settings_error(fmt::format("schema registry URL '{}': {}; expected http[s]://host[:port][/path]", url, why)));
  };
  const auto scheme_end = url.find("://");
  if (scheme_end == std::string_view::npos) return refuse("no scheme");
  const auto scheme = url.substr(0, scheme_end);
  if (scheme != "http" && scheme != "https") return refuse(fmt::format("unsupported scheme '{}'", scheme));
  auto rest = url.substr(scheme_end + 3);
  const auto path_start = rest.find('/');
  const auto authority = rest.substr(0, path_start);
  auto path = path_start == std::string_view::npos ? std::string_view{} : rest.substr(path_start);
  if (authority.empty()) return refuse("no host");
  if (authority.contains('@')) return refuse("credentials in the URL (use SCHEMA_REGISTRY_BASIC_AUTH_USER_INFO)");
  if (url.contains('?') || url.contains('#') || url.contains(',')) {
    return refuse("a query, fragment or second URL");
  }
  if (const auto colon = authority.rfind(':'); colon != std::string_view::npos && !authority.ends_with(']')) {
    const auto port = authority.substr(colon + 1);
    if (port.empty() || port.size() > 5 || !std::ranges::all_of(port, [](char c) { return c >= '0' && c <= '9'; }) ||
        std::stoi(std::string(port)) == 0 || std::stoi(std::string(port)) > 65535) {
      return refuse(fmt::format("bad port '{}'", port));
    }
  }
  while (path.ends_with('/')) path.remove_suffix(1);
  return parsed_url{.scheme_host_port = fmt::format("{}://{}", scheme, authority), .path_prefix = std::string(path)};
}

// What one call sends, and what it asks for (for the error message).
struct request {
  std::string_view method;
  std::string path;  // below the URL's prefix, starting with '/'
  std::string body{};
  std::string about{};  // "subject job-lifecycle-value, version 3"
};

std::string version_text(std::optional<int> version) { return version ? std::to_string(*version) : "latest"; }

std::string about_subject(std::string_view subject, std::optional<int> version = {}, bool named_version = false) {
  return named_version ? fmt::format("subject {}, version {}", subject, version_text(version))
                       : fmt::format("subject {}", subject);
}

template <class T>
std::expected<T, registry_error> field(const json& body, std::string_view name, const std::string& about) {
  const auto found = body.find(name);
  if (!body.is_object() || found == body.end()) {
    return std::unexpected(registry_error{
        .what = bad_response, .message = fmt::format("{}: the registry's answer has no '{}'", about, name)});
  }
  try {
    return found->template get<T>();
  } catch (const json::exception&) {
    return std::unexpected(registry_error{
        .what = bad_response, .message = fmt::format("{}: the registry's '{}' has the wrong type", about, name)});
  }
}

std::expected<registered_schema, registry_error> to_registered(const json& body, const std::string& about) {
  auto subject = field<std::string>(body, "subject", about);
  auto version = field<int>(body, "version", about);
  auto id = field<int>(body, "id", about);
  auto schema = field<std::string>(body, "schema", about);
  for (const auto* error : {subject ? nullptr : &subject.error(), version ? nullptr : &version.error(),
                            id ? nullptr : &id.error(), schema ? nullptr : &schema.error()}) {
    if (error) return std::unexpected(*error);
  }
  return registered_schema{.subject = std::move(*subject),
                           .version = *version,
                           .id = *id,
                           .schema = std::move(*schema),
                           .schema_type = body.value("schemaType", std::string("AVRO"))};
}

// g++ 12's std::expected has no and_then: the same, for an answer.
template <class F>
auto then(std::expected<json, registry_error> answer, F&& next) -> decltype(next(std::declval<const json&>())) {
  if (!answer) return std::unexpected(std::move(answer.error()));
  return next(*answer);
}

std::string schema_body(std::string_view schema) { return json{{"schema", schema}}.dump(); }

}  // namespace

std::string subject_name(subject_name_strategy strategy, std::string_view topic, std::string_view record_full_name) {
  return strategy == subject_name_strategy::topic_name ? fmt::format("{}-value", topic) : std::string(record_full_name);
}

schema_registry_options registry_options(const client_config& config) {
  return {.url = config.registry_url,
          .basic_auth_user_info = config.registry_basic_auth_user_info,
          .ca_location = config.registry_ca_location};
}

struct schema_registry::state {
  schema_registry_options options;
  parsed_url url;
  std::mutex mutex;  // one request at a time on the connection; guards the caches too
  httplib::Client client;
  std::map<int, std::string> schemas_by_id;
  std::map<std::pair<std::string, std::string>, int, std::less<>> ids_by_subject_schema;
  std::atomic<std::uint64_t> requests{0};

  state(schema_registry_options o, parsed_url u)
      : options(std::move(o)), url(std::move(u)), client(url.scheme_host_port) {
    if (const auto colon = options.basic_auth_user_info.find(':'); colon != std::string::npos) {
      client.set_basic_auth(options.basic_auth_user_info.substr(0, colon),
                            options.basic_auth_user_info.substr(colon + 1));
    }
    if (!options.ca_location.empty()) client.set_ca_cert_path(options.ca_location.c_str());
    client.enable_server_certificate_verification(true);
    client.set_keep_alive(true);
    client.set_tcp_nodelay(true);  // else each request with a body waits ~40 ms for a delayed ACK
  }

  httplib::Result send_once(const request& r, std::chrono::milliseconds budget) {
    const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(budget);
    const auto micros = std::chrono::duration_cast<std::chrono::microseconds>(budget - seconds);
    client.set_connection_timeout(seconds.count(), micros.count());
    client.set_read_timeout(seconds.count(), micros.count());
    client.set_write_timeout(seconds.count(), micros.count());
    const httplib::Headers headers{{"Accept", std::string(content_type) + ", application/json"}};
    const auto path = url.path_prefix + r.path;
    ++requests;
    if (r.method == "GET") return client.Get(path, headers);
    if (r.method == "DELETE") return client.Delete(path, headers);
    if (r.method == "PUT") return client.Put(path, headers, r.body, std::string(content_type));
    return client.Post(path, headers, r.body, std::string(content_type));
  }

  // Sends `r` until it gets an answer that is not worth retrying or the deadline passes; the
  // answer's JSON body on 2xx.
  std::expected<json, registry_error> send(const request& r) {
    const auto deadline = clock::now() + options.timeout;
    auto backoff = options.retry_backoff;
    int attempts = 0;
    std::string last_failure;
    std::optional<registry_error> last_rejection;  // a 5xx or 429, when the last attempt got one
    for (;;) {
      const auto budget = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock::now());
      if (budget <= std::chrono::milliseconds{0}) break;
      ++attempts;
      const auto result = send_once(r, budget);
      if (!result) {
        last_failure = httplib::to_string(result.error());
        last_rejection.reset();
      } else if (result->status >= 200 && result->status < 300) {
        try {
          return json::parse(result->body);
        } catch (const json::exception&) {
          return std::unexpected(registry_error{.what = bad_response,
                                                .http_status = result->status,
                                                .message = fmt::format("{}: the registry's answer is not JSON: '{}'",
                                                                       r.about, result->body.substr(0, 200))});
        }
      } else {
        auto error = rejection(r, *result);
        if (result->status != 429 && result->status < 500) return std::unexpected(std::move(error));
        last_rejection = std::move(error);
      }
      const auto now = clock::now();
      if (now + backoff >= deadline) break;
      std::this_thread::sleep_for(backoff);
      backoff *= 2;
    }
    if (last_rejection) {
      last_rejection->message += fmt::format(", still after {} attempts in {} ms", attempts, options.timeout.count());
      return std::unexpected(std::move(*last_rejection));
    }
    return std::unexpected(registry_error{
        .what = unreachable,
        .message = fmt::format("{}: no answer from the schema registry at {}{} within {} ms ({} attempt{}){}{}",
                               r.about, url.scheme_host_port, url.path_prefix, options.timeout.count(), attempts,
                               attempts == 1 ? "" : "s", last_failure.empty() ? "" : ": ", last_failure)});
  }

  static registry_error rejection(const request& r, const httplib::Response& answer) {
    int code = 0;
    std::string text;
    try {
      const auto body = json::parse(answer.body);
      code = body.value("error_code", 0);
      text = body.value("message", std::string());
    } catch (const json::exception&) {
      text = answer.body.substr(0, 200);
    }
    return {.what = rejected,
            .http_status = answer.status,
            .error_code = code,
            .message = code != 0
                           ? fmt::format("{}: registry error {}: {} (HTTP {})", r.about, code, text, answer.status)
                           : fmt::format("{}: HTTP {} {}", r.about, answer.status, text)};
  }
};

std::expected<schema_registry, registry_error> schema_registry::create(schema_registry_options options) {
  auto url = parse_url(options.url);
  if (!url) return std::unexpected(url.error());
  if (!options.basic_auth_user_info.empty() && !options.basic_auth_user_info.contains(':')) {
    return std::unexpected(settings_error("schema registry basic auth user info: expected user:password"));
  }
  if (!options.ca_location.empty()) {
    std::error_code ec;
    if (!std::filesystem::is_regular_file(options.ca_location, ec) || !std::ifstream(options.ca_location)) {
      return std::unexpected(
          settings_error(fmt::format("schema registry CA file '{}' is not a readable file", options.ca_location)));
    }
  }
  if (options.timeout <= std::chrono::milliseconds{0}) {
    return std::unexpected(settings_error("schema registry timeout must be positive"));
  }
  return schema_registry(std::make_unique<state>(std::move(options), std::move(*url)));
}

schema_registry::schema_registry(std::unique_ptr<state> s) : state_(std::move(s)) {}
schema_registry::schema_registry(schema_registry&&) noexcept = default;
schema_registry& schema_registry::operator=(schema_registry&&) noexcept = default;
schema_registry::~schema_registry() = default;

std::uint64_t schema_registry::requests_sent() const { return state_->requests.load(); }

std::expected<int, registry_error> schema_registry::register_schema(std::string_view subject, std::string_view schema) {
  const std::lock_guard lock(state_->mutex);
  const auto key = std::pair{std::string(subject), std::string(schema)};
  if (const auto cached = state_->ids_by_subject_schema.find(key); cached != state_->ids_by_subject_schema.end()) {
    return cached->second;
  }
  const request r{.method = "POST",
                  .path = fmt::format("/subjects/{}/versions", encode_segment(subject)),
                  .body = schema_body(schema),
                  .about = fmt::format("registering a schema under subject {}", subject)};
  auto id = then(state_->send(r), [&](const json& body) { return field<int>(body, "id", r.about); });
  if (id) state_->ids_by_subject_schema.emplace(key, *id);
  return id;
}

std::expected<registered_schema, registry_error> schema_registry::lookup(std::string_view subject,
                                                                         std::string_view schema) {
  const std::lock_guard lock(state_->mutex);
  const request r{.method = "POST",
                  .path = fmt::format("/subjects/{}", encode_segment(subject)),
                  .body = schema_body(schema),
                  .about = fmt::format("looking up a schema under subject {}", subject)};
  auto found = then(state_->send(r), [&](const json& body) { return to_registered(body, r.about); });
  if (found) state_->ids_by_subject_schema.emplace(std::pair{std::string(subject), std::string(schema)}, found->id);
  return found;
}

std::expected<std::string, registry_error> schema_registry::schema_by_id(int id) {
  const std::lock_guard lock(state_->mutex);
  if (const auto cached = state_->schemas_by_id.find(id); cached != state_->schemas_by_id.end()) return cached->second;
  const request r{
      .method = "GET", .path = fmt::format("/schemas/ids/{}", id), .about = fmt::format("schema id {}", id)};
  auto text = then(state_->send(r), [&](const json& body) { return field<std::string>(body, "schema", r.about); });
  if (text) state_->schemas_by_id.emplace(id, *text);
  return text;
}

std::expected<registered_schema, registry_error> schema_registry::version(std::string_view subject,
                                                                          std::optional<int> version) {
  const std::lock_guard lock(state_->mutex);
  const request r{.method = "GET",
                  .path = fmt::format("/subjects/{}/versions/{}", encode_segment(subject), version_text(version)),
                  .about = about_subject(subject, version, true)};
  return then(state_->send(r), [&](const json& body) { return to_registered(body, r.about); });
}

std::expected<std::vector<std::string>, registry_error> schema_registry::subjects() {
  const std::lock_guard lock(state_->mutex);
  const request r{.method = "GET", .path = "/subjects", .about = "listing subjects"};
  return then(state_->send(r), [&](const json& body) -> std::expected<std::vector<std::string>, registry_error> {
    if (!body.is_array() || !std::ranges::all_of(body, [](const json& s) { return s.is_string(); })) {
      return std::unexpected(registry_error{.what = bad_response, .message = r.about + ": not a list of names"});
    }
    return body.get<std::vector<std::string>>();
  });
}

namespace {
std::expected<std::vector<int>, registry_error> version_list(const json& body, const std::string& about) {
  if (!body.is_array() || !std::ranges::all_of(body, [](const json& v) { return v.is_number_integer(); })) {
    return std::unexpected(registry_error{.what = bad_response, .message = about + ": not a list of versions"});
  }
  return body.get<std::vector<int>>();
}
}  // namespace

std::expected<std::vector<int>, registry_error> schema_registry::versions(std::string_view subject) {
  const std::lock_guard lock(state_->mutex);
  const request r{.method = "GET",
                  .path = fmt::format("/subjects/{}/versions", encode_segment(subject)),
                  .about = about_subject(subject)};
  return then(state_->send(r), [&](const json& body) { return version_list(body, r.about); });
}

std::expected<compatibility_verdict, registry_error> schema_registry::test_compatibility(std::string_view subject,
                                                                                         std::string_view schema,
                                                                                         std::optional<int> version) {
  const std::lock_guard lock(state_->mutex);
  const request r{.method = "POST",
                  .path = fmt::format("/compatibility/subjects/{}/versions/{}?verbose=true", encode_segment(subject),
                                      version_text(version)),
                  .body = schema_body(schema),
                  .about = fmt::format("compatibility test against {}", about_subject(subject, version, true))};
  return then(state_->send(r), [&](const json& body) -> std::expected<compatibility_verdict, registry_error> {
    auto compatible = field<bool>(body, "is_compatible", r.about);
    if (!compatible) return std::unexpected(compatible.error());
    compatibility_verdict verdict{.compatible = *compatible, .messages = {}};
    if (const auto messages = body.find("messages"); messages != body.end() && messages->is_array()) {
      for (const auto& m : *messages) verdict.messages.push_back(m.is_string() ? m.get<std::string>() : m.dump());
    }
    return verdict;
  });
}

std::expected<compatibility_level, registry_error> schema_registry::compatibility(std::string_view subject) {
  const std::lock_guard lock(state_->mutex);
  const request r{
      .method = "GET",
      .path = subject.empty() ? "/config" : fmt::format("/config/{}", encode_segment(subject)),
      .about = subject.empty() ? "global compatibility" : fmt::format("compatibility of subject {}", subject)};
  return then(state_->send(r), [&](const json& body) -> std::expected<compatibility_level, registry_error> {
    auto name = field<std::string>(body, "compatibilityLevel", r.about);
    if (!name) return std::unexpected(name.error());
    if (auto level = compatibility_level_from(*name)) return *level;
    return std::unexpected(
        registry_error{.what = bad_response, .message = fmt::format("{}: unknown level '{}'", r.about, *name)});
  });
}

std::expected<void, registry_error> schema_registry::set_compatibility(compatibility_level level,
                                                                       std::string_view subject) {
  const std::lock_guard lock(state_->mutex);
  const request r{.method = "PUT",
                  .path = subject.empty() ? "/config" : fmt::format("/config/{}", encode_segment(subject)),
                  .body = json{{"compatibility", to_string(level)}}.dump(),
                  .about = subject.empty() ? "setting global compatibility"
                                           : fmt::format("setting compatibility of subject {}", subject)};
  return then(state_->send(r), [](const json&) -> std::expected<void, registry_error> { return {}; });
}

std::expected<std::vector<int>, registry_error> schema_registry::delete_subject(std::string_view subject,
                                                                                deletion how) {
  const std::lock_guard lock(state_->mutex);
  const request r{
      .method = "DELETE",
      .path = fmt::format("/subjects/{}{}", encode_segment(subject), how == deletion::hard ? "?permanent=true" : ""),
      .about = fmt::format("deleting {}", about_subject(subject))};
  return then(state_->send(r), [&](const json& body) { return version_list(body, r.about); });
}

std::expected<void, registry_error> schema_registry::delete_version(std::string_view subject, int version,
                                                                    deletion how) {
  const std::lock_guard lock(state_->mutex);
  const request r{.method = "DELETE",
                  .path = fmt::format("/subjects/{}/versions/{}{}", encode_segment(subject), version,
                                      how == deletion::hard ? "?permanent=true" : ""),
                  .about = fmt::format("deleting {}", about_subject(subject, version, true))};
  return then(state_->send(r), [](const json&) -> std::expected<void, registry_error> { return {}; });
}

}  // namespace horizons
