// The webhook channel: POSTs each notification as JSON to one URL, retrying
// transient failures with jittered exponential backoff.
//
//   auto hook = webhook_sender::create({.url = "http://127.0.0.1:8081/hook"});
//   if (!hook) return fail(hook.error());           // bad URL or options, said at once
//   auto attempts = hook->deliver(sent, stop);      // std::expected<int, std::string>
//
// The request: POST <path> with Content-Type: application/json,
// Idempotency-Key: <notification_id> and the notification.sent payload as a
// JSON object, fields in schema order as in `horizons consume --json`
// ({"notification_id": ..., "recipient_id": ..., "channel": "IN_APP",
// "subject", "body", "related_job_id": null or the job, "data": {...}}).
// Delivery is at least once (a response lost after the receiver acted is
// retried), so receivers deduplicate by the Idempotency-Key.
//
// Outcomes: any 2xx is delivered (the value is the number of attempts).
// Connection errors, timeouts, 5xx and 429 are retried up to max_attempts,
// waiting initial_backoff, then twice as long each time up to max_backoff,
// each wait drawn uniformly from its upper half (jitter: retrying senders do
// not stampede). Any other status (4xx, an unfollowed 3xx) is final at once:
// resending the same request cannot change the answer. A stop request ends
// a backoff wait and aborts a request in flight; deliver() then returns an
// error saying it was stopped.
//
// URLs: http://host[:port][/path[?query]] and https://... (cpp-httplib as
// Debian builds it has OpenSSL: the server certificate is verified against
// the system's CA store). IPv6 hosts in brackets. No user info, no fragment.
//
// Threads: deliver() is const and blocks; it may run on several threads at
// once (each call has its own connection).
#pragma once

#include <chrono>
#include <expected>
#include <stop_token>
#include <string>

#include <horizons/events.hpp>

namespace horizons::notification_dispatcher {

class webhook_sender {
 public:
  struct options {
    std::string url{};
    int max_attempts = 5;
    std::chrono::milliseconds initial_backoff{200};
    std::chrono::milliseconds max_backoff{5000};
    std::chrono::milliseconds timeout{5000};  // connect, and each read or write of a request
  };

  /// Checks the URL and the options: an error names the problem ("webhook URL 'x': ...").
  [[nodiscard]] static std::expected<webhook_sender, std::string> create(options opts);

  /// Delivers `sent`; returns the attempts it took, or why it gave up (with the attempts made).
  [[nodiscard]] std::expected<int, std::string> deliver(const notification_sent& sent, std::stop_token stop) const;

  [[nodiscard]] const std::string& url() const { return options_.url; }

 private:
  webhook_sender(options opts, std::string origin, std::string target)
      : options_(std::move(opts)), origin_(std::move(origin)), target_(std::move(target)) {}
  options options_;
  std::string origin_;  // "scheme://host:port", as cpp-httplib's client takes it
  std::string target_;  // "/path?query"
};

}  // namespace horizons::notification_dispatcher
