#include "services/health_monitor/monitor.hpp"

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <iterator>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <utility>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include <horizons/admin.hpp>
#include <horizons/catalogue.hpp>
#include <horizons/codec.hpp>
#include <horizons/event_builder.hpp>
#include <horizons/health.hpp>
#include <horizons/publisher.hpp>
#include <horizons/schema_registry.hpp>
#include <horizons/topic_reader.hpp>

#include "services/common/service_host.hpp"
#include "services/common/state_store.hpp"
#include "services/descriptors.hpp"
#include "services/health_monitor/http_endpoint.hpp"
#include "services/health_monitor/job_tally.hpp"
#include "services/health_monitor/monitor_state.hpp"
#include "services/health_monitor/traffic.hpp"

namespace horizons::health_monitor {

std::vector<watched_group> groups_of(std::span<const services::service_descriptor* const> services) {
  std::vector<watched_group> groups;
  for (const auto* service : services) {
    // A service reading without a group (the monitor itself) has no committed offsets to judge.
    if (service->group.empty()) continue;
    watched_group watched{.group = std::string(service->group), .topics = {}};
    for (auto topic : service->topics) watched.topics.emplace_back(topic_name(topic));
    groups.push_back(std::move(watched));
  }
  return groups;
}

std::vector<watched_group> platform_groups() { return groups_of(services::platform_services); }

namespace {

using steady = std::chrono::steady_clock;
using services::step_result;

constexpr std::string_view service_name = descriptor.name;
constexpr std::string_view broker_alert_id = "message-broker";

double ms_since(steady::time_point start) {
  return std::chrono::duration<double, std::milli>(steady::now() - start).count();
}

std::string lag_alert_id(const topic_verdict& v) { return fmt::format("consumer-lag:{}:{}", v.group, v.topic); }

// The lag of one watched group: measured on the topics whose partitions all have a reachable leader.
struct group_lag {
  std::vector<std::string> measured_topics{};
  std::optional<std::expected<lag_report, kafka_error>> lag{};    // empty when no topic was measured
  std::vector<std::pair<std::string, std::string>> unmeasured{};  // topic, why
};

// What one evaluation measured on the cluster.
struct measurement {
  std::expected<cluster_health, kafka_error> cluster{std::unexpected(kafka_error{})};
  double cluster_ms = 0;
  std::vector<group_lag> groups{};  // per watched group
};

// Why `topic` cannot be measured, if it cannot: a partition without a reachable leader. Its
// watermarks would be asked of a broker that does not answer, and librdkafka's watermark query
// waits for that broker beyond any timeout.
std::optional<std::string> unmeasurable(const cluster_health& cluster, const std::string& topic) {
  for (const auto& p : cluster.leaderless) {
    if (p.topic == topic) return fmt::format("{}[{}] has no leader", p.topic, p.partition);
  }
  for (const auto& p : cluster.leader_unreachable) {
    if (p.topic == topic) return fmt::format("leader broker {} of {}[{}] unreachable", p.leader, p.topic, p.partition);
  }
  return std::nullopt;
}

broker_state judge_brokers(const measurement& measured) {
  broker_state state{.response_time_ms = measured.cluster_ms};
  if (!measured.cluster) {
    state.status = health_status::down;
    state.detail = fmt::format("cluster unreachable: {}", measured.cluster.error().message);
    return state;
  }
  const auto& h = *measured.cluster;
  state.brokers_up = h.brokers_up;
  state.expected_brokers = h.expected_brokers;
  state.leaderless = static_cast<int>(h.leaderless.size());
  state.leader_unreachable = static_cast<int>(h.leader_unreachable.size());
  state.under_replicated = static_cast<int>(h.under_replicated.size());
  std::vector<std::string> problems;
  for (const auto& b : h.brokers) {
    if (!b.up()) problems.push_back(fmt::format("broker {} down: {}", b.id, b.problem));
  }
  if (state.leaderless > 0) problems.push_back(fmt::format("{} partitions without leader", state.leaderless));
  if (state.leader_unreachable > 0) {
    problems.push_back(fmt::format("{} partitions with an unreachable leader", state.leader_unreachable));
  }
  if (state.under_replicated > 0) {
    problems.push_back(fmt::format("{} partitions under-replicated", state.under_replicated));
  }
  state.status = h.brokers_up == 0  ? health_status::down
                 : problems.empty() ? health_status::healthy
                                    : health_status::degraded;
  state.detail = fmt::format("{} of {} brokers up", h.brokers_up, h.expected_brokers);
  if (!problems.empty()) state.detail += fmt::format("; {}", fmt::join(problems, "; "));
  return state;
}

// An alert that the latest evaluation says should be open.
struct wanted_alert {
  std::string type;
  alert_severity severity;
  std::string message;
  std::string resource;
  std::map<std::string, double> metrics;
  const envelope* cause;  // the evaluation event that calls for it
};

// An evaluated alert subject: the event that judged it and what it found.
struct evaluated_subject {
  const envelope* cause;
  std::string now;
};

alert_severity lag_severity(lag_status status) {
  return status == lag_status::warning || status == lag_status::stalled ? alert_severity::warning
                                                                        : alert_severity::critical;
}

alert_severity broker_severity(const broker_state& b) {
  bool something_missing = b.status == health_status::down || b.brokers_up < b.expected_brokers || b.leaderless > 0 ||
                           b.leader_unreachable > 0;
  return something_missing ? alert_severity::critical : alert_severity::warning;
}

// Job events read and not yet stored (the state database refused them) are kept up to this many; the
// oldest go first.
constexpr std::size_t max_pending_job_events = 200'000;

// The monitor's own reader of every topic and its dead-letter twin, without a group, from the beginning,
// on a thread of its own so that the time a record waits for it is the record's latency and not the
// evaluation interval. It keeps the job tally and the job timelines (job-lifecycle, every record) and the
// traffic per topic (rates and latency: only records written since the monitor started, so that reading
// the topics' history is not a burst). Falls back to job-lifecycle alone when the other topics cannot be
// read (a cluster whose topics were not all created).
class topic_feed {
 public:
  explicit topic_feed(client_config config)
      : config_(std::move(config)),
        started_(horizons::now()),
        traffic_(main_topics()),
        thread_([this](std::stop_token stop) { read(stop); }) {}

