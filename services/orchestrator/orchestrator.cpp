#include "services/orchestrator/orchestrator.hpp"

#include <cctype>
#include <future>
#include <map>
#include <mutex>
#include <thread>

#include <httplib.h>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include <horizons/consumer.hpp>
#include <horizons/event_builder.hpp>
#include <horizons/producer.hpp>
#include <horizons/reflection.hpp>
#include <horizons/status_machine.hpp>

namespace horizons::orchestrator {
namespace {

using services::outbox;
using services::step_result;

std::int64_t micros(timestamp t) { return t.time_since_epoch().count(); }
timestamp from_micros(std::int64_t us) { return timestamp(std::chrono::microseconds(us)); }

constexpr std::string_view schema = R"sql(
  CREATE TABLE IF NOT EXISTS jobs (
    job_id TEXT PRIMARY KEY,
    submitted BLOB NOT NULL,          -- the job.submitted event, framed Avro
    user_id TEXT NOT NULL,
    correlation_id TEXT NOT NULL,
    last_event_id TEXT NOT NULL,      -- causation of the job's next event
    status INTEGER NOT NULL,
    attempt INTEGER NOT NULL DEFAULT 0,
    next_at INTEGER NOT NULL,         -- wall-clock microseconds of the job's next step
    finished INTEGER NOT NULL DEFAULT 0,
    elapsed REAL NOT NULL DEFAULT 0,  -- simulated seconds run in this attempt
    samples INTEGER NOT NULL DEFAULT 0,
    cpu_sum REAL NOT NULL DEFAULT 0,
    gpu_sum REAL NOT NULL DEFAULT 0,
    memory_peak REAL NOT NULL DEFAULT 0,
    io_sum REAL NOT NULL DEFAULT 0,
    allocation_id TEXT
  );
  CREATE INDEX IF NOT EXISTS jobs_due ON jobs(finished, next_at);
)sql";

// One job as stored, with the submission decoded.
struct job_row {
  event<job_submitted> submitted;
  std::string user_id;
  uuid correlation_id;
  uuid last_event_id;
  job_status status = job_status::submitted;
  int attempt = 0;
  std::int64_t next_at = 0;
  bool finished = false;
  double elapsed = 0;
  int samples = 0;
  double cpu_sum = 0, gpu_sum = 0, memory_peak = 0, io_sum = 0;
  std::optional<std::string> allocation_id;

  [[nodiscard]] const job_submitted& job() const { return submitted.payload; }
};

std::optional<event<job_submitted>> decode_submission(std::span<const std::byte> framed) {
  auto decoded = decode_framed(framed);
  if (!decoded) return std::nullopt;
  auto* lifecycle = std::get_if<job_lifecycle_event>(&*decoded);
  if (!lifecycle) return std::nullopt;
  auto* job = std::get_if<job_submitted>(&lifecycle->payload);
  if (!job) return std::nullopt;
  event<job_submitted> e;
  static_cast<envelope&>(e) = static_cast<const envelope&>(*lifecycle);
  e.payload = *job;
  return e;
}

class engine {
 public:
  engine(const simulation& sim, services::state_store& store) : sim_(sim), store_(store) {}

  std::expected<void, std::string> prepare() {
    if (auto ok = store_.db().exec(schema); !ok) return std::unexpected(ok.error().message);
    return {};
  }

  // A job.submitted record: the job joins the table (once, whatever redelivery does).
  services::step_result admit(const envelope& meta, const job_submitted& job) {
    auto handled = store_.handle_once(meta.event_id, [&](outbox& out) -> step_result {
      auto exists = store_.db().prepare("SELECT 1 FROM jobs WHERE job_id = ?1");
      if (!exists) return std::unexpected(exists.error().message);
      if (auto found = exists->bind(1, job.job_id).single_int(); found && *found) {
        spdlog::warn("orchestrator: job {} was already submitted; ignoring event {}", job.job_id, meta.event_id.to_string());
        return {};
      }
      job_row row;
      static_cast<envelope&>(row.submitted) = meta;
      row.submitted.payload = job;
      row.user_id = meta.user_id.value_or("anonymous");
      row.correlation_id = meta.correlation_id;
      row.last_event_id = meta.event_id;
      auto plan = plan_job(sim_, job);
      double wait = plan.cancel == cancel_point::while_submitted ? plan.cancel_fraction : 1.0;
      row.next_at = micros(now()) + sim_.real(sim_.admission_delay * wait).count();
      if (auto audited = audit(out, row, std::nullopt, job_status::submitted, row.user_id); !audited) return audited;
      return insert(row);
    });
    if (!handled) return std::unexpected(handled.error());
    return {};
  }

