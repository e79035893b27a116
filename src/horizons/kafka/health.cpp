#include <horizons/health.hpp>

#include <algorithm>
#include <map>
#include <set>
#include <thread>

#include <fmt/format.h>

#include "rdkafka.hpp"

namespace horizons {

using namespace std::chrono_literals;

namespace {

using clock = std::chrono::steady_clock;

int remaining_ms(clock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock::now()).count();
  return static_cast<int>(std::clamp<std::int64_t>(left, 0, 3'600'000));
}

kafka_error error_with(rd_kafka_resp_err_t code, std::string message) {
  return {.code = static_cast<int>(code),
          .name = rd_kafka_err2name(code),
          .message = std::move(message),
          .fatal = false,
          .retriable = code == RD_KAFKA_RESP_ERR__TIMED_OUT || code == RD_KAFKA_RESP_ERR__TRANSPORT};
}

// A client bootstrapped with `broker` alone: it can only get metadata if that broker answers.
std::string probe_broker(const client_config& config, const broker_info& broker, std::chrono::milliseconds timeout) {
  auto probe_config = config;
  probe_config.brokers = fmt::format("{}:{}", broker.host, broker.port);
  probe_config.client_id = config.client_id + "-probe";
  auto conf = detail::make_conf(probe_config, detail::client_role::admin);
  if (!conf) return conf.error().message;
  // The probe's failure is its result; librdkafka's connection errors would only repeat it.
  if (auto quiet = detail::set_property(conf->get(), "log_level", "2"); !quiet) return quiet.error().message;
  auto client = detail::make_client(RD_KAFKA_PRODUCER, *conf);
  if (!client) return client.error().message;
  const rd_kafka_metadata_t* raw = nullptr;
  auto err = rd_kafka_metadata(client->get(), 0, nullptr, &raw, static_cast<int>(timeout.count()));
  detail::metadata_ptr md(raw);
  if (err)
    return fmt::format("no metadata answer from {} within {} ms: {}", probe_config.brokers, timeout.count(),
                       rd_kafka_err2str(err));
  return {};
}

}  // namespace

std::expected<cluster_health, kafka_error> check_cluster(admin& client, health_options options) {
  auto md = client.metadata();
  if (!md) return std::unexpected(md.error());

  std::map<std::int32_t, broker_health> brokers;
  for (const auto& b : md->brokers) {
    brokers[b.id] = {.id = b.id, .host = b.host, .port = b.port, .in_metadata = true, .reachable = true};
  }
  // Kafka drops a dead broker from the metadata but not from replica lists: those name it still.
  for (const auto& t : md->topics) {
    for (const auto& p : t.partitions) {
      for (auto id : p.replicas) {
        if (brokers.contains(id)) continue;
        brokers[id] = {.id = id, .problem = "named in replica lists but absent from the cluster's metadata"};
      }
    }
  }

  if (options.probe == broker_probe::connect) {
    std::vector<std::jthread> probes;
    for (auto& [id, b] : brokers) {
      if (!b.in_metadata) continue;
      probes.emplace_back([&config = client.config(), &b, timeout = options.probe_timeout] {
        b.problem = probe_broker(config, {b.id, b.host, b.port}, timeout);
        b.reachable = b.problem.empty();
      });
    }
  }  // the probes join here

  cluster_health health;
  for (auto& [id, b] : brokers) {
    if (b.up()) ++health.brokers_up;
    health.brokers.push_back(std::move(b));
  }
  health.expected_brokers = std::max(options.expected_brokers, static_cast<int>(health.brokers.size()));
  auto broker = [&](std::int32_t id) -> const broker_health* {
    auto it = std::ranges::find(health.brokers, id, &broker_health::id);
    return it == health.brokers.end() ? nullptr : &*it;
  };

  for (const auto& t : md->topics) {
    if (t.error_code == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART) continue;
    topic_health summary{.topic = t.name, .partitions = static_cast<int>(t.partitions.size())};
    for (const auto& p : t.partitions) {
      partition_health at{.topic = t.name,
                          .partition = p.id,
                          .leader = p.leader,
                          .replicas = static_cast<int>(p.replicas.size()),
                          .in_sync = static_cast<int>(p.in_sync.size())};
      const auto* leader = broker(p.leader);
      if (p.leader < 0 || !leader || !leader->in_metadata) {
        ++summary.leaderless;
        health.leaderless.push_back(at);
      } else if (!leader->reachable) {
        ++summary.leader_unreachable;
        health.leader_unreachable.push_back(at);
      }
      if (at.in_sync < at.replicas) {
        ++summary.under_replicated;
        health.under_replicated.push_back(at);
      }
    }
    health.topics.push_back(std::move(summary));
  }
  std::ranges::sort(health.topics, {}, &topic_health::topic);

  for (const auto& b : health.brokers) {
    if (!b.up()) detail::log().warn("cluster health: broker {} is not up: {}", b.id, b.problem);
  }
  if (health.brokers_up < health.expected_brokers || !health.leaderless.empty() || !health.leader_unreachable.empty() ||
      !health.under_replicated.empty()) {
    detail::log().warn(
        "cluster health: {}/{} brokers up, {} partitions leaderless, {} with an unreachable leader, "
        "{} under-replicated",
        health.brokers_up, health.expected_brokers, health.leaderless.size(), health.leader_unreachable.size(),
        health.under_replicated.size());
  }
  return health;
}