  // What the reader found since the last call: the tally's counts, the traffic, the job events to store.
  struct taken {
    job_counts jobs;
    traffic_interval traffic;
    std::vector<job_event_row> job_events;
  };
  taken take(timestamp now) {
    taken out;
    out.traffic = traffic_.take(steady::now());
    std::lock_guard lock(mutex_);
    out.jobs = tally_.counts(now);
    out.job_events.swap(job_events_);
    return out;
  }

 private:
  static std::vector<std::string> main_topics() {
    std::vector<std::string> topics;
    for (const auto& spec : catalogue) topics.emplace_back(spec.name());
    return topics;
  }

  void read(std::stop_token stop) {
    while (!stop.stop_requested()) {
      if (!reader_ && !open()) {
        std::this_thread::sleep_for(std::chrono::seconds(1));
        continue;
      }
      auto next = reader_->next(std::chrono::milliseconds(200));
      if (!next) {
        spdlog::warn("{}: reading the topics: {}; reading them again from the beginning", service_name,
                     next.error().message);
        reader_.reset();
        std::lock_guard lock(mutex_);
        tally_ = {};
        traffic_.reset_dead_letters();
        continue;
      }
      if (*next) take(**next);
    }
  }

  void take(const raw_record& record) {
    if (record.topic.ends_with(".dlq")) {
      traffic_.dead_letter(record.topic);
      return;
    }
    auto read_at = horizons::now();
    if (record.time >= started_) {
      auto produced = record.header(header::produced_at);
      traffic_.record(record.topic, produced ? parse_produced_at(*produced) : std::nullopt, read_at);
    }
    if (record.topic != topic_name(topic_id::job_lifecycle)) return;
    auto decoded = decoder_->decode(topic_id::job_lifecycle, std::as_bytes(std::span(record.value)));
    if (!decoded) return;  // not ours to judge: the job-processor dead-letters it
    const auto* lifecycle = std::get_if<job_lifecycle_event>(&*decoded);
    if (!lifecycle) return;
    auto row = timeline_row(*lifecycle, record, read_at);
    std::lock_guard lock(mutex_);
    tally_.apply(*lifecycle);
    // Bounded while the database cannot take them (the oldest go first).
    if (job_events_.size() >= max_pending_job_events) job_events_.erase(job_events_.begin());
    job_events_.push_back(std::move(row));
  }

