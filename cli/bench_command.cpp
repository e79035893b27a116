// horizons bench: the options of the Kafka benchmark; the benchmark itself is bench/kafka
// (horizons_kafka_bench, see kafka_bench.hpp).
#include "commands.hpp"
#include "kafka_options.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <kafka_bench.hpp>

namespace horizons::cli {

namespace {

int run_bench(const kafka_options& connection, const kafka_bench::bench_options& options) {
  auto config = resolve_config(connection, false);
  if (!config) return fail("bench", config.error(), exit_usage);
  auto ran = kafka_bench::run(*config, options, stop_on_signals());
  if (!ran) {
    return fail("bench", ran.error().message,
                ran.error().kind == kafka_bench::bench_error::kind::usage ? exit_usage : exit_bad_input);
  }
  return exit_ok;
}

}  // namespace

void add_bench_commands(CLI::App& app, int& result) {
  auto connection = std::make_shared<kafka_options>();
  auto options = std::make_shared<kafka_bench::bench_options>();
  auto* bench = app.add_subcommand("bench", "Benchmark Horizons' typed producer and consumer against raw librdkafka");
  bench
      ->add_option("--scenario", options->scenarios,
                   fmt::format("Scenarios to run: {}", fmt::join(kafka_bench::scenario_names(), ", ")))
      ->delimiter(',')
      ->capture_default_str();
  bench->add_option("--type", options->event_type, "Event type to send")->capture_default_str();
  bench->add_option("--events", options->events, "Events per produce and consume run")
      ->check(CLI::Range(std::uint64_t{1}, std::uint64_t{100'000'000}))
      ->capture_default_str();
  bench
      ->add_option("--duration", options->duration_s,
                   "Seconds measured per e2e rate and side, in two runs (each after 1 s of warm-up)")
      ->check(CLI::Range(0.1, 3600.0))
      ->capture_default_str();
  bench->add_option("--rate", options->rates, "Offered e2e rates, events/s")
      ->delimiter(',')
      ->check(CLI::Range(1, 10'000'000))
      ->capture_default_str();
  bench->add_option("--partitions", options->partitions, "Partitions of the topic on the embedded cluster")
      ->check(CLI::Range(1, 1'000))
      ->capture_default_str();
  bench->add_option("--repeat", options->repeat, "Runs of each produce and consume side; the fastest counts")
      ->check(CLI::Range(1, 100))
      ->capture_default_str();
  bench
      ->add_option("--reports", options->reports,
                   "Where both sides serve delivery reports: caller (after each send, librdkafka's pattern) or "
                   "thread (a thread of their own, Horizons' default)")
      ->check(CLI::IsMember({"caller", "thread"}))
      ->capture_default_str();
  bench->add_flag("--json", options->json, "Machine-readable results on stdout (progress stays on stderr)");
  bench->add_option("--plot", options->plot, "Write latency curves and the throughput table to this SVG file");
  bench->add_option("--platform-jobs", options->platform.jobs, "Jobs the platform scenario submits")
      ->check(CLI::Range(1, 1'000'000))
      ->capture_default_str();
  bench->add_option("--platform-rate", options->platform.rate, "Jobs per second the platform scenario submits")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  bench
      ->add_option("--platform-warmup-jobs", options->platform.warmup_jobs,
                   "On a real cluster, jobs of an unmeasured run before the measured one (0: none)")
      ->check(CLI::Range(0, 1'000'000))
      ->capture_default_str();
  add_kafka_options(bench, connection);
  bench->footer(
      "Each scenario runs in this process through Horizons' typed API and through raw librdkafka\n"
      "sending the very same pre-encoded bytes with the same client properties (acks=all, idempotent,\n"
      "the topic's compression); consume also runs raw librdkafka decoding every record with avro-c\n"
      "(raw+avro-c). Without --brokers (or KAFKA_BROKERS) an embedded 3-broker cluster is started.\n"
      "Examples:\n"
      "  horizons bench\n"
      "  horizons bench --json --plot bench.svg > bench.json\n"
      "  horizons bench --scenario e2e --rate 10000 --duration 5\n"
      "  horizons bench --brokers 127.0.0.1:19092 --events 200000\n"
      "  horizons bench --scenario platform --brokers 127.0.0.1:19092 --json   # the whole platform, 200 jobs/s");
  bench->callback([&result, connection, options] { result = run_bench(*connection, *options); });
}

}  // namespace horizons::cli
