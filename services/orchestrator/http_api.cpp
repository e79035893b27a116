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
  explicit impl(const options& opts)
      : auth_(opts.auth), limit_(opts.per_caller), max_body_bytes_(opts.max_body_bytes) {}

  static std::expected<std::unique_ptr<impl>, std::string> start(const options& opts) {
    if (opts.auth.key.empty()) {
      return std::unexpected(
          "the job API needs a key to check bearer tokens: set HORIZONS_JWT_SECRET (HS256, 32 bytes or more) or "
          "HORIZONS_JWT_PUBLIC_KEY (RS256, a PEM file)");
    }
    // Every route but /metrics checks the caller's token, so the API may face the network.
    auto http = services::http_listener::bind(opts.listen, services::http_reach::network, opts.tls);
    if (!http) return std::unexpected(fmt::format("--http: {}", http.error()));
    auto api = std::make_unique<impl>(opts);
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

  // The caller of `request`, or nullopt once `response` holds the 401 or 429 that refuses it.
  std::optional<services::caller> admit(const httplib::Request& request, httplib::Response& response) {
    auto who = services::check_bearer(auth_, request.get_header_value("Authorization"), horizons::now());
    if (!who) {
      response.set_header("WWW-Authenticate", R"(Bearer realm="horizons", error="invalid_token")");
      reply(response, 401, {{"error", who.error()}});
      return std::nullopt;
    }
    if (auto wait = limit_.take(who->subject, rate_limit::clock::now()); wait.count() > 0) {
      response.set_header("Retry-After", std::to_string((wait.count() + 999) / 1000));
      reply(response, 429,
            {{"error", fmt::format("too many requests from {}: try again in {} ms", who->subject, wait.count())}});
      return std::nullopt;
    }
    return std::move(*who);
  }

  static void reply(httplib::Response& response, int status, const nlohmann::json& body) {
    response.status = status;
    response.set_content(body.dump(), "application/json");
  }

  void routes(httplib::Server& server) {
    server.set_payload_max_length(max_body_bytes_);
    // httplib answers a body over the limit (413) and other protocol errors itself, without a body.
    server.set_error_handler([](const httplib::Request&, httplib::Response& response) {
      if (!response.body.empty()) return;
      auto what = response.status == 413 ? std::string("the request body is too large")
                                         : fmt::format("HTTP {}", response.status);
      response.set_content(nlohmann::json{{"error", what}}.dump(), "application/json");
    });
    server.Post("/jobs", [this](const httplib::Request& request, httplib::Response& response) {
      auto who = admit(request, response);
      if (!who) return;
      auto submission = submission_from_json(request.body, who->subject);
      if (!submission) return reply(response, 400, {{"error", submission.error()}});
      if (submission->user_id != who->subject) {
        return reply(
            response, 403,
            {{"error", fmt::format("{} may not submit a job as {}", who->subject, submission->user_id.value_or(""))}});
      }
      auto outcome = publish(*submission);
      if (!outcome) return reply(response, 503, {{"error", outcome.error()}});
      reply(response, 202,
            {{"job_id", submission->payload.job_id},
             {"event_id", submission->event_id.to_string()},
             {"status", "SUBMITTED"}});
    });
    server.Get(R"(/jobs/([A-Za-z0-9._:-]+))", [this](const httplib::Request& request, httplib::Response& response) {
      auto who = admit(request, response);
      if (!who) return;
      std::lock_guard lock(db_mutex_);
      auto state = jobs_->status_of(std::string(request.matches[1]));
      if (!state) return reply(response, 500, {{"error", state.error()}});
      if (!*state) return reply(response, 404, {{"error", "no such job (yet)"}});
      const auto& job = **state;
      if (job.user_id != who->subject && !who->admin) {
        return reply(response, 403, {{"error", fmt::format("the job is not {}'s", who->subject)}});
      }
      nlohmann::json body{{"job_id", std::string(request.matches[1])},
                          {"user_id", job.user_id},
                          {"status", to_string(job.status)},
                          {"attempt", job.attempt},
                          {"finished", job.finished},
                          {"cancel_requested", job.cancel_requested}};
      if (job.batch_id) body["batch_job_id"] = *job.batch_id;
      reply(response, 200, body);
    });
    server.Post(
        R"(/jobs/([A-Za-z0-9._:-]+)/cancel)", [this](const httplib::Request& request, httplib::Response& response) {
          auto who = admit(request, response);
          if (!who) return;
          std::string job_id(request.matches[1]);
          std::lock_guard lock(db_mutex_);
          auto asked = jobs_->request_cancel(job_id, who->subject, horizons::now(),
                                             who->admin ? cancel_authority::anyone : cancel_authority::submitter);
          if (!asked) return reply(response, 500, {{"error", asked.error()}});
          switch (*asked) {
            case cancel_request::recorded:
              return reply(response, 202, {{"job_id", job_id}, {"cancel_requested", true}});
            case cancel_request::no_such_job: return reply(response, 404, {{"error", "no such job (yet)"}});
            case cancel_request::already_finished:
              return reply(response, 409, {{"error", "the job has already finished"}});
            case cancel_request::not_the_submitter:
              return reply(response, 403,
                           {{"error", fmt::format("only the job's submitter may cancel it, not {}", who->subject)}});
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

  const services::token_keys auth_;
  rate_limit limit_;
  const std::size_t max_body_bytes_;
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
services::http_listener& http_api::listener() { return *impl_->http_; }

std::expected<std::unique_ptr<http_api>, std::string> http_api::start(const options& opts) {
  auto started = impl::start(opts);
  if (!started) return std::unexpected(started.error());
  return std::unique_ptr<http_api>(new http_api(std::move(*started)));
}

}  // namespace horizons::orchestrator