  static job_event_row timeline_row(const job_lifecycle_event& e, const raw_record& record, timestamp read_at) {
    job_event_row row{.job_id = std::visit([](const auto& p) { return p.job_id; }, e.payload),
                      .event_id = e.event_id.to_string(),
                      .partition = record.partition,
                      .offset = record.offset,
                      .event_type = std::string(event_type_of(e.payload)),
                      .status = std::string(to_string(job_tally::status_after(e))),
                      .occurred_at = e.occurred_at,
                      .read_at = read_at,
                      .detail = {}};
    if (const auto* changed = std::get_if<job_status_changed>(&e.payload)) {
      row.detail = fmt::format("{} -> {}", to_string(changed->previous_status), to_string(changed->new_status));
    } else if (const auto* failed = std::get_if<job_failed>(&e.payload)) {
      row.detail = failed->error_message;
    }
    return row;
  }

  bool open() {
    auto decoder = record_decoder::create(config_);
    if (!decoder) {
      spdlog::warn("{}: cannot decode job-lifecycle: {}", service_name, decoder.error());
      return false;
    }
    std::vector<std::string> topics = main_topics();
    for (const auto& spec : catalogue) topics.push_back(spec.dlq_name());
    auto opened = topic_reader::open(config_, topics, read_from::beginning);
    if (!opened) {
      auto lifecycle_only =
          topic_reader::open(config_, std::string(topic_name(topic_id::job_lifecycle)), read_from::beginning);
      if (!lifecycle_only) {
        spdlog::warn("{}: cannot read job-lifecycle yet: {}", service_name, lifecycle_only.error().message);
        return false;
      }
      spdlog::warn("{}: reading job-lifecycle only (no traffic of the other topics): {}", service_name,
                   opened.error().message);
      opened = std::move(lifecycle_only);
    } else {
      for (const auto& spec : catalogue) traffic_.watch_dead_letters(spec.dlq_name());
    }
    reader_ = std::move(*opened);
    decoder_.emplace(std::move(*decoder));
    return true;
  }

  client_config config_;
  timestamp started_;
  traffic_meter traffic_;
  std::unique_ptr<topic_reader> reader_;   // the reading thread's
  std::optional<record_decoder> decoder_;  // registry ids too, when a registry is configured
  std::mutex mutex_;
  job_tally tally_;
  std::vector<job_event_row> job_events_;
  std::jthread thread_;  // last: stopped and joined before the members it reads are destroyed
};

kafka_error timed_out(std::string message) {
  return {.code = -185 /* RD_KAFKA_RESP_ERR__TIMED_OUT */, .name = "_TIMED_OUT", .message = std::move(message)};
}

// consumer_lag() on a thread of its own, so that an evaluation can give up on it: librdkafka's
// watermark query waits without bound for a partition leader that died after the cluster check.
// A call given up on is left to finish on its detached thread; its answer is dropped.
class lag_call {
 public:
  using answer = std::expected<lag_report, kafka_error>;

  static std::shared_ptr<lag_call> start(client_config config, lag_query query) {
    auto call = std::make_shared<lag_call>();
    std::thread([call, config = std::move(config), query = std::move(query)] {
      auto measured = consumer_lag(config, query);
      std::lock_guard lock(call->mutex_);
      call->answer_ = std::move(measured);
      call->done_.notify_all();
    }).detach();
    return call;
  }

