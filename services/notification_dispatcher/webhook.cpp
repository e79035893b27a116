#include "services/notification_dispatcher/webhook.hpp"

#include <algorithm>
#include <condition_variable>
#include <mutex>
#include <random>

#include <fmt/format.h>
#include <httplib.h>
#include <nlohmann/json.hpp>

namespace horizons::notification_dispatcher {

namespace {

struct parsed_url {
  std::string origin;
  std::string target;
};

std::expected<parsed_url, std::string> parse_url(std::string_view url) {
  auto refuse = [&](std::string_view why) { return std::unexpected(fmt::format("webhook URL '{}': {}", url, why)); };
  std::string_view scheme;
  if (url.starts_with("http://")) {
    scheme = "http";
  } else if (url.starts_with("https://")) {
    scheme = "https";
  } else {
    return refuse("expected http://host[:port][/path] or https://...");
  }
  auto rest = url.substr(scheme.size() + 3);
  auto authority_end = std::min(rest.find_first_of("/?#"), rest.size());
  auto authority = rest.substr(0, authority_end);
  auto target = std::string(rest.substr(authority_end));
  if (target.find('#') != std::string::npos) return refuse("a fragment is never sent; remove it");
  if (authority.find('@') != std::string_view::npos) return refuse("user info in the URL is not supported");
  for (char c : url) {
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) {
      return refuse("spaces and control characters must be escaped");
    }
  }

