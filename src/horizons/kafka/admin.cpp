#include <horizons/admin.hpp>
#include <horizons/catalogue.hpp>

#include <algorithm>
#include <optional>
#include <ranges>
#include <thread>
#include <unordered_map>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "rdkafka.hpp"

namespace horizons {

using namespace std::chrono_literals;

namespace {

kafka_error error_with(rd_kafka_resp_err_t code, std::string message) {
  return {.code = static_cast<int>(code),
          .name = rd_kafka_err2name(code),
          .message = std::move(message),
          .fatal = code == RD_KAFKA_RESP_ERR__FATAL,
          .retriable = code == RD_KAFKA_RESP_ERR__TIMED_OUT || code == RD_KAFKA_RESP_ERR__TRANSPORT};
}

int to_int_ms(std::chrono::milliseconds timeout) {
  return static_cast<int>(std::clamp<std::int64_t>(timeout.count(), 0, 3'600'000));
}

// Runs one admin request and waits for its result event. librdkafka times the request out after
// `timeout`; the extra second on our side only covers its delivering that timeout to the queue.
template <class Start>
std::expected<detail::event_ptr, kafka_error> run_admin_request(rd_kafka_t* client, rd_kafka_admin_op_t op,
                                                                std::optional<std::int32_t> broker,
                                                                std::chrono::milliseconds timeout,
                                                                std::string_view what, Start start) {
  detail::admin_options_ptr options(rd_kafka_AdminOptions_new(client, op));
  char reason[256];
  if (broker && rd_kafka_AdminOptions_set_broker(options.get(), *broker, reason, sizeof reason)) {
    return std::unexpected(error_with(RD_KAFKA_RESP_ERR__INVALID_ARG, fmt::format("{}: {}", what, reason)));
  }
  if (rd_kafka_AdminOptions_set_request_timeout(options.get(), to_int_ms(timeout), reason, sizeof reason)) {
    return std::unexpected(error_with(RD_KAFKA_RESP_ERR__INVALID_ARG, fmt::format("{}: {}", what, reason)));
  }
  if (op == RD_KAFKA_ADMIN_OP_CREATETOPICS &&
      rd_kafka_AdminOptions_set_operation_timeout(options.get(), to_int_ms(timeout), reason, sizeof reason)) {
    return std::unexpected(error_with(RD_KAFKA_RESP_ERR__INVALID_ARG, fmt::format("{}: {}", what, reason)));
  }
  detail::queue_ptr queue(rd_kafka_queue_new(client));
  start(options.get(), queue.get());
  auto event = detail::await_admin_result(queue.get(), timeout);
  if (!event) {
    return std::unexpected(
        error_with(RD_KAFKA_RESP_ERR__TIMED_OUT, fmt::format("{}: no answer within {} ms", what, timeout.count())));
  }
  if (auto err = rd_kafka_event_error(event.get())) {
    return std::unexpected(error_with(err, fmt::format("{}: {}", what, rd_kafka_event_error_string(event.get()))));
  }
  return event;
}

// CreateTopics and DescribeConfigs go to the controller. When the metadata names none, or one
// that is not among its brokers (librdkafka's mock cluster says "controller 0" with brokers 1..n),
// librdkafka would wait the whole request timeout for it. Send the request to the broker that
// answered the metadata instead: it either serves it (DescribeConfigs; CreateTopics on KRaft, which
// forwards it) or refuses it at once.
std::optional<std::int32_t> admin_target(rd_kafka_t* client, const cluster_metadata& md) {
  // The metadata answer that `md` came from is cached: this does not block.
  auto controller = rd_kafka_controllerid(client, 0);
  if (md.brokers.empty() ||
      (controller >= 0 && std::ranges::find(md.brokers, controller, &broker_info::id) != md.brokers.end())) {
    return std::nullopt;
  }
  auto target = md.answered_by >= 0 ? md.answered_by : md.brokers.front().id;
  detail::log().debug("admin: the metadata names controller {}, not one of its brokers; asking broker {}", controller,
                      target);
  return target;
}

std::expected<cluster_metadata, kafka_error> read_metadata(rd_kafka_t* client, std::chrono::milliseconds timeout) {
  const rd_kafka_metadata_t* raw = nullptr;
  auto err = rd_kafka_metadata(client, 1, nullptr, &raw, to_int_ms(timeout));
  detail::metadata_ptr md(raw);
  if (err) return std::unexpected(detail::make_kafka_error(err, "metadata"));
  cluster_metadata out;
  out.answered_by = md->orig_broker_id;
  for (int b = 0; b < md->broker_cnt; ++b) {
    out.brokers.push_back({md->brokers[b].id, md->brokers[b].host, md->brokers[b].port});
  }
  for (int t = 0; t < md->topic_cnt; ++t) {
    const auto& topic = md->topics[t];
    topic_info info{.name = topic.topic, .partitions = {}, .error_code = static_cast<int>(topic.err)};
    for (int p = 0; p < topic.partition_cnt; ++p) {
      const auto& part = topic.partitions[p];
      info.partitions.push_back({.id = part.id,
                                 .leader = part.leader,
                                 .replicas = {part.replicas, part.replicas + part.replica_cnt},
                                 .in_sync = {part.isrs, part.isrs + part.isr_cnt},
                                 .error_code = static_cast<int>(part.err)});
    }
    std::ranges::sort(info.partitions, {}, &partition_info::id);
    out.topics.push_back(std::move(info));
  }
  std::ranges::sort(out.brokers, {}, &broker_info::id);
  return out;
}

const topic_info* find_topic(const cluster_metadata& md, std::string_view name) {
  auto it = std::ranges::find(md.topics, name, &topic_info::name);
  if (it == md.topics.end() || it->error_code == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART) return nullptr;
  return &*it;
}

// Kafka's topic-level spelling of a compression codec.
std::string_view kafka_compression_type(compression c) {
  return c == compression::none ? "uncompressed" : to_string(c);
}

// What one catalogue topic (or its .dlq twin) must look like on this cluster.
struct wanted_topic {
  std::string name;
  const topic_spec* spec;
  int replication;
  int min_insync_replicas;

