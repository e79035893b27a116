#include "services/health_monitor/http_endpoint.hpp"
#include "services/health_monitor/json_parts.hpp"

#include <array>
#include <atomic>
#include <charconv>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <utility>

#include <fmt/format.h>
#include <httplib.h>
#include <nlohmann/json.hpp>
#include <prometheus/text_serializer.h>

#include <horizons/metrics.hpp>

#include "services/common/http_listener.hpp"
#include "services/common/sql/sql.hpp"
#include "services/health_monitor/dashboard.hpp"
#include "services/health_monitor/dashboard_assets.hpp"

namespace horizons::health_monitor {
namespace {

using ordered_json = nlohmann::ordered_json;

// The evaluation as Prometheus families (prometheus-cpp's data model; its serializer writes the text).
class families {
 public:
  void family(std::string name, std::string help, prometheus::MetricType type) {
    out_.push_back({.name = std::move(name), .help = std::move(help), .type = type, .metric = {}});
  }
  // A sample of the last family declared.
  void sample(std::vector<prometheus::ClientMetric::Label> labels, double value) {
    prometheus::ClientMetric metric;
    metric.label = std::move(labels);
    if (out_.back().type == prometheus::MetricType::Counter)
      metric.counter.value = value;
    else
      metric.gauge.value = value;
    out_.back().metric.push_back(std::move(metric));
  }
  void gauge(std::string name, std::string help, double value) {
    family(std::move(name), std::move(help), prometheus::MetricType::Gauge);
    sample({}, value);
  }
  void counter(std::string name, std::string help, double value) {
    family(std::move(name), std::move(help), prometheus::MetricType::Counter);
    sample({}, value);
  }
  [[nodiscard]] std::vector<prometheus::MetricFamily> take() { return std::move(out_); }

 private:
  std::vector<prometheus::MetricFamily> out_;
};

// The families of the latest evaluation, for the process's /metrics.
class evaluation_metrics : public prometheus::Collectable {
 public:
  void set(std::vector<prometheus::MetricFamily> families) {
    std::lock_guard lock(mutex_);
    families_ = std::move(families);
  }
  std::vector<prometheus::MetricFamily> Collect() const override {
    std::lock_guard lock(mutex_);
    return families_;
  }