  std::string_view host, port;
  if (authority.starts_with('[')) {  // [IPv6]
    auto close = authority.find(']');
    if (close == std::string_view::npos) return refuse("unterminated IPv6 address");
    host = authority.substr(0, close + 1);
    auto after = authority.substr(close + 1);
    if (!after.empty() && !after.starts_with(':')) return refuse("expected ':port' after the IPv6 address");
    if (!after.empty()) port = after.substr(1);
  } else {
    auto colon = authority.find(':');
    host = authority.substr(0, colon);
    if (colon != std::string_view::npos) port = authority.substr(colon + 1);
  }
  if (host.empty() || host == "[]") return refuse("no host");
  int port_number = scheme == "https" ? 443 : 80;
  if (!port.empty() || authority.ends_with(':')) {
    bool digits =
        !port.empty() && port.size() <= 5 && std::ranges::all_of(port, [](char c) { return c >= '0' && c <= '9'; });
    port_number = digits ? std::stoi(std::string(port)) : 0;
    if (port_number < 1 || port_number > 65535) return refuse(fmt::format("port '{}' is not 1-65535", port));
  }
  if (target.empty() || target.front() == '?') target = "/" + target;
  return parsed_url{fmt::format("{}://{}:{}", scheme, host, port_number), std::move(target)};
}

std::string body_of(const notification_sent& sent) {
  nlohmann::ordered_json object{{"notification_id", sent.notification_id},
                                {"recipient_id", sent.recipient_id},
                                {"channel", std::string(to_string(sent.channel))},
                                {"subject", sent.subject},
                                {"body", sent.body},
                                {"related_job_id", nullptr},
                                {"data", nlohmann::ordered_json::object()}};
  if (sent.related_job_id) object["related_job_id"] = *sent.related_job_id;
  for (const auto& [key, value] : sent.data) object["data"][key] = value;
  // Text from other services may hold invalid UTF-8: send U+FFFD rather than fail the delivery.
  return object.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

// cpp-httplib names its errors tersely ("Read"); say what happened.
std::string describe(httplib::Error error) {
  switch (error) {
    case httplib::Error::Connection: return "cannot connect";
    case httplib::Error::ConnectionTimeout: return "connect timed out";
    case httplib::Error::Read: return "no response (read failed or timed out)";
    case httplib::Error::Write: return "sending the request failed";
    case httplib::Error::Canceled: return "request cancelled";
    case httplib::Error::SSLConnection: return "TLS handshake failed";
    case httplib::Error::SSLServerVerification: return "TLS: server certificate not trusted";
    case httplib::Error::SSLLoadingCerts: return "TLS: cannot load the system CA certificates";
    default: return httplib::to_string(error);
  }
}

bool retryable(int status) { return status == 429 || (status >= 500 && status <= 599); }

// Attempt n (1-based) failed: wait min(max, initial * 2^(n-1)), drawn from its upper half.
std::chrono::milliseconds backoff(const webhook_sender::options& opts, int failed_attempt) {
  auto ceiling = opts.initial_backoff;
  for (int i = 1; i < failed_attempt && ceiling < opts.max_backoff; ++i) ceiling *= 2;
  ceiling = std::min(ceiling, opts.max_backoff);
  thread_local std::mt19937_64 rng{std::random_device{}()};
  std::uniform_int_distribution<std::chrono::milliseconds::rep> pick(ceiling.count() / 2, ceiling.count());
  return std::chrono::milliseconds(pick(rng));
}

// Sleeps for `delay` unless stop is requested first.
void wait(std::chrono::milliseconds delay, const std::stop_token& stop) {
  std::mutex mutex;
  std::condition_variable_any woken;
  std::unique_lock lock(mutex);
  (void)woken.wait_for(lock, stop, delay, [] { return false; });
}

}  // namespace

std::expected<webhook_sender, std::string> webhook_sender::create(options opts) {
  auto url = parse_url(opts.url);
  if (!url) return std::unexpected(url.error());
  if (opts.max_attempts < 1) {
    return std::unexpected(fmt::format("webhook max_attempts {} must be at least 1", opts.max_attempts));
  }
  if (opts.initial_backoff.count() < 0 || opts.max_backoff < opts.initial_backoff) {
    return std::unexpected(fmt::format("webhook backoff: need 0 <= initial ({} ms) <= max ({} ms)",
                                       opts.initial_backoff.count(), opts.max_backoff.count()));
  }
  if (opts.timeout.count() <= 0) return std::unexpected("webhook timeout must be positive");
  return webhook_sender(std::move(opts), std::move(url->origin), std::move(url->target));
}

std::expected<int, std::string> webhook_sender::deliver(const notification_sent& sent, std::stop_token stop) const {
  httplib::Client client(origin_);
  if (!client.is_valid()) return std::unexpected(fmt::format("webhook {}: cpp-httplib cannot open {}", url(), origin_));
  client.set_connection_timeout(options_.timeout);
  client.set_read_timeout(options_.timeout);
  client.set_write_timeout(options_.timeout);
  // stop() aborts a request in flight from this (the stopping) thread; cpp-httplib locks for it.
  std::stop_callback abort_request(stop, [&client] { client.stop(); });

  const httplib::Headers headers{{"Idempotency-Key", sent.notification_id},
                                 {"User-Agent", "horizons-notification-dispatcher"}};
  const auto body = body_of(sent);
  std::string last_failure = "none";
  auto stopped = [&](int attempts) {
    return std::unexpected(
        fmt::format("webhook {}: stopped after {} attempts (last: {})", url(), attempts, last_failure));
  };
  for (int attempt = 1;; ++attempt) {
    if (stop.stop_requested()) return stopped(attempt - 1);
    auto response = client.Post(target_, headers, body, "application/json");
    if (response && response->status >= 200 && response->status <= 299) return attempt;
    if (response) {
      last_failure = fmt::format("HTTP {}", response->status);
      if (!retryable(response->status)) {
        return std::unexpected(fmt::format("webhook {}: {} on attempt {}, not retried", url(), last_failure, attempt));
      }
    } else {
      last_failure = describe(response.error());
    }
    if (attempt == options_.max_attempts) {
      if (stop.stop_requested()) return stopped(attempt);
      return std::unexpected(
          fmt::format("webhook {}: gave up after {} attempts (last: {})", url(), attempt, last_failure));
    }
    wait(backoff(options_, attempt), stop);
  }
}

}  // namespace horizons::notification_dispatcher
