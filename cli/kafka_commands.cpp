// horizons up | produce | consume | tail | dlq list|replay
#include "commands.hpp"
#include "kafka_options.hpp"

#include <horizons/codec.hpp>
#include <horizons/consumer.hpp>
#include <horizons/embedded_cluster.hpp>
#include <horizons/json.hpp>
#include <horizons/producer.hpp>
#include <horizons/schema_registry.hpp>
#include <horizons/topic_reader.hpp>

#include <atomic>
#include <iostream>
#include <thread>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "services/compliance_auditor/auditor.hpp"
#include "services/schema_registry/service.hpp"

namespace horizons::cli {

namespace {

using namespace std::chrono_literals;
using ordered_json = nlohmann::ordered_json;

std::optional<topic_id> catalogue_topic(std::string_view command, const std::string& name) {
  auto topic = topic_from_name(name);
  if (!topic) {
    std::string names;
    for (const auto& t : catalogue) names += (names.empty() ? "" : ", ") + std::string(t.name());
    fail(command, fmt::format("unknown topic '{}' (one of {})", name, names), exit_usage);
  }
  return topic;
}

// ---------------------------------------------------------------- up

int run_up(int brokers, const std::string& registry_listen) {
  auto stop = stop_on_signals();
  auto cluster = embedded_cluster::start({.brokers = brokers});
  if (!cluster) return fail("up", cluster.error().message);
  // The schema registry's topic (horizons serve schema-registry): the mock cluster cannot create
  // topics on request, and would auto-create it with 4 partitions where the registry needs one.
  if (auto made = (*cluster)->create_topic(schema_registry_service::options{}.topic, 1); !made) {
    return fail("up", made.error().message);
  }
  // The same for the compliance auditor's signed heads (HORIZONS_AUDIT_CHECKPOINTS_TOPIC).
  if (auto made = (*cluster)->create_topic(std::string(compliance::checkpoints_topic), 1); !made) {
    return fail("up", made.error().message);
  }
  fmt::print("embedded Kafka cluster: {} brokers, {} topics\n", brokers, (*cluster)->topics().size());
  for (const auto& t : (*cluster)->topics()) fmt::print("  {}\n", t);
  fmt::print("bootstrap servers: {}\n", (*cluster)->bootstrap_servers());
  fmt::print("export KAFKA_BROKERS={}\n", (*cluster)->bootstrap_servers());
  // Horizons' schema registry beside it, on its own topic; "none" leaves it out.
  std::unique_ptr<schema_registry_service::server> registry;
  if (registry_listen != "none") {
    client_config config;
    config.brokers = (*cluster)->bootstrap_servers();
    auto started = schema_registry_service::server::start({.config = config, .listen = registry_listen});
    if (!started) return fail("up", fmt::format("schema registry: {}", started.error()));
    registry = std::move(*started);
    fmt::print("schema registry: {}\n", registry->url());
    fmt::print("export SCHEMA_REGISTRY_URL={}\n", registry->url());
  }
  fmt::print("serving until SIGINT or SIGTERM\n");
  std::fflush(stdout);
  while (!stop.stop_requested()) std::this_thread::sleep_for(100ms);
  fmt::print("stopping\n");
  return exit_ok;
}

// ---------------------------------------------------------------- produce

int run_produce(const kafka_options& connection, const std::string& topic_text) {
  auto topic = catalogue_topic("produce", topic_text);
  if (!topic) return exit_usage;
  auto config = resolve_config(connection, true);
  if (!config) return fail("produce", config.error(), exit_usage);
  std::atomic<std::size_t> delivered{0}, failed{0};
  auto made = producer::create({.config = *config, .on_delivery = [&](const delivery_report& r) {
                                  if (r.error) {
                                    fmt::print(stderr, "horizons produce: event {} (line {}): {}\n",
                                               r.event_id.to_string(), r.tag, r.error->message);
                                    failed.fetch_add(1);
                                  } else {
                                    delivered.fetch_add(1);
                                  }
                                }});
  if (!made) return fail("produce", made.error().message);
  auto& out = **made;
  std::string line;
  std::size_t line_number = 0, refused = 0, queued = 0;
  while (std::getline(std::cin, line)) {
    ++line_number;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    auto parsed = any_event_from_json(line);
    if (!parsed) {
      fmt::print(stderr, "horizons produce: line {}: {}\n", line_number, parsed.error().message);
      ++refused;
      continue;
    }
    if (topic_of(*parsed) != *topic) {
      fmt::print(stderr, "horizons produce: line {}: {} belongs to topic {}, not {}\n", line_number,
                 event_type_of_any(*parsed), topic_name(topic_of(*parsed)), topic_text);
      ++refused;
      continue;
    }
    if (auto sent = out.publish(*parsed, line_number); !sent) {
      fmt::print(stderr, "horizons produce: line {}: {}\n", line_number, sent.error().message);
      ++refused;
      continue;
    }
    ++queued;
  }
  auto pending = out.close(config->delivery_timeout + 5s);
  fmt::print(stderr, "produced {} events to {}: {} delivered, {} failed, {} refused, {} undelivered\n", queued,
             topic_text, delivered.load(), failed.load(), refused, pending);
  return refused == 0 && failed == 0 && pending == 0 ? exit_ok : exit_bad_input;
}

// ---------------------------------------------------------------- consume and tail

enum class output_format : std::uint8_t { people, json };

// One record: for people a summary line, for pipes the event's JSON line (what `produce` reads).
void print_event(const any_event& e, std::string_view topic, std::int32_t partition, std::int64_t offset,
                 output_format format) {
  if (format == output_format::json) {
    fmt::print("{}\n", to_json(e));
  } else {
    std::visit(
        [&](const auto& topic_event) {
          auto key = partition_key(topic_event.payload);
          fmt::print("{}[{}]@{}  {}  {}  key={}  {}\n", topic, partition, offset,
                     format_rfc3339(topic_event.occurred_at).value_or("?"), event_type_of(topic_event.payload),
                     key.value_or("-"), to_json(topic_event));
        },
        e);
  }
  // Line by line: a reader at the other end of a pipe sees each record as it arrives.
  std::fflush(stdout);
}

struct consume_options {
  std::string topic;
  std::string group;
  bool from_beginning = false;
  bool until_end = false;
  std::int64_t count = -1;
  bool json = false;
};

int consume_without_group(const client_config& config, const consume_options& options, std::stop_token stop,
                          std::string_view command) {
  auto reader =
      topic_reader::open(config, options.topic, options.from_beginning ? read_from::beginning : read_from::end);
  if (!reader) return fail(command, reader.error().message);
  auto decoder = record_decoder::create(config);
  if (!decoder) return fail(command, decoder.error(), exit_usage);
  auto format = options.json ? output_format::json : output_format::people;
  std::int64_t printed = 0;
  std::size_t undecodable = 0;
  while (!stop.stop_requested() && (options.count < 0 || printed < options.count)) {
    auto record = (*reader)->next(200ms);
    if (!record) return fail(command, record.error().message);
    if (!*record) {
      if (options.until_end && (*reader)->at_end()) break;
      continue;
    }
    const auto& r = **record;
    auto decoded = decoder->decode(r.topic, as_bytes(r.value));
    if (!decoded) {
      fmt::print(stderr, "horizons {}: {}[{}]@{}: {}\n", command, r.topic, r.partition, r.offset,
                 decoded.error().message);
      ++undecodable;
      continue;
    }
    print_event(*decoded, r.topic, r.partition, r.offset, format);
    ++printed;
  }
  return undecodable == 0 ? exit_ok : exit_bad_input;
}

int consume_with_group(const client_config& config, const consume_options& options, std::stop_token stop,
                       topic_id topic) {
  auto made = consumer::create({.config = config,
                                .topics = {topic},
                                .group = options.group,
                                .start = options.from_beginning ? start_position::earliest : start_position::latest,
                                .undecodable = undecodable_policy::skip});
  if (!made) return fail("consume", made.error().message);
  auto& in = **made;
  auto format = options.json ? output_format::json : output_format::people;
  std::int64_t printed = 0;
  in.on_every([&](const envelope& meta, const auto& payload, const message_context& at) -> handler_result {
    event<std::decay_t<decltype(payload)>> e;
    static_cast<envelope&>(e) = meta;
    e.payload = payload;
    print_event(to_topic_event(std::move(e)), options.topic, at.partition, at.offset, format);
    ++printed;
    return {};
  });
  while (!stop.stop_requested() && (options.count < 0 || printed < options.count)) {
    auto remaining = options.count < 0 ? 500 : static_cast<std::size_t>(options.count - printed);
    if (auto polled = in.poll(200ms, remaining); !polled) return fail("consume", polled.error().message);
  }
  if (auto closed = in.close(); !closed) return fail("consume", closed.error().message);
  return in.stats().undecodable == 0 ? exit_ok : exit_bad_input;
}

int run_consume(const kafka_options& connection, const consume_options& options, std::string_view command) {
  auto topic = catalogue_topic(command, options.topic);
  if (!topic) return exit_usage;
  auto stop = stop_on_signals();
  auto config = resolve_config(connection, true);
  if (!config) return fail(command, config.error(), exit_usage);
  if (options.group.empty()) return consume_without_group(*config, options, stop, command);
  return consume_with_group(*config, options, stop, *topic);
}

// ---------------------------------------------------------------- dlq

ordered_json dlq_entry(const raw_record& r, topic_id topic, record_decoder& decoder) {
  const auto letter = read_dead_letter(r);
  auto value = [](const auto& field) { return field ? ordered_json(*field) : ordered_json(nullptr); };
  ordered_json entry;
  entry["dlq_offset"] = fmt::format("{}[{}]@{}", r.topic, r.partition, r.offset);
  entry["original-topic"] = value(letter.original_topic);
  entry["original-partition"] = value(letter.original_partition);
  entry["original-offset"] = value(letter.original_offset);
  entry["error-class"] = value(letter.error_class);
  entry["error-message"] = value(letter.error_message);
  entry["attempts"] = value(letter.attempts);
  entry["omitted-value-bytes"] = value(letter.omitted_value_bytes);
  auto decoded = decoder.decode(topic, as_bytes(r.value));
  entry["event"] = decoded ? ordered_json::parse(to_json(*decoded)) : ordered_json(nullptr);
  return entry;
}

int run_dlq_list(const kafka_options& connection, const std::string& topic_text, bool json) {
  auto topic = catalogue_topic("dlq list", topic_text);
  if (!topic) return exit_usage;
  auto config = resolve_config(connection, true);
  if (!config) return fail("dlq list", config.error(), exit_usage);
  auto reader = topic_reader::open(*config, spec(*topic).dlq_name(), read_from::beginning);
  if (!reader) return fail("dlq list", reader.error().message);
  auto decoder = record_decoder::create(*config);
  if (!decoder) return fail("dlq list", decoder.error(), exit_usage);
  std::size_t count = 0;
  for (;;) {
    auto record = (*reader)->next(1s);
    if (!record) return fail("dlq list", record.error().message);
    if (!*record) {
      if ((*reader)->at_end()) break;
      continue;
    }
    auto entry = dlq_entry(**record, *topic, *decoder);
    ++count;
    if (json) {
      fmt::print("{}\n", entry.dump(-1, ' ', false, ordered_json::error_handler_t::replace));
    } else {
      auto text = [&](const char* name) {
        const auto& field = entry[name];
        return field.is_null() ? std::string("-") : field.is_string() ? field.get<std::string>() : field.dump();
      };
      fmt::print("{}  from {}[{}]@{}  {} after {} attempts: {}\n", entry["dlq_offset"].get<std::string>(),
                 text("original-topic"), text("original-partition"), text("original-offset"), text("error-class"),
                 text("attempts"), text("error-message"));
    }
  }
  if (!json) fmt::print(stderr, "{} dead letters in {}\n", count, spec(*topic).dlq_name());
  return exit_ok;
}

// Re-publishes dead letters that decode; progress is committed under a group so a replay never repeats.
int run_dlq_replay(const kafka_options& connection, const std::string& topic_text) {
  auto topic = catalogue_topic("dlq replay", topic_text);
  if (!topic) return exit_usage;
  auto config = resolve_config(connection, true);
  if (!config) return fail("dlq replay", config.error(), exit_usage);
  auto group = "horizons-dlq-replay-" + topic_text;
  auto reader = topic_reader::open(*config, spec(*topic).dlq_name(), read_from::committed, group);
  if (!reader) return fail("dlq replay", reader.error().message);
  std::atomic<std::size_t> failed{0};
  auto made = producer::create({.config = *config, .on_delivery = [&](const delivery_report& r) {
                                  if (r.error) failed.fetch_add(1);
                                }});
  if (!made) return fail("dlq replay", made.error().message);
  auto decoder = record_decoder::create(*config);
  if (!decoder) return fail("dlq replay", decoder.error(), exit_usage);
  std::size_t replayed = 0, skipped = 0;
  for (;;) {
    auto record = (*reader)->next(1s);
    if (!record) return fail("dlq replay", record.error().message);
    if (!*record) {
      if ((*reader)->at_end()) break;
      continue;
    }
    const auto& r = **record;
    auto decoded = decoder->decode(*topic, as_bytes(r.value));
    if (!decoded) {
      fmt::print(stderr, "horizons dlq replay: {}[{}]@{}: still undecodable, left in the DLQ: {}\n", r.topic,
                 r.partition, r.offset, decoded.error().message);
      ++skipped;
    } else {
      if (auto sent = (*made)->publish(*decoded); !sent) return fail("dlq replay", sent.error().message);
      // Commit only once the replayed record is acknowledged: a crash replays it again rather than lose it.
      if ((*made)->flush(config->delivery_timeout + 5s) != 0 || failed.load() != 0) {
        return fail("dlq replay",
                    fmt::format("{}[{}]@{}: replay not acknowledged; stopping", r.topic, r.partition, r.offset));
      }
      ++replayed;
    }
    if (auto committed = (*reader)->commit(r); !committed) return fail("dlq replay", committed.error().message);
  }
  fmt::print(stderr, "replayed {} dead letters to {}, {} left undecodable\n", replayed, topic_text, skipped);
  return exit_ok;
}

}  // namespace

void add_kafka_commands(CLI::App& app, int& result) {
  auto* up = app.add_subcommand(
      "up", "Start the embedded Kafka cluster (librdkafka mock) with the catalogue's topics and _schemas");
  auto brokers = std::make_shared<int>(3);
  auto registry_listen = std::make_shared<std::string>("127.0.0.1:0");
  up->add_option("--brokers", *brokers, "Number of brokers")->check(CLI::Range(1, 16))->capture_default_str();
  up->add_option("--registry-listen", *registry_listen,
                 "Where Horizons' schema registry answers (host:port, port 0: a free one; none: no registry)")
      ->capture_default_str();
  up->footer(
      "Example:\n  horizons up &   # then: export KAFKA_BROKERS=<printed address> SCHEMA_REGISTRY_URL=<printed URL>");
  up->callback([&result, brokers, registry_listen] { result = run_up(*brokers, *registry_listen); });

  auto produce_connection = std::make_shared<kafka_options>();
  auto produce_topic = std::make_shared<std::string>();
  auto* produce = app.add_subcommand("produce", "Publish JSON lines from stdin as typed events to a topic");
  produce->add_option("topic", *produce_topic, "Catalogue topic, e.g. job-lifecycle")->required();
  add_kafka_options(produce, produce_connection);
  produce->footer(
      "Each line is validated and published (key, headers and compression from the catalogue);\n"
      "bad lines are reported on stderr and skipped. Exit 1 if any line was refused or undelivered.\n"
      "Example:\n  horizons events sample --type job.submitted -n 10 | horizons produce job-lifecycle --brokers "
      "127.0.0.1:9092");
  produce->callback(
      [&result, produce_connection, produce_topic] { result = run_produce(*produce_connection, *produce_topic); });

  for (auto command_name : {"consume", "tail"}) {
    bool is_tail = std::string_view(command_name) == "tail";
    auto connection = std::make_shared<kafka_options>();
    auto options = std::make_shared<consume_options>();
    auto* command = app.add_subcommand(
        command_name, is_tail ? "Follow a topic from its end, printing new events" : "Print a topic's events");
    command->add_option("topic", options->topic, "Catalogue topic, e.g. job-lifecycle")->required();
    command->add_flag("--json", options->json, "One event JSON line per record (what `produce` reads)");
    if (!is_tail) {
      command->add_option("--group", options->group, "Consume as this group, committing what was printed");
      command->add_flag("--from-beginning", options->from_beginning, "Start at the oldest record");
      command->add_flag("--until-end", options->until_end, "Stop at the end of the topic (without --group)");
      command->add_option("--count,-n", options->count, "Stop after this many events")->check(CLI::NonNegativeNumber);
      command->footer(
          "Examples:\n  horizons consume job-lifecycle --from-beginning --until-end --json > events.jsonl\n"
          "  horizons consume notifications --group audit-replay --count 100");
    } else {
      command->footer("Example:\n  horizons tail system-health");
    }
    add_kafka_options(command, connection);
    command->callback(
        [&result, connection, options, command_name] { result = run_consume(*connection, *options, command_name); });
  }

  auto* dlq = app.add_subcommand("dlq", "Inspect and replay dead letters (<topic>.dlq)");
  dlq->require_subcommand(1);
  auto dlq_connection = std::make_shared<kafka_options>();
  auto dlq_topic = std::make_shared<std::string>();
  auto dlq_json = std::make_shared<bool>(false);
  auto* list = dlq->add_subcommand("list", "List a topic's dead letters with why they failed");
  list->add_option("topic", *dlq_topic, "Catalogue topic whose .dlq to read")->required();
  list->add_flag("--json", *dlq_json, "One JSON object per dead letter");
  add_kafka_options(list, dlq_connection);
  list->footer("Example:\n  horizons dlq list job-lifecycle");
  list->callback([&result, dlq_connection, dlq_topic, dlq_json] {
    result = run_dlq_list(*dlq_connection, *dlq_topic, *dlq_json);
  });
  auto* replay = dlq->add_subcommand("replay", "Publish a topic's decodable dead letters to the topic again");
  replay->add_option("topic", *dlq_topic, "Catalogue topic whose .dlq to replay")->required();
  add_kafka_options(replay, dlq_connection);
  replay->footer(
      "Progress is committed under the group horizons-dlq-replay-<topic>: running it again replays only\n"
      "dead letters added since. Undecodable records are reported and left.\n"
      "Example:\n  horizons dlq replay notifications");
  replay->callback([&result, dlq_connection, dlq_topic] { result = run_dlq_replay(*dlq_connection, *dlq_topic); });
}

}  // namespace horizons::cli