std::expected<cluster_health, kafka_error> check_cluster(const client_config& config, health_options options) {
  auto made = admin::create(config);
  if (!made) return std::unexpected(made.error());
  return check_cluster(**made, options);
}

namespace {

using offsets_by_partition = std::map<std::pair<std::string, std::int32_t>, rd_kafka_topic_partition_t>;

// Committed offsets through the admin API (OffsetFetch to the group coordinator): joins nothing.
std::expected<detail::partition_list_ptr, kafka_error> list_group_offsets(rd_kafka_t* client, const std::string& group,
                                                                          const rd_kafka_topic_partition_list_t* wanted,
                                                                          clock::time_point deadline) {
  std::unique_ptr<rd_kafka_ListConsumerGroupOffsets_t, decltype(&rd_kafka_ListConsumerGroupOffsets_destroy)> request(
      rd_kafka_ListConsumerGroupOffsets_new(group.c_str(), wanted), &rd_kafka_ListConsumerGroupOffsets_destroy);
  detail::admin_options_ptr options(rd_kafka_AdminOptions_new(client, RD_KAFKA_ADMIN_OP_LISTCONSUMERGROUPOFFSETS));
  char reason[256];
  auto timeout = std::max(remaining_ms(deadline), 1);
  if (rd_kafka_AdminOptions_set_request_timeout(options.get(), timeout, reason, sizeof reason)) {
    return std::unexpected(error_with(RD_KAFKA_RESP_ERR__INVALID_ARG, reason));
  }
  detail::queue_ptr queue(rd_kafka_queue_new(client));
  auto* raw_request = request.get();
  rd_kafka_ListConsumerGroupOffsets(client, &raw_request, 1, options.get(), queue.get());
  auto event = detail::await_admin_result(queue.get(), std::chrono::milliseconds(timeout));
  if (!event) return std::unexpected(error_with(RD_KAFKA_RESP_ERR__TIMED_OUT, "ListConsumerGroupOffsets: no answer"));
  if (auto err = rd_kafka_event_error(event.get())) {
    return std::unexpected(
        error_with(err, fmt::format("ListConsumerGroupOffsets: {}", rd_kafka_event_error_string(event.get()))));
  }
  std::size_t count = 0;
  const auto** groups = rd_kafka_ListConsumerGroupOffsets_result_groups(
      rd_kafka_event_ListConsumerGroupOffsets_result(event.get()), &count);
  if (count != 1) {
    return std::unexpected(error_with(RD_KAFKA_RESP_ERR__BAD_MSG,
                                      fmt::format("ListConsumerGroupOffsets: {} group results, expected 1", count)));
  }
  if (const auto* error = rd_kafka_group_result_error(groups[0])) {
    return std::unexpected(detail::make_kafka_error(error, "ListConsumerGroupOffsets"));
  }
  return detail::partition_list_ptr(rd_kafka_topic_partition_list_copy(rd_kafka_group_result_partitions(groups[0])));
}

// Committed offsets through a consumer with the group's id that never subscribes: it joins nothing,
// commits nothing (auto-commit off), and only sends OffsetFetch.
std::expected<detail::partition_list_ptr, kafka_error> fetch_committed(const client_config& config,
                                                                       const std::string& group,
                                                                       const rd_kafka_topic_partition_list_t* wanted,
                                                                       clock::time_point deadline) {
  auto conf = detail::make_conf(config, detail::client_role::consumer);
  if (!conf) return std::unexpected(conf.error());
  for (auto [name, value] : std::initializer_list<std::pair<std::string_view, std::string_view>>{
           {"group.id", group}, {"enable.auto.commit", "false"}, {"enable.auto.offset.store", "false"}}) {
    if (auto ok = detail::set_property(conf->get(), name, value); !ok) return std::unexpected(ok.error());
  }
  auto client = detail::make_client(RD_KAFKA_CONSUMER, *conf);
  if (!client) return std::unexpected(client.error());
  detail::partition_list_ptr offsets(rd_kafka_topic_partition_list_copy(wanted));
  if (auto err = rd_kafka_committed(client->get(), offsets.get(), std::max(remaining_ms(deadline), 1))) {
    return std::unexpected(detail::make_kafka_error(err, fmt::format("committed offsets of group {}", group)));
  }
  return offsets;
}

struct pending_record {
  partition_lag* lag;
  std::int64_t offset;
  bool done = false;
};

// Reads the one record at each pending offset with the legacy (group-less) consumer API and
// sets lag_seconds from its timestamp.
void measure_record_age(rd_kafka_t* client, std::vector<pending_record>& pending, clock::time_point deadline) {
  if (pending.empty()) return;
  detail::queue_ptr queue(rd_kafka_queue_new(client));
  std::map<std::string, detail::topic_ptr> topics;
  std::vector<std::pair<rd_kafka_topic_t*, std::int32_t>> started;
  for (auto& p : pending) {
    auto& topic = topics[p.lag->topic];
    if (!topic) topic.reset(rd_kafka_topic_new(client, p.lag->topic.c_str(), nullptr));
    if (!topic) {
      p.lag->error = fmt::format("topic handle: {}", rd_kafka_err2str(rd_kafka_last_error()));
      p.done = true;
      continue;
    }
    if (rd_kafka_consume_start_queue(topic.get(), p.lag->partition, p.offset, queue.get()) == -1) {
      p.lag->error = fmt::format("start reading at offset {}: {}", p.offset, rd_kafka_err2str(rd_kafka_last_error()));
      p.done = true;
      continue;
    }
    started.emplace_back(topic.get(), p.lag->partition);
  }
  auto left = [&] { return std::ranges::count(pending, false, &pending_record::done); };
  std::map<std::pair<std::string, std::int32_t>, std::string> last_error;
  while (left() > 0 && remaining_ms(deadline) > 0) {
    detail::message_ptr message(rd_kafka_consume_queue(queue.get(), std::min(remaining_ms(deadline), 100)));
    if (!message) continue;
    std::string topic = rd_kafka_topic_name(message->rkt);
    auto it = std::ranges::find_if(pending, [&](const pending_record& p) {
      return !p.done && p.lag->partition == message->partition && p.lag->topic == topic;
    });
    if (it == pending.end()) continue;
    if (message->err) {
      if (message->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
        last_error[{topic, message->partition}] = rd_kafka_message_errstr(message.get());
      }
      continue;
    }
    // A record deleted or compacted away: the next one is the oldest the group has not finished.
    if (message->offset < it->offset) continue;
    rd_kafka_timestamp_type_t kind;
    auto ms = rd_kafka_message_timestamp(message.get(), &kind);
    if (ms < 0) {
      it->lag->error = fmt::format("record at offset {} has no timestamp", message->offset);
    } else {
      auto now_ms =
          std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
              .count();
      it->lag->lag_seconds = std::chrono::milliseconds{std::max<std::int64_t>(now_ms - ms, 0)};
    }
    it->done = true;
  }
  for (auto [topic, partition] : started) rd_kafka_consume_stop(topic, partition);
  for (auto& p : pending) {
    if (p.done) continue;
    auto error = last_error.find({p.lag->topic, p.lag->partition});
    p.lag->error = fmt::format("record at offset {} not read in time{}", p.offset,
                               error == last_error.end() ? "" : ": " + error->second);
  }
}

}  // namespace