  // The answer, or nullopt if there is none by `deadline`.
  std::optional<answer> wait_until(steady::time_point deadline) {
    std::unique_lock lock(mutex_);
    done_.wait_until(lock, deadline, [&] { return answer_.has_value(); });
    return answer_;
  }

  bool finished() {
    std::lock_guard lock(mutex_);
    return answer_.has_value();
  }

 private:
  std::mutex mutex_;
  std::condition_variable done_;
  std::optional<answer> answer_;
};

class monitor {
 public:
  monitor(const options& opts, std::vector<watched_group> groups, services::state_store& store, http_endpoint* http,
          const observer& on_evaluated)
      : opts_(opts),
        groups_(std::move(groups)),
        store_(store),
        http_(http),
        on_evaluated_(on_evaluated),
        measure_config_(opts.config),
        feed_(opts.config),
        abandoned_(groups_.size()) {
    measure_config_.connect_timeout = std::min(opts.config.connect_timeout, opts.measure_timeout);
  }
  ~monitor() {
    // A measurement given up on still runs on a thread of its own, and its librdkafka client logs
    // through spdlog: give it a bounded time to end, so that it rarely outlives the process's logging.
    auto deadline = steady::now() + 2 * opts_.measure_timeout;
    for (const auto& call : abandoned_) {
      if (call && !call->wait_until(deadline)) {
        spdlog::warn("{}: a lag measurement still waits for a broker; leaving it", service_name);
      }
    }
  }
  monitor(const monitor&) = delete;
  monitor& operator=(const monitor&) = delete;

  /// What a standby does each interval: drops what its readers saw (the evaluating instance records it).
  void stand_by() { (void)feed_.take(horizons::now()); }

  void evaluate() {
    auto started = steady::now();
    snapshot now{.checked_at = horizons::now()};
    auto seen = feed_.take(now.checked_at);
    now.jobs = seen.jobs;
    now.topics = std::move(seen.traffic.topics);
    now.dead_letters = std::move(seen.traffic.dead_letters);
    pending_job_events_.insert(pending_job_events_.end(), std::make_move_iterator(seen.job_events.begin()),
                               std::make_move_iterator(seen.job_events.end()));
    if (pending_job_events_.size() > max_pending_job_events) {
      auto excess = pending_job_events_.size() - max_pending_job_events;
      pending_job_events_.erase(pending_job_events_.begin(),
                                pending_job_events_.begin() + static_cast<std::ptrdiff_t>(excess));
      spdlog::warn("{}: {} job events left out of the timelines while the state database refuses them", service_name,
                   excess);
    }
    auto measured = measure();
    now.brokers = judge_brokers(measured);
    now.response_time_ms = ms_since(started);

    auto recorded = store_.transact([&](services::outbox& out) { return record(measured, now, out); });
    if (recorded) {
      now.database = health_status::healthy;
      pending_job_events_.clear();
      for (auto& note : alerts_now_) recent_alerts_.push_back(std::move(note));
      while (recent_alerts_.size() > recent_alerts_kept) recent_alerts_.pop_front();
    } else {
      spdlog::error("{}: state {}: {}", service_name, store_.where().to_string(), recorded.error());
      now.database = health_status::down;
      now.database_detail = recorded.error();
      now.open_alerts.clear();
    }
    alerts_raised_ += recorded ? raised_now_ : 0;
    now.alerts_raised = alerts_raised_;
    now.recent_alerts.assign(recent_alerts_.begin(), recent_alerts_.end());
    now.evaluations = ++evaluations_;
    conclude(now);
    if (http_) {
      now.http_address = http_->address();
      http_->publish(now);
    }
    if (on_evaluated_) on_evaluated_(now);
  }

