// Horizons' codec against avro-c's generic values: one typical event per
// topic, same event, same bytes (checked at setup, or the run aborts).
//
//   horizons_codec_bench                                   # console table
//   horizons_codec_bench --benchmark_format=json | /usr/bin/python3 bench/codec_table.py
//
// horizons_encode  encode_body of the event<payload> a producer holds, into a reused buffer
// horizons_decode  decode_body into a reused event<topic variant>: the consumer's steady state
// horizons_decode_view       decode_view<topic variant>: views into the body, nothing copied (views.hpp)
// horizons_decode_view_walk  the same, then every map and array of the event iterated (a handler reading all)
// horizons_decode_head       decode_head: the envelope as views and the payload branch, what the consumer
//                            reads first of a record on a topic with view handlers, to pick the handler
// avro_c_encode    avro_value_write of a prebuilt generic value into a reused memory writer
// avro_c_decode    avro_value_read into a reused generic value, memory reader reset per iteration
//
// All four work on the Avro body; the 5-byte Confluent frame header is
// counted in `framed_bytes` only. Setup messages go to stderr so that
// stdout stays pure JSON with --benchmark_format=json.
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include <benchmark/benchmark.h>
#include <fmt/format.h>

#include <horizons/catalogue.hpp>
#include <horizons/codec.hpp>
#include <horizons/schema_evolution.hpp>
#include <horizons/json.hpp>

#include "avro_c_bridge.hpp"

