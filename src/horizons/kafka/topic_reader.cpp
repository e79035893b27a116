#include <horizons/topic_reader.hpp>

#include <set>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "rdkafka.hpp"

namespace horizons {

std::optional<std::string_view> raw_record::header(std::string_view name) const {
  for (auto it = headers.rbegin(); it != headers.rend(); ++it) {
    if (it->first == name) return it->second;
  }
  return std::nullopt;
}

struct topic_reader::impl {
  detail::kafka_ptr client;
  std::string topics;  // for messages: "a, b"
  int partitions = 0;
  std::set<std::pair<std::string, std::int32_t>> at_end;  // partitions whose end was reached
};

namespace {

// The partition count of `topic`, or the error that names it.
std::expected<int, kafka_error> partitions_of(rd_kafka_t* client, const client_config& config,
                                              const std::string& topic) {
  detail::topic_ptr handle(rd_kafka_topic_new(client, topic.c_str(), nullptr));
  const rd_kafka_metadata_t* raw = nullptr;
  auto err = rd_kafka_metadata(client, 0, handle.get(), &raw, static_cast<int>(config.connect_timeout.count()));
  detail::metadata_ptr metadata(raw);
  if (err) {
    return std::unexpected(
        detail::make_kafka_error(err, fmt::format("read {}: no metadata from '{}' within {} ms", topic, config.brokers,
                                                  config.connect_timeout.count())));
  }
  if (metadata->topic_cnt != 1 || metadata->topics[0].err || metadata->topics[0].partition_cnt == 0) {
    auto topic_err = metadata->topic_cnt == 1 ? metadata->topics[0].err : RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART;
    return std::unexpected(detail::make_kafka_error(topic_err ? topic_err : RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART,
                                                    fmt::format("read {}", topic)));
  }
  return metadata->topics[0].partition_cnt;
}

}  // namespace

std::expected<std::unique_ptr<topic_reader>, kafka_error> topic_reader::open(const client_config& config,
                                                                             const std::string& topic, read_from start,
                                                                             const std::string& group) {
  return open(config, std::vector<std::string>{topic}, start, group);
}

std::expected<std::unique_ptr<topic_reader>, kafka_error> topic_reader::open(const client_config& config,
                                                                             const std::vector<std::string>& topics,
                                                                             read_from start,
                                                                             const std::string& group) {
  if (topics.empty()) {
    return std::unexpected(kafka_error{
        .code = RD_KAFKA_RESP_ERR__INVALID_ARG, .name = "_INVALID_ARG", .message = "topic reader: no topics to read"});
  }
  auto state = std::make_unique<impl>();
  state->topics = fmt::format("{}", fmt::join(topics, ", "));
  auto conf = detail::make_conf(config, detail::client_role::consumer);
  if (!conf) return std::unexpected(conf.error());
  // Partitions are assigned, not subscribed: the group id only names whose offsets commit() writes.
  for (auto [name, value] :
       std::initializer_list<std::pair<std::string_view, std::string_view>>{{"group.id", group},
                                                                            {"enable.auto.commit", "false"},
                                                                            {"enable.partition.eof", "true"},
                                                                            {"auto.offset.reset", "earliest"}}) {
    if (auto ok = detail::set_property(conf->get(), name, value); !ok) return std::unexpected(ok.error());
  }
  auto client = detail::make_client(RD_KAFKA_CONSUMER, *conf);
  if (!client) return std::unexpected(client.error());
  state->client = std::move(*client);

  detail::partition_list_ptr assignment(rd_kafka_topic_partition_list_new(static_cast<int>(topics.size())));
  for (const auto& topic : topics) {
    auto partitions = partitions_of(state->client.get(), config, topic);
    if (!partitions) return std::unexpected(partitions.error());
    state->partitions += *partitions;
    for (int p = 0; p < *partitions; ++p) {
      rd_kafka_topic_partition_list_add(assignment.get(), topic.c_str(), p)->offset =
          start == read_from::beginning ? RD_KAFKA_OFFSET_BEGINNING
          : start == read_from::end     ? RD_KAFKA_OFFSET_END
                                        : RD_KAFKA_OFFSET_STORED;
    }
  }
  if (auto assigned = rd_kafka_assign(state->client.get(), assignment.get())) {
    return std::unexpected(detail::make_kafka_error(assigned, fmt::format("read {}", state->topics)));
  }
  return std::unique_ptr<topic_reader>(new topic_reader(std::move(state)));
}

topic_reader::topic_reader(std::unique_ptr<impl> state) : impl_(std::move(state)) {}

topic_reader::~topic_reader() {
  if (impl_ && impl_->client) rd_kafka_consumer_close(impl_->client.get());
}

std::expected<void, kafka_error> topic_reader::commit(const raw_record& record) {
  detail::partition_list_ptr offsets(rd_kafka_topic_partition_list_new(1));
  rd_kafka_topic_partition_list_add(offsets.get(), record.topic.c_str(), record.partition)->offset = record.offset + 1;
  if (auto err = rd_kafka_commit(impl_->client.get(), offsets.get(), 0)) {
    return std::unexpected(
        detail::make_kafka_error(err, fmt::format("commit {}[{}]@{}", record.topic, record.partition, record.offset)));
  }
  return {};
}

bool topic_reader::at_end() const { return static_cast<int>(impl_->at_end.size()) == impl_->partitions; }
int topic_reader::partition_count() const { return impl_->partitions; }

std::expected<std::optional<raw_record>, kafka_error> topic_reader::next(std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    detail::message_ptr message(
        rd_kafka_consumer_poll(impl_->client.get(), static_cast<int>(std::max(left.count(), 0L))));
    if (!message) return std::nullopt;
    std::string topic = message->rkt ? rd_kafka_topic_name(message->rkt) : "";
    if (message->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
      impl_->at_end.emplace(std::move(topic), message->partition);
      if (at_end()) return std::nullopt;
      continue;
    }
    if (message->err) {
      auto error = detail::make_kafka_error(message->err, fmt::format("read {}", impl_->topics));
      if (message->err == RD_KAFKA_RESP_ERR__FATAL || message->err == RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED ||
          message->err == RD_KAFKA_RESP_ERR_GROUP_AUTHORIZATION_FAILED) {
        return std::unexpected(error);
      }
      detail::log().warn("{}", error.message);
      continue;
    }
    impl_->at_end.erase({topic, message->partition});
    raw_record record;
    record.topic = std::move(topic);
    record.partition = message->partition;
    record.offset = message->offset;
    record.time = timestamp{std::chrono::milliseconds{rd_kafka_message_timestamp(message.get(), nullptr)}};
    if (message->key) record.key.emplace(static_cast<const char*>(message->key), message->key_len);
    record.value.assign(static_cast<const char*>(message->payload), message->len);
    rd_kafka_headers_t* headers = nullptr;
    if (rd_kafka_message_headers(message.get(), &headers) == RD_KAFKA_RESP_ERR_NO_ERROR) {
      const char* name = nullptr;
      const void* value = nullptr;
      std::size_t size = 0;
      for (std::size_t i = 0; rd_kafka_header_get_all(headers, i, &name, &value, &size) == RD_KAFKA_RESP_ERR_NO_ERROR;
           ++i) {
        record.headers.emplace_back(name, value ? std::string(static_cast<const char*>(value), size) : std::string());
      }
    }
    return record;
  }
}

}  // namespace horizons