 private:
  measurement measure() {
    measurement measured;
    auto started = steady::now();
    if (auto client = admin::create({.config = measure_config_, .request_timeout = opts_.measure_timeout})) {
      measured.cluster = check_cluster(**client, {.expected_brokers = opts_.expected_brokers});
    } else {
      measured.cluster = std::unexpected(client.error());
    }
    measured.cluster_ms = ms_since(started);

    std::vector<std::shared_ptr<lag_call>> calls(groups_.size());
    for (std::size_t i = 0; i < groups_.size(); ++i) {
      auto& lag = measured.groups.emplace_back();
      for (const auto& topic : groups_[i].topics) {
        auto why = measured.cluster ? unmeasurable(*measured.cluster, topic)
                                    : fmt::format("cluster unreachable: {}", measured.cluster.error().message);
        if (why) {
          lag.unmeasured.emplace_back(topic, std::move(*why));
        } else {
          lag.measured_topics.push_back(topic);
        }
      }
      if (lag.measured_topics.empty()) continue;
      if (abandoned_[i] && !abandoned_[i]->finished()) {
        lag.lag = std::unexpected(timed_out("the previous measurement of this group still waits for a broker"));
        continue;
      }
      abandoned_[i].reset();
      calls[i] =
          lag_call::start(measure_config_,
                          {.group = groups_[i].group, .topics = lag.measured_topics, .timeout = opts_.measure_timeout});
    }
    // consumer_lag() keeps to measure_timeout unless librdkafka waits for a dead leader; then give up.
    auto deadline = steady::now() + opts_.measure_timeout + std::chrono::seconds(1);
    for (std::size_t i = 0; i < calls.size(); ++i) {
      if (!calls[i]) continue;
      if (auto answer = calls[i]->wait_until(deadline)) {
        measured.groups[i].lag = std::move(*answer);
      } else {
        spdlog::warn("{}: lag of group {} not measured within {} ms; giving up on that measurement", service_name,
                     groups_[i].group, opts_.measure_timeout.count());
        abandoned_[i] = calls[i];
        measured.groups[i].lag = std::unexpected(timed_out(fmt::format(
            "no answer within {} ms (a partition leader stopped answering)", opts_.measure_timeout.count())));
      }
    }
    return measured;
  }