namespace {

namespace avro_c = horizons::avro_c;

[[noreturn]] void die(const std::string& message) {
  std::fprintf(stderr, "horizons_codec_bench: %s\n", message.c_str());
  std::abort();
}

template <class T>
T must(std::expected<T, std::string> value, std::string_view what) {
  if (!value) die(fmt::format("{}: {}", what, value.error()));
  return std::move(*value);
}

horizons::uuid id(std::string_view text) {
  auto parsed = horizons::uuid::parse(text);
  if (!parsed) die(fmt::format("bad uuid literal {}", text));
  return *parsed;
}

horizons::timestamp at(std::string_view text) {
  auto parsed = horizons::parse_rfc3339(text);
  if (!parsed) die(fmt::format("bad time literal {}", text));
  return *parsed;
}

horizons::envelope envelope_of(std::string_view event_type, std::string_view event_id) {
  horizons::envelope e;
  e.event_id = id(event_id);
  e.event_type = std::string(event_type);
  e.occurred_at = at("2026-11-29T13:03:17.123456Z");
  e.correlation_id = id("7c9e6679-7425-40de-944b-e07fc1f90ae7");
  e.schema_version = 1;
  return e;
}

template <class Payload>
horizons::event<Payload> make(horizons::envelope envelope, Payload payload) {
  horizons::event<Payload> e;
  static_cast<horizons::envelope&>(e) = std::move(envelope);
  e.payload = std::move(payload);
  return e;
}

// A job submitted from the portal: the root of its flow, so no causation_id;
// every other envelope field a real one carries.
horizons::event<horizons::job_submitted> job_submitted() {
  auto env = envelope_of("job.submitted", "3f2b8c1e-5d4a-4e7b-9c3f-1a2b3c4d5e6f");
  env.user_id = "u-1042";
  env.tags = {{"env", "prod"}, {"src", "cli"}};
  env.traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
  return make(
      std::move(env),
      horizons::job_submitted{
          .job_id = "j-7c21",
          .job_name = "vlass-quicklook-T12t34-epoch3",
          .pipeline = horizons::pipeline::image_reconstruction,
          .dataset_id = "ds-9921",
          .tacc_system = horizons::tacc_system::frontera,
          .resources = {.nodes = 4, .cores_per_node = 56, .gpus = 0, .memory_gb = 192, .wall_time_minutes = 240},
          .estimated_cost_usd = 12.75,
          .priority = horizons::job_priority::normal,
      });
}

// A 10-second sample from the node agent: numbers only, no user, no trace.
horizons::event<horizons::job_metrics_recorded> job_metrics_recorded() {
  return make(envelope_of("job.metrics.recorded", "0e8b6b8a-3c1d-4f6e-8a2b-5d4c3b2a1f0e"),
              horizons::job_metrics_recorded{
                  .job_id = "j-7c21",
                  .sampled_at = at("2026-11-29T13:03:10.000000Z"),
                  .interval_ms = 10'000,
                  .cpu_pct = 87.25,
                  .gpu_pct = 0.0,
                  .gpu_memory_gb = 0.0,
                  .memory_gb = 141.5,
                  .network_in_mb_per_s = 312.4,
                  .network_out_mb_per_s = 18.7,
                  .disk_read_iops = 5400.0,
                  .disk_write_iops = 1210.0,
                  .disk_read_mb_per_s = 690.2,
                  .disk_write_mb_per_s = 75.9,
              });
}

// The e-mail a user gets when the job above finishes.
horizons::event<horizons::notification_sent> notification_sent() {
  auto env = envelope_of("notification.sent", "5a1c2e3f-4b5d-4c6e-9f70-8192a3b4c5d6");
  env.causation_id = id("c56a4180-65aa-42ec-a945-5fd21dec0538");
  env.user_id = "u-1042";
  return make(std::move(env), horizons::notification_sent{
                                  .notification_id = "n-58e1",
                                  .recipient_id = "u-1042",
                                  .channel = horizons::notification_channel::email,
                                  .subject = "Job vlass-quicklook-T12t34-epoch3 completed",
                                  .body = "Your job finished in 41 min on Frontera; 3 images are ready.",
                                  .related_job_id = "j-7c21",
                                  .data = {{"job_id", "j-7c21"}, {"url", "/jobs/j-7c21/results"}},
                              });
}

// An operator cancelling a job through the admin API.
horizons::event<horizons::audit_action_recorded> audit_action_recorded() {
  auto env = envelope_of("audit.action.recorded", "6b2d3f40-5c6e-4d7f-8a91-a2b3c4d5e6f7");
  env.user_id = "u-0007";
  env.traceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
  return make(std::move(env), horizons::audit_action_recorded{
                                  .audit_id = "a-3391",
                                  .action = "job.cancel",
                                  .actor_id = "u-0007",
                                  .actor_role = "operator",
                                  .resource_id = "j-7c21",
                                  .resource_type = horizons::resource_type::job,
                                  .details = {{"reason", "allocation exhausted"}},
                                  .before = std::map<std::string, std::string>{{"status", "RUNNING"}},
                                  .after = std::map<std::string, std::string>{{"status", "CANCELLED"}},
                                  .client_ip = "10.12.4.87",
                              });
}

// The health monitor's periodic check of four components.
horizons::event<horizons::system_health_check> system_health_check() {
  using horizons::component;
  using horizons::health_status;
  return make(envelope_of("system.health.check", "7c3e4051-6d7f-4e80-9ba2-b3c4d5e6f708"),
              horizons::system_health_check{
                  .components = {{component::database, health_status::healthy, "primary ok", 2.4},
                                 {component::message_broker, health_status::healthy, "3/3 brokers", 1.1},
                                 {component::cache, health_status::degraded, "hit rate 61%", 0.8},
                                 {component::external_api, health_status::healthy, "tacc ok", 143.0}},
                  .active_jobs = 42,
                  .pending_jobs = 7,
                  .failed_jobs_24h = 3,
                  .queue_depth = 118,
                  .response_time_ms = 147.3,
              });
}

// Everything the four benchmarks of one event need, built and cross-checked once.
template <class Payload>
struct codec_case {
  horizons::event<Payload> event;
  using payload_variant = decltype(horizons::topic_event_of<Payload>::payload);
  horizons::topic_event_of<Payload> decoded;  // reused by horizons_decode
  horizons::byte_buffer body;                 // Horizons' body: the bytes both decoders read
  horizons::byte_buffer scratch;              // reused by horizons_encode
  avro_c::topic_schema topic;
  avro_c::generic_value prebuilt;   // the event, built by avro-c from Horizons' JSON
  avro_c::generic_value read_into;  // reused by avro_c_decode
  avro_c::memory_reader reader;
  avro_c::memory_writer writer;
  std::size_t framed_size = 0;

