#include <horizons/testkit/topic_contents.hpp>

#include <fmt/format.h>

#include <horizons/codec.hpp>

namespace horizons::testkit {

std::expected<std::vector<raw_record>, std::string> read_topic(const client_config& config, const std::string& topic,
                                                               std::chrono::milliseconds timeout) {
  auto reader = topic_reader::open(config, topic, read_from::beginning);
  if (!reader) return std::unexpected(fmt::format("{}: {}", topic, reader.error().message));
  std::vector<raw_record> records;
  for (const auto deadline = std::chrono::steady_clock::now() + timeout;;) {
    if (std::chrono::steady_clock::now() > deadline) {
      return std::unexpected(fmt::format("{}: its end not reached within {} ms ({} records read)", topic,
                                         timeout.count(), records.size()));
    }
    auto record = (*reader)->next(std::chrono::milliseconds(500));
    if (!record) return std::unexpected(fmt::format("{}: {}", topic, record.error().message));
    if (*record) {
      records.push_back(std::move(**record));
    } else if ((*reader)->at_end()) {
      return records;
    }
  }
}

std::expected<std::vector<any_event>, std::string> read_events(const client_config& config, const std::string& topic,
                                                               std::chrono::milliseconds timeout) {
  auto records = read_topic(config, topic, timeout);
  if (!records) return std::unexpected(std::move(records.error()));
  std::vector<any_event> events;
  events.reserve(records->size());
  for (const auto& r : *records) {
    auto decoded = decode_framed(std::as_bytes(std::span(r.value)));
    if (!decoded) {
      return std::unexpected(fmt::format("{}[{}]@{}: {}", r.topic, r.partition, r.offset, decoded.error().message));
    }
    events.push_back(std::move(*decoded));
  }
  return events;
}

}  // namespace horizons::testkit
