#include "services/health_monitor/http_endpoint.hpp"
#include "services/health_monitor/json_parts.hpp"

#include <array>
#include <atomic>
#include <charconv>
#include <condition_variable>
#include <initializer_list>
#include <mutex>
#include <optional>
#include <thread>
#include <utility>

#include <fmt/format.h>
#include <httplib.h>
#include <nlohmann/json.hpp>

#include "services/common/listen_address.hpp"
#include "services/common/sqlite.hpp"
#include "services/health_monitor/dashboard.hpp"
#include "services/health_monitor/dashboard_assets.hpp"

namespace horizons::health_monitor {
namespace {

using ordered_json = nlohmann::ordered_json;

constexpr std::string_view metrics_content_type = "text/plain; version=0.0.4; charset=utf-8";

// Prometheus text format 0.0.4: label values escape backslash, double quote and line feed;
// HELP text escapes backslash and line feed.
std::string escape(std::string_view text, bool quotes) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '"' && quotes) {
      out += "\\\"";
    } else {
      out += c;
    }
  }
  return out;
}

using labels = std::initializer_list<std::pair<std::string_view, std::string_view>>;

class exposition {
 public:
  void family(std::string_view name, std::string_view help, std::string_view type) {
    text_ += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, escape(help, false), name, type);
  }
  void sample(std::string_view name, labels with, double value) {
    text_ += name;
    if (with.size() > 0) {
      text_ += '{';
      bool first = true;
      for (const auto& [label, label_value] : with) {
        text_ += fmt::format("{}{}=\"{}\"", first ? "" : ",", label, escape(label_value, true));
        first = false;
      }
      text_ += '}';
    }
    text_ += fmt::format(" {}\n", value);
  }
  void gauge(std::string_view name, std::string_view help, double value) {
    family(name, help, "gauge");
    sample(name, {}, value);
  }
  [[nodiscard]] std::string take() { return std::move(text_); }

 private:
  std::string text_;
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

