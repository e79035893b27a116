#include "services/orchestrator/http_api.hpp"

#include <sys/socket.h>

#include <future>
#include <map>
#include <mutex>
#include <optional>
#include <thread>

#include <fmt/format.h>
#include <httplib.h>
#include <nlohmann/json.hpp>

#include <horizons/producer.hpp>

#include "services/orchestrator/job_store.hpp"
#include "services/orchestrator/orchestrator.hpp"
#include "services/orchestrator/submission.hpp"

namespace horizons::orchestrator {

struct http_api::impl {
  static std::expected<std::unique_ptr<impl>, std::string> start(const options& opts) {
    auto colon = opts.listen.rfind(':');
    int port = 0;
    if (colon == std::string::npos || std::sscanf(opts.listen.c_str() + colon + 1, "%d", &port) != 1 || port < 0 ||
        port > 65535) {
      return std::unexpected(fmt::format("--http: expected host:port, got '{}'", opts.listen));
    }
    auto api = std::make_unique<impl>();
    auto config = opts.config;
    config.client_id = fmt::format("{}-http", descriptor.name);
    auto* raw = api.get();
    auto made = producer::create({.config = config,
                                  .on_delivery = [raw](const delivery_report& r) { raw->delivered(r); },
                                  .enqueue_timeout = std::chrono::milliseconds(5'000),
                                  .max_queued_messages = 100'000});
    if (!made) return std::unexpected(made.error().message);
    api->producer_ = std::move(*made);
    auto db = sqlite::database::open(opts.database);
    if (!db) return std::unexpected(db.error().message);
    api->db_.emplace(std::move(*db));
    api->jobs_.emplace(*api->db_);
    api->routes();
    // httplib's default adds SO_REUSEPORT, which would let a second orchestrator share the port unnoticed.
    api->server_.set_socket_options([](socket_t sock) {
      int yes = 1;
      setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
    });
    std::string host = opts.listen.substr(0, colon);
    if (!api->server_.bind_to_port(host, port)) {
      return std::unexpected(fmt::format("cannot listen on {} (in use, or not a local address)", opts.listen));
    }
    api->thread_ = std::thread([raw] { raw->server_.listen_after_bind(); });
    return api;
  }
  ~impl() {
    server_.stop();
    if (thread_.joinable()) thread_.join();
    if (producer_) producer_->close(std::chrono::seconds(10));
  }

  void routes() {
    server_.Post("/jobs", [this](const httplib::Request& request, httplib::Response& response) {
      auto submission = submission_from_json(request.body, request.get_header_value("X-User"));
      if (!submission) {
        response.status = 400;
        response.set_content(nlohmann::json{{"error", submission.error()}}.dump(), "application/json");
        return;
      }
      auto outcome = publish(*submission);
      if (!outcome) {
        response.status = 503;
        response.set_content(nlohmann::json{{"error", outcome.error()}}.dump(), "application/json");
        return;
      }
      response.status = 202;
      response.set_content(nlohmann::json{{"job_id", submission->payload.job_id},
                                          {"event_id", submission->event_id.to_string()},
                                          {"status", "SUBMITTED"}}
                               .dump(),
                           "application/json");
    });
    server_.Get(R"(/jobs/([A-Za-z0-9._:-]+))", [this](const httplib::Request& request, httplib::Response& response) {
      std::lock_guard lock(db_mutex_);
      auto state = jobs_->status_of(std::string(request.matches[1]));
      if (!state) {
        response.status = 500;
        return;
      }
      if (!*state) {
        response.status = 404;
        response.set_content(nlohmann::json{{"error", "no such job (yet)"}}.dump(), "application/json");
        return;
      }
      response.set_content(nlohmann::json{{"job_id", std::string(request.matches[1])},
                                          {"status", to_string((*state)->status)},
                                          {"attempt", (*state)->attempt},
                                          {"finished", (*state)->finished}}
                               .dump(),
                           "application/json");
    });
  }

  std::expected<void, std::string> publish(const event<job_submitted>& e) {
    std::future<std::optional<kafka_error>> answer;
    std::uint64_t tag = 0;
    {
      std::lock_guard lock(mutex_);
      tag = ++next_tag_;
      answer = waiting_[tag].get_future();
    }
    if (auto queued = producer_->publish(e, tag); !queued) {
      std::lock_guard lock(mutex_);
      waiting_.erase(tag);
      return std::unexpected(queued.error().message);
    }
    if (answer.wait_for(std::chrono::seconds(30)) != std::future_status::ready) {
      return std::unexpected("Kafka did not acknowledge the submission within 30 s");
    }
    if (auto error = answer.get()) return std::unexpected(error->message);
    return {};
  }

  void delivered(const delivery_report& r) {
    std::lock_guard lock(mutex_);
    auto it = waiting_.find(r.tag);
    if (it == waiting_.end()) return;
    it->second.set_value(r.error);
    waiting_.erase(it);
  }

  httplib::Server server_;
  std::thread thread_;
  std::unique_ptr<producer> producer_;
  std::mutex db_mutex_;
  std::optional<sqlite::database> db_;
  std::optional<job_store> jobs_;
  std::mutex mutex_;
  std::uint64_t next_tag_ = 0;
  std::map<std::uint64_t, std::promise<std::optional<kafka_error>>> waiting_;
};

http_api::http_api(std::unique_ptr<impl> state) : impl_(std::move(state)) {}
http_api::~http_api() = default;

std::expected<std::unique_ptr<http_api>, std::string> http_api::start(const options& opts) {
  auto started = impl::start(opts);
  if (!started) return std::unexpected(started.error());
  return std::unique_ptr<http_api>(new http_api(std::move(*started)));
}

}  // namespace horizons::orchestrator
