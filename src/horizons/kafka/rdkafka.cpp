#include "rdkafka.hpp"

#include <fmt/format.h>
#include <spdlog/sinks/stdout_color_sinks.h>

#include <algorithm>
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
    auto lvl = level <= 3 ? spdlog::level::err
               : level == 4 ? spdlog::level::warn
               : level <= 6 ? spdlog::level::info
                            : spdlog::level::debug;
    rdkafka_log().log(lvl, "[{}] {}: {}", rd_kafka_name(client), facility, message);
  } catch (...) {
  }
}

// Clients inside await_brokers(), and the authentication failure each met, if any. librdkafka reports a
// refused login only through the error callback; without this a wrong password looks like a timeout.
std::mutex awaiting_mutex;
std::map<const rd_kafka_t*, std::optional<kafka_error>> awaiting;

void default_error_cb(rd_kafka_t* client, int code, const char* reason, void*) noexcept {
  note_client_error(client, code, reason);
  try {
    log().warn("[{}] {}: {}", rd_kafka_name(client), rd_kafka_err2name(static_cast<rd_kafka_resp_err_t>(code)),
               reason);
  } catch (...) {
  }
}

}  // namespace

void note_client_error(const rd_kafka_t* client, int code, const char* reason) noexcept {
  if (code != RD_KAFKA_RESP_ERR__AUTHENTICATION) return;
  try {
    std::scoped_lock lock(awaiting_mutex);
    auto it = awaiting.find(client);
    if (it == awaiting.end() || it->second) return;
    it->second = kafka_error{.code = code,
                             .name = rd_kafka_err2name(static_cast<rd_kafka_resp_err_t>(code)),
                             .message = fmt::format("authentication failed: {}", reason)};
  } catch (...) {
  }
}

spdlog::logger& log() {
  static auto logger = named_logger("horizons");
  return *logger;
}

std::expected<void, kafka_error> set_property(rd_kafka_conf_t* conf, std::string_view name, std::string_view value) {
  char reason[512];
  std::string key(name), val(value);
  if (rd_kafka_conf_set(conf, key.c_str(), val.c_str(), reason, sizeof reason) != RD_KAFKA_CONF_OK) {
    return std::unexpected(kafka_error{.code = static_cast<int>(RD_KAFKA_RESP_ERR__INVALID_ARG),
                                       .name = "_INVALID_ARG",
                                       .message = fmt::format("librdkafka property {}: {}", name, reason)});
  }
  return {};
}

std::expected<conf_ptr, kafka_error> make_conf(const client_config& config, client_role role) {
  conf_ptr conf(rd_kafka_conf_new());
  auto set = [&](std::string_view name, std::string_view value) { return set_property(conf.get(), name, value); };
  std::expected<void, kafka_error> ok;
  auto apply = [&](std::string_view name, std::string_view value) {
    if (ok) ok = set(name, value);
  };
  apply("bootstrap.servers", config.brokers);
  apply("client.id", config.client_id);
  apply("socket.connection.setup.timeout.ms", std::to_string(config.connect_timeout.count()));
  apply("security.protocol", to_string(config.security));
  if (config.security == security_protocol::sasl_plaintext || config.security == security_protocol::sasl_ssl) {
    apply("sasl.mechanisms", to_string(config.mechanism));
    apply("sasl.username", config.sasl_username);
    apply("sasl.password", config.sasl_password);
  }
  if (!config.ssl_ca_location.empty()) apply("ssl.ca.location", config.ssl_ca_location);
  if (role == client_role::consumer) {
    apply("session.timeout.ms", std::to_string(config.session_timeout.count()));
    apply("fetch.wait.max.ms", std::to_string(config.fetch_wait.count()));
    // librdkafka 2.0.2 stops fetching for a whole second once the consumer's queue holds
    // queued.min.messages records (fetch.queue.backoff.ms came in 2.3): at its default of 100,000 a
    // consumer catching up stalls every second. Memory stays bounded by queued.max.messages.kbytes.
    apply("queued.min.messages", std::to_string(consumer_queued_min_messages));
  }
  for (const auto& [name, value] : config.rdkafka) apply(name, value);
  if (!ok) return std::unexpected(ok.error());
  rd_kafka_conf_set_log_cb(conf.get(), route_log);
  rd_kafka_conf_set_error_cb(conf.get(), default_error_cb);
  return conf;
}

std::expected<kafka_ptr, kafka_error> make_client(rd_kafka_type_t type, conf_ptr& conf) {
  char reason[512];
  kafka_ptr client(rd_kafka_new(type, conf.get(), reason, sizeof reason));
  if (!client) {
    return std::unexpected(kafka_error{.code = static_cast<int>(RD_KAFKA_RESP_ERR__INVALID_ARG),
                                       .name = "_INVALID_ARG",
                                       .message = fmt::format("cannot create Kafka client: {}", reason)});
  }
  (void)conf.release();  // now owned by the client
  return client;
}

std::expected<void, kafka_error> await_brokers(rd_kafka_t* client, const client_config& config) {
  {
    std::scoped_lock lock(awaiting_mutex);
    awaiting[client].reset();
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
    if (auto& refused = awaiting[client]) {
      refused->message = fmt::format("brokers '{}' refused {} login of user '{}': {}", config.brokers,
                                     to_string(config.mechanism), config.sasl_username, refused->message);
      return std::unexpected(*refused);
    }
  }
  auto error = make_kafka_error(err == RD_KAFKA_RESP_ERR_NO_ERROR ? RD_KAFKA_RESP_ERR__TRANSPORT : err,
                                fmt::format("no broker of '{}' answered within {} ms", config.brokers,
                                            config.connect_timeout.count()));
  error.retriable = true;
  return std::unexpected(error);
}

}  // namespace horizons::detail