  [[nodiscard]] std::vector<std::pair<std::string, std::string>> configs() const {
    auto retention_ms = std::chrono::duration_cast<std::chrono::milliseconds>(spec->retention).count();
    return {{"retention.ms", std::to_string(retention_ms)},
            {"min.insync.replicas", std::to_string(min_insync_replicas)},
            {"compression.type", std::string(kafka_compression_type(spec->compression_type))},
            {"cleanup.policy", std::string(spec->cleanup_policy)}};
  }
};

// "3", or "2..3" when partitions of one topic differ.
std::string replication_of(const topic_info& topic) {
  if (topic.partitions.empty()) return "0";
  auto [low, high] = std::ranges::minmax(
      topic.partitions | std::views::transform([](const partition_info& p) { return p.replicas.size(); }));
  return low == high ? std::to_string(low) : fmt::format("{}..{}", low, high);
}

struct described_configs {
  std::map<std::string, std::string> values;
  std::string unavailable;  // why `values` is empty
};

// DescribeConfigs for `names`; a failure becomes the reason of each topic, never an error of the caller.
std::unordered_map<std::string, described_configs> describe_configs(rd_kafka_t* client, const cluster_metadata& md,
                                                                    const std::vector<std::string>& names,
                                                                    std::chrono::milliseconds timeout) {
  std::unordered_map<std::string, described_configs> out;
  if (names.empty()) return out;
  std::vector<detail::config_resource_ptr> owned;
  std::vector<rd_kafka_ConfigResource_t*> resources;
  for (const auto& name : names) {
    owned.emplace_back(rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_TOPIC, name.c_str()));
    resources.push_back(owned.back().get());
  }
  auto event = run_admin_request(client, RD_KAFKA_ADMIN_OP_DESCRIBECONFIGS, admin_target(client, md), timeout,
                                 "DescribeConfigs", [&](rd_kafka_AdminOptions_t* options, rd_kafka_queue_t* queue) {
                                   rd_kafka_DescribeConfigs(client, resources.data(), resources.size(), options, queue);
                                 });
  if (!event) {
    for (const auto& name : names) out[name].unavailable = event.error().message;
    return out;
  }
  std::size_t count = 0;
  const auto* result = rd_kafka_event_DescribeConfigs_result(event->get());
  const auto** described = rd_kafka_DescribeConfigs_result_resources(result, &count);
  for (std::size_t i = 0; i < count; ++i) {
    auto& entry = out[rd_kafka_ConfigResource_name(described[i])];
    if (auto err = rd_kafka_ConfigResource_error(described[i])) {
      const char* text = rd_kafka_ConfigResource_error_string(described[i]);
      entry.unavailable = fmt::format("DescribeConfigs: {}", text ? text : rd_kafka_err2str(err));
      continue;
    }
    std::size_t config_count = 0;
    const auto** configs = rd_kafka_ConfigResource_configs(described[i], &config_count);
    for (std::size_t c = 0; c < config_count; ++c) {
      const char* value = rd_kafka_ConfigEntry_value(configs[c]);
      entry.values[rd_kafka_ConfigEntry_name(configs[c])] = value ? value : "";
    }
  }
  for (const auto& name : names) {
    if (!out.contains(name)) out[name].unavailable = "DescribeConfigs: the broker did not describe this topic";
  }
  return out;
}

}  // namespace