  // Advances every job whose next step is due; returns how many steps were taken.
  std::size_t advance_due(std::size_t limit = 256) {
    std::vector<std::string> due;
    {
      auto select = store_.db().prepare("SELECT job_id FROM jobs WHERE finished = 0 AND next_at <= ?1 ORDER BY next_at LIMIT ?2");
      if (!select) return 0;
      select->bind(1, micros(now())).bind(2, static_cast<std::int64_t>(limit));
      while (select->next()) due.push_back(select->text(0));
    }
    std::size_t steps = 0;
    for (const auto& job_id : due) {
      auto stepped = store_.transact([&](outbox& out) -> step_result {
        auto row = load(job_id);
        if (!row) return std::unexpected(row.error());
        // Another orchestrator sharing this state may have taken the step already.
        if (row->finished || row->next_at > micros(now())) return {};
        if (auto ok = step(out, *row); !ok) return ok;
        ++steps;
        return save(*row);
      });
      if (!stepped) spdlog::error("orchestrator: job {}: {}", job_id, stepped.error());
    }
    return steps;
  }

 private:
  step_result step(outbox& out, job_row& row) {
    auto plan = plan_job(sim_, row.job());
    auto now_us = micros(now());
    const auto& attempt = plan.attempts[static_cast<std::size_t>(row.attempt)];
    switch (row.status) {
      case job_status::submitted: {
        if (plan.cancel == cancel_point::while_submitted) return cancel(out, row, "cancelled by the user before it was queued");
        if (auto ok = transition(out, row, job_status::queued,
                                 fmt::format("accepted by the {} scheduler", to_string(row.job().tacc_system)));
            !ok) {
          return ok;
        }
        double fraction = plan.cancel == cancel_point::while_queued ? plan.cancel_fraction : 1.0;
        row.next_at = now_us + sim_.real(attempt.queue_wait * fraction).count();
        return {};
      }
      case job_status::queued: {
        if (plan.cancel == cancel_point::while_queued && row.attempt == 0) {
          return cancel(out, row, "cancelled by the user while queued");
        }
        if (auto ok = transition(out, row, job_status::running,
                                 fmt::format("started on {} nodes of {}", row.job().resources.nodes,
                                             to_string(row.job().tacc_system)));
            !ok) {
          return ok;
        }
        if (!row.allocation_id) {
          row.allocation_id = "alloc-" + row.job().job_id;
          if (auto ok = allocate(out, row, allocation_change::allocated, "job started"); !ok) return ok;
        }
        row.elapsed = 0;
        row.samples = 0;
        row.cpu_sum = row.gpu_sum = row.memory_peak = row.io_sum = 0;
        row.next_at = now_us + sim_.real(std::min(sim_.sample_interval, attempt.run_time)).count();
        return {};
      }
      case job_status::running: {
        // One sample per interval (the last one covers what is left), then the attempt ends.
        auto chunk = std::min(sim_.sample_interval, attempt.run_time - sim_duration(row.elapsed));
        auto sample = sample_metrics(sim_, row.job(), row.attempt, row.samples, now());
        sample.interval_ms = static_cast<std::int64_t>(chunk.count() * 1000);
        row.elapsed += chunk.count();
        ++row.samples;
        row.cpu_sum += sample.cpu_pct;
        row.gpu_sum += sample.gpu_pct;
        row.memory_peak = std::max(row.memory_peak, sample.memory_gb);
        row.io_sum += sample.disk_read_mb_per_s + sample.disk_write_mb_per_s;
        if (auto ok = emit(out, row, std::move(sample)); !ok) return ok;
        if (row.elapsed + 1e-9 < attempt.run_time.count()) {
          row.next_at = now_us + sim_.real(std::min(sim_.sample_interval, attempt.run_time - sim_duration(row.elapsed))).count();
          return {};
        }
        return attempt.fails ? fail(out, row, attempt, plan) : complete(out, row);
      }
      case job_status::failed: {  // a retry is due
        if (auto ok = transition(out, row, job_status::queued,
                                 fmt::format("retry {} of {}", row.attempt, sim_.max_retries));
            !ok) {
          return ok;
        }
        row.next_at = now_us + sim_.real(attempt.queue_wait).count();
        return {};
      }
      default:
        return std::unexpected(fmt::format("job {} is {} and cannot advance", row.job().job_id, to_string(row.status)));
    }
  }