 private:
  mutable std::mutex mutex_;
  std::vector<prometheus::MetricFamily> families_;  // none before the first evaluation
};

constexpr std::array lag_statuses{lag_status::ok, lag_status::warning, lag_status::stalled, lag_status::stopped,
                                  lag_status::error};

}  // namespace

std::string render_healthz(const snapshot& latest) {
  ordered_json groups = groups_json(latest.groups);
  const auto& b = latest.brokers;
  ordered_json out{
      {"status", status_name(latest.status)},
      {"checked_at", format_rfc3339(latest.checked_at).value_or("")},
      {"reasons", latest.reasons},
      {"brokers", brokers_json(b)},
      {"database", {{"status", status_name(latest.database)}, {"detail", latest.database_detail}}},
      {"jobs",
       {{"active", latest.jobs.active},
        {"pending", latest.jobs.pending},
        {"failed_24h", latest.jobs.failed_24h},
        {"queue_depth", latest.queue_depth}}},
      {"groups", std::move(groups)},
      {"open_alerts", latest.open_alerts},
      {"response_time_ms", latest.response_time_ms},
      {"evaluations", latest.evaluations},
  };
  return out.dump();
}

int healthz_code(const snapshot& latest) { return latest.status == overall_status::down ? 503 : 200; }

std::vector<prometheus::MetricFamily> metric_families(const snapshot& latest) {
  using prometheus::MetricType;
  families out;
  const auto& b = latest.brokers;
  out.gauge("horizons_brokers_up", "Brokers listed in the cluster metadata that answered a probe.", b.brokers_up);
  out.gauge("horizons_brokers_expected", "Brokers the cluster should have.", b.expected_brokers);
  out.gauge("horizons_partitions_leaderless", "Partitions without a leader.", b.leaderless);
  out.gauge("horizons_partitions_leader_unreachable", "Partitions whose leader did not answer.", b.leader_unreachable);
  out.gauge("horizons_partitions_under_replicated", "Partitions with fewer in-sync replicas than replicas.",
            b.under_replicated);

  out.family("horizons_health_status", "Overall health of the platform (one-hot).", MetricType::Gauge);
  for (auto status : {overall_status::ok, overall_status::degraded, overall_status::down}) {
    out.sample({{"status", std::string(status_name(status))}}, latest.status == status ? 1 : 0);
  }

  out.family("horizons_consumer_lag_messages", "Records the group has yet to finish, per topic.", MetricType::Gauge);
  for (const auto& g : latest.groups) {
    out.sample({{"group", g.group}, {"topic", g.topic}}, static_cast<double>(g.lag_messages));
  }
  out.family("horizons_consumer_lag_seconds", "Age of the oldest record the group has yet to finish, per topic.",
             MetricType::Gauge);
  for (const auto& g : latest.groups) out.sample({{"group", g.group}, {"topic", g.topic}}, g.lag_seconds);
  out.family("horizons_consumer_lag_status", "The sliding-window lag rule's verdict per group and topic (one-hot).",
             MetricType::Gauge);
  for (const auto& g : latest.groups) {
    for (auto status : lag_statuses) {
      out.sample({{"group", g.group}, {"topic", g.topic}, {"status", std::string(status_name(status))}},
                 g.status == status ? 1 : 0);
    }
  }

  out.family("horizons_health_jobs", "Jobs by state, as the health monitor folds the job-lifecycle topic.",
             MetricType::Gauge);
  out.sample({{"state", "active"}}, latest.jobs.active);
  out.sample({{"state", "pending"}}, latest.jobs.pending);
  out.sample({{"state", "failed_24h"}}, latest.jobs.failed_24h);
  out.gauge("horizons_queue_depth", "Lag of the job-processor group on job-lifecycle.",
            static_cast<double>(latest.queue_depth));

  out.gauge("horizons_alerts_open", "Alerts raised and not yet resolved.",
            static_cast<double>(latest.open_alerts.size()));
  out.gauge("horizons_health_evaluation_seconds", "How long the latest evaluation took.",
            latest.response_time_ms / 1'000.0);
  out.counter("horizons_health_evaluations_total", "Evaluations since the monitor started.",
              static_cast<double>(latest.evaluations));
  out.counter("horizons_alerts_raised_total", "alert.raised events emitted since the monitor started.",
              static_cast<double>(latest.alerts_raised));
  return out.take();
}

std::string render_metrics(const snapshot& latest) {
  std::ostringstream text;
  prometheus::TextSerializer().Serialize(text, metric_families(latest));
  return std::move(text).str();
}

struct http_endpoint::impl {
  explicit impl(const endpoint_options& o) : options(o), history(o.history_size) {}

  std::unique_ptr<services::http_listener> http;
  endpoint_options options;
  // The latest evaluation's families, served with the process's at /metrics (metrics::add_source).
  std::shared_ptr<evaluation_metrics> metrics = std::make_shared<evaluation_metrics>();
  mutable std::mutex mutex;
  std::condition_variable changed;  // a publish() or the end
  bool stopping = false;
  std::optional<snapshot> latest;
  std::string latest_overview;  // render_overview(&*latest), rendered once per publish for every stream
  evaluation_history history;
  std::optional<sql::location> job_db;
  std::atomic<std::size_t> streams{0};

  void serve_healthz(httplib::Response& response) const {
    std::lock_guard lock(mutex);
    if (!latest) {
      response.status = 503;
      response.set_content(
          ordered_json{{"status", "down"}, {"checked_at", nullptr}, {"reasons", {"no evaluation yet"}}}.dump(),
          "application/json");
      return;
    }
    response.status = healthz_code(*latest);
    response.set_content(render_healthz(*latest), "application/json");
  }

  void serve_overview(httplib::Response& response) const {
    std::lock_guard lock(mutex);
    // 200 before the first evaluation too: the page then waits for the stream.
    response.set_header("Cache-Control", "no-cache");
    response.set_content(latest ? latest_overview : render_overview(nullptr), "application/json");
  }

  void serve_history(httplib::Response& response) const {
    std::lock_guard lock(mutex);
    response.set_header("Cache-Control", "no-cache");
    response.set_content(render_history(history), "application/json");
  }

  static void json_error(httplib::Response& response, int status, const std::string& message) {
    response.status = status;
    // The message may quote the request (a job id from the path), which need not be UTF-8.
    response.set_content(ordered_json{{"error", message}}.dump(-1, ' ', false, ordered_json::error_handler_t::replace),
                         "application/json");
  }

  // The state database for this request (a pooled connection on PostgreSQL); nullopt (and the
  // response filled) when it cannot be opened.
  std::optional<sql::database> open_jobs(httplib::Response& response) const {
    std::optional<sql::location> path;
    {
      std::lock_guard lock(mutex);
      path = job_db;
    }
    if (!path) {
      json_error(response, 503, "the health monitor has not opened its state yet");
      return std::nullopt;
    }
    auto db = sql::database::open_existing(*path);
    if (!db) {
      json_error(response, 503, db.error().message);
      return std::nullopt;
    }
    return std::move(*db);
  }

  void serve_job(const std::string& job_id, httplib::Response& response) const {
    auto db = open_jobs(response);
    if (!db) return;
    auto events = load_job_events(*db, job_id);
    if (!events) return json_error(response, 503, events.error().message);
    if (events->empty()) {
      return json_error(response, 404, fmt::format("the health monitor holds no events of job '{}'", job_id));
    }
    response.set_content(render_job(job_id, *events), "application/json");
  }

  void serve_job_search(const httplib::Request& request, httplib::Response& response) const {
    int limit = 20;
    if (request.has_param("limit")) {
      auto text = request.get_param_value("limit");
      auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), limit);
      if (ec != std::errc{} || ptr != text.data() + text.size() || limit < 1 || limit > 100) {
        return json_error(response, 400, fmt::format("limit: expected an integer from 1 to 100, got '{}'", text));
      }
    }
    auto db = open_jobs(response);
    if (!db) return;
    auto jobs = find_jobs(*db, request.get_param_value("prefix"), limit);
    if (!jobs) return json_error(response, 503, jobs.error().message);
    response.set_content(render_job_list(*jobs), "application/json");
  }