  explicit codec_case(horizons::event<Payload> e)
      : event(std::move(e)),
        topic(must(avro_c::topic_schema::load(horizons::payload_traits<Payload>::topic), "load schema")),
        prebuilt(must(avro_c::generic_value::create(topic.iface()), "generic value")),
        read_into(must(avro_c::generic_value::create(topic.iface()), "generic value")) {
    auto type = horizons::payload_traits<Payload>::event_type;
    horizons::encode_body(event, body);
    horizons::byte_buffer framed;
    horizons::encode_framed(event, framed);
    framed_size = framed.size();

    // Same event, same bytes: otherwise the comparison is meaningless.
    auto event_json = nlohmann::ordered_json::parse(horizons::to_json(event));
    if (auto ok = avro_c::from_json(topic, event_json, prebuilt.get()); !ok)
      die(fmt::format("{}: {}", type, ok.error()));
    auto avro_bytes = must(writer.write(prebuilt.get()), "avro_value_write");
    if (!std::ranges::equal(avro_bytes, body.bytes())) {
      die(fmt::format("{}: avro-c's encoding ({} bytes) differs from Horizons' body ({} bytes)", type,
                      avro_bytes.size(), body.size()));
    }
    if (auto ok = reader.read(body.bytes(), read_into.get()); !ok) die(fmt::format("{}: {}", type, ok.error()));
    if (auto ok = horizons::decode_body(body.bytes(), decoded); !ok || !(decoded == horizons::to_topic_event(event))) {
      die(fmt::format("{}: Horizons does not decode its own body back to the event", type));
    }
    if (auto view = horizons::decode_view<payload_variant>(body.bytes());
        !view || !(view->to_owned() == horizons::to_topic_event(event))) {
      die(fmt::format("{}: Horizons' view of its own body is not the event", type));
    }
    scratch.reserve(body.size() * 2);
    writer.reserve(body.size() * 2);
  }