  // Inside the state transaction: judge, reconcile alerts, emit. Fills `now` with what it decided.
  step_result record(measurement& measured, snapshot& now, services::outbox& out) {
    auto& db = store_.db();
    raised_now_ = 0;
    alerts_now_.clear();
    auto database_started = steady::now();
    if (auto stored = store_job_events(db, pending_job_events_); !stored) {
      return std::unexpected(stored.error().message);
    }
    // Pruning scans the table: once a minute or so is enough to keep it bounded.
    if (evaluations_ % 30 == 0) {
      auto pruned = prune_job_events(db, now.checked_at - opts_.job_retention, opts_.max_jobs_kept);
      if (!pruned) return std::unexpected(pruned.error().message);
    }
    auto waiting = db.prepare("SELECT count(*) FROM outbox");
    if (!waiting) return std::unexpected(waiting.error().message);
    auto outbox_rows = waiting->single_int();
    if (!outbox_rows) return std::unexpected(outbox_rows.error().message);
    now.database_detail =
        fmt::format("{}: {} events waiting to be published", store_.where().to_string(), outbox_rows->value_or(0));
    double database_ms = ms_since(database_started);

    auto evaluator = load_windows(db, opts_.lag_rule);
    if (!evaluator) return std::unexpected(evaluator.error().message);
    now.groups.clear();
    for (std::size_t i = 0; i < groups_.size(); ++i) {
      const auto& group = groups_[i].group;
      const auto& lag = measured.groups[i];
      std::vector<topic_verdict> verdicts;
      if (lag.lag && *lag.lag) {
        verdicts = evaluator->evaluate(**lag.lag, now.checked_at);
      } else if (lag.lag) {
        verdicts = lag_evaluator::failed(group, lag.measured_topics, lag.lag->error().message);
      }
      for (const auto& [topic, why] : lag.unmeasured) {
        std::ranges::move(lag_evaluator::failed(group, {topic}, why), std::back_inserter(verdicts));
      }
      // In the order the group's topics were given.
      std::ranges::sort(verdicts, {}, [&](const topic_verdict& v) {
        return std::ranges::find(groups_[i].topics, v.topic) - groups_[i].topics.begin();
      });
      std::ranges::move(verdicts, std::back_inserter(now.groups));
    }
    if (auto saved = save_windows(db, *evaluator); !saved) return std::unexpected(saved.error().message);
    auto job_processor = std::ranges::find_if(now.groups, [](const topic_verdict& v) {
      return v.group == orchestrator::descriptor.group && v.topic == topic_name(topic_id::job_lifecycle);
    });
    now.queue_depth = job_processor == now.groups.end() ? 0 : job_processor->lag_messages;

    auto round = uuid::random();  // one evaluation, one flow
    auto health = make_event(system_health_check{.components = {{.component = component::message_broker,
                                                                 .status = now.brokers.status,
                                                                 .detail = now.brokers.detail,
                                                                 .response_time_ms = now.brokers.response_time_ms},
                                                                {.component = component::database,
                                                                 .status = health_status::healthy,
                                                                 .detail = now.database_detail,
                                                                 .response_time_ms = database_ms}},
                                                 .active_jobs = now.jobs.active,
                                                 .pending_jobs = now.jobs.pending,
                                                 .failed_jobs_24h = now.jobs.failed_24h,
                                                 .queue_depth = now.queue_depth,
                                                 .response_time_ms = now.response_time_ms})
                      .correlation_id(round)
                      .build();
    if (!health) return std::unexpected(health.error().message);
    if (auto sent = out.emit(*health); !sent) return sent;

    std::map<std::string, wanted_alert> wanted;
    if (now.brokers.status != health_status::healthy) {
      const auto& b = now.brokers;
      wanted.emplace(broker_alert_id,
                     wanted_alert{.type = "message_broker",
                                  .severity = broker_severity(b),
                                  .message = fmt::format("message broker {}: {}", status_name(b.status), b.detail),
                                  .resource = "kafka-cluster",
                                  .metrics = {{"brokers_up", b.brokers_up},
                                              {"brokers_expected", b.expected_brokers},
                                              {"partitions_leaderless", b.leaderless},
                                              {"partitions_leader_unreachable", b.leader_unreachable},
                                              {"partitions_under_replicated", b.under_replicated}},
                                  .cause = &*health});
    }
    // What each alert's subject looks like now, for the resolution of an alert that is open.
    std::map<std::string, evaluated_subject> subjects{
        {std::string(broker_alert_id),
         {&*health, fmt::format("message broker {}: {}", status_name(now.brokers.status), now.brokers.detail)}}};
    std::vector<event<consumer_lag_evaluated>> lag_events;
    lag_events.reserve(now.groups.size());  // `subjects` points into it
    for (const auto& v : now.groups) {
      auto evaluated = make_event(consumer_lag_evaluated{.group_id = v.group,
                                                         .topic = v.topic,
                                                         .lag_messages = v.lag_messages,
                                                         .lag_seconds = v.lag_seconds,
                                                         .status = v.status})
                           .correlation_id(round)
                           .build();
      if (!evaluated) return std::unexpected(evaluated.error().message);
      if (auto sent = out.emit(*evaluated); !sent) return sent;
      const auto& cause = lag_events.emplace_back(std::move(*evaluated));
      subjects[lag_alert_id(v)] = {
          &cause, fmt::format("{} on {} is {}: {}", v.group, v.topic, status_name(v.status), v.reason)};
      if (v.status == lag_status::ok) continue;
      wanted.emplace(lag_alert_id(v), wanted_alert{.type = "consumer_lag",
                                                   .severity = lag_severity(v.status),
                                                   .message = fmt::format("consumer group {} on {} is {}: {}", v.group,
                                                                          v.topic, status_name(v.status), v.reason),
                                                   .resource = fmt::format("{}/{}", v.group, v.topic),
                                                   .metrics = {{"lag_messages", static_cast<double>(v.lag_messages)},
                                                               {"lag_seconds", v.lag_seconds},
                                                               {"status_rank", severity_rank(v.status)}},
                                                   .cause = &cause});
    }
    return reconcile(wanted, subjects, *health, now, out);
  }

