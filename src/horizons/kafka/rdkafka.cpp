#include "rdkafka.hpp"

#include <fmt/format.h>
#include <spdlog/sinks/stdout_color_sinks.h>

#include <algorithm>
#include <limits>
#include <array>
#include <map>
#include <mutex>
#include <optional>
#include <thread>

namespace horizons::detail {

kafka_error make_kafka_error(rd_kafka_resp_err_t code, std::string_view context) {
  return {.code = static_cast<int>(code),
          .name = rd_kafka_err2name(code),
          .message = fmt::format("{}: {}", context, rd_kafka_err2str(code)),
          .fatal = code == RD_KAFKA_RESP_ERR__FATAL,
          .retriable = false};
}

kafka_error make_kafka_error(const rd_kafka_error_t* error, std::string_view context) {
  auto code = rd_kafka_error_code(error);
  return {.code = static_cast<int>(code),
          .name = rd_kafka_err2name(code),
          .message = fmt::format("{}: {}", context, rd_kafka_error_string(error)),
          .fatal = rd_kafka_error_is_fatal(error) != 0,
          .retriable = rd_kafka_error_is_retriable(error) != 0};
}

namespace {

std::shared_ptr<spdlog::logger> named_logger(const std::string& name) {
  if (auto existing = spdlog::get(name)) return existing;
  auto made = spdlog::stderr_color_mt(name);
  made->set_level(spdlog::get_level());
  return made;
}

spdlog::logger& rdkafka_log() {
  static auto logger = named_logger("rdkafka");
  return *logger;
}

// Runs on librdkafka's internal threads: must not throw.
void route_log(const rd_kafka_t* client, int level, const char* facility, const char* message) noexcept {
  try {
    // syslog levels: 0-3 error, 4 warning, 5-6 info, 7 debug.
    auto lvl = level <= 3   ? spdlog::level::err
               : level == 4 ? spdlog::level::warn
               : level <= 6 ? spdlog::level::info
                            : spdlog::level::debug;
    rdkafka_log().log(lvl, "[{}] {}: {}", rd_kafka_name(client), facility, message);
  } catch (...) {
  }
}

// Clients inside await_brokers(): the authentication or TLS failure each met, if any, and the last error
// reported. librdkafka reports a refused login or handshake only through the error callback; without
// this a wrong password or an untrusted certificate looks like a timeout.
struct connect_errors {
  std::optional<kafka_error> refused;
  std::string last;
};
std::mutex awaiting_mutex;
std::map<const rd_kafka_t*, connect_errors> awaiting;

void default_error_cb(rd_kafka_t* client, int code, const char* reason, void*) noexcept {
  note_client_error(client, code, reason);
  try {
    log().warn("[{}] {}: {}", rd_kafka_name(client), rd_kafka_err2name(static_cast<rd_kafka_resp_err_t>(code)), reason);
  } catch (...) {
  }
}

// What the client presented, for a TLS failure's message: which CA it trusts, whether it sent a certificate.
std::string tls_setup(const client_config& config) {
  return fmt::format(
      "{}, trusting {}, {}", to_string(config.security),
      config.ssl_ca_location.empty() ? "the system's CA store" : fmt::format("the CA in '{}'", config.ssl_ca_location),
      config.ssl_certificate_location.empty()
          ? std::string("no client certificate")
          : fmt::format("client certificate '{}'", config.ssl_certificate_location));
}

}  // namespace

event_ptr await_admin_result(rd_kafka_queue_t* queue, std::chrono::milliseconds request_timeout) {
  const auto wait = std::min<std::int64_t>(request_timeout.count() + 30'000, std::numeric_limits<int>::max());
  return event_ptr(rd_kafka_queue_poll(queue, static_cast<int>(wait)));
}

void note_client_error(const rd_kafka_t* client, int code, const char* reason) noexcept {
  try {
    std::scoped_lock lock(awaiting_mutex);
    auto it = awaiting.find(client);
    if (it == awaiting.end()) return;
    auto& [refused, last] = it->second;
    // An authentication or TLS failure will not heal by waiting: await_brokers() ends at once. A TLS
    // alert from the broker (it refused our certificate, or the lack of one) arrives as a transport
    // error carrying OpenSSL's "SSL alert number". Other errors (a broker not up yet) are kept to
    // explain a timeout.
    const bool tls_alert = code == RD_KAFKA_RESP_ERR__TRANSPORT &&
                           std::string_view(reason).find("SSL alert number") != std::string_view::npos;
    if ((code == RD_KAFKA_RESP_ERR__AUTHENTICATION || code == RD_KAFKA_RESP_ERR__SSL || tls_alert) && !refused) {
      const auto kind = tls_alert ? RD_KAFKA_RESP_ERR__SSL : static_cast<rd_kafka_resp_err_t>(code);
      refused = kafka_error{.code = kind, .name = rd_kafka_err2name(kind), .message = reason};
    }
    last = reason;
  } catch (...) {
  }
}

spdlog::logger& log() {
  static auto logger = named_logger("horizons");
  return *logger;
}

namespace {

// rd_kafka_conf_set or rd_kafka_topic_conf_set, with the error naming the property.
template <class Conf, class Set>
std::expected<void, kafka_error> set_one(Conf* conf, Set set, std::string_view name, std::string_view value) {
  char reason[512];
  std::string key(name), val(value);
  if (set(conf, key.c_str(), val.c_str(), reason, sizeof reason) != RD_KAFKA_CONF_OK) {
    return std::unexpected(kafka_error{.code = static_cast<int>(RD_KAFKA_RESP_ERR__INVALID_ARG),
                                       .name = "_INVALID_ARG",
                                       .message = fmt::format("librdkafka property {}: {}", name, reason)});
  }
  return {};
}

}  // namespace

std::expected<void, kafka_error> set_property(rd_kafka_conf_t* conf, std::string_view name, std::string_view value) {
  return set_one(conf, rd_kafka_conf_set, name, value);
}

std::expected<void, kafka_error> set_property(rd_kafka_topic_conf_t* conf, std::string_view name,
                                              std::string_view value) {
  return set_one(conf, rd_kafka_topic_conf_set, name, value);
}

namespace {

// A conf with `properties` in order, then the logging and error callbacks.
std::expected<conf_ptr, kafka_error> conf_with(const std::vector<std::pair<std::string, std::string>>& properties) {
  conf_ptr conf(rd_kafka_conf_new());
  for (const auto& [name, value] : properties) {
    if (auto ok = set_property(conf.get(), name, value); !ok) return std::unexpected(ok.error());
  }
  rd_kafka_conf_set_log_cb(conf.get(), route_log);
  rd_kafka_conf_set_error_cb(conf.get(), default_error_cb);
  return conf;
}

}  // namespace

std::expected<conf_ptr, kafka_error> make_conf(const client_config& config, client_role role) {
  auto properties = rdkafka_properties(config, role);
  properties.insert(properties.end(), config.rdkafka.begin(), config.rdkafka.end());
  return conf_with(properties);
}

std::expected<conf_ptr, kafka_error> make_client_conf(const client_config& config, client_role role,
                                                      const client_settings& settings) {
  return conf_with(client_properties(config, role, settings));
}

std::expected<kafka_ptr, kafka_error> make_client(rd_kafka_type_t type, conf_ptr& conf) {
  char reason[512];
  kafka_ptr client(rd_kafka_new(type, conf.get(), reason, sizeof reason));
  if (!client) {
    // librdkafka loads the TLS files here and names only its own property and OpenSSL's error.
    constexpr std::array<std::pair<std::string_view, std::string_view>, 3> tls_files{{
        {"ssl.key.location",
         " (KAFKA_SSL_KEY_LOCATION: not a PEM private key, or KAFKA_SSL_KEY_PASSWORD does "
         "not open it)"},
        {"ssl.certificate.location", " (KAFKA_SSL_CERTIFICATE_LOCATION: not a PEM certificate)"},
        {"ssl.ca.location", " (KAFKA_SSL_CA_LOCATION: not a PEM certificate)"},
    }};
    std::string_view hint;
    for (auto [property, text] : tls_files) {
      if (std::string_view(reason).starts_with(property)) hint = text;
    }
    return std::unexpected(kafka_error{.code = static_cast<int>(RD_KAFKA_RESP_ERR__INVALID_ARG),
                                       .name = "_INVALID_ARG",
                                       .message = fmt::format("cannot create Kafka client: {}{}", reason, hint)});
  }
  (void)conf.release();  // now owned by the client
  return client;
}

std::expected<void, kafka_error> await_brokers(rd_kafka_t* client, const client_config& config) {
  {
    std::scoped_lock lock(awaiting_mutex);
    awaiting[client] = {};
  }
  struct forget {
    const rd_kafka_t* client;
    ~forget() {
      std::scoped_lock lock(awaiting_mutex);
      awaiting.erase(client);
    }
  } forget_on_return{client};

  // Ask in short rounds, serving error callbacks in between, so a refused login ends the wait at once.
  auto deadline = std::chrono::steady_clock::now() + config.connect_timeout;
  rd_kafka_resp_err_t err = RD_KAFKA_RESP_ERR__TIMED_OUT;
  while (std::chrono::steady_clock::now() < deadline) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    const rd_kafka_metadata_t* raw = nullptr;
    err = rd_kafka_metadata(client, 0, nullptr, &raw, static_cast<int>(std::clamp<long>(left.count(), 1, 250)));
    metadata_ptr metadata(raw);
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR && metadata && metadata->broker_cnt > 0) return {};
    rd_kafka_poll(client, 0);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));  // a refused connection returns at once
    std::scoped_lock lock(awaiting_mutex);
    if (auto& refused = awaiting[client].refused) {
      refused->message =
          refused->code == RD_KAFKA_RESP_ERR__SSL
              ? fmt::format("TLS connection to brokers '{}' failed ({}): {}", config.brokers, tls_setup(config),
                            refused->message)
              : fmt::format("brokers '{}' refused {} login of user '{}': authentication failed: {}", config.brokers,
                            to_string(config.mechanism), config.sasl_username, refused->message);
      return std::unexpected(*refused);
    }
  }
  auto error = make_kafka_error(
      err == RD_KAFKA_RESP_ERR_NO_ERROR ? RD_KAFKA_RESP_ERR__TRANSPORT : err,
      fmt::format("no broker of '{}' answered within {} ms", config.brokers, config.connect_timeout.count()));
  {
    std::scoped_lock lock(awaiting_mutex);
    if (const auto& last = awaiting[client].last; !last.empty())
      error.message += fmt::format(" (last error: {})", last);
  }
  error.retriable = true;
  return std::unexpected(error);
}

}  // namespace horizons::detail
