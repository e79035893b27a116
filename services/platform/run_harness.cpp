#include "services/platform/run_harness.hpp"

#include <algorithm>
#include <deque>
#include <random>
#include <set>
#include <thread>
#include <unordered_map>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include <horizons/admin.hpp>
#include <horizons/codec.hpp>
#include <horizons/embedded_cluster.hpp>
#include <horizons/event_builder.hpp>
#include <horizons/health.hpp>
#include <horizons/producer.hpp>
#include <horizons/schema_registry.hpp>
#include <horizons/topic_reader.hpp>

#include "services/common/state_store.hpp"
#include "services/compliance_auditor/auditor.hpp"
#include "services/compliance_auditor/ledger.hpp"
#include "services/platform/registry.hpp"
#include "services/schema_registry/service.hpp"

namespace horizons::platform {
namespace {

using steady = std::chrono::steady_clock;

struct uuid_hash {
  std::size_t operator()(const uuid& id) const noexcept { return std::hash<uuid>{}(id); }
};

// The observer's own fold of a job's samples, to check the aggregator's summary against.
struct sample_fold {
  std::int64_t count = 0, interval_ms = 0;
  double cpu_sum = 0, cpu_max = 0, gpu_sum = 0, gpu_max = 0, memory_peak = 0, network_in = 0, disk_write = 0;

  void add(const job_metrics_recorded& s) {
    double seconds = static_cast<double>(s.interval_ms) / 1000.0;
    ++count;
    interval_ms += s.interval_ms;
    cpu_sum += s.cpu_pct;
    cpu_max = std::max(cpu_max, s.cpu_pct);
    gpu_sum += s.gpu_pct;
    gpu_max = std::max(gpu_max, s.gpu_pct);
    memory_peak = std::max(memory_peak, s.memory_gb);
    network_in += s.network_in_mb_per_s * seconds;
    disk_write += s.disk_write_mb_per_s * seconds;
  }
  [[nodiscard]] bool matches(const job_performance_summary& s) const {
    auto close = [](double a, double b) { return std::abs(a - b) <= 1e-6 * std::max(1.0, std::abs(b)); };
    double n = count > 0 ? static_cast<double>(count) : 1.0;
    return s.sample_count == count && s.execution_time_ms == interval_ms && close(s.cpu_avg_pct, cpu_sum / n) &&
           close(s.cpu_max_pct, cpu_max) && close(s.gpu_avg_pct, gpu_sum / n) && close(s.gpu_max_pct, gpu_max) &&
           close(s.memory_peak_gb, memory_peak) && close(s.network_in_total_mb, network_in) &&
           close(s.disk_write_total_mb, disk_write);
  }
};

// Reads every topic (and its .dlq twin) and keeps the independent count the report is made of.
class observer {
 public:
  static std::expected<observer, std::string> open(const client_config& config, timestamp since) {
    observer o;
    o.since_ = since;
    std::vector<std::string> topics;
    for (const auto& spec : catalogue) {
      topics.emplace_back(spec.name());
      topics.push_back(spec.dlq_name());
    }
    // One reader for every topic: one client, and a record of any topic is read as soon as it arrives.
    auto reader = topic_reader::open(config, topics, read_from::beginning, "horizons-run-observer");
    if (!reader) return std::unexpected(fmt::format("observer: {}", reader.error().message));
    o.reader_ = std::move(*reader);
    auto decoder = record_decoder::create(config);
    if (!decoder) return std::unexpected(fmt::format("observer: {}", decoder.error()));
    o.decoder_.emplace(std::move(*decoder));
    return o;
  }

  void expect_job(const std::string& job_id) { run_jobs_.insert(job_id); }

  // Reads what arrived within `wait` (at most a few thousand records); returns the number read.
  std::size_t poll(std::chrono::milliseconds wait) {
    std::size_t read = 0;
    for (int i = 0; i < 5'000; ++i) {
      auto next = reader_->next(i == 0 ? wait : std::chrono::milliseconds(0));
      if (!next || !*next) break;
      ++read;
      take(**next);
    }
    return read;
  }

  [[nodiscard]] bool at_end() const { return reader_->at_end(); }

