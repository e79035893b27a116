#include "commands.hpp"

#include <horizons/catalogue.hpp>

#include <fmt/format.h>

namespace horizons::cli {

void add_schemas_commands(CLI::App& app, int& result) {
  auto* schemas = app.add_subcommand("schemas", "The Avro schemas of the event contract (one per topic)");
  schemas->require_subcommand(1);

  auto* list = schemas->add_subcommand("list", "List the topic schemas: topic, record, schema id, version");
  list->footer("Example:\n  horizons schemas list");
  list->callback([&result] {
    fmt::print("{:<16} {:<20} {:>9} {:>7}\n", "TOPIC", "RECORD", "SCHEMA_ID", "VERSION");
    auto print_row = [](const topic_spec& t, std::string_view record) {
      fmt::print("{:<16} {:<20} {:>9} {:>7}\n", t.name(), record, t.schema_id, t.schema_version);
    };
    [&]<std::size_t... I>(std::index_sequence<I...>) {
      (print_row(catalogue[I], topic_traits<static_cast<topic_id>(I)>::avro_name), ...);
    }
    (std::make_index_sequence<topic_count>{});
    result = exit_ok;
  });

  auto* show = schemas->add_subcommand("show", "Print one topic's schema (.avsc JSON)");
  auto topic = std::make_shared<std::string>();
  show->add_option("topic", *topic, "Topic name, e.g. job-lifecycle")->required();
  show->footer("Example:\n  horizons schemas show job-lifecycle | python3 -m json.tool");
  show->callback([&result, topic] {
    auto id = topic_from_name(*topic);
    if (!id) {
      fmt::print(stderr, "horizons schemas show: unknown topic '{}' (see `horizons schemas list`)\n", *topic);
      result = exit_usage;
      return;
    }
    fmt::print("{}", schema_json(*id));
    result = exit_ok;
  });
}

void add_commands(CLI::App& app, int& result) {
  add_events_commands(app, result);
  add_schemas_commands(app, result);
  add_kafka_commands(app, result);
  add_ops_commands(app, result);
  add_platform_commands(app, result);
  add_bench_commands(app, result);
  add_audit_commands(app, result);
}

}  // namespace horizons::cli
