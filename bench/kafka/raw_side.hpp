// The raw side of the bench: librdkafka's own API, configured with exactly the properties Horizons'
// typed clients get (client_properties() and topic_properties(), the one list both take), sending
// and reading the pre-encoded bytes the typed side produces.
//
//   auto conf = raw_conf(config, client_role::producer, {.max_queued_messages = 500'000});
//   auto produced = raw_produce(ctx, 100'000, "produce raw");      // rd_kafka_producev, same headers
//   auto consumed = raw_consume(ctx, raw_decode::avro_c);           // rd_kafka_consumer_poll + avro-c
//   auto batched = raw_consume(ctx, raw_decode::none, raw_take::batched);
//
// Handles are the library's own RAII owners (detail::kafka_ptr, ...). The functions taking a
// bench_context block the calling thread for the run and return its figures; raw_e2e starts a
// receiving thread of its own. Errors are values naming what failed.
#pragma once

#include <chrono>
#include <cstdint>
#include <expected>
#include <string>
#include <string_view>

#include <horizons/config.hpp>

#include "context.hpp"
#include "rdkafka.hpp"  // src/horizons/kafka: the library's librdkafka owners

namespace horizons::kafka_bench {

/// A conf holding client_properties(config, role, settings) and nothing else: what a typed producer or
/// consumer is configured with, without Horizons' callbacks.
[[nodiscard]] std::expected<detail::conf_ptr, std::string> raw_conf(const client_config& config, client_role role,
                                                                    const client_settings& settings);

/// The settings the typed producers of the bench are made with (producer::options' defaults).
[[nodiscard]] client_settings producer_settings();

/// Partition count of `topic`; also proves a broker answers before anything is timed. A topic created a
/// moment ago may not be in every broker's metadata yet, or not have its leaders: asked again until `timeout`.
[[nodiscard]] std::expected<int, std::string> partition_count(rd_kafka_t* client, const std::string& topic,
                                                              std::chrono::milliseconds timeout);

/// A consumer handle for metadata and watermark queries.
[[nodiscard]] std::expected<detail::kafka_ptr, std::string> raw_query_client(const bench_context& ctx);

/// What the raw consumer does with each record besides touching its bytes.
enum class raw_decode : std::uint8_t { none, avro_c };
/// How the raw consumer takes records: one rd_kafka_consumer_poll() per record (librdkafka's own example),
/// or what has arrived in one rd_kafka_consume_batch_queue() call, as Horizons' consumer does.
enum class raw_take : std::uint8_t { one_by_one, batched };

[[nodiscard]] std::expected<side_result, std::string> raw_produce(bench_context& ctx, std::uint64_t events,
                                                                  std::string_view label);
[[nodiscard]] std::expected<side_result, std::string> raw_consume(bench_context& ctx, raw_decode decode,
                                                                  raw_take take = raw_take::one_by_one);
[[nodiscard]] std::expected<side_result, std::string> raw_e2e(bench_context& ctx, int rate, double duration_s);

/// Tops the topic up to `events` records (raw, fast) so that consume reads a pre-filled topic; returns how
/// many it holds then, at most `events`. The mock broker keeps only the newest 5 MB of each partition.
[[nodiscard]] std::expected<std::uint64_t, std::string> fill_topic(bench_context& ctx, std::uint64_t events);

}  // namespace horizons::kafka_bench