  [[nodiscard]] progress snapshot(int submitted, int total) const {
    progress p{.jobs_submitted = submitted,
               .jobs_total = total,
               .jobs_ended = static_cast<int>(ended_.size()),
               .jobs_by_state = {},
               .events = events_,
               .events_per_s = 0,
               .elapsed = {}};
    for (const auto& [job, status] : latest_) p.jobs_by_state[std::string(to_string(status))]++;
    return p;
  }

  // Every submitted job ended, and each consequence of its end was seen.
  [[nodiscard]] std::optional<std::string> waiting_for(std::size_t jobs) const {
    if (ended_.size() < jobs) return fmt::format("{} of {} jobs have not ended", jobs - ended_.size(), jobs);
    for (const auto& [job, source] : ended_) {
      if (!notifications_.contains(source)) return fmt::format("no notification yet for job {}", job);
      if (ran_.contains(job) && !summaries_.contains(job))
        return fmt::format("no performance summary yet for job {}", job);
    }
    return std::nullopt;
  }

  [[nodiscard]] const std::unordered_map<uuid, int, uuid_hash>& seen() const { return seen_; }
  [[nodiscard]] const std::set<uuid>& audit_ids() const { return audit_ids_; }

  void fill(report& out) const {
    for (const auto& [job, status] : latest_) {
      if (ended_.contains(job)) out.jobs_by_final_state[std::string(to_string(status))]++;
    }
    out.events_per_topic = events_per_topic_;
    for (auto [topic, samples] : latencies_) {
      std::ranges::sort(samples);
      auto at = [&](double q) {
        return samples[std::min(samples.size() - 1, static_cast<std::size_t>(q * static_cast<double>(samples.size())))];
      };
      out.latency_per_topic[topic] = {.count = samples.size(),
                                      .p50_ms = at(0.50),
                                      .p95_ms = at(0.95),
                                      .p99_ms = at(0.99),
                                      .max_ms = samples.back()};
    }
    out.dead_lettered = dead_lettered_;
    out.jobs_that_ran = static_cast<int>(ran_.size());
    out.summaries = static_cast<int>(summaries_.size());
    for (const auto& [job, summary] : summaries_) {
      auto fold = folds_.find(job);
      if (fold != folds_.end() && fold->second.matches(summary.first)) ++out.summaries_matching_samples;
      if (summary.second.size() > 1) out.duplicated_effects += summary.second.size() - 1;
    }
    out.duplicated_effects += steps_out_of_story_;
    for (const auto& [job, source] : ended_) {
      auto n = notifications_.find(source);
      if (n == notifications_.end()) continue;
      ++out.notifications_for_ended_jobs;
      if (n->second.size() > 1) out.duplicated_effects += n->second.size() - 1;
    }
    out.audit_events = static_cast<std::int64_t>(audit_ids_.size());
    for (const auto& [id, times] : seen_) {
      if (times > 1) out.duplicate_records += static_cast<std::uint64_t>(times - 1);
    }
  }

 private:
  void take(const raw_record& record) {
    if (record.time < since_) return;  // an earlier run's record
    if (record.topic.ends_with(".dlq")) {
      ++dead_lettered_;
      return;
    }
    auto decoded = decoder_->decode(record.topic, std::as_bytes(std::span(record.value)));
    if (!decoded) return;  // the services dead-letter it; counted there
    ++events_;
    ++events_per_topic_[record.topic];
    if (auto at = record.header(header::produced_at)) {
      std::int64_t produced = 0;
      if (std::sscanf(std::string(*at).c_str(), "%ld", &produced) == 1) {
        auto since_produced = now() - timestamp(std::chrono::microseconds(produced));
        latencies_[record.topic].push_back(std::chrono::duration<double, std::milli>(since_produced).count());
      }
    }
    std::visit(
        [&](const auto& e) {
          // A record republished by a relay that died after Kafka's acknowledgement repeats an event id: its effects
          // were taken at the first reading.
          if (seen_[e.event_id]++ > 0) return;
          std::visit([&](const auto& payload) { on(e, payload); }, e.payload);
        },
        *decoded);
  }