  step_result complete(outbox& out, job_row& row) {
    if (auto ok = transition(out, row, job_status::completed, "finished successfully"); !ok) return ok;
    double n = std::max(1, row.samples);
    const auto& job = row.job();
    if (auto ok = emit(out, row,
                       job_completed{
                           .job_id = job.job_id,
                           .execution_time_ms = static_cast<std::int64_t>(row.elapsed * 1000),
                           .output_location = fmt::format("/scratch/{}/{}/{}", to_string(job.tacc_system), row.user_id, job.job_id),
                           .result_size_bytes = static_cast<std::int64_t>(row.io_sum / n * row.elapsed * 1e4),
                           .cpu_utilization_pct = row.cpu_sum / n,
                           .gpu_utilization_pct = row.gpu_sum / n,
                           .memory_used_gb = row.memory_peak,
                           .io_throughput_mb_per_s = row.io_sum / n,
                       });
        !ok) {
      return ok;
    }
    return finish(out, row, "job completed");
  }

  step_result fail(outbox& out, job_row& row, const attempt_plan& attempt, const job_plan& plan) {
    if (auto ok = transition(out, row, job_status::failed, attempt.error_message); !ok) return ok;
    bool retry = static_cast<std::size_t>(row.attempt) + 1 < plan.attempts.size();
    auto retry_at = micros(now()) + sim_.real(sim_.retry_delay).count();
    if (auto ok = emit(out, row,
                       job_failed{
                           .job_id = row.job().job_id,
                           .error_code = attempt.error_code,
                           .error_message = attempt.error_message,
                           .exit_code = attempt.exit_code,
                           .retry_count = row.attempt,
                           .max_retries = sim_.max_retries,
                           .next_retry_at = retry ? std::optional(from_micros(retry_at)) : std::nullopt,
                       });
        !ok) {
      return ok;
    }
    if (!retry) return finish(out, row, fmt::format("job failed: {}", attempt.error_code));
    ++row.attempt;
    row.next_at = retry_at;
    return {};
  }

  step_result cancel(outbox& out, job_row& row, std::string reason) {
    if (auto ok = transition(out, row, job_status::cancelled, reason); !ok) return ok;
    if (auto ok = emit(out, row,
                       job_cancelled{.job_id = row.job().job_id, .cancelled_by = row.user_id, .reason = std::move(reason),
                                     .refund_usd = row.job().estimated_cost_usd});
        !ok) {
      return ok;
    }
    return finish(out, row, "job cancelled");
  }

  step_result finish(outbox& out, job_row& row, std::string_view reason) {
    row.finished = true;
    if (row.allocation_id) return allocate(out, row, allocation_change::deallocated, reason);
    return {};
  }

  step_result allocate(outbox& out, job_row& row, allocation_change change, std::string_view reason) {
    const auto& r = row.job().resources;
    resource_allocation held{.tacc_system = row.job().tacc_system, .nodes = r.nodes, .cores_per_node = r.cores_per_node,
                             .gpus = r.gpus, .memory_gb = r.memory_gb};
    resource_allocation_changed changed{.allocation_id = *row.allocation_id, .job_id = row.job().job_id, .change = change,
                                        .previous_allocation = std::nullopt, .new_allocation = std::nullopt,
                                        .reason = std::string(reason)};
    (change == allocation_change::allocated ? changed.new_allocation : changed.previous_allocation) = held;
    return emit(out, row, std::move(changed));
  }

  // A status change: refused unless the status machine allows it; audited.
  step_result transition(outbox& out, job_row& row, job_status to, std::string reason) {
    if (auto legal = check_transition(row.status, to); !legal) return std::unexpected(legal.error());
    auto from = row.status;
    if (auto ok = emit(out, row,
                       job_status_changed{.job_id = row.job().job_id, .previous_status = from, .new_status = to,
                                          .reason = std::move(reason), .transitioned_at = now()});
        !ok) {
      return ok;
    }
    row.status = to;
    bool by_user = to == job_status::cancelled;
    return audit(out, row, from, to, by_user ? row.user_id : std::string(service_name));
  }

