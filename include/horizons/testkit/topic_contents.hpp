// What a topic holds, read from its beginning to its end: for tests that check what reached Kafka
// after the code under test ran.
//
//   auto events = horizons::testkit::read_events(config, "job-lifecycle");   // std::expected<…, std::string>
//   ASSERT_TRUE(events) << events.error();
//   for (const auto& e : *events) count(std::get<horizons::job_lifecycle_event>(e));
//
// "The end" is the partitions' end offsets when the reader reaches them (topic_reader::at_end()):
// records written after that are not waited for. Fails when Kafka fails, when a record does not
// decode (read_events), or when the end is not reached within `timeout`. Blocks; any thread.
#pragma once

#include <chrono>
#include <expected>
#include <string>
#include <vector>

#include <horizons/config.hpp>
#include <horizons/events.hpp>
#include <horizons/topic_reader.hpp>

namespace horizons::testkit {

/// Every record of `topic`, as Kafka holds them (value, key, headers, partition, offset).
[[nodiscard]] std::expected<std::vector<raw_record>, std::string> read_topic(
    const client_config& config, const std::string& topic,
    std::chrono::milliseconds timeout = std::chrono::seconds(30));

/// Every record of `topic` decoded (decode_framed); the error names the first that does not decode.
[[nodiscard]] std::expected<std::vector<any_event>, std::string> read_events(
    const client_config& config, const std::string& topic,
    std::chrono::milliseconds timeout = std::chrono::seconds(30));

}  // namespace horizons::testkit