  void on(const envelope&, const job_status_changed& p) {
    if (!run_jobs_.contains(p.job_id)) return;
    // A job's events share its partition, so each change starts from the one read before it; one that
    // does not is a step taken twice (two orchestrators) or a story told out of order.
    auto latest = latest_.find(p.job_id);
    if (latest != latest_.end() && latest->second != p.previous_status) ++steps_out_of_story_;
    latest_[p.job_id] = p.new_status;
  }
  void on(const envelope&, const job_submitted& p) {
    if (run_jobs_.contains(p.job_id) && !latest_.contains(p.job_id)) latest_[p.job_id] = job_status::submitted;
  }
  void on(const envelope& e, const job_completed& p) { end(p.job_id, e.event_id); }
  void on(const envelope& e, const job_cancelled& p) { end(p.job_id, e.event_id); }
  void on(const envelope& e, const job_failed& p) {
    if (!p.next_retry_at) end(p.job_id, e.event_id);
  }
  // Jobs not of this run (earlier records on a shared cluster) are the services' business, not the report's.
  void on(const envelope&, const job_metrics_recorded& p) {
    if (run_jobs_.contains(p.job_id)) folds_[p.job_id].add(p);
  }
  void on(const envelope&, const resource_allocation_changed& p) {
    if (p.change == allocation_change::allocated && run_jobs_.contains(p.job_id)) ran_.insert(p.job_id);
  }
  void on(const envelope& e, const job_performance_summary& p) {
    if (!run_jobs_.contains(p.job_id)) return;
    auto& [summary, ids] = summaries_[p.job_id];
    summary = p;
    ids.insert(e.event_id);
  }
  void on(const envelope&, const notification_sent& p) {
    auto source = p.data.find("source_event_id");
    if (source != p.data.end()) {
      if (auto id = uuid::parse(source->second)) notifications_[*id].insert(p.notification_id);
    }
  }
  template <class Payload>
  void on(const envelope& e, const Payload&) {
    if constexpr (payload_traits<Payload>::topic == topic_id::audit_trail) audit_ids_.insert(e.event_id);
  }

  void end(const std::string& job_id, const uuid& source) {
    if (run_jobs_.contains(job_id)) ended_.emplace(job_id, source);
  }