std::string render_metrics(const snapshot& latest) {
  exposition out;
  const auto& b = latest.brokers;
  out.gauge("horizons_brokers_up", "Brokers listed in the cluster metadata that answered a probe.", b.brokers_up);
  out.gauge("horizons_brokers_expected", "Brokers the cluster should have.", b.expected_brokers);
  out.gauge("horizons_partitions_leaderless", "Partitions without a leader.", b.leaderless);
  out.gauge("horizons_partitions_leader_unreachable", "Partitions whose leader did not answer.", b.leader_unreachable);
  out.gauge("horizons_partitions_under_replicated", "Partitions with fewer in-sync replicas than replicas.",
            b.under_replicated);

  out.family("horizons_health_status", "Overall health of the platform (one-hot).", "gauge");
  for (auto status : {overall_status::ok, overall_status::degraded, overall_status::down}) {
    out.sample("horizons_health_status", {{"status", status_name(status)}}, latest.status == status ? 1 : 0);
  }

  out.family("horizons_consumer_lag_messages", "Records the group has yet to finish, per topic.", "gauge");
  for (const auto& g : latest.groups) {
    out.sample("horizons_consumer_lag_messages", {{"group", g.group}, {"topic", g.topic}},
               static_cast<double>(g.lag_messages));
  }
  out.family("horizons_consumer_lag_seconds", "Age of the oldest record the group has yet to finish, per topic.",
             "gauge");
  for (const auto& g : latest.groups) {
    out.sample("horizons_consumer_lag_seconds", {{"group", g.group}, {"topic", g.topic}}, g.lag_seconds);
  }
  out.family("horizons_consumer_lag_status", "The sliding-window lag rule's verdict per group and topic (one-hot).",
             "gauge");
  for (const auto& g : latest.groups) {
    for (auto status : lag_statuses) {
      out.sample("horizons_consumer_lag_status",
                 {{"group", g.group}, {"topic", g.topic}, {"status", status_name(status)}}, g.status == status ? 1 : 0);
    }
  }

  out.family("horizons_jobs", "Jobs by state, folded from the job-lifecycle topic.", "gauge");
  out.sample("horizons_jobs", {{"state", "active"}}, latest.jobs.active);
  out.sample("horizons_jobs", {{"state", "pending"}}, latest.jobs.pending);
  out.sample("horizons_jobs", {{"state", "failed_24h"}}, latest.jobs.failed_24h);
  out.gauge("horizons_queue_depth", "Lag of the job-processor group on job-lifecycle.",
            static_cast<double>(latest.queue_depth));

  out.gauge("horizons_alerts_open", "Alerts raised and not yet resolved.",
            static_cast<double>(latest.open_alerts.size()));
  out.gauge("horizons_health_evaluation_seconds", "How long the latest evaluation took.",
            latest.response_time_ms / 1'000.0);
  out.family("horizons_health_evaluations_total", "Evaluations since the monitor started.", "counter");
  out.sample("horizons_health_evaluations_total", {}, static_cast<double>(latest.evaluations));
  out.family("horizons_alerts_raised_total", "alert.raised events emitted since the monitor started.", "counter");
  out.sample("horizons_alerts_raised_total", {}, static_cast<double>(latest.alerts_raised));
  return out.take();
}

struct http_endpoint::impl {
  explicit impl(const endpoint_options& o) : options(o), history(o.history_size) {}

  httplib::Server server;
  std::thread thread;
  std::atomic<bool> finished{false};
  std::string address;
  endpoint_options options;
  mutable std::mutex mutex;
  std::condition_variable changed;  // a publish() or the end
  bool stopping = false;
  std::optional<snapshot> latest;
  std::string latest_overview;  // render_overview(&*latest), rendered once per publish for every stream
  evaluation_history history;
  std::optional<std::filesystem::path> job_db;
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

  void serve_metrics(httplib::Response& response) const {
    std::lock_guard lock(mutex);
    // Before the first evaluation there is nothing to expose; an empty exposition is valid.
    response.set_content(latest ? render_metrics(*latest) : std::string(), std::string(metrics_content_type));
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
    response.set_content(ordered_json{{"error", message}}.dump(), "application/json");
  }

  // The state database, opened for this request; nullopt (and the response filled) when it cannot be.
  std::optional<sqlite::database> open_jobs(httplib::Response& response) const {
    std::optional<std::filesystem::path> path;
    {
      std::lock_guard lock(mutex);
      path = job_db;
    }
    if (!path) {
      json_error(response, 503, "the health monitor has not opened its state yet");
      return std::nullopt;
    }
    auto db = sqlite::database::open_existing(*path);
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
  auto parsed = services::parse_listen(listen);
  if (!parsed) return std::unexpected(parsed.error());
  auto state = std::make_unique<impl>(options);
  auto* raw = state.get();
  // Each stream holds a thread: room for them beside the page's own requests.
  const auto threads = options.max_streams + 8;
  state->server.new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  state->server.Get("/healthz", [raw](const httplib::Request&, httplib::Response& r) { raw->serve_healthz(r); });
  state->server.Get("/metrics", [raw](const httplib::Request&, httplib::Response& r) { raw->serve_metrics(r); });
  state->server.Get("/api/overview", [raw](const httplib::Request&, httplib::Response& r) { raw->serve_overview(r); });
  state->server.Get("/api/history", [raw](const httplib::Request&, httplib::Response& r) { raw->serve_history(r); });
  state->server.Get("/api/stream", [raw](const httplib::Request&, httplib::Response& r) { raw->serve_stream(r); });
  state->server.Get("/api/jobs",
                    [raw](const httplib::Request& q, httplib::Response& r) { raw->serve_job_search(q, r); });
  state->server.Get(R"(/api/jobs/([^/]+))",
                    [raw](const httplib::Request& q, httplib::Response& r) { raw->serve_job(q.matches[1], r); });
  for (const auto& asset : dashboard_assets()) {
    auto serve = [&asset](const httplib::Request&, httplib::Response& r) {
      r.set_header("Cache-Control", "no-cache");
      r.set_content(asset.body.data(), asset.body.size(), std::string(asset.content_type).c_str());
    };
    state->server.Get(std::string(asset.path), serve);
    if (asset.path == "/index.html") state->server.Get("/", serve);
  }
  // httplib's default sets SO_REUSEPORT, which would let a second monitor share the port unnoticed;
  // SO_REUSEADDR alone still allows a quick restart but refuses a port someone listens on.
  state->server.set_socket_options([](socket_t sock) {
    int yes = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
  });
  int port = parsed->port;
  if (port == 0) {
    port = state->server.bind_to_any_port(parsed->host);
  } else if (!state->server.bind_to_port(parsed->host, port)) {
    port = -1;
  }
  if (port < 0) {
    return std::unexpected(fmt::format("cannot listen on {}: the address is not local or the port is in use", listen));
  }
  state->address = parsed->host.find(':') == std::string::npos ? fmt::format("{}:{}", parsed->host, port)
                                                               : fmt::format("[{}]:{}", parsed->host, port);
  state->thread = std::thread([raw] {
    raw->server.listen_after_bind();
    raw->finished = true;
  });
  return std::unique_ptr<http_endpoint>(new http_endpoint(std::move(state)));
}

http_endpoint::http_endpoint(std::unique_ptr<impl> state) : impl_(std::move(state)) {}

http_endpoint::~http_endpoint() {
  {
    std::lock_guard lock(impl_->mutex);
    impl_->stopping = true;
  }
  impl_->changed.notify_all();
  // httplib's stop() does nothing until the listening loop has started: repeat until it ended.
  while (!impl_->finished) {
    impl_->server.stop();
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  impl_->thread.join();
}

void http_endpoint::publish(snapshot latest) {
  auto overview = render_overview(&latest);
  {
    std::lock_guard lock(impl_->mutex);
    impl_->history.add(latest);
    impl_->latest = std::move(latest);
    impl_->latest_overview = std::move(overview);
  }
  impl_->changed.notify_all();
}

void http_endpoint::serve_jobs_from(std::filesystem::path state_db) {
  std::lock_guard lock(impl_->mutex);
  impl_->job_db = std::move(state_db);
}

const std::string& http_endpoint::address() const { return impl_->address; }

std::string http_endpoint::url() const { return fmt::format("http://{}/", impl_->address); }

}  // namespace horizons::health_monitor