  step_result audit(outbox& out, job_row& row, std::optional<job_status> from, job_status to, std::string initiated_by) {
    double hours = 0;
    if (is_terminal(to)) {
      hours = row.elapsed / 3600.0 * std::max(1, row.job().resources.nodes) * std::max(1, row.job().resources.cores_per_node);
    }
    return emit(out, row,
                audit_job_lifecycle{.job_id = row.job().job_id,
                                    .lifecycle_event = fmt::format("job.{}", to_lower(to_string(to))),
                                    .previous_state = from,
                                    .new_state = to,
                                    .initiated_by = std::move(initiated_by),
                                    .datasets_affected = 1,
                                    .records_affected = 0,
                                    .compute_hours = hours});
  }

  template <class Payload>
  step_result emit(outbox& out, job_row& row, Payload payload) {
    envelope cause;
    cause.event_id = row.last_event_id;
    cause.correlation_id = row.correlation_id;
    auto built = make_event(std::move(payload)).caused_by(cause).user_id(row.user_id).build();
    if (!built) return std::unexpected(built.error().message);
    // The job's own events chain; audit records hang off the event they record.
    if constexpr (payload_traits<Payload>::topic == topic_id::job_lifecycle) row.last_event_id = built->event_id;
    return out.emit(*built);
  }

  static std::string to_lower(std::string_view s) {
    std::string lowered(s);
    for (auto& c : lowered) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return lowered;
  }

  std::expected<job_row, std::string> load(const std::string& job_id) {
    auto select = store_.db().prepare(
        "SELECT submitted, user_id, correlation_id, last_event_id, status, attempt, next_at, finished, elapsed, samples, "
        "cpu_sum, gpu_sum, memory_peak, io_sum, allocation_id FROM jobs WHERE job_id = ?1");
    if (!select) return std::unexpected(select.error().message);
    select->bind(1, job_id);
    if (!select->next()) return std::unexpected(fmt::format("job {} is not stored", job_id));
    job_row row;
    auto submitted = decode_submission(select->blob(0));
    if (!submitted) return std::unexpected(fmt::format("job {}: the stored submission does not decode", job_id));
    row.submitted = std::move(*submitted);
    row.user_id = select->text(1);
    row.correlation_id = uuid::parse(select->text(2)).value_or(uuid{});
    row.last_event_id = uuid::parse(select->text(3)).value_or(uuid{});
    row.status = static_cast<job_status>(select->integer(4));
    row.attempt = static_cast<int>(select->integer(5));
    row.next_at = select->integer(6);
    row.finished = select->integer(7) != 0;
    row.elapsed = select->real(8);
    row.samples = static_cast<int>(select->integer(9));
    row.cpu_sum = select->real(10);
    row.gpu_sum = select->real(11);
    row.memory_peak = select->real(12);
    row.io_sum = select->real(13);
    if (!select->is_null(14)) row.allocation_id = select->text(14);
    return row;
  }

  step_result insert(const job_row& row) {
    byte_buffer framed;
    encode_framed(row.submitted, framed);
    auto insert = store_.db().prepare(
        "INSERT INTO jobs(job_id, submitted, user_id, correlation_id, last_event_id, status, next_at) "
        "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)");
    if (!insert) return std::unexpected(insert.error().message);
    insert->bind(1, row.job().job_id).bind(2, framed.bytes()).bind(3, row.user_id).bind(4, row.correlation_id.to_string());
    insert->bind(5, row.last_event_id.to_string()).bind(6, static_cast<std::int64_t>(row.status)).bind(7, row.next_at);
    if (auto ok = insert->run(); !ok) return std::unexpected(ok.error().message);
    return {};
  }

