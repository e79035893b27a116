// Writes keyed records to any topic — bytes as they are, no catalogue, no envelope, no headers —
// and waits until Kafka has acknowledged them: for a service's own bookkeeping topic (the schema
// registry's compacted `_schemas`), where a write is done only once it is durable.
//
//   auto writer = horizons::record_writer::create(config);
//   if (!writer) return fail(writer.error());
//   const horizons::keyed_record records[]{{.key = R"({"keytype":"CONFIG"})", .value = R"({"level":"FULL"})"}};
//   auto offsets = (*writer)->write("_schemas", records);    // blocks until acknowledged
//   if (!offsets) return fail(offsets.error());              // not written, or not known to be
//   use(offsets->back());                                    // where the last record landed
//
// The producer is idempotent with acks=all (client_properties(config, producer)), so the records of
// one write() land in the order given, each once, and are on every in-sync replica when write()
// returns. A record without a value is a tombstone. Records go to the partition the Java client's
// murmur2 partitioner picks for their key (for a one-partition topic: 0).
// write() waits at most the configuration's delivery timeout + 5 s; a failure names the topic and
// Kafka's reason. After a failure some records of the call may still have been written: the caller
// reads the topic to know.
// Threads: write() may be called from any thread; calls are served one at a time. Delivery reports
// are served on the calling thread (no thread of the writer's own).
#pragma once

#include <cstdint>
#include <expected>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include <horizons/config.hpp>
#include <horizons/kafka_error.hpp>

namespace horizons {

struct keyed_record {
  std::string key{};
  std::optional<std::string> value{};  ///< nullopt: a tombstone
};

class record_writer {
 public:
  /// Makes the producer (no broker is contacted yet); fails on a configuration librdkafka refuses.
  [[nodiscard]] static std::expected<std::unique_ptr<record_writer>, kafka_error> create(const client_config& config);
  /// Waits up to 10 s for records still in flight, then stops.
  ~record_writer();
  record_writer(const record_writer&) = delete;
  record_writer& operator=(const record_writer&) = delete;

  /// Writes `records` to `topic` in order and waits for every acknowledgement; their offsets, in
  /// the same order. Blocks.
  [[nodiscard]] std::expected<std::vector<std::int64_t>, kafka_error> write(const std::string& topic,
                                                                            std::span<const keyed_record> records);

  struct impl;

 private:
  explicit record_writer(std::unique_ptr<impl> state);
  std::unique_ptr<impl> impl_;
};

}  // namespace horizons
