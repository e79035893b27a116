#include "services/notification_dispatcher/webhook.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <condition_variable>
#include <cstdlib>
#include <mutex>
#include <thread>

#include <gtest/gtest.h>
#include <httplib.h>
#include <nlohmann/json.hpp>

#include "services/notification_dispatcher/compose.hpp"
#include "test_support.hpp"

namespace horizons::notification_dispatcher {
namespace {

using namespace std::chrono_literals;
using testing::source_event;

struct seen_request {
  std::string idempotency_key;
  std::string content_type;
  std::string body;
};

// A webhook receiver on 127.0.0.1 (ephemeral port) answering each request with the next of
// `statuses` (the last one repeats). A status of 0 holds the request until the test ends.
class receiver {
 public:
  explicit receiver(std::vector<int> statuses) : statuses_(std::move(statuses)) {
    server_.Post("/hook", [this](const httplib::Request& request, httplib::Response& response) {
      std::unique_lock lock(mutex_);
      seen_.push_back(
          {request.get_header_value("Idempotency-Key"), request.get_header_value("Content-Type"), request.body});
      auto status = statuses_[std::min(seen_.size(), statuses_.size()) - 1];
      if (status == 0) {
        released_.wait_for(lock, 30s, [this] { return release_; });
        status = 200;
      }
      response.status = status;
    });
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    while (!server_.is_running()) std::this_thread::sleep_for(1ms);
  }
  ~receiver() {
    {
      std::lock_guard lock(mutex_);
      release_ = true;
    }
    released_.notify_all();
    server_.stop();
    thread_.join();
  }
  [[nodiscard]] std::string url() const { return fmt::format("http://127.0.0.1:{}/hook", port_); }
  [[nodiscard]] std::vector<seen_request> seen() {
    std::lock_guard lock(mutex_);
    return seen_;
  }

 private:
  std::vector<int> statuses_;
  httplib::Server server_;
  int port_ = 0;
  std::thread thread_;
  std::mutex mutex_;
  std::condition_variable released_;
  bool release_ = false;
  std::vector<seen_request> seen_;
};

// A loopback port nobody listens on (bound, then released).
int closed_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t size = sizeof address;
  EXPECT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&address), size), 0);
  EXPECT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &size), 0);
  ::close(fd);
  return ntohs(address.sin_port);
}

notification_sent sample_notification() {
  auto source = source_event(job_cancelled{.job_id = "job-3", .cancelled_by = "alice", .reason = "", .refund_usd = 2});
  return *compose(source, source.payload, webhook_channel::on);
}

webhook_sender sender(std::string url, int max_attempts = 5, std::chrono::milliseconds backoff = 10ms) {
  auto made = webhook_sender::create(
      {.url = std::move(url), .max_attempts = max_attempts, .initial_backoff = backoff, .max_backoff = backoff * 4});
  EXPECT_TRUE(made) << made.error();
  return std::move(*made);
}

TEST(notification_dispatcher_webhook, retries_503_then_delivers_with_the_idempotency_key) {
  receiver hook({503, 503, 200});
  auto sent = sample_notification();
  auto attempts = sender(hook.url()).deliver(sent, {});
  ASSERT_TRUE(attempts) << attempts.error();
  EXPECT_EQ(*attempts, 3);
  auto seen = hook.seen();
  ASSERT_EQ(seen.size(), 3u);
  for (const auto& request : seen) {
    EXPECT_EQ(request.idempotency_key, sent.notification_id);
    EXPECT_EQ(request.content_type, "application/json");
  }
  auto body = nlohmann::json::parse(seen.back().body);
  EXPECT_EQ(body["notification_id"], sent.notification_id);
  EXPECT_EQ(body["recipient_id"], "alice");
  EXPECT_EQ(body["channel"], "IN_APP");
  EXPECT_EQ(body["subject"], sent.subject);
  EXPECT_EQ(body["body"], sent.body);
  EXPECT_EQ(body["related_job_id"], "job-3");
  EXPECT_EQ(body["data"]["channels"], "in_app,email,webhook");
}

TEST(notification_dispatcher_webhook, retries_429) {
  receiver hook({429, 204});
  auto attempts = sender(hook.url()).deliver(sample_notification(), {});
  ASSERT_TRUE(attempts) << attempts.error();
  EXPECT_EQ(*attempts, 2);
}

TEST(notification_dispatcher_webhook, client_error_is_final_at_once) {
  receiver hook({400, 200});
  auto attempts = sender(hook.url()).deliver(sample_notification(), {});
  ASSERT_FALSE(attempts);
  EXPECT_NE(attempts.error().find("HTTP 400 on attempt 1, not retried"), std::string::npos) << attempts.error();
  EXPECT_EQ(hook.seen().size(), 1u);
}

