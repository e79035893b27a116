// Reads a topic's records as they are, every partition assigned, no group
// membership: for tools (`horizons consume`, `tail`, `dlq list|replay`) and
// tests. Nothing is committed unless commit() is called. One reader may read
// several topics (one client, one wait for all of them).
//
//   auto reader = horizons::topic_reader::open(config, "job-lifecycle.dlq", horizons::read_from::beginning);
//   while (auto record = (*reader)->next(std::chrono::seconds(1))) {
//     if (!*record) break;                 // nothing within the timeout
//     use(**record);
//   }
//   (*reader)->at_end();                   // every partition read up to its end
#pragma once

#include <chrono>
#include <cstdint>
#include <expected>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <horizons/config.hpp>
#include <horizons/kafka_error.hpp>
#include <horizons/timestamp.hpp>

namespace horizons {

struct raw_record {
  std::string topic;
  std::int32_t partition = 0;
  std::int64_t offset = 0;
  timestamp time{};
  std::optional<std::string> key{};
  std::string value{};
  std::vector<std::pair<std::string, std::string>> headers{};

  /// The last header of that name.
  [[nodiscard]] std::optional<std::string_view> header(std::string_view name) const;
};

/// Where reading starts: the beginning, the end, or a group's committed offsets (the beginning
/// where it has none) — the last lets a tool resume where it stopped, using commit().
enum class read_from : std::uint8_t { beginning, end, committed };

class topic_reader {
 public:
  /// Fails if the topic does not exist or no broker answers within the config's connect timeout.
  /// `group` names the consumer group whose offsets read_from::committed and commit() use.
  [[nodiscard]] static std::expected<std::unique_ptr<topic_reader>, kafka_error> open(
      const client_config& config, const std::string& topic, read_from start,
      const std::string& group = "horizons-topic-reader");
  /// Reads every partition of every topic in `topics` (at least one); records come in arrival order.
  [[nodiscard]] static std::expected<std::unique_ptr<topic_reader>, kafka_error> open(
      const client_config& config, const std::vector<std::string>& topics, read_from start,
      const std::string& group = "horizons-topic-reader");
  ~topic_reader();
  topic_reader(const topic_reader&) = delete;
  topic_reader& operator=(const topic_reader&) = delete;

  /// The next record; nullopt when none arrived within `timeout`. Errors librdkafka recovers from by
  /// itself (a broker down, an offset query on a topic whose leaders are still being elected) are
  /// logged and read past; a fatal or an authorization error is returned.
  [[nodiscard]] std::expected<std::optional<raw_record>, kafka_error> next(std::chrono::milliseconds timeout);
  /// Commits `record` as done for the reader's group (synchronously).
  [[nodiscard]] std::expected<void, kafka_error> commit(const raw_record& record);
  /// True once every partition has been read up to the end it had when last polled.
  [[nodiscard]] bool at_end() const;
  /// Partitions read, over all topics.
  [[nodiscard]] int partition_count() const;

  struct impl;

 private:
  explicit topic_reader(std::unique_ptr<impl> state);
  std::unique_ptr<impl> impl_;
};

}  // namespace horizons