struct admin::impl {
  options opts;
  detail::kafka_ptr client;
};

std::expected<std::unique_ptr<admin>, kafka_error> admin::create(options opts) {
  auto state = std::make_unique<impl>();
  state->opts = std::move(opts);
  auto conf = detail::make_conf(state->opts.config, detail::client_role::admin);
  if (!conf) return std::unexpected(conf.error());
  auto client = detail::make_client(RD_KAFKA_PRODUCER, *conf);
  if (!client) return std::unexpected(client.error());
  state->client = std::move(*client);
  if (auto reachable = detail::await_brokers(state->client.get(), state->opts.config); !reachable) {
    return std::unexpected(reachable.error());
  }
  return std::unique_ptr<admin>(new admin(std::move(state)));
}

std::expected<std::unique_ptr<admin>, kafka_error> admin::create(const client_config& config) {
  return create(options{.config = config});
}

admin::admin(std::unique_ptr<impl> state) : impl_(std::move(state)) {}
admin::~admin() = default;

const client_config& admin::config() const { return impl_->opts.config; }

std::expected<cluster_metadata, kafka_error> admin::metadata() {
  return read_metadata(impl_->client.get(), impl_->opts.request_timeout);
}

std::expected<std::vector<topic_summary>, kafka_error> admin::list_topics() {
  auto md = metadata();
  if (!md) return std::unexpected(md.error());
  std::vector<topic_summary> out;
  for (const auto& t : md->topics) {
    if (t.error_code == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART) continue;
    out.push_back({t.name, static_cast<int>(t.partitions.size())});
  }
  std::ranges::sort(out, {}, &topic_summary::name);
  return out;
}

