#include "services/orchestrator/http_api.hpp"

#include <future>
#include <map>
#include <mutex>
#include <optional>
#include <thread>

#include <fmt/format.h>
#include <httplib.h>
#include <nlohmann/json.hpp>

#include <horizons/producer.hpp>

#include "services/common/http_listener.hpp"
#include "services/orchestrator/job_store.hpp"
#include "services/orchestrator/orchestrator.hpp"
#include "services/orchestrator/submission.hpp"

namespace horizons::orchestrator {

struct http_api::impl {
  static std::expected<std::unique_ptr<impl>, std::string> start(const options& opts) {
    auto http = services::http_listener::bind(opts.listen);
    if (!http) return std::unexpected(fmt::format("--http: {}", http.error()));
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
    auto db = sql::database::open(opts.database);
    if (!db) return std::unexpected(db.error().message);
    api->db_.emplace(std::move(*db));
    api->jobs_.emplace(*api->db_);
    api->http_ = std::move(*http);
    api->routes(api->http_->server());
    api->http_->serve();
    return api;
  }
  ~impl() {
    if (http_) http_->stop();
    if (producer_) producer_->close(std::chrono::seconds(10));
  }

  void routes(httplib::Server& server) {
    server.Post("/jobs", [this](const httplib::Request& request, httplib::Response& response) {
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
    server.Get(R"(/jobs/([A-Za-z0-9._:-]+))", [this](const httplib::Request& request, httplib::Response& response) {
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
      nlohmann::json body{{"job_id", std::string(request.matches[1])},
                          {"status", to_string((*state)->status)},
                          {"attempt", (*state)->attempt},
                          {"finished", (*state)->finished},
                          {"cancel_requested", (*state)->cancel_requested}};
      if ((*state)->batch_id) body["batch_job_id"] = *(*state)->batch_id;
      response.set_content(body.dump(), "application/json");
    });
    server.Post(
        R"(/jobs/([A-Za-z0-9._:-]+)/cancel)", [this](const httplib::Request& request, httplib::Response& response) {
          auto reply = [&](int status, nlohmann::json body) {
            response.status = status;
            response.set_content(body.dump(), "application/json");
          };
          auto user = request.get_header_value("X-User");
          if (user.empty()) return reply(400, {{"error", "who cancels: give the X-User header"}});
          std::string job_id(request.matches[1]);
          std::lock_guard lock(db_mutex_);
          auto asked = jobs_->request_cancel(job_id, user, horizons::now());
          if (!asked) return reply(500, {{"error", asked.error()}});
          switch (*asked) {
            case cancel_request::recorded: return reply(202, {{"job_id", job_id}, {"cancel_requested", true}});
            case cancel_request::no_such_job: return reply(404, {{"error", "no such job (yet)"}});
            case cancel_request::already_finished: return reply(409, {{"error", "the job has already finished"}});
            case cancel_request::not_the_submitter:
              return reply(403, {{"error", fmt::format("only the job's submitter may cancel it, not {}", user)}});
          }
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

  std::unique_ptr<services::http_listener> http_;
  std::unique_ptr<producer> producer_;
  std::mutex db_mutex_;
  std::optional<sql::database> db_;
  std::optional<job_store> jobs_;
  std::mutex mutex_;
  std::uint64_t next_tag_ = 0;
  std::map<std::uint64_t, std::promise<std::optional<kafka_error>>> waiting_;
};

http_api::http_api(std::unique_ptr<impl> state) : impl_(std::move(state)) {}
http_api::~http_api() = default;
std::string http_api::url() const { return impl_->http_->url(); }

std::expected<std::unique_ptr<http_api>, std::string> http_api::start(const options& opts) {
  auto started = impl::start(opts);
  if (!started) return std::unexpected(started.error());
  return std::unique_ptr<http_api>(new http_api(std::move(*started)));
}

}  // namespace horizons::orchestrator