  // Opens what should be open, raises again what got worse, resolves what is ok again.
  step_result reconcile(const std::map<std::string, wanted_alert>& wanted,
                        const std::map<std::string, evaluated_subject>& subjects, const envelope& evaluation,
                        snapshot& now, services::outbox& out) {
    auto& db = store_.db();
    auto open = load_open_alerts(db);
    if (!open) return std::unexpected(open.error().message);
    for (const auto& [id, alert] : wanted) {
      auto existing = open->find(id);
      if (existing != open->end() && existing->second.severity >= alert.severity) continue;
      auto raised = make_event(alert_raised{.alert_id = id,
                                            .alert_type = alert.type,
                                            .severity = alert.severity,
                                            .message = alert.message,
                                            .affected_resource = alert.resource,
                                            .metrics = alert.metrics})
                        .caused_by(*alert.cause)
                        .build();
      if (!raised) return std::unexpected(raised.error().message);
      if (auto sent = out.emit(*raised); !sent) return sent;
      if (auto kept = store_open_alert(db, {id, alert.type, alert.severity, raised->correlation_id}); !kept) {
        return std::unexpected(kept.error().message);
      }
      spdlog::warn("{}: alert {} raised ({}): {}", service_name, id, to_string(alert.severity), alert.message);
      ++raised_now_;
      alerts_now_.push_back({.at = now.checked_at,
                             .alert_id = id,
                             .action = "raised",
                             .severity = std::string(to_string(alert.severity)),
                             .message = alert.message});
    }
    for (const auto& [id, alert] : *open) {
      if (wanted.contains(id)) continue;
      auto subject = subjects.find(id);
      auto resolution = subject == subjects.end() ? std::string("no longer watched") : subject->second.now;
      auto resolved =
          make_event(
              alert_resolved{
                  .alert_id = id, .alert_type = alert.type, .resolution = resolution, .resolved_at = now.checked_at})
              .caused_by(subject == subjects.end() ? evaluation : *subject->second.cause)
              .correlation_id(alert.correlation_id)
              .build();
      if (!resolved) return std::unexpected(resolved.error().message);
      if (auto sent = out.emit(*resolved); !sent) return sent;
      if (auto removed = remove_open_alert(db, id); !removed) return std::unexpected(removed.error().message);
      spdlog::info("{}: alert {} resolved: {}", service_name, id, resolution);
      alerts_now_.push_back(
          {.at = now.checked_at, .alert_id = id, .action = "resolved", .severity = {}, .message = resolution});
    }
    now.open_alerts.clear();
    for (const auto& [id, alert] : wanted) now.open_alerts.push_back(id);
    return {};
  }

  // The overall status and its reasons.
  static void conclude(snapshot& now) {
    now.reasons.clear();
    if (now.brokers.status != health_status::healthy) {
      now.reasons.push_back(fmt::format("message broker {}: {}", status_name(now.brokers.status), now.brokers.detail));
    }
    if (now.database != health_status::healthy)
      now.reasons.push_back(fmt::format("database down: {}", now.database_detail));
    for (const auto& v : now.groups) {
      if (v.status != lag_status::ok) {
        now.reasons.push_back(fmt::format("{} on {}: {}: {}", v.group, v.topic, status_name(v.status), v.reason));
      }
    }
    now.status = now.brokers.status == health_status::down ? overall_status::down
                 : now.reasons.empty()                     ? overall_status::ok
                                                           : overall_status::degraded;
  }