  timestamp since_{};
  std::unique_ptr<topic_reader> reader_;
  std::optional<record_decoder> decoder_;  // registry ids too, when the run has a registry
  std::set<std::string> run_jobs_;
  std::unordered_map<uuid, int, uuid_hash> seen_;
  std::map<std::string, job_status> latest_;
  std::uint64_t steps_out_of_story_ = 0;  // status changes not starting from the status read before
  std::map<std::string, uuid> ended_;     // job -> the event that ended it
  std::set<std::string> ran_;
  std::map<std::string, sample_fold> folds_;
  std::map<std::string, std::pair<job_performance_summary, std::set<uuid>>>
      summaries_;                                        // job -> last, distinct event ids
  std::map<uuid, std::set<std::string>> notifications_;  // source event -> distinct notification ids
  std::set<uuid> audit_ids_;
  std::map<std::string, std::uint64_t> events_per_topic_;
  std::map<std::string, std::vector<double>> latencies_;
  std::uint64_t events_ = 0;
  std::uint64_t dead_lettered_ = 0;
};

// A mixed, reproducible workload: systems, pipelines, sizes and users drawn from the seed.
event<job_submitted> make_job(std::mt19937_64& rng, std::string_view run_tag, int index) {
  constexpr std::array users{"alice", "bob", "carol", "dmitri", "esi", "fatima", "gao", "hiro"};
  constexpr std::array systems{tacc_system::frontera, tacc_system::stampede3, tacc_system::lonestar6};
  constexpr std::array pipelines{pipeline::alpha_cal, pipeline::image_reconstruction, pipeline::anomaly_detection};
  auto pick = [&](const auto& options) { return options[rng() % options.size()]; };
  auto nodes = 1 << (rng() % 6);
  auto pipe = pick(pipelines);
  job_submitted job{
      .job_id = fmt::format("job-{}-{:05d}", run_tag, index),
      .job_name = fmt::format("{}-{}", to_string(pipe), index),
      .pipeline = pipe,
      .dataset_id = fmt::format("vla-{:04d}", rng() % 500),
      .tacc_system = pick(systems),
      .resources = {.nodes = static_cast<std::int32_t>(nodes),
                    .cores_per_node = 56,
                    .gpus = pipe == pipeline::alpha_cal ? 0 : 4,
                    .memory_gb = 192,
                    .wall_time_minutes = static_cast<std::int32_t>(60 + rng() % 600)},
      .estimated_cost_usd = static_cast<double>(nodes) * (1.0 + static_cast<double>(rng() % 100) / 10.0),
      .priority = static_cast<job_priority>(1 + rng() % 3),
  };
  return *make_event(std::move(job)).user_id(pick(users)).build();
}

// Ids of events the services saw acknowledged in [from, until), as each one's state store tells.
std::set<uuid> delivered_between(const sql::location& root, timestamp from, timestamp until) {
  std::set<uuid> ids;
  for (const auto* service : services::platform_services) {
    auto delivered = services::delivered_between(services::state_location(root, service->name), from, until);
    if (!delivered) {
      spdlog::warn("{}: delivered events: {}", service->name, delivered.error());
      continue;
    }
    ids.insert(delivered->begin(), delivered->end());
  }
  return ids;
}

// Audit events the ledger does not hold (all of them while there is no ledger).
std::int64_t missing_from_ledger(const sql::location& root, const std::set<uuid>& audit_ids) {
  auto ledger = compliance::ledger::open_existing(compliance::ledger::location_in(root));
  if (!ledger) return static_cast<std::int64_t>(audit_ids.size());
  std::int64_t missing = 0;
  for (const auto& id : audit_ids) {
    auto found = ledger->contains(id);
    if (!found || !*found) ++missing;
  }
  return missing;
}

// Notifications queued for the webhook and not yet delivered (or given up on).
std::int64_t webhooks_pending(const sql::location& root) {
  return notification_dispatcher::webhooks_pending(root).value_or(0);
}

// This build's schemas as the run's registry holds them (empty without a registry).
std::vector<registered_subject> registered_subjects(const client_config& config) {
  std::vector<registered_subject> found;
  if (config.registry_url.empty()) return found;
  auto registry = schema_registry::create(registry_options(config));
  if (!registry) return found;
  for (const auto& t : catalogue) {
    auto schema = avro_schema::parse(schema_json(t.id));
    if (!schema) continue;
    const auto subject = subject_name(config.registry_subject_strategy, t.name(), schema->name());
    auto version = registry->lookup(subject, schema_json(t.id));
    if (version) found.push_back({.subject = subject, .id = version->id, .version = version->version});
  }
  return found;
}

std::string format_ms(double ms) { return ms < 10 ? fmt::format("{:.2f}", ms) : fmt::format("{:.0f}", ms); }

}  // namespace

std::expected<report, std::string> run(const options& opts, std::stop_token stop) {
  report out;
  out.jobs_submitted = opts.jobs;
  const sql::location root = opts.state.value_or(sql::location(opts.data_dir));
  auto started = steady::now();
  auto since = now() - std::chrono::seconds(1);

  // The cluster: embedded unless brokers were given; topics as the catalogue declares them.
  client_config config = opts.config;
  std::unique_ptr<embedded_cluster> embedded;
  if (config.brokers.empty()) {
    auto cluster = embedded_cluster::start({.brokers = 3, .create_catalogue_topics = true});
    if (!cluster) return std::unexpected(fmt::format("starting the embedded cluster: {}", cluster.error().message));
    embedded = std::move(*cluster);
    config.brokers = embedded->bootstrap_servers();
    // The compliance auditor's signed heads topic (HORIZONS_AUDIT_CHECKPOINTS_TOPIC): the mock cluster
    // cannot create topics on request.
    if (auto made = embedded->create_topic(std::string(compliance::checkpoints_topic), 1); !made) {
      return std::unexpected(fmt::format("creating {}: {}", compliance::checkpoints_topic, made.error().message));
    }
    // The mock broker holds an empty fetch for the whole wait instead of answering when data arrives.
    if (opts.config.fetch_wait == client_config{}.fetch_wait) config.fetch_wait = std::chrono::milliseconds(10);
    out.cluster = fmt::format("embedded, 3 brokers at {}", config.brokers);
  } else {
    out.cluster = config.brokers;
    auto client = admin::create(config);
    if (!client) return std::unexpected(client.error().message);
    auto ensured = (*client)->ensure_topics();
    if (!ensured) return std::unexpected(fmt::format("ensuring the topics: {}", ensured.error().error.message));
    // Topics just created: let them get their leaders and full ISRs before the services and readers are
    // assigned them, so the run starts on a settled cluster and its first latencies are not leader elections.
    if (!ensured->created.empty()) {
      for (auto until = steady::now() + std::chrono::seconds(60); steady::now() < until;) {
        auto health = check_cluster(**client);
        if (health && health->healthy()) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(500));
      }
      std::this_thread::sleep_for(std::chrono::seconds(2));
    }
  }