std::expected<lag_report, kafka_error> consumer_lag(const client_config& config, const lag_query& query) {
  auto deadline = clock::now() + query.timeout;
  if (query.group.empty() || query.topics.empty()) {
    return std::unexpected(error_with(RD_KAFKA_RESP_ERR__INVALID_ARG, "consumer lag: a group and topics are needed"));
  }

  // One group-less consumer reads metadata, offsets, watermarks and records: it can join no group.
  auto conf = detail::make_conf(config, detail::client_role::consumer);
  if (!conf) return std::unexpected(conf.error());
  for (auto [name, value] : std::initializer_list<std::pair<std::string_view, std::string_view>>{
           {"enable.auto.commit", "false"}, {"enable.auto.offset.store", "false"}, {"auto.offset.reset", "earliest"}}) {
    if (auto ok = detail::set_property(conf->get(), name, value); !ok) return std::unexpected(ok.error());
  }
  auto made = detail::make_client(RD_KAFKA_CONSUMER, *conf);
  if (!made) return std::unexpected(made.error());
  auto* client = made->get();

  const rd_kafka_metadata_t* raw = nullptr;
  auto err = rd_kafka_metadata(client, 1, nullptr, &raw, std::max(remaining_ms(deadline), 1));
  detail::metadata_ptr md(raw);
  if (err) {
    return std::unexpected(detail::make_kafka_error(
        err, fmt::format("consumer lag: no metadata from '{}' within {} ms", config.brokers, query.timeout.count())));
  }

  lag_report report{.group = query.group};
  detail::partition_list_ptr wanted(rd_kafka_topic_partition_list_new(16));
  for (const auto& name : query.topics) {
    const rd_kafka_metadata_topic_t* found = nullptr;
    for (int t = 0; t < md->topic_cnt; ++t) {
      if (name == md->topics[t].topic && md->topics[t].err != RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART) {
        found = &md->topics[t];
      }
    }
    if (!found) {
      return std::unexpected(error_with(RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART,
                                        fmt::format("consumer lag: topic '{}' does not exist", name)));
    }
    std::vector<std::int32_t> ids;
    for (int p = 0; p < found->partition_cnt; ++p) ids.push_back(found->partitions[p].id);
    std::ranges::sort(ids);
    for (auto id : ids) {
      report.partitions.push_back({.topic = name, .partition = id});
      rd_kafka_topic_partition_list_add(wanted.get(), name.c_str(), id);
    }
  }

  auto committed = list_group_offsets(client, query.group, wanted.get(), deadline);
  if (!committed) {
    detail::log().debug("consumer lag: {}; reading committed offsets with rd_kafka_committed instead",
                        committed.error().message);
    auto fallback = fetch_committed(config, query.group, wanted.get(), deadline);
    if (!fallback) {
      auto error = fallback.error();
      error.message =
          fmt::format("consumer lag of group {}: {} (and {})", query.group, error.message, committed.error().message);
      return std::unexpected(error);
    }
    committed = std::move(fallback);
  }

  std::vector<pending_record> pending;
  for (auto& p : report.partitions) {
    const auto* offset = rd_kafka_topic_partition_list_find(committed->get(), p.topic.c_str(), p.partition);
    if (offset && offset->err) {
      p.error = fmt::format("committed offset: {}", rd_kafka_err2str(offset->err));
    } else if (offset && offset->offset >= 0) {
      p.committed = offset->offset;
      report.committed_anything = true;
    }
    if (remaining_ms(deadline) == 0) {  // a call with no time left can still block on a missing leader
      p.error = "watermarks: not asked, the measurement's timeout had passed";
      continue;
    }
    if (auto werr = rd_kafka_query_watermark_offsets(client, p.topic.c_str(), p.partition, &p.low, &p.high,
                                                     remaining_ms(deadline))) {
      p.error = fmt::format("watermarks: {}", rd_kafka_err2str(werr));
      continue;
    }
    // A committed offset beyond the high watermark (a truncated log) means nothing is waiting.
    p.lag_messages = std::max<std::int64_t>(p.committed ? p.high - *p.committed : p.high - p.low, 0);
    if (p.lag_messages > 0) {
      pending.push_back({&p, std::max(p.committed.value_or(p.low), p.low)});
    }
  }
  measure_record_age(client, pending, deadline);

  for (const auto& name : query.topics) {
    topic_lag t{.topic = name};
    for (const auto& p : report.partitions) {
      if (p.topic != name) continue;
      ++t.partitions;
      t.lag_messages += p.lag_messages;
      t.lag_seconds = std::max(t.lag_seconds, p.lag_seconds);
      if (!p.error.empty()) ++t.unmeasured_partitions;
    }
    report.lag_messages += t.lag_messages;
    report.lag_seconds = std::max(report.lag_seconds, t.lag_seconds);
    report.topics.push_back(std::move(t));
  }
  return report;
}

}  // namespace horizons