  step_result save(const job_row& row) {
    auto update = store_.db().prepare(
        "UPDATE jobs SET last_event_id = ?2, status = ?3, attempt = ?4, next_at = ?5, finished = ?6, elapsed = ?7, "
        "samples = ?8, cpu_sum = ?9, gpu_sum = ?10, memory_peak = ?11, io_sum = ?12, allocation_id = ?13 WHERE job_id = ?1");
    if (!update) return std::unexpected(update.error().message);
    update->bind(1, row.job().job_id).bind(2, row.last_event_id.to_string()).bind(3, static_cast<std::int64_t>(row.status));
    update->bind(4, static_cast<std::int64_t>(row.attempt)).bind(5, row.next_at).bind(6, static_cast<std::int64_t>(row.finished));
    update->bind(7, row.elapsed).bind(8, static_cast<std::int64_t>(row.samples)).bind(9, row.cpu_sum).bind(10, row.gpu_sum);
    update->bind(11, row.memory_peak).bind(12, row.io_sum);
    if (row.allocation_id) {
      update->bind(13, *row.allocation_id);
    } else {
      update->bind_null(13);
    }
    if (auto ok = update->run(); !ok) return std::unexpected(ok.error().message);
    return {};
  }

  const simulation& sim_;
  services::state_store& store_;
};

// The HTTP API: POST /jobs publishes a job.submitted and answers once Kafka acknowledged it.
class http_api {
 public:
  static std::expected<std::unique_ptr<http_api>, std::string> start(const options& opts) {
    auto colon = opts.http_listen.rfind(':');
    int port = 0;
    if (colon == std::string::npos || std::sscanf(opts.http_listen.c_str() + colon + 1, "%d", &port) != 1 || port < 0 ||
        port > 65535) {
      return std::unexpected(fmt::format("--http: expected host:port, got '{}'", opts.http_listen));
    }
    auto api = std::unique_ptr<http_api>(new http_api());
    auto config = opts.service.config;
    config.client_id = "orchestrator-http";
    auto* raw = api.get();
    auto made = producer::create({.config = config,
                                  .on_delivery = [raw](const delivery_report& r) { raw->delivered(r); },
                                  .enqueue_timeout = std::chrono::milliseconds(5'000),
                                  .max_queued_messages = 100'000});
    if (!made) return std::unexpected(made.error().message);
    api->producer_ = std::move(*made);
    auto db = sqlite::database::open(services::state_path(opts.service.data_dir, service_name));
    if (!db) return std::unexpected(db.error().message);
    api->db_.emplace(std::move(*db));
    api->routes();
    // httplib's default adds SO_REUSEPORT, which would let a second orchestrator share the port unnoticed.
    api->server_.set_socket_options([](socket_t sock) {
      int yes = 1;
      setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
    });
    std::string host = opts.http_listen.substr(0, colon);
    if (!api->server_.bind_to_port(host, port)) {
      return std::unexpected(fmt::format("cannot listen on {} (in use, or not a local address)", opts.http_listen));
    }
    api->thread_ = std::thread([raw] { raw->server_.listen_after_bind(); });
    return api;
  }
  ~http_api() {
    server_.stop();
    if (thread_.joinable()) thread_.join();
    if (producer_) producer_->close(std::chrono::seconds(10));
  }

 private:
  http_api() = default;

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
      auto select = db_->prepare("SELECT status, attempt, finished FROM jobs WHERE job_id = ?1");
      if (!select) {
        response.status = 500;
        return;
      }
      select->bind(1, std::string(request.matches[1]));
      if (!select->next()) {
        response.status = 404;
        response.set_content(nlohmann::json{{"error", "no such job (yet)"}}.dump(), "application/json");
        return;
      }
      response.set_content(nlohmann::json{{"job_id", std::string(request.matches[1])},
                                          {"status", to_string(static_cast<job_status>(select->integer(0)))},
                                          {"attempt", select->integer(1)},
                                          {"finished", select->integer(2) != 0}}
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
  std::mutex mutex_;
  std::uint64_t next_tag_ = 0;
  std::map<std::uint64_t, std::promise<std::optional<kafka_error>>> waiting_;
};

// "AlphaCal", "alpha_cal", "ALPHA-CAL" -> ALPHA_CAL
std::string avro_symbol(std::string_view name) {
  std::string symbol;
  for (std::size_t i = 0; i < name.size(); ++i) {
    char c = name[i];
    if (c == '-' || c == ' ') c = '_';
    bool boundary = i > 0 && std::isupper(static_cast<unsigned char>(c)) && std::islower(static_cast<unsigned char>(name[i - 1]));
    if (boundary) symbol += '_';
    symbol += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  }
  return symbol;
}

template <class Enum>
std::expected<Enum, std::string> enum_field(const nlohmann::json& body, const char* field, Enum fallback) {
  if (!body.contains(field)) return fallback;
  if (!body[field].is_string()) return std::unexpected(fmt::format("\"{}\" must be a string", field));
  auto text = body[field].get<std::string>();
  if (auto value = enum_from_string<Enum>(avro_symbol(text))) return *value;
  std::string allowed;
  for (auto symbol : enum_traits<Enum>::symbols) allowed += fmt::format("{}{}", allowed.empty() ? "" : ", ", symbol);
  return std::unexpected(fmt::format("\"{}\": unknown value '{}' (expected one of {})", field, text, allowed));
}

}  // namespace

std::expected<event<job_submitted>, std::string> submission_from_json(std::string_view json, std::string_view default_user) {
  auto body = nlohmann::json::parse(json, nullptr, false);
  if (body.is_discarded() || !body.is_object()) return std::unexpected("the submission is not a JSON object");
  job_submitted job;
  try {
    job.job_id = body.value("job_id", "job-" + uuid::random().to_string().substr(0, 13));
    job.job_name = body.value("job_name", std::string());
    job.dataset_id = body.value("dataset_id", std::string());
    job.estimated_cost_usd = body.value("estimated_cost_usd", 0.0);
    auto resources = body.value("resources", nlohmann::json::object());
    job.resources = {.nodes = resources.value("nodes", 1),
                     .cores_per_node = resources.value("cores_per_node", 56),
                     .gpus = resources.value("gpus", 0),
                     .memory_gb = resources.value("memory_gb", 192),
                     .wall_time_minutes = resources.value("wall_time_minutes", 120)};
  } catch (const nlohmann::json::exception& e) {
    return std::unexpected(fmt::format("the submission has a field of the wrong type: {}", e.what()));
  }
  auto pipe = enum_field(body, "pipeline", pipeline::other);
  if (!pipe) return std::unexpected(pipe.error());
  auto system = enum_field(body, "tacc_system", tacc_system::frontera);
  if (!system) return std::unexpected(system.error());
  auto priority = enum_field(body, "priority", job_priority::normal);
  if (!priority) return std::unexpected(priority.error());
  job.pipeline = *pipe;
  job.tacc_system = *system;
  job.priority = *priority;
  std::string user = body.contains("user_id") && body["user_id"].is_string() ? body["user_id"].get<std::string>()
                                                                              : std::string(default_user);
  if (user.empty()) return std::unexpected("\"user_id\" is required (or the X-User header)");
  if (job.resources.nodes < 1) return std::unexpected(fmt::format("\"resources.nodes\" must be >= 1, got {}", job.resources.nodes));
  auto built = make_event(std::move(job)).user_id(std::move(user)).build();
  if (!built) return std::unexpected(built.error().message);
  return std::move(*built);
}

std::expected<void, std::string> run(const options& opts, std::stop_token stop) {
  if (auto ok = opts.sim.check(); !ok) return std::unexpected(fmt::format("orchestrator: {}", ok.error()));
  auto host = services::service_host::start(std::string(service_name), opts.service);
  if (!host) return std::unexpected(host.error());
  engine jobs(opts.sim, (*host)->store());
  if (auto ok = jobs.prepare(); !ok) return std::unexpected(ok.error());

  auto config = opts.service.config;
  config.client_id = "orchestrator";
  auto made = consumer::create({.config = config, .topics = {topic_id::job_lifecycle}, .group = {}, .retry = {},
                                .start = start_position::earliest, .undecodable = undecodable_policy::dead_letter});
  if (!made) return std::unexpected(fmt::format("orchestrator: {}", made.error().message));
  auto& submissions = **made;
  submissions.on<job_submitted>([&](const envelope& meta, const job_submitted& job, const message_context&) -> handler_result {
    return jobs.admit(meta, job);
  });

  std::unique_ptr<http_api> api;
  if (!opts.http_listen.empty()) {
    auto started = http_api::start(opts);
    if (!started) return std::unexpected(fmt::format("orchestrator: {}", started.error()));
    api = std::move(*started);
  }
  spdlog::info("orchestrator: running (data in {})", (*host)->store().path().string());
  return (*host)->run(submissions, stop, [&] { jobs.advance_due(); }, std::chrono::milliseconds(10));
}

}  // namespace horizons::orchestrator