TEST(notification_dispatcher_webhook, unreachable_receiver_gives_up_after_max_attempts) {
  auto url = fmt::format("http://127.0.0.1:{}/hook", closed_port());
  auto attempts = sender(url, 3).deliver(sample_notification(), {});
  ASSERT_FALSE(attempts);
  EXPECT_NE(attempts.error().find("gave up after 3 attempts"), std::string::npos) << attempts.error();
  EXPECT_NE(attempts.error().find("(last: cannot connect)"), std::string::npos) << attempts.error();
  EXPECT_NE(attempts.error().find(url), std::string::npos) << attempts.error();
}

TEST(notification_dispatcher_webhook, stop_request_cuts_the_backoff_short) {
  receiver hook({503});
  auto hook_sender = sender(hook.url(), 5, 30s);
  std::stop_source stop;
  std::jthread stopper([&] {
    std::this_thread::sleep_for(300ms);
    stop.request_stop();
  });
  auto started = std::chrono::steady_clock::now();
  auto attempts = hook_sender.deliver(sample_notification(), stop.get_token());
  auto took = std::chrono::steady_clock::now() - started;
  ASSERT_FALSE(attempts);
  EXPECT_NE(attempts.error().find("stopped after 1 attempts (last: HTTP 503)"), std::string::npos) << attempts.error();
  EXPECT_LT(took, 5s) << "a 15-30 s backoff was waited out";
  EXPECT_EQ(hook.seen().size(), 1u);
}

TEST(notification_dispatcher_webhook, stop_request_aborts_a_request_in_flight) {
  receiver hook({0});  // never answers while the test runs
  auto made = webhook_sender::create({.url = hook.url(), .max_attempts = 5, .timeout = 20s});
  ASSERT_TRUE(made) << made.error();
  std::stop_source stop;
  std::jthread stopper([&] {
    std::this_thread::sleep_for(300ms);
    stop.request_stop();
  });
  auto started = std::chrono::steady_clock::now();
  auto attempts = made->deliver(sample_notification(), stop.get_token());
  EXPECT_LT(std::chrono::steady_clock::now() - started, 5s);
  ASSERT_FALSE(attempts);
  EXPECT_NE(attempts.error().find("stopped after 1 attempts"), std::string::npos) << attempts.error();
}

TEST(notification_dispatcher_webhook, https_receiver_must_present_a_trusted_certificate) {
  testing::temp_dir dir;
  auto key = dir.path() / "key.pem", cert = dir.path() / "cert.pem";
  auto command = fmt::format(
      "/usr/bin/openssl req -x509 -newkey rsa:2048 -nodes -keyout '{}' -out '{}' -days 1 -subj /CN=127.0.0.1 "
      ">/dev/null 2>&1",
      key.string(), cert.string());
  ASSERT_EQ(std::system(command.c_str()), 0);
  httplib::SSLServer server(cert.c_str(), key.c_str());
  ASSERT_TRUE(server.is_valid());
  bool reached = false;
  server.Post("/hook", [&](const httplib::Request&, httplib::Response& response) {
    reached = true;
    response.status = 200;
  });
  int port = server.bind_to_any_port("127.0.0.1");
  std::thread thread([&] { server.listen_after_bind(); });
  while (!server.is_running()) std::this_thread::sleep_for(1ms);

  auto attempts = sender(fmt::format("https://127.0.0.1:{}/hook", port), 1).deliver(sample_notification(), {});
  server.stop();
  thread.join();
  ASSERT_FALSE(attempts) << "a self-signed certificate was accepted";
  EXPECT_NE(attempts.error().find("certificate not trusted"), std::string::npos) << attempts.error();
  EXPECT_FALSE(reached);
}

TEST(notification_dispatcher_webhook, refuses_bad_urls_and_options_at_creation) {
  for (std::string url : {"ftp://example.org/hook", "http://", "http://:8080/x", "http://host:99999/x",
                          "http://host:/x", "http://host:8o/x", "http://user@host/x", "http://host/x#part",
                          "http://ho st/x", "127.0.0.1:8081/hook", "http://[::1/x"}) {
    auto made = webhook_sender::create({.url = url});
    ASSERT_FALSE(made) << url;
    EXPECT_NE(made.error().find(url), std::string::npos) << made.error();
  }
  for (std::string url : {"http://127.0.0.1:8081/hook", "http://example.org", "https://example.org:8443/a?b=c",
                          "http://[::1]:8080/hook"}) {
    EXPECT_TRUE(webhook_sender::create({.url = url})) << url;
  }
  EXPECT_FALSE(webhook_sender::create({.url = "http://h/x", .max_attempts = 0}));
  EXPECT_FALSE(webhook_sender::create({.url = "http://h/x", .initial_backoff = 10s, .max_backoff = 1s}));
  EXPECT_FALSE(webhook_sender::create({.url = "http://h/x", .timeout = 0ms}));
}

}  // namespace
}  // namespace horizons::notification_dispatcher
