// kafka_bench::run (see kafka_bench.hpp): the cluster and topic, the sampled events, the scenarios with
// their sides taking turns, then the report.
#include "kafka_bench.hpp"

#include <algorithm>
#include <fstream>
#include <functional>
#include <iterator>
#include <memory>
#include <optional>
#include <set>

#include <unistd.h>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include <horizons/admin.hpp>
#include <horizons/embedded_cluster.hpp>
#include <horizons/publisher.hpp>
#include <horizons/sample.hpp>

#include "context.hpp"
#include "raw_side.hpp"
#include "report.hpp"
#include "svg_plot.hpp"
#include "typed_side.hpp"

namespace horizons::kafka_bench {

const std::vector<std::string>& scenario_names() {
  static const std::vector<std::string> names = [] {
    const bench_options defaults;
    auto all = defaults.scenarios;
    all.emplace_back("platform");
    all.emplace_back("platform-scale");
    return all;
  }();
  return names;
}

namespace {

using side_run = std::function<std::expected<side_result, std::string>()>;

// One side of a throughput scenario: its name in the report and how to run it once.
struct throughput_side {
  side_name name;
  side_run run;
};

// The typed operations of one payload type; everything else is shared.
struct typed_ops {
  std::function<std::expected<side_result, std::string>()> produce;
  std::function<std::expected<side_result, std::string>(typed_handler)> consume;
  std::function<std::expected<side_result, std::string>(int rate, double duration_s)> e2e;
  std::function<codec_result()> codec;
};

// The sides of a produce or consume run, in the order they take their first turn: the raw ones, then
// the typed ones. The report lists Horizons first.
std::vector<throughput_side> sides_of(std::string_view scenario, bench_context& ctx, const typed_ops& typed) {
  if (scenario == "produce") {
    return {{raw_side, [&ctx] { return raw_produce(ctx, ctx.options.events, "produce raw"); }},
            {horizons_side, [&typed] { return typed.produce(); }}};
  }
  std::vector<throughput_side> sides{
      {raw_side, [&ctx] { return raw_consume(ctx, raw_decode::none); }},
      {raw_batched_side, [&ctx] { return raw_consume(ctx, raw_decode::none, raw_take::batched); }},
      {raw_avro_c_side, [&ctx] { return raw_consume(ctx, raw_decode::avro_c); }}};
  for (auto kind : {typed_handler::owning, typed_handler::view}) {
    sides.push_back({side_of(kind), [&typed, kind] { return typed.consume(kind); }});
  }
  return sides;
}

// Sides take turns forwards, then backwards (raw, Horizons, Horizons, raw, ...): whatever drifts during a
// run (the mock broker's state grows, the machine's load changes) weighs on every side alike. The fastest
// run of each side counts, as noise on a shared machine only ever slows a run down.
std::expected<scenario_result, std::string> run_throughput(const std::string& name, bench_context& ctx,
                                                           const typed_ops& typed) {
  auto sides = sides_of(name, ctx, typed);
  std::vector<side_outcome> outcomes;
  for (const auto& side : sides) outcomes.push_back({.name = side.name});
  for (int i = 0; i < ctx.options.repeat; ++i) {
    for (std::size_t turn = 0; turn < sides.size(); ++turn) {
      auto index = i % 2 == 0 ? turn : sides.size() - 1 - turn;
      auto ran = sides[index].run();
      if (!ran) return std::unexpected(ran.error());
      auto& outcome = outcomes[index];
      outcome.runs.push_back(rounded(ran->events_per_s, 1));
      if (outcome.runs.size() == 1 || ran->events_per_s > outcome.result.events_per_s) outcome.result = std::move(*ran);
    }
  }
  // Horizons' sides first, then raw librdkafka, then the rest: the JSON's order since the first version.
  std::ranges::stable_sort(outcomes, {}, [](const side_outcome& o) {
    return o.name.key.starts_with(horizons_side.key) ? 0 : o.name.key == raw_side.key ? 1 : 2;
  });
  return scenario_result{.name = name, .sides = std::move(outcomes)};
}

// Raw, Horizons, Horizons, raw, half the duration each: the side that runs later meets a mock broker with
// more state and shows about 0.3 ms more latency, whichever side it is.
std::expected<scenario_result, std::string> run_e2e(int rate, bench_context& ctx, const typed_ops& typed) {
  scenario_result s{.name = "e2e", .rate = rate, .sides = {{.name = horizons_side}, {.name = raw_side}}};
  for (bool horizons_first : {false, true}) {
    for (bool horizons_turn : {horizons_first, !horizons_first}) {
      auto run =
          horizons_turn ? typed.e2e(rate, ctx.options.duration_s / 2) : raw_e2e(ctx, rate, ctx.options.duration_s / 2);
      if (!run) return std::unexpected(run.error());
      merge_e2e(s.side(horizons_turn ? horizons_side.key : raw_side.key), std::move(*run), ctx);
    }
  }
  return s;
}

std::expected<void, bench_error> run_scenarios(bench_context& ctx, const typed_ops& typed) {
  report r;
  auto failed = [](const std::string& scenario, const std::string& error) {
    return std::unexpected(bench_error{fmt::format("{}: {}", scenario, error)});
  };
  for (const auto& name : ctx.options.scenarios) {
    if (name == "produce" || name == "consume") {
      if (name == "consume") {
        auto filled = fill_topic(ctx, ctx.options.events);
        if (!filled) return failed(name, filled.error());
        ctx.consume_events = *filled;
      }
      auto s = run_throughput(name, ctx, typed);
      if (!s) return failed(name, s.error());
      r.scenarios.push_back(std::move(*s));
    } else if (name == "e2e") {
      for (int rate : ctx.options.rates) {
        auto s = run_e2e(rate, ctx, typed);
        if (!s) return failed(name, s.error());
        r.scenarios.push_back(std::move(*s));
      }
    } else if (name == "codec") {
      std::atomic<std::uint64_t> none{0};
      progress bar("codec", 0, none, false);
      auto codec = typed.codec();
      bar.finish(fmt::format("encode {:.1f} ns, decode {:.1f} ns per event", codec.encode_ns, codec.decode_ns));
      r.scenarios.push_back({.name = name, .codec = codec});
    }
  }
  r.targets = check_targets(r);
  if (ctx.options.json) {
    fmt::print("{}\n", report_json(r, ctx).dump(2));
  } else {
    print_report(r, ctx);
  }
  if (!ctx.options.plot.empty()) {
    std::ofstream out(ctx.options.plot);
    out << plot_svg(r, ctx);
    if (!out) return std::unexpected(bench_error{fmt::format("cannot write {}", ctx.options.plot)});
  }
  return {};
}

template <payload_record Payload>
std::expected<void, bench_error> run_typed(bench_context& ctx) {
  event_sampler sampler(42);
  std::vector<event<Payload>> events;
  byte_buffer buffer;
  std::size_t bytes = 0;
  for (std::size_t i = 0; i < pool_size; ++i) {
    auto e = sampler.next<Payload>();
    buffer.clear();
    encode_framed(e, buffer);
    wire_event w{.value = std::string(buffer.view()),
                 .key = partition_key(e.payload).transform([](std::string_view k) { return std::string(k); }),
                 .event_type = payload_traits<Payload>::event_type,
                 .traceparent = e.traceparent};
    e.event_id.format_to(w.event_id.data());
    e.correlation_id.format_to(w.correlation_id.data());
    bytes += w.value.size();
    ctx.wire.push_back(std::move(w));
    events.push_back(std::move(e));
  }
  ctx.mean_bytes = static_cast<double>(bytes) / pool_size;
  auto bench = std::make_shared<typed_bench<Payload>>(ctx, std::move(events));
  return run_scenarios(ctx, {.produce = [bench] { return bench->produce(); },
                             .consume = [bench](typed_handler kind) { return bench->consume(kind); },
                             .e2e = [bench](int rate, double duration_s) { return bench->e2e(rate, duration_s); },
                             .codec = [bench] { return bench->codec(); }});
}

using typed_runner = std::expected<void, bench_error> (*)(bench_context&);

std::optional<std::pair<typed_runner, topic_id>> runner_of(std::string_view event_type) {
#define HORIZONS_BENCH_RUNNER(P)                                                       \
  if (event_type == payload_traits<P>::event_type) {                                   \
    return std::pair<typed_runner, topic_id>{&run_typed<P>, payload_traits<P>::topic}; \
  }
  HORIZONS_FOR_EACH_PAYLOAD(HORIZONS_BENCH_RUNNER)
#undef HORIZONS_BENCH_RUNNER
  return std::nullopt;
}

// Makes sure the topic exists: on the embedded cluster with --partitions, on a real one as the catalogue says.
std::expected<void, std::string> prepare_topic(bench_context& ctx, embedded_cluster* embedded) {
  if (embedded) {
    for (const auto& name : {ctx.topic_name, spec(ctx.topic).dlq_name()}) {
      if (auto made = embedded->create_topic(name, ctx.options.partitions); !made)
        return std::unexpected(made.error().message);
    }
  } else {
    auto made = admin::create(ctx.config);
    if (!made) return std::unexpected(made.error().message);
    auto topics = (*made)->list_topics();
    if (!topics) return std::unexpected(topics.error().message);
    if (std::ranges::none_of(*topics, [&](const topic_summary& t) { return t.name == ctx.topic_name; })) {
      if (auto ensured = (*made)->ensure_topics(); !ensured) return std::unexpected(ensured.error().error.message);
    }
  }
  auto client = raw_query_client(ctx);
  if (!client) return std::unexpected(client.error());
  auto partitions = partition_count(client->get(), ctx.topic_name, ctx.config.connect_timeout);
  if (!partitions) return std::unexpected(partitions.error());
  ctx.partitions = *partitions;
  return {};
}

}  // namespace

std::expected<void, bench_error> run(const client_config& config, const bench_options& options, std::stop_token stop) {
  auto usage = [](std::string message) {
    return std::unexpected(bench_error{std::move(message), bench_error::kind::usage});
  };
  for (const auto& s : options.scenarios) {
    if (std::ranges::find(scenario_names(), s) == scenario_names().end()) {
      return usage(fmt::format("unknown scenario '{}' ({})", s, fmt::join(scenario_names(), ", ")));
    }
  }
  if (std::ranges::find(options.scenarios, "platform-scale") != options.scenarios.end()) {
    if (options.scenarios.size() > 1)
      return usage("the platform-scale scenario runs alone (--scenario platform-scale)");
    auto results = run_platform_scale(config, options.platform_scale, options.repeat, stop);
    if (!results) return std::unexpected(bench_error{results.error()});
    print_platform_scale(*results, options.platform_scale, options.json);
    return {};
  }
  if (std::ranges::find(options.scenarios, "platform") != options.scenarios.end()) {
    if (options.scenarios.size() > 1) return usage("the platform scenario runs alone (--scenario platform)");
    auto report = run_platform(config, options.platform, stop);
    if (!report) return std::unexpected(bench_error{report.error()});
    const int warmup = config.brokers.empty() ? 0 : options.platform.warmup_jobs;
    if (options.json) {
      auto out = nlohmann::json::parse(report->json());
      out["warmup_jobs"] = warmup;
      fmt::print("{}\n", out.dump());
    } else {
      fmt::print("{}{}", report->text(),
                 warmup > 0 ? fmt::format("(after a warm-up run of {} jobs, not measured)\n", warmup) : "");
    }
    return {};
  }
  auto runner = runner_of(options.event_type);
  if (!runner) return usage(fmt::format("unknown event type '{}' (see `horizons events types`)", options.event_type));

  bench_context ctx{.options = options,
                    .config = config,
                    .cluster = config.brokers,
                    .topic = runner->second,
                    .topic_name = std::string(topic_name(runner->second)),
                    .stop = stop,
                    .tty = ::isatty(STDERR_FILENO) == 1,
                    .load_at_start = load_average()};
  std::unique_ptr<embedded_cluster> embedded;
  if (config.brokers.empty()) {
    auto before = thread_ids();
    auto started = embedded_cluster::start({.brokers = 3, .create_catalogue_topics = false});
    if (!started) return std::unexpected(bench_error{started.error().message});
    embedded = std::move(*started);
    std::set<int> cluster_threads, after = thread_ids();
    std::ranges::set_difference(after, before, std::inserter(cluster_threads, cluster_threads.end()));
    ctx.cpu.exclude(std::move(cluster_threads));
    ctx.config.brokers = embedded->bootstrap_servers();
    ctx.cluster = "embedded cluster (librdkafka mock, 3 brokers)";
    ctx.embedded = true;
  }
  if (auto ready = prepare_topic(ctx, embedded.get()); !ready) return std::unexpected(bench_error{ready.error()});
  if (!embedded && ctx.partitions != options.partitions) {
    fmt::print(stderr,
               "horizons bench: {} has {} partitions on this cluster (--partitions applies to the embedded one)\n",
               ctx.topic_name, ctx.partitions);
  }
  return runner->first(ctx);
}

}  // namespace horizons::kafka_bench