  // Beside the embedded cluster, Horizons' own schema registry, which every client of the run then
  // uses (records carry its ids); a registry given in the settings is used as it is.
  std::unique_ptr<schema_registry_service::server> schemas;
  if (embedded && config.registry_url.empty()) {
    if (auto made = embedded->create_topic("_schemas", 1); !made) {
      return std::unexpected(fmt::format("creating _schemas: {}", made.error().message));
    }
    auto started_registry = schema_registry_service::server::start({.config = config, .listen = "127.0.0.1:0"});
    if (!started_registry)
      return std::unexpected(fmt::format("starting the schema registry: {}", started_registry.error()));
    schemas = std::move(*started_registry);
    config.registry_url = schemas->url();
  }
  out.registry = config.registry_url;

  // Topics ensure_topics just created take a moment to reach every broker's metadata.
  auto watch = observer::open(config, since);
  for (auto until = steady::now() + std::chrono::seconds(30); !watch && steady::now() < until;) {
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    watch = observer::open(config, since);
  }
  if (!watch) return std::unexpected(watch.error());
  // Caught up before anything is published: on a cluster with history the reader first reads through
  // earlier runs (their records are passed over), and that must not delay this run's first records.
  for (auto until = steady::now() + std::chrono::seconds(60); !watch->at_end() && steady::now() < until;)
    (void)watch->poll(std::chrono::milliseconds(50));
  if (!watch->at_end()) spdlog::warn("the run's reader has not caught up with the topics in 60 s; starting anyway");