  const options& opts_;
  std::vector<watched_group> groups_;
  services::state_store& store_;
  http_endpoint* http_;
  const observer& on_evaluated_;
  client_config measure_config_;
  topic_feed feed_;
  std::vector<job_event_row> pending_job_events_;  // read, not yet stored (kept when a transaction fails)
  static constexpr std::size_t recent_alerts_kept = 20;
  std::deque<alert_note> recent_alerts_;
  std::vector<alert_note> alerts_now_;                // in the transaction under way
  std::vector<std::shared_ptr<lag_call>> abandoned_;  // per watched group: a call that overran, until it returns
  std::uint64_t evaluations_ = 0;
  std::uint64_t alerts_raised_ = 0;
  std::uint64_t raised_now_ = 0;  // in the transaction under way
};

}  // namespace

std::expected<void, std::string> run(const options& opts, std::stop_token stop, const observer& on_evaluated) {
  if (opts.interval <= std::chrono::milliseconds::zero())
    return std::unexpected("health monitor: interval must be positive");
  if (opts.lag_rule.window_size < 2) {
    return std::unexpected("health monitor: the lag window must hold at least 2 observations");
  }
  for (const auto& g : opts.groups) {
    if (g.group.empty() || g.topics.empty()) {
      return std::unexpected(fmt::format("health monitor: watched group '{}' needs a name and topics", g.group));
    }
  }

  std::shared_ptr<http_endpoint> http = opts.http;
  if (!http && !opts.http_listen.empty()) {
    auto started = http_endpoint::start(opts.http_listen);
    if (!started) return std::unexpected(fmt::format("health monitor: {}", started.error()));
    http = std::move(*started);
    spdlog::info("{}: serving /healthz, /metrics and the dashboard on {}", service_name, http->url());
  }
  auto host = services::service_host::start(
      descriptor,
      {.config = opts.config, .data_dir = opts.data_dir, .state = opts.state, .relay_producer = opts.relay_producer});
  if (!host) return std::unexpected(fmt::format("health monitor: {}", host.error()));
  auto& store = (*host)->store();
  if (auto created = create_monitor_tables(store.db()); !created) {
    return std::unexpected(
        fmt::format("health monitor: state {}: {}", store.where().to_string(), created.error().message));
  }

  if (http) http->serve_jobs_from(store.where());

  monitor evaluation(opts, opts.groups.empty() ? platform_groups() : opts.groups, store, http.get(), on_evaluated);
  std::mutex mutex;
  std::condition_variable_any wakeup;
  // Instances sharing the state take turns: one evaluates (and publishes), the others stand by and take
  // over when its process ends. Two evaluating would raise every alert twice.
  std::optional<sql::exclusive_role> evaluator;
  bool standing_by = false;
  while (!stop.stop_requested()) {
    auto next = steady::now() + opts.interval;
    if (evaluator && !evaluator->still_held()) {
      spdlog::warn("{}: lost the evaluator's role (its database session ended); standing by", service_name);
      evaluator.reset();
      standing_by = true;
    }
    if (!evaluator) {
      auto taken = sql::exclusive_role::try_take(store.where(), "health-monitor evaluator");
      if (!taken) {
        spdlog::error("{}: {}", service_name, taken.error().message);
      } else if (*taken) {
        evaluator = std::move(**taken);
        if (standing_by) spdlog::info("{}: the evaluating instance is gone; this one evaluates now", service_name);
      } else if (!standing_by) {
        spdlog::info("{}: another instance evaluates; this one stands by", service_name);
        standing_by = true;
      }
    }
    if (evaluator) {
      evaluation.evaluate();
    } else {
      evaluation.stand_by();
    }
    std::unique_lock lock(mutex);
    wakeup.wait_until(lock, stop, next, [] { return false; });
  }
  http.reset();
  if (auto left = (*host)->finish(opts.drain_timeout); left > 0) {
    spdlog::warn("{}: {} events still in the outbox; they are published at the next start", service_name, left);
  }
  return {};
}

}  // namespace horizons::health_monitor
