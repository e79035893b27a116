// horizons topics list|ensure|describe | health | lag: what operators watch.
#include "commands.hpp"
#include "kafka_options.hpp"

#include <horizons/admin.hpp>
#include <horizons/health.hpp>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

namespace horizons::cli {

namespace {

using ordered_json = nlohmann::ordered_json;

void print_json(const ordered_json& value) { fmt::print("{}\n", value.dump(2)); }

std::expected<std::unique_ptr<admin>, int> connect(std::string_view command, const kafka_options& connection) {
  auto config = resolve_config(connection, true);
  if (!config) return std::unexpected(fail(command, config.error(), exit_usage));
  auto made = admin::create(*config);
  if (!made) return std::unexpected(fail(command, made.error().message));
  return std::move(*made);
}

int run_topics_list(const kafka_options& connection, bool json) {
  auto client = connect("topics list", connection);
  if (!client) return client.error();
  auto topics = (*client)->list_topics();
  if (!topics) return fail("topics list", topics.error().message);
  ordered_json out = ordered_json::array();
  for (const auto& t : *topics) {
    if (json) {
      out.push_back({{"topic", t.name}, {"partitions", t.partitions}});
    } else {
      fmt::print("{:<28} {:>4} partitions\n", t.name, t.partitions);
    }
  }
  if (json) print_json(out);
  return exit_ok;
}

ordered_json report_json(const ensure_report& r) {
  ordered_json out{{"brokers", r.brokers}, {"created", r.created}, {"existing", r.existing}, {"warnings", r.warnings}};
  out["drifts"] = ordered_json::array();
  for (const auto& d : r.drifts) {
    out["drifts"].push_back(
        {{"topic", d.topic}, {"setting", d.setting}, {"expected", d.expected}, {"actual", d.actual}});
  }
  out["unverified"] = ordered_json::array();
  for (const auto& u : r.unverified) {
    out["unverified"].push_back({{"topic", u.topic}, {"setting", u.setting}, {"reason", u.reason}});
  }
  out["missing"] = ordered_json::array();
  for (const auto& m : r.missing) out["missing"].push_back({{"topic", m.topic}, {"error", m.error.message}});
  return out;
}

void print_report(const ensure_report& r) {
  fmt::print("{} brokers; {} topics created, {} already there\n", r.brokers, r.created.size(), r.existing.size());
  for (const auto& t : r.created) fmt::print("  created  {}\n", t);
  for (const auto& w : r.warnings) fmt::print("  warning  {}\n", w);
  for (const auto& d : r.drifts) {
    fmt::print("  DRIFT    {}: {} is {}, the catalogue says {}\n", d.topic, d.setting, d.actual, d.expected);
  }
  for (const auto& m : r.missing) fmt::print("  MISSING  {}: {}\n", m.topic, m.error.message);
  if (!r.unverified.empty()) {
    fmt::print("  {} settings not verifiable, e.g. {} {}: {}\n", r.unverified.size(), r.unverified.front().topic,
               r.unverified.front().setting, r.unverified.front().reason);
  }
}

int run_topics_ensure(const kafka_options& connection, bool json) {
  auto client = connect("topics ensure", connection);
  if (!client) return client.error();
  auto ensured = (*client)->ensure_topics();
  const auto& report = ensured ? *ensured : ensured.error().report;
  if (json) {
    auto out = report_json(report);
    if (!ensured) out["error"] = ensured.error().error.message;
    print_json(out);
  } else {
    print_report(report);
  }
  if (!ensured) return fail("topics ensure", ensured.error().error.message);
  // Drift is reported, never accepted silently: it makes the command fail.
  return report.drifts.empty() ? exit_ok : exit_bad_input;
}

int run_topics_describe(const kafka_options& connection, bool json) {
  auto client = connect("topics describe", connection);
  if (!client) return client.error();
  auto topics = (*client)->describe_topics();
  if (!topics) return fail("topics describe", topics.error().message);
  ordered_json out = ordered_json::array();
  for (const auto& t : *topics) {
    if (json) {
      out.push_back({{"topic", t.name},
                     {"exists", t.exists},
                     {"partitions", t.partitions},
                     {"replication", t.replication},
                     {"leaders", t.leaders},
                     {"configs", t.configs},
                     {"configs_unavailable", t.configs_unavailable}});
      continue;
    }
    if (!t.exists) {
      fmt::print("{:<24} MISSING\n", t.name);
      continue;
    }
    fmt::print("{:<24} partitions {:>2}  replication {}  leaders {}\n", t.name, t.partitions, t.replication,
               fmt::join(t.leaders, ","));
    for (auto name : {"retention.ms", "min.insync.replicas", "compression.type", "cleanup.policy"}) {
      if (auto it = t.configs.find(name); it != t.configs.end()) fmt::print("    {:<20} {}\n", name, it->second);
    }
    if (!t.configs_unavailable.empty()) fmt::print("    configs: {}\n", t.configs_unavailable);
  }
  if (json) print_json(out);
  return exit_ok;
}

int run_health(const kafka_options& connection, bool json) {
  auto config = resolve_config(connection, true);
  if (!config) return fail("health", config.error(), exit_usage);
  auto health = check_cluster(*config);
  if (!health) return fail("health", health.error().message);
  const auto& h = *health;
  if (json) {
    ordered_json out{{"healthy", h.healthy()}, {"brokers_up", h.brokers_up}, {"expected_brokers", h.expected_brokers}};
    out["brokers"] = ordered_json::array();
    for (const auto& b : h.brokers) {
      out["brokers"].push_back(
          {{"id", b.id}, {"host", b.host}, {"port", b.port}, {"up", b.up()}, {"problem", b.problem}});
    }
    auto partitions = [](const std::vector<partition_health>& list) {
      ordered_json array = ordered_json::array();
      for (const auto& p : list) {
        array.push_back({{"topic", p.topic},
                         {"partition", p.partition},
                         {"leader", p.leader},
                         {"replicas", p.replicas},
                         {"in_sync", p.in_sync}});
      }
      return array;
    };
    out["leaderless"] = partitions(h.leaderless);
    out["leader_unreachable"] = partitions(h.leader_unreachable);
    out["under_replicated"] = partitions(h.under_replicated);
    print_json(out);
  } else {
    fmt::print("cluster {}: {} of {} brokers up\n", h.healthy() ? "HEALTHY" : "UNHEALTHY", h.brokers_up,
               h.expected_brokers);
    for (const auto& b : h.brokers) {
      auto address = b.host.empty() ? std::string("(not in metadata)") : fmt::format("{}:{}", b.host, b.port);
      fmt::print("  broker {} {} {}\n", b.id, address, b.up() ? "up" : "DOWN: " + b.problem);
    }
    fmt::print("  partitions: {} without leader, {} with an unreachable leader, {} under-replicated\n",
               h.leaderless.size(), h.leader_unreachable.size(), h.under_replicated.size());
  }
  return h.healthy() ? exit_ok : exit_bad_input;
}

int run_lag(const kafka_options& connection, const std::string& group, bool json) {
  auto config = resolve_config(connection, true);
  if (!config) return fail("lag", config.error(), exit_usage);
  // Without --group: each catalogue topic's own consumer group; with it: that group on every topic.
  std::vector<lag_query> queries;
  for (const auto& t : catalogue) {
    auto name = group.empty() ? std::string(t.consumer_group) : group;
    auto existing = std::find_if(queries.begin(), queries.end(), [&](const auto& q) { return q.group == name; });
    if (existing == queries.end()) existing = queries.insert(queries.end(), lag_query{.group = name});
    existing->topics.emplace_back(t.name());
  }
  ordered_json out = ordered_json::array();
  if (!json) fmt::print("{:<26} {:<16} {:>12} {:>12}\n", "GROUP", "TOPIC", "LAG (msgs)", "LAG (s)");
  for (const auto& query : queries) {
    auto report = consumer_lag(*config, query);
    if (!report) return fail("lag", report.error().message);
    for (const auto& t : report->topics) {
      if (json) {
        out.push_back({{"group", report->group},
                       {"topic", t.topic},
                       {"partitions", t.partitions},
                       {"lag_messages", t.lag_messages},
                       {"lag_seconds", t.lag_seconds.count()},
                       {"unmeasured_partitions", t.unmeasured_partitions}});
      } else {
        fmt::print("{:<26} {:<16} {:>12} {:>12.1f}{}\n", report->group, t.topic, t.lag_messages, t.lag_seconds.count(),
                   t.unmeasured_partitions ? fmt::format("  ({} partitions unmeasured)", t.unmeasured_partitions) : "");
      }
    }
  }
  if (json) print_json(out);
  return exit_ok;
}

}  // namespace

void add_ops_commands(CLI::App& app, int& result) {
  auto* topics = app.add_subcommand("topics", "The catalogue's topics on a cluster");
  topics->require_subcommand(1);
  struct topics_command {
    const char* name;
    const char* help;
    const char* example;
    int (*run)(const kafka_options&, bool);
  };
  for (const auto& command : {
           topics_command{"list", "List the cluster's topics and partition counts", "horizons topics list",
                          run_topics_list},
           topics_command{"ensure",
                          "Create missing catalogue topics (and .dlq twins); report drift of existing ones (exit 1)",
                          "horizons topics ensure --brokers 127.0.0.1:9092", run_topics_ensure},
           topics_command{"describe", "Partitions, replication, leaders and configs of every catalogue topic",
                          "horizons topics describe --json", run_topics_describe},
       }) {
    auto connection = std::make_shared<kafka_options>();
    auto json = std::make_shared<bool>(false);
    auto* sub = topics->add_subcommand(command.name, command.help);
    sub->add_flag("--json", *json, "Machine-readable output");
    add_kafka_options(sub, connection);
    sub->footer(fmt::format("Example:\n  {}", command.example));
    sub->callback([&result, connection, json, run = command.run] { result = run(*connection, *json); });
  }

  auto health_connection = std::make_shared<kafka_options>();
  auto health_json = std::make_shared<bool>(false);
  auto* health =
      app.add_subcommand("health", "Brokers up, partitions without leader or under-replicated (exit 1 if unhealthy)");
  health->add_flag("--json", *health_json, "Machine-readable output");
  add_kafka_options(health, health_connection);
  health->footer("Example:\n  horizons health --json | jq .healthy");
  health->callback(
      [&result, health_connection, health_json] { result = run_health(*health_connection, *health_json); });

  auto lag_connection = std::make_shared<kafka_options>();
  auto lag_json = std::make_shared<bool>(false);
  auto lag_group = std::make_shared<std::string>();
  auto* lag = app.add_subcommand("lag", "Consumer lag in messages and seconds, per group and topic");
  lag->add_option("--group", *lag_group, "Only this group, on every catalogue topic (default: each topic's own group)");
  lag->add_flag("--json", *lag_json, "Machine-readable output");
  add_kafka_options(lag, lag_connection);
  lag->footer("Examples:\n  horizons lag\n  horizons lag --group job-processor --json");
  lag->callback(
      [&result, lag_connection, lag_group, lag_json] { result = run_lag(*lag_connection, *lag_group, *lag_json); });
}

}  // namespace horizons::cli