  // The workload's producer, connected before the services start: from then on the observer must be
  // polling, or what the services publish first waits for it and counts as latency.
  std::mutex acked_mutex;
  std::set<uuid> acknowledged;
  std::atomic<int> submitted{0};
  auto workload_config = config;
  workload_config.client_id = "horizons-run-workload";
  auto submitter = producer::create({.config = workload_config,
                                     .on_delivery =
                                         [&](const delivery_report& r) {
                                           if (r.error) return;
                                           std::lock_guard lock(acked_mutex);
                                           acknowledged.insert(r.event_id);
                                           ++submitted;
                                         },
                                     .enqueue_timeout = std::chrono::milliseconds(30'000),
                                     .max_queued_messages = 100'000});
  if (!submitter) return std::unexpected(submitter.error().message);

  // The services, each on its own thread, stopped together.
  std::stop_source services_stop;
  std::atomic<std::size_t> ready{0};  // services whose consumer holds its partitions
  std::vector<std::jthread> running;
  std::mutex failures_mutex;
  std::vector<std::string> failures;
  // One producer for every service's outbox relay: their records to one broker share requests.
  auto relays = services::relay_producer::create(config, "horizons-run");
  if (!relays) return std::unexpected(fmt::format("the relays' producer: {}", relays.error()));
  serve_options serving{.config = config,
                        .data_dir = opts.data_dir,
                        .state = opts.state,
                        .sim = opts.sim,
                        .scheduling = opts.scheduling,
                        .http_listen = {},
                        .webhook_url = opts.webhook_url,
                        .relay_producer = std::move(*relays)};
  for (int instance = 0; instance < opts.instances; ++instance) {
    for (const auto* service : opts.services) {
      running.emplace_back([&, service, serving, instance] {
        auto mine = serving;
        if (service == &health_monitor::descriptor) mine.http_listen = opts.health_listen;
        mine.on_ready = [&ready] { ++ready; };
        // With a dashboard the (first) monitor is started here, to hand it the caller's endpoint.
        auto ran = service == &health_monitor::descriptor && opts.dashboard && instance == 0
                       ? health_monitor::run({.config = mine.config,
                                              .data_dir = mine.data_dir,
                                              .state = mine.state,
                                              .relay_producer = mine.relay_producer,
                                              .http = opts.dashboard},
                                             services_stop.get_token())
                       : serve(*service, mine, services_stop.get_token());
        if (!ran) {
          std::lock_guard lock(failures_mutex);
          failures.push_back(ran.error());
          spdlog::error("{}", ran.error());
        }
      });
    }
  }

  // The workload starts once every service reads its topics: jobs submitted while a consumer is still
  // joining its group would wait for it, then come as one burst.
  auto in_groups =
      opts.instances * std::ranges::count_if(opts.services, [](const auto* s) { return !s->group.empty(); });
  for (auto until = steady::now() + std::chrono::seconds(60);
       ready.load() < static_cast<std::size_t>(in_groups) && steady::now() < until;) {
    (void)watch->poll(std::chrono::milliseconds(20));
    std::lock_guard lock(failures_mutex);
    if (!failures.empty()) break;
  }
  if (auto joined = ready.load(); joined < static_cast<std::size_t>(in_groups)) {
    spdlog::warn("{} of {} services hold their partitions after 60 s; the workload starts anyway", joined, in_groups);
  }

  // The workload, acknowledged before it counts as submitted.
  std::mt19937_64 rng(opts.seed);
  std::vector<event<job_submitted>> jobs;
  // The mix is the seed's; the ids are this run's, so runs can share a cluster and a data dir.
  auto run_tag = uuid::random().to_string().substr(0, 8);
  out.job_prefix = fmt::format("job-{}-", run_tag);
  for (int i = 0; i < opts.jobs; ++i) {
    jobs.push_back(make_job(rng, run_tag, i));
    if (opts.scheduling.kind == orchestrator::scheduler_kind::slurm) {
      // Real jobs on a small cluster (tools/slurm: one node): one core, no GPU, 1 GB, 10 minutes each.
      jobs.back().payload.resources = {
          .nodes = 1, .cores_per_node = 1, .gpus = 0, .memory_gb = 1, .wall_time_minutes = 10};
    }
    watch->expect_job(jobs.back().payload.job_id);
  }

  auto deadline = started + opts.timeout;
  // The offered rate counts from here, not from the start of the run: the setup before (cluster, topics,
  // services) must not turn into a burst of every job it delayed.
  auto workload_started = steady::now();
  std::size_t next_job = 0;
  auto last_progress = steady::now() - std::chrono::seconds(1);
  auto last_check = steady::now();
  std::optional<std::string> waiting = "the workload";
  std::deque<std::pair<steady::time_point, std::uint64_t>> rate_window{{started, 0}};
  while (!stop.stop_requested() && steady::now() < deadline) {
    // Submit at the offered rate.
    auto due = static_cast<std::size_t>(std::chrono::duration<double>(steady::now() - workload_started).count() *
                                        opts.submit_rate) +
               1;
    for (; next_job < jobs.size() && next_job < due; ++next_job) {
      if (auto queued = (*submitter)->publish(jobs[next_job]); !queued) {
        return std::unexpected(fmt::format("submitting {}: {}", jobs[next_job].payload.job_id, queued.error().message));
      }
    }
    (void)watch->poll(std::chrono::milliseconds(5));
    auto now_steady = steady::now();
    if (opts.on_progress && now_steady - last_progress >= std::chrono::milliseconds(250)) {
      auto p = watch->snapshot(submitted.load(), opts.jobs);
      p.elapsed = now_steady - started;
      // The rate over the last two seconds: the observer reads in bursts.
      rate_window.emplace_back(now_steady, p.events);
      while (rate_window.size() > 2 && now_steady - rate_window[1].first >= std::chrono::seconds(2))
        rate_window.pop_front();
      p.events_per_s = static_cast<double>(p.events - rate_window.front().second) /
                       std::max(1e-3, std::chrono::duration<double>(now_steady - rate_window.front().first).count());
      last_progress = now_steady;
      opts.on_progress(p);
    }
    if (now_steady - last_check >= std::chrono::milliseconds(500)) {
      last_check = now_steady;
      waiting =
          submitted.load() < opts.jobs ? std::optional<std::string>("the workload") : watch->waiting_for(jobs.size());
      if (!waiting && missing_from_ledger(root, watch->audit_ids()) > 0) waiting = "the ledger to catch up";
      if (!waiting && !opts.webhook_url.empty() && webhooks_pending(root) > 0) waiting = "webhook deliveries";
      if (!waiting) break;
      std::lock_guard lock(failures_mutex);
      if (!failures.empty()) {
        waiting = "a service that stopped: " + failures.front();
        break;
      }
    }
  }
  out.workload_duration = steady::now() - workload_started;
  (*submitter)->close(std::chrono::seconds(10));
  out.complete = !waiting.has_value();
  if (waiting) out.incomplete_reason = stop.stop_requested() ? "interrupted" : "still waiting for " + *waiting;

  // Stop the services (each drains its outbox), reading on meanwhile: what they publish while stopping
  // is read as it arrives, not after the last one stopped. Then read everything they published.
  services_stop.request_stop();
  {
    std::atomic<bool> stopped{false};
    std::jthread joiner([&] {
      running.clear();
      stopped = true;
    });
    while (!stopped) (void)watch->poll(std::chrono::milliseconds(5));
  }
  // Services running elsewhere go on publishing (health checks): what was acknowledged after the reader's
  // last quiet stretch began may not have been read, and is not counted either way.
  auto quiet_since = steady::now();
  auto read_all_before = now();
  while (steady::now() - quiet_since < std::chrono::milliseconds(1'500) &&
         steady::now() < deadline + std::chrono::seconds(30)) {
    if (watch->poll(std::chrono::milliseconds(5)) > 0 || !watch->at_end()) {
      quiet_since = steady::now();
      read_all_before = now();
    }
  }

  // An auditor running in another process goes on appending what it read last (one restarted mid-run
  // records its own start-up check): give it until the deadline to catch up before counting what is missing.
  if (out.complete && std::ranges::find(opts.services, &compliance::descriptor) == opts.services.end()) {
    while (missing_from_ledger(root, watch->audit_ids()) > 0 && steady::now() < deadline + std::chrono::seconds(30)) {
      (void)watch->poll(std::chrono::milliseconds(250));
    }
  }

  watch->fill(out);
  out.duration = steady::now() - started;
  out.subjects = registered_subjects(config);
  for (const auto& watched : health_monitor::platform_groups()) {
    auto lag = consumer_lag(config, {.group = watched.group, .topics = watched.topics});
    if (lag) out.lag_per_group[watched.group] = lag->lag_messages;
  }

  auto delivered = delivered_between(root, since, read_all_before);
  {
    std::lock_guard lock(acked_mutex);
    delivered.insert(acknowledged.begin(), acknowledged.end());
  }
  out.delivered = delivered.size();
  for (const auto& id : delivered) {
    if (!watch->seen().contains(id)) ++out.lost;
  }
  out.audit_events_missing_from_ledger = missing_from_ledger(root, watch->audit_ids());
  if (auto ledger = compliance::ledger::open_existing(compliance::ledger::location_in(root))) {
    if (auto n = ledger->count()) out.ledger_entries = *n;
    auto verified = ledger->verify();
    out.ledger_verified = verified && verified->ok();
    out.ledger_detail = !verified        ? verified.error().message
                        : verified->ok() ? fmt::format("{} entries, chain intact", verified->entries_checked)
                                         : verified->bad->explanation;
  } else {
    out.ledger_detail = ledger.error().message;
  }
  return out;
}

std::string report::text() const {
  std::string t;
  auto line = [&]<class... A>(fmt::format_string<A...> format, A&&... args) {
    t += fmt::format(format, std::forward<A>(args)...);
    t += '\n';
  };
  line("Horizons run: {} jobs on {} in {:.1f} s{}", jobs_submitted, cluster, duration.count(),
       complete ? "" : fmt::format(" — INCOMPLETE: {}", incomplete_reason));
  if (!registry.empty()) {
    std::string held;
    for (const auto& s : subjects)
      held += fmt::format("{}{} id {} v{}", held.empty() ? "" : ", ", s.subject, s.id, s.version);
    line("Schema registry: {}; {}", registry, held.empty() ? "no subjects of this build" : held);
  }
  t += '\n';
  line("Jobs by final state");
  for (const auto& [state, n] : jobs_by_final_state) line("  {:<12} {:>7}", state, n);
  t += '\n';
  line("{:<16} {:>9} {:>9} {:>9} {:>9} {:>9}", "Topic", "events", "p50 ms", "p95 ms", "p99 ms", "max ms");
  for (const auto& [topic, n] : events_per_topic) {
    auto l = latency_per_topic.find(topic);
    if (l == latency_per_topic.end()) {
      line("  {:<14} {:>9}", topic, n);
      continue;
    }
    line("  {:<14} {:>9} {:>9} {:>9} {:>9} {:>9}", topic, n, format_ms(l->second.p50_ms), format_ms(l->second.p95_ms),
         format_ms(l->second.p99_ms), format_ms(l->second.max_ms));
  }
  line("  (latency: the produced-at header to the run's own reader)");
  t += '\n';
  line("Consumer lag after the run");
  for (const auto& [group, lag] : lag_per_group) line("  {:<24} {:>7}", group, lag);
  t += '\n';
  line("Jobs that ran: {}; performance summaries: {} ({} equal to the samples' fold)", jobs_that_ran, summaries,
       summaries_matching_samples);
  line("Notifications for ended jobs: {} of {}", notifications_for_ended_jobs, [&] {
    int n = 0;
    for (const auto& [s, c] : jobs_by_final_state) n += c;
    return n;
  }());
  line("Audit events: {}; missing from the ledger: {}; ledger: {} ({})", audit_events, audit_events_missing_from_ledger,
       ledger_verified ? "verified" : "NOT VERIFIED", ledger_detail);
  line("Dead-lettered records: {}", dead_lettered);
  line("Delivered: {}; lost: {}, duplicated: {} (records read twice: {})", delivered, lost, duplicated_effects,
       duplicate_records);
  line("{}", ok() ? "OK" : "FAILED");
  return t;
}

std::string report::json() const {
  nlohmann::json j;
  j["cluster"] = cluster;
  j["registry"] = registry;
  for (const auto& s : subjects) j["subjects"][s.subject] = {{"id", s.id}, {"version", s.version}};
  j["jobs_submitted"] = jobs_submitted;
  j["job_prefix"] = job_prefix;
  j["complete"] = complete;
  j["incomplete_reason"] = incomplete_reason;
  j["duration_s"] = duration.count();
  j["workload_duration_s"] = workload_duration.count();
  j["jobs_by_final_state"] = jobs_by_final_state;
  j["events_per_topic"] = events_per_topic;
  for (const auto& [topic, l] : latency_per_topic) {
    j["latency_ms"][topic] = {
        {"count", l.count}, {"p50", l.p50_ms}, {"p95", l.p95_ms}, {"p99", l.p99_ms}, {"max", l.max_ms}};
  }
  j["lag"] = lag_per_group;
  j["dead_lettered"] = dead_lettered;
  j["jobs_that_ran"] = jobs_that_ran;
  j["summaries"] = summaries;
  j["summaries_matching_samples"] = summaries_matching_samples;
  j["notifications_for_ended_jobs"] = notifications_for_ended_jobs;
  j["audit_events"] = audit_events;
  j["ledger_entries"] = ledger_entries;
  j["audit_events_missing_from_ledger"] = audit_events_missing_from_ledger;
  j["ledger_verified"] = ledger_verified;
  j["delivered"] = delivered;
  j["lost"] = lost;
  j["duplicated"] = duplicated_effects;
  j["duplicate_records"] = duplicate_records;
  j["ok"] = ok();
  return j.dump(2) + "\n";
}

}  // namespace horizons::platform