  void serve_stream(httplib::Response& response) {
    if (streams.fetch_add(1) >= options.max_streams) {
      --streams;
      return json_error(response, 503, fmt::format("at most {} streams at a time", options.max_streams));
    }
    response.set_header("Cache-Control", "no-cache");
    response.set_header("X-Accel-Buffering", "no");
    struct stream_state {
      bool started = false;
      std::uint64_t sent = 0;  // the evaluation last sent
      std::chrono::steady_clock::time_point last_write = std::chrono::steady_clock::now();
    };
    auto state = std::make_shared<stream_state>();
    response.set_chunked_content_provider(
        "text/event-stream",
        [this, state](std::size_t, httplib::DataSink& sink) {
          // A connection that can no longer be written ends the stream at once, not at the next
          // keep-alive (the http_dashboard fuzz target found such streams holding their thread and
          // stream slot for the whole keep-alive interval).
          if (!sink.is_writable()) return false;
          std::string frame;
          {
            std::unique_lock lock(mutex);
            if (!state->started) {
              // The client's reconnection delay, then what there is now.
              state->started = true;
              frame = "retry: 2000\n\n";
            } else {
              // Short waits: httplib checks between calls whether the server is stopping.
              changed.wait_for(lock, std::chrono::milliseconds(250),
                               [&] { return stopping || (latest && latest->evaluations != state->sent); });
              if (stopping) return false;
            }
            if (latest && latest->evaluations != state->sent) {
              frame += sse_frame("evaluation", latest->evaluations, latest_overview);
              state->sent = latest->evaluations;
            }
          }
          auto now = std::chrono::steady_clock::now();
          if (frame.empty() && now - state->last_write >= options.keepalive) frame = ": keep-alive\n\n";
          if (frame.empty()) return true;
          state->last_write = now;
          return sink.write(frame.data(), frame.size());
        },
        [this](bool) { --streams; });
  }
};

std::expected<std::unique_ptr<http_endpoint>, std::string> http_endpoint::start(const std::string& listen,
                                                                                const endpoint_options& options) {
  auto http = services::http_listener::bind(listen);
  if (!http) return std::unexpected(http.error());
  auto state = std::make_unique<impl>(options);
  auto* raw = state.get();
  auto& server = (*http)->server();
  // Each stream holds a thread: room for them beside the page's own requests.
  const auto threads = options.max_streams + 8;
  server.new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  server.Get("/healthz", [raw](const httplib::Request&, httplib::Response& r) { raw->serve_healthz(r); });
  server.Get("/api/overview", [raw](const httplib::Request&, httplib::Response& r) { raw->serve_overview(r); });
  server.Get("/api/history", [raw](const httplib::Request&, httplib::Response& r) { raw->serve_history(r); });
  server.Get("/api/stream", [raw](const httplib::Request&, httplib::Response& r) { raw->serve_stream(r); });
  server.Get("/api/jobs", [raw](const httplib::Request& q, httplib::Response& r) { raw->serve_job_search(q, r); });
  server.Get(R"(/api/jobs/([^/]+))",
             [raw](const httplib::Request& q, httplib::Response& r) { raw->serve_job(q.matches[1], r); });
  for (const auto& asset : dashboard_assets()) {
    auto serve = [&asset](const httplib::Request&, httplib::Response& r) {
      r.set_header("Cache-Control", "no-cache");
      r.set_content(asset.body.data(), asset.body.size(), std::string(asset.content_type).c_str());
    };
    server.Get(std::string(asset.path), serve);
    if (asset.path == "/index.html") server.Get("/", serve);
  }
  metrics::add_source(state->metrics);
  state->http = std::move(*http);
  state->http->serve();
  return std::unique_ptr<http_endpoint>(new http_endpoint(std::move(state)));
}

http_endpoint::http_endpoint(std::unique_ptr<impl> state) : impl_(std::move(state)) {}

http_endpoint::~http_endpoint() {
  {
    std::lock_guard lock(impl_->mutex);
    impl_->stopping = true;
  }
  impl_->changed.notify_all();
  impl_->http->stop();
}

void http_endpoint::publish(snapshot latest) {
  auto overview = render_overview(&latest);
  impl_->metrics->set(metric_families(latest));
  {
    std::lock_guard lock(impl_->mutex);
    impl_->history.add(latest);
    impl_->latest = std::move(latest);
    impl_->latest_overview = std::move(overview);
  }
  impl_->changed.notify_all();
}

void http_endpoint::serve_jobs_from(sql::location state_db) {
  std::lock_guard lock(impl_->mutex);
  impl_->job_db = std::move(state_db);
}

const std::string& http_endpoint::address() const { return impl_->http->address(); }

std::string http_endpoint::url() const { return impl_->http->url() + "/"; }

services::http_listener& http_endpoint::listener() { return *impl_->http; }

}  // namespace horizons::health_monitor