  void count(benchmark::State& state) const {
    state.counters["bytes"] = static_cast<double>(body.size());
    state.counters["framed_bytes"] = static_cast<double>(framed_size);
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * body.size()));
  }

  void horizons_encode(benchmark::State& state) {
    for (auto _ : state) {
      scratch.clear();
      horizons::encode_body(event, scratch);
      benchmark::DoNotOptimize(scratch.data());
      benchmark::ClobberMemory();
    }
    count(state);
  }

  void horizons_decode(benchmark::State& state) {
    for (auto _ : state) {
      auto ok = horizons::decode_body(body.bytes(), decoded);
      benchmark::DoNotOptimize(ok);
      if (!ok) {
        state.SkipWithError(ok.error().message.c_str());
        break;
      }
      benchmark::ClobberMemory();
    }
    count(state);
  }

  void horizons_decode_view(benchmark::State& state) {
    for (auto _ : state) {
      auto view = horizons::decode_view<payload_variant>(body.bytes());
      benchmark::DoNotOptimize(view);
      if (!view) {
        state.SkipWithError(view.error().message.c_str());
        break;
      }
    }
    count(state);
  }

  void horizons_decode_head(benchmark::State& state) {
    for (auto _ : state) {
      auto head = horizons::decode_head(horizons::payload_traits<Payload>::topic, body.bytes());
      benchmark::DoNotOptimize(head);
      if (!head) {
        state.SkipWithError(head.error().message.c_str());
        break;
      }
    }
    count(state);
  }

  void horizons_decode_view_walk(benchmark::State& state) {
    for (auto _ : state) {
      auto view = horizons::decode_view<payload_variant>(body.bytes());
      if (!view) {
        state.SkipWithError(view.error().message.c_str());
        break;
      }
      std::size_t items = 0;
      auto walk = [&](const auto& record) {
        horizons::for_each_field(record, [&](std::string_view, const auto& field) {
          using field_type = std::decay_t<decltype(field)>;
          if constexpr (!std::is_same_v<field_type, std::string_view> && requires { field.begin(); }) {
            for (const auto& item : field) benchmark::DoNotOptimize(item), ++items;
          }
        });
      };
      walk(static_cast<const horizons::envelope_view&>(*view));
      std::visit(walk, view->payload);
      benchmark::DoNotOptimize(items);
    }
    count(state);
  }

  // A record written with a later version of the topic's schema (one more envelope field, a
  // nullable string, set): translated into this build's schema by a resolution plan, then decoded.
  void horizons_decode_resolved(benchmark::State& state) {
    const auto topic = horizons::payload_traits<Payload>::topic;
    auto later = nlohmann::json::parse(horizons::schema_json(topic));
    later["fields"].push_back({{"name", "observing_band"}, {"type", {"null", "string"}}, {"default", nullptr}});
    auto writer = horizons::avro_schema::parse(later.dump());
    auto reader = horizons::avro_schema::parse(horizons::schema_json(topic));
    if (!writer || !reader) return state.SkipWithError("schema");
    auto plan = horizons::resolution_plan::build(*writer, *reader);
    if (!plan) return state.SkipWithError(plan.error().front().message.c_str());
    horizons::byte_buffer translated;
    const std::string written = std::string(body.view()) + std::string("\x02\x0cL-band", 8);  // branch 1, "L-band"
    for (auto _ : state) {
      translated.clear();
      auto ok = plan->translate(horizons::as_bytes(written), translated);
      auto decoded_ok = ok ? horizons::decode_body(translated.bytes(), decoded) : std::unexpected(ok.error());
      if (!decoded_ok) {
        state.SkipWithError(decoded_ok.error().message.c_str());
        break;
      }
      benchmark::ClobberMemory();
    }
    if (!(decoded == horizons::to_topic_event(event))) state.SkipWithError("resolved decode differs from the event");
    count(state);
  }

  void avro_c_encode(benchmark::State& state) {
    avro_writer_t w = writer.get();
    for (auto _ : state) {
      avro_writer_reset(w);
      if (avro_value_write(w, &prebuilt.get()) != 0) {
        state.SkipWithError(avro_c::avro_error("avro_value_write").c_str());
        break;
      }
      benchmark::ClobberMemory();
    }
    count(state);
  }

  void avro_c_decode(benchmark::State& state) {
    avro_reader_t r = reader.get();
    const auto* bytes = reinterpret_cast<const char*>(body.data());
    auto size = static_cast<std::int64_t>(body.size());
    for (auto _ : state) {
      avro_reader_memory_set_source(r, bytes, size);
      if (avro_value_read(r, &read_into.get()) != 0) {
        state.SkipWithError(avro_c::avro_error("avro_value_read").c_str());
        break;
      }
      benchmark::ClobberMemory();
    }
    count(state);
  }
};

template <class Payload>
void register_case(horizons::event<Payload> event) {
  // Benchmarks run after main() returns from registration: the case lives for the process.
  static std::vector<std::shared_ptr<void>> keep_alive;
  auto c = std::make_shared<codec_case<Payload>>(std::move(event));
  keep_alive.push_back(c);
  std::string type(horizons::payload_traits<Payload>::event_type);
  if (type == "job.submitted") {
    std::fprintf(stderr, "job.submitted: %zu bytes framed (%zu-byte body)\n", c->framed_size, c->body.size());
    benchmark::AddCustomContext("job.submitted framed bytes", std::to_string(c->framed_size));
  }
  auto add = [&](std::string_view kind, void (codec_case<Payload>::*run)(benchmark::State&)) {
    benchmark::RegisterBenchmark(fmt::format("{}/{}", kind, type).c_str(),
                                 [c, run](benchmark::State& state) { ((*c).*run)(state); });
  };
  add("horizons_encode", &codec_case<Payload>::horizons_encode);
  add("avro_c_encode", &codec_case<Payload>::avro_c_encode);
  add("horizons_decode", &codec_case<Payload>::horizons_decode);
  add("avro_c_decode", &codec_case<Payload>::avro_c_decode);
  add("horizons_decode_view", &codec_case<Payload>::horizons_decode_view);
  add("horizons_decode_view_walk", &codec_case<Payload>::horizons_decode_view_walk);
  add("horizons_decode_head", &codec_case<Payload>::horizons_decode_head);
  add("horizons_decode_resolved", &codec_case<Payload>::horizons_decode_resolved);
}

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  register_case(job_submitted());
  register_case(job_metrics_recorded());
  register_case(notification_sent());
  register_case(audit_action_recorded());
  register_case(system_health_check());
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