std::expected<topic_creation, kafka_error> admin::create_topic(const topic_request& topic) {
  auto* client = impl_->client.get();
  const auto timeout = impl_->opts.request_timeout;
  const auto what = fmt::format("create topic {}", topic.name);
  auto md = metadata();
  if (!md) return std::unexpected(md.error());
  if (find_topic(*md, topic.name)) return topic_creation::existed;
  if (md->brokers.empty()) {
    return std::unexpected(error_with(RD_KAFKA_RESP_ERR__TRANSPORT, what + ": the cluster's metadata lists no broker"));
  }
  const int replication = std::min(topic.replication, static_cast<int>(md->brokers.size()));
  if (replication < topic.replication) {
    detail::log().warn("{}: replication lowered from {} to {}: the cluster has {} broker(s)", what, topic.replication,
                       replication, md->brokers.size());
  }
  char reason[256];
  detail::new_topic_ptr request(
      rd_kafka_NewTopic_new(topic.name.c_str(), topic.partitions, replication, reason, sizeof reason));
  if (!request) return std::unexpected(error_with(RD_KAFKA_RESP_ERR__INVALID_ARG, fmt::format("{}: {}", what, reason)));
  for (const auto& [setting, value] : topic.configs) {
    if (auto err = rd_kafka_NewTopic_set_config(request.get(), setting.c_str(), value.c_str())) {
      return std::unexpected(detail::make_kafka_error(err, fmt::format("{}: {}={}", what, setting, value)));
    }
  }
  rd_kafka_NewTopic_t* requests[]{request.get()};
  auto event = run_admin_request(client, RD_KAFKA_ADMIN_OP_CREATETOPICS, admin_target(client, *md), timeout, what,
                                 [&](rd_kafka_AdminOptions_t* options, rd_kafka_queue_t* queue) {
                                   rd_kafka_CreateTopics(client, requests, 1, options, queue);
                                 });
  if (!event) return std::unexpected(event.error());
  std::size_t count = 0;
  const auto** results = rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(event->get()), &count);
  const auto err = count == 1 ? rd_kafka_topic_result_error(results[0]) : RD_KAFKA_RESP_ERR__BAD_MSG;
  if (err == RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) return topic_creation::existed;  // made by someone else since
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    const char* text = count == 1 ? rd_kafka_topic_result_error_string(results[0]) : nullptr;
    return std::unexpected(error_with(err, fmt::format("{}: {}", what, text ? text : rd_kafka_err2str(err))));
  }
  // Wait (bounded) until the partitions have leaders, so a client started next finds them.
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    auto now_md = metadata();
    const auto* found = now_md ? find_topic(*now_md, topic.name) : nullptr;
    if (found && !found->partitions.empty() &&
        std::ranges::all_of(found->partitions, [](const partition_info& p) { return p.leader >= 0; })) {
      break;
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      detail::log().warn("{}: created, but without leaders after {} ms", what, timeout.count());
      break;
    }
    std::this_thread::sleep_for(100ms);
  }
  detail::log().info("{}: created ({} partition(s), replication {})", what, topic.partitions, replication);
  return topic_creation::created;
}

std::expected<std::vector<topic_description>, kafka_error> admin::describe_topics() {
  auto md = metadata();
  if (!md) return std::unexpected(md.error());
  std::vector<topic_description> out;
  std::vector<std::string> existing;
  for (const auto& t : catalogue) {
    for (const auto& name : {std::string(t.name()), t.dlq_name()}) {
      topic_description d{.name = name};
      if (const auto* found = find_topic(*md, name)) {
        d.exists = true;
        d.partitions = static_cast<int>(found->partitions.size());
        d.replication = found->partitions.empty() ? 0 : static_cast<int>(found->partitions.front().replicas.size());
        for (const auto& p : found->partitions) d.leaders.push_back(p.leader);
        existing.push_back(name);
      } else {
        d.configs_unavailable = "the topic does not exist";
      }
      out.push_back(std::move(d));
    }
  }
  auto configs = describe_configs(impl_->client.get(), *md, existing, impl_->opts.request_timeout);
  for (auto& d : out) {
    if (!d.exists) continue;
    auto& described = configs[d.name];
    d.configs = std::move(described.values);
    if (!described.unavailable.empty())
      d.configs_unavailable = "not verifiable on this cluster: " + described.unavailable;
  }
  return out;
}

