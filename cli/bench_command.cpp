// horizons bench: the options of the Kafka benchmark; the benchmark itself is bench/kafka
// (horizons_kafka_bench, see kafka_bench.hpp).
#include "commands.hpp"
#include "kafka_options.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <httplib.h>

#include <cstdlib>
#include <optional>
#include <thread>

#include <kafka_bench.hpp>

namespace horizons::cli {

namespace {

// Where --trace sends spans when OTEL_EXPORTER_OTLP_ENDPOINT is unset: an OTLP/HTTP endpoint in this
// process that accepts every export and keeps nothing, so the cost measured is Horizons' own
// (spans made, batched, serialised and sent) and not a collector's.
class discarding_collector {
 public:
  discarding_collector() {
    server_.Post("/v1/traces",
                 [](const httplib::Request&, httplib::Response& r) { r.set_content("", "application/x-protobuf"); });
    port_ = server_.bind_to_any_port("127.0.0.1");  // listening from here: exports queue until accepted
    thread_ = std::jthread([this] { server_.listen_after_bind(); });
  }
  ~discarding_collector() { server_.stop(); }
  discarding_collector(const discarding_collector&) = delete;
  discarding_collector& operator=(const discarding_collector&) = delete;
  [[nodiscard]] std::string url() const { return fmt::format("http://127.0.0.1:{}", port_); }

 private:
  httplib::Server server_;
  int port_ = 0;
  std::jthread thread_;
};

int run_bench(const kafka_options& connection, const kafka_bench::bench_options& options, bool trace) {
  auto config = resolve_config(connection, false);
  if (!config) return fail("bench", config.error(), exit_usage);
  auto stop = stop_on_signals();
  std::optional<discarding_collector> collector;
  std::optional<tracing::session> tracing;
  if (trace) {
    if (std::getenv("OTEL_EXPORTER_OTLP_ENDPOINT") == nullptr &&
        std::getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") == nullptr) {
      collector.emplace();
      ::setenv("OTEL_EXPORTER_OTLP_ENDPOINT", collector->url().c_str(), 1);
    }
    int failed = exit_ok;
    tracing = start_tracing("bench", "horizons-bench", failed);
    if (!tracing) return failed;
    if (!tracing->active()) return fail("bench", fmt::format("--trace: {}", tracing->description()), exit_usage);
  }
  auto ran = kafka_bench::run(*config, options, stop);
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
  bench->add_option("--platform-postgres", options->platform_scale.postgres,
                    "platform-scale: a PostgreSQL server URL; each run gets a database of its own there (created "
                    "and dropped). Without it, SQLite only");
  bench->add_option("--platform-scale-jobs", options->platform_scale.jobs, "platform-scale: jobs per run")
      ->check(CLI::Range(10, 1'000'000))
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
      "  horizons bench --scenario platform --brokers 127.0.0.1:19092 --json   # the whole platform, 200 jobs/s\n"
      "  horizons bench --scenario platform-scale --platform-postgres \"$(tools/postgres/postgres.sh url)\"");
  auto trace = std::make_shared<bool>(false);
  bench->add_flag("--trace", *trace,
                  "Trace Horizons' side with OpenTelemetry (a span per publish and per handler call; the raw side "
                  "is not traced), exporting to OTEL_EXPORTER_OTLP_ENDPOINT or, when unset, to an endpoint in "
                  "this process that discards what it receives");
  bench->callback([&result, connection, options, trace] { result = run_bench(*connection, *options, *trace); });
}

}  // namespace horizons::cli