std::expected<ensure_report, ensure_failure> admin::ensure_topics() {
  auto* client = impl_->client.get();
  const auto timeout = impl_->opts.request_timeout;
  auto md = metadata();
  if (!md) return std::unexpected(ensure_failure{.error = md.error()});
  ensure_report report;
  report.brokers = static_cast<int>(md->brokers.size());
  if (report.brokers == 0) {
    return std::unexpected(ensure_failure{
        .error = error_with(RD_KAFKA_RESP_ERR__TRANSPORT, "ensure topics: the cluster's metadata lists no broker"),
        .report = std::move(report)});
  }

  // Lower replication and min ISR to what this cluster can hold, loudly: the warnings name each lowering.
  std::vector<wanted_topic> wanted;
  for (const auto& t : catalogue) {
    int replication = std::min(t.replication_factor, report.brokers);
    int min_isr = std::min(t.min_insync_replicas, replication);
    auto both = fmt::format("{} and {}", t.name(), t.dlq_name());
    if (replication < t.replication_factor) {
      report.warnings.push_back(fmt::format("{}: replication lowered from {} to {}: the cluster has {} broker(s)", both,
                                            t.replication_factor, replication, report.brokers));
    }
    if (min_isr < t.min_insync_replicas) {
      report.warnings.push_back(fmt::format("{}: min.insync.replicas lowered from {} to {} (replication is {})", both,
                                            t.min_insync_replicas, min_isr, replication));
    }
    for (auto name : {std::string(t.name()), t.dlq_name()})
      wanted.push_back({std::move(name), &t, replication, min_isr});
  }
  for (const auto& w : report.warnings) detail::log().warn("ensure topics: {}", w);

  // Existing topics: partitions and replication from metadata, the rest from DescribeConfigs.
  std::vector<const wanted_topic*> missing;
  std::vector<std::string> existing_names;
  for (const auto& w : wanted) {
    const auto* found = find_topic(*md, w.name);
    if (!found) {
      missing.push_back(&w);
      continue;
    }
    report.existing.push_back(w.name);
    existing_names.push_back(w.name);
    if (auto partitions = static_cast<int>(found->partitions.size()); partitions != w.spec->partitions) {
      report.drifts.push_back({w.name, "partitions", std::to_string(w.spec->partitions), std::to_string(partitions)});
    }
    if (auto replication = replication_of(*found); replication != std::to_string(w.replication)) {
      report.drifts.push_back({w.name, "replication", std::to_string(w.replication), replication});
    }
  }
  auto configs = describe_configs(client, *md, existing_names, timeout);
  std::map<std::string, int> unverifiable_reasons;  // for one log line per reason
  for (const auto& w : wanted) {
    if (std::ranges::find(existing_names, w.name) == existing_names.end()) continue;
    const auto& described = configs[w.name];
    for (const auto& [setting, expected] : w.configs()) {
      if (!described.unavailable.empty()) {
        report.unverified.push_back({w.name, setting, "not verifiable on this cluster: " + described.unavailable});
        ++unverifiable_reasons[described.unavailable];
      } else if (auto it = described.values.find(setting); it == described.values.end()) {
        report.unverified.push_back({w.name, setting, "not verifiable on this cluster: the broker did not return it"});
        ++unverifiable_reasons["the broker did not return it"];
      } else if (it->second != expected) {
        report.drifts.push_back({w.name, setting, expected, it->second});
      }
    }
  }
  for (const auto& d : report.drifts) {
    detail::log().warn("ensure topics: drift: {} {} is {}, the catalogue says {}", d.topic, d.setting, d.actual,
                       d.expected);
  }
  for (const auto& [reason, settings] : unverifiable_reasons) {
    detail::log().warn("ensure topics: {} topic settings not verifiable on this cluster: {}", settings, reason);
  }
  if (missing.empty()) return report;

  // Missing topics: one CreateTopics for all of them.
  std::vector<detail::new_topic_ptr> owned;
  std::vector<rd_kafka_NewTopic_t*> new_topics;
  std::vector<const wanted_topic*> requested;
  for (const auto* w : missing) {
    char reason[256];
    owned.emplace_back(
        rd_kafka_NewTopic_new(w->name.c_str(), w->spec->partitions, w->replication, reason, sizeof reason));
    if (!owned.back()) {
      report.missing.push_back(
          {w->name, error_with(RD_KAFKA_RESP_ERR__INVALID_ARG, fmt::format("create topic {}: {}", w->name, reason))});
      owned.pop_back();
      continue;
    }
    bool configured = true;
    for (const auto& [setting, value] : w->configs()) {
      if (auto err = rd_kafka_NewTopic_set_config(owned.back().get(), setting.c_str(), value.c_str())) {
        report.missing.push_back(
            {w->name, detail::make_kafka_error(err, fmt::format("create topic {}: {}={}", w->name, setting, value))});
        configured = false;
        break;
      }
    }
    if (!configured) continue;
    new_topics.push_back(owned.back().get());
    requested.push_back(w);
  }
  std::vector<std::string> created;
  if (!new_topics.empty()) {
    auto event =
        run_admin_request(client, RD_KAFKA_ADMIN_OP_CREATETOPICS, admin_target(client, *md), timeout, "CreateTopics",
                          [&](rd_kafka_AdminOptions_t* options, rd_kafka_queue_t* queue) {
                            rd_kafka_CreateTopics(client, new_topics.data(), new_topics.size(), options, queue);
                          });
    if (!event) {
      for (const auto* w : requested) {
        auto error = event.error();
        error.message = fmt::format("create topic {}: {}", w->name, error.message);
        report.missing.push_back({w->name, std::move(error)});
      }
    } else {
      std::size_t count = 0;
      const auto** results =
          rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(event->get()), &count);
      for (std::size_t i = 0; i < count; ++i) {
        std::string name = rd_kafka_topic_result_name(results[i]);
        auto err = rd_kafka_topic_result_error(results[i]);
        if (err == RD_KAFKA_RESP_ERR_NO_ERROR) {
          created.push_back(name);
        } else if (err == RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
          // Created by someone else since our metadata: the next run checks its settings.
          report.existing.push_back(name);
          report.warnings.push_back(fmt::format("{}: created concurrently by another client; not verified", name));
        } else {
          const char* text = rd_kafka_topic_result_error_string(results[i]);
          report.missing.push_back(
              {name, error_with(err, fmt::format("create topic {}: {}", name, text ? text : rd_kafka_err2str(err)))});
        }
      }
    }
  }

  // Wait (bounded) until the new topics have leaders, so a producer started next finds them.
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!created.empty()) {
    auto now_md = metadata();
    auto ready = [&](const std::string& name) {
      const auto* t = now_md ? find_topic(*now_md, name) : nullptr;
      return t && !t->partitions.empty() &&
             std::ranges::all_of(t->partitions, [](const partition_info& p) { return p.leader >= 0; });
    };
    if (std::ranges::all_of(created, ready)) break;
    if (std::chrono::steady_clock::now() >= deadline) {
      report.warnings.push_back(fmt::format("created topics without leaders after {} ms", timeout.count()));
      detail::log().warn("ensure topics: {}", report.warnings.back());
      break;
    }
    std::this_thread::sleep_for(100ms);
  }
  for (const auto& name : created) detail::log().info("ensure topics: created {}", name);
  report.created = std::move(created);

  if (report.missing.empty()) return report;
  std::vector<std::string> names;
  for (const auto& m : report.missing) names.push_back(m.topic);
  auto first = report.missing.front().error;
  first.message = fmt::format("{} topic(s) missing and not created ({}); first reason: {}", names.size(),
                              fmt::join(names, ", "), first.message);
  detail::log().error("ensure topics: {}", first.message);
  return std::unexpected(ensure_failure{.error = std::move(first), .report = std::move(report)});
}

}  // namespace horizons
