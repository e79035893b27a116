// Kafka's own Java client (kafka-clients, the jar tools/kafka runs the brokers with) as a reference
// peer, against the real 3-node cluster, both ways:
//  - Horizons' producer -> Java KafkaConsumer: every record arrives at the partition and offset the
//    delivery report named (the murmur2 partition of its key), with its key, its value bytes as
//    Horizons' codec frames them, and its headers (event-type, event-id, correlation-id,
//    content-type, produced-at, traceparent when set);
//  - Java KafkaProducer with its default partitioner -> Horizons' typed consumer: each keyed record
//    lands on the partition detail::murmur2_partition predicts, and is handled once, decoded to the
//    very event the test encoded, at the partition and offset Java's RecordMetadata gave.
// The Java side (java_peer/HorizonsJavaPeer.java) only moves hex bytes; the judging is done here.
#include <horizons/admin.hpp>
#include <horizons/codec.hpp>
#include <horizons/consumer.hpp>
#include <horizons/producer.hpp>
#include <horizons/sample.hpp>
#include <horizons/testkit/mock_publisher.hpp>

#include <gtest/gtest.h>
#include <librdkafka/rdkafka.h>

#include <algorithm>
#include <charconv>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <sstream>
#include <unordered_map>

#include "child_process.hpp"
#include "kafka_tool.hpp"

namespace horizons {
namespace {

using namespace std::chrono_literals;

constexpr std::size_t record_count = 2'000;
constexpr std::size_t distinct_keys = 300;  // keys repeat, so several records share a partition by key
const topic_id topic = topic_id::job_lifecycle;

client_config plaintext() {
  client_config config;
  config.brokers = testing_support::kafka_brokers();
  config.client_id = testing::UnitTest::GetInstance()->current_test_info()->name();
  return config;
}

std::string to_hex(std::string_view bytes) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    out += digits[c >> 4];
    out += digits[c & 0xf];
  }
  return out;
}

std::string as_string(std::span<const std::byte> bytes) {
  return {reinterpret_cast<const char*>(bytes.data()), bytes.size()};
}

std::optional<std::string> from_hex(std::string_view text) {
  if (text.size() % 2 != 0) return std::nullopt;
  std::string out(text.size() / 2, '\0');
  for (std::size_t i = 0; i < out.size(); ++i) {
    unsigned value = 0;
    auto [end, ec] = std::from_chars(text.data() + 2 * i, text.data() + 2 * i + 2, value, 16);
    if (ec != std::errc{} || end != text.data() + 2 * i + 2) return std::nullopt;
    out[i] = static_cast<char>(value);
  }
  return out;
}

std::vector<std::string> split(std::string_view line) {
  std::vector<std::string> fields;
  std::istringstream in{std::string(line)};
  for (std::string field; in >> field;) fields.push_back(field);
  return fields;
}

std::int64_t to_int(const std::string& text) {
  std::int64_t value = -1;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  return ec == std::errc{} && end == text.data() + text.size() ? value : -1;
}

// Names the first few records that differ; the counts asserted at the end say how many did.
struct first_mismatches {
  std::size_t seen = 0;
  [[nodiscard]] bool report() { return ++seen <= 10; }
};

// Job-lifecycle events of every payload type, keys (job ids) repeating, each with its framed bytes.
struct sent_event {
  job_lifecycle_event event;
  std::string key;
  std::string value;  // Confluent-framed Avro, as Horizons' codec writes it
};

std::vector<sent_event> sample_events(std::uint64_t seed, std::string_view key_prefix) {
  event_sampler sampler(seed);
  std::vector<sent_event> events;
  events.reserve(record_count);
  for (std::size_t i = 0; i < record_count; ++i) {
    job_lifecycle_event e;
    switch (i % 5) {
      case 0: e = to_topic_event(sampler.next<job_submitted>()); break;
      case 1: e = to_topic_event(sampler.next<job_status_changed>()); break;
      case 2: e = to_topic_event(sampler.next<job_completed>()); break;
      case 3: e = to_topic_event(sampler.next<job_failed>()); break;
      default: e = to_topic_event(sampler.next<job_cancelled>()); break;
    }
    std::string key = std::string(key_prefix) + std::to_string(i % distinct_keys);
    std::visit([&](auto& payload) { payload.job_id = key; }, e.payload);
    byte_buffer framed;
    encode_framed(e, framed);
    events.push_back({.event = std::move(e), .key = std::move(key), .value = as_string(framed.bytes())});
  }
  return events;
}

// The Java program, run with the JDK's single-file source launcher on the kafka-clients jar of
// tools/kafka (`kafka.sh lib-dir`). Fails the test, naming what is missing.
class java_peer : public testing::Test {
 protected:
  static const std::string& clients_dir() { return testing_support::kafka_tool_says("lib-dir"); }
  void SetUp() override {
    namespace fs = std::filesystem;
    ASSERT_TRUE(fs::exists(HORIZONS_JAVA))
        << "no java executable (CMake found '" HORIZONS_JAVA "'); install openjdk-17-jdk-headless";
    bool has_clients_jar = false;
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(clients_dir(), ec)) {
      auto name = entry.path().filename().string();
      has_clients_jar |= name.starts_with("kafka-clients-") && name.ends_with(".jar");
    }
    ASSERT_TRUE(has_clients_jar) << "no kafka-clients-*.jar in " << clients_dir()
                                 << ": run tools/kafka/kafka.sh up (it fetches the jars)";
    auto client = admin::create(plaintext());
    ASSERT_TRUE(client) << client.error().message;
    auto ensured = (*client)->ensure_topics();
    ASSERT_TRUE(ensured) << ensured.error().error.message;
  }

  // Runs the peer to its exit; its stdout lines in `lines`, the "peer kafka-clients <version>" line
  // taken out into `client_version`. Returns the exit code.
  int run_peer(const std::vector<std::string>& args, std::vector<std::string>& lines) {
    std::vector<std::string> argv{HORIZONS_JAVA, "-XX:TieredStopAtLevel=1", "-cp", clients_dir() + "/*",
                                  HORIZONS_JAVA_PEER_SOURCE};
    argv.insert(argv.end(), args.begin(), args.end());
    testing_support::child_process peer(argv);
    std::vector<std::string> raw;
    int exit_code = peer.finish(raw);
    for (auto& line : raw) {
      while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.pop_back();
      if (line.starts_with("peer kafka-clients ")) {
        client_version = line.substr(19);
      } else {
        lines.push_back(std::move(line));
      }
    }
    return exit_code;
  }

  std::string client_version = "?";
};

TEST_F(java_peer, records_horizons_produced_are_read_by_the_java_consumer_as_sent) {
  auto events = sample_events(4242, "java-peer-out-");
  const auto started = now();
  std::mutex mutex;
  std::map<std::uint64_t, delivery_report> reports;  // by index into `events`
  {
    auto made = producer::create({.config = plaintext(), .on_delivery = [&](const delivery_report& r) {
                                    std::scoped_lock lock(mutex);
                                    reports.emplace(r.tag, r);
                                  }});
    ASSERT_TRUE(made) << made.error().message;
    for (std::size_t i = 0; i < events.size(); ++i) {
      ASSERT_TRUE((*made)->publish(events[i].event, i));
    }
    ASSERT_EQ((*made)->close(60s), 0u);
  }
  const auto finished = now();
  ASSERT_EQ(reports.size(), events.size());

  // Java reads exactly the offsets the reports named, per partition from the lowest to the highest.
  std::map<std::int32_t, std::pair<std::int64_t, std::int64_t>> ranges;  // partition -> [from, until)
  std::map<std::pair<std::int32_t, std::int64_t>, std::size_t> at;       // (partition, offset) -> index
  for (const auto& [index, r] : reports) {
    ASSERT_FALSE(r.error) << r.error->message;
    auto [range, added] = ranges.try_emplace(r.partition, r.offset, r.offset + 1);
    range->second.first = std::min(range->second.first, r.offset);
    range->second.second = std::max(range->second.second, r.offset + 1);
    at[{r.partition, r.offset}] = index;
  }
  std::vector<std::string> args{"consume", testing_support::kafka_brokers(), std::string(topic_name(topic)), "120000"};
  for (const auto& [partition, range] : ranges) {
    args.push_back(std::to_string(partition) + ":" + std::to_string(range.first) + ":" + std::to_string(range.second));
  }
  std::vector<std::string> lines;
  ASSERT_EQ(run_peer(args, lines), 0) << "the Java consumer failed (its stderr is above)";

  std::vector<int> read(events.size(), 0);
  std::size_t as_reported = 0, as_murmur2 = 0, keys_equal = 0, values_identical = 0, headers_complete = 0;
  std::size_t foreign = 0;
  first_mismatches shown;
  for (const auto& line : lines) {
    auto fields = split(line);
    ASSERT_GE(fields.size(), 5u) << line;
    ASSERT_EQ(fields[0], "record") << line;
    auto partition = static_cast<std::int32_t>(to_int(fields[1]));
    auto offset = to_int(fields[2]);
    auto found = at.find({partition, offset});
    if (found == at.end()) {
      ++foreign;  // another writer's record between ours (the tests run serially: none expected)
      continue;
    }
    const auto& sent = events[found->second];
    ++read[found->second];
    ++as_reported;
    if (partition == testkit::detail::murmur2_partition(sent.key, spec(topic).partitions)) ++as_murmur2;
    auto key = fields[3] == "-" ? std::nullopt : from_hex(fields[3]);
    if (key == sent.key) {
      ++keys_equal;
    } else {
      if (shown.report()) {
        ADD_FAILURE() << "key at " << partition << "@" << offset << ": " << fields[3] << ", sent " << sent.key;
      }
    }
    if (from_hex(fields[4]) == sent.value) {
      ++values_identical;
    } else {
      if (shown.report()) ADD_FAILURE() << "value at " << partition << "@" << offset << " differs from the event";
    }
    std::map<std::string, std::string> headers;
    for (std::size_t i = 5; i < fields.size(); ++i) {
      auto equals = fields[i].find('=');
      auto name = from_hex(std::string_view(fields[i]).substr(0, equals));
      auto value = from_hex(std::string_view(fields[i]).substr(equals + 1));
      ASSERT_TRUE(equals != std::string::npos && name && value) << line;
      headers[*name] = *value;
    }
    std::map<std::string, std::string> expected{
        {std::string(header::event_type), std::string(event_type_of(sent.event.payload))},
        {std::string(header::event_id), sent.event.event_id.to_string()},
        {std::string(header::correlation_id), sent.event.correlation_id.to_string()},
        {std::string(header::content_type), std::string(header::content_type_value)}};
    if (sent.event.traceparent) expected[std::string(header::traceparent)] = *sent.event.traceparent;
    bool complete = true;
    for (const auto& [name, value] : expected) {
      auto it = headers.find(name);
      if (it == headers.end() || it->second != value) {
        if (shown.report()) {
          ADD_FAILURE() << "header " << name << " at " << partition << "@" << offset << ": "
                        << (it == headers.end() ? "missing" : "'" + it->second + "'") << ", expected '" << value << "'";
        }
        complete = false;
      }
    }
    auto produced_at =
        headers.contains(std::string(header::produced_at)) ? to_int(headers[std::string(header::produced_at)]) : -1;
    if (produced_at < started.time_since_epoch().count() || produced_at > finished.time_since_epoch().count()) {
      if (shown.report()) {
        ADD_FAILURE() << "produced-at at " << partition << "@" << offset
                      << " is not a time of this test: " << produced_at;
      }
      complete = false;
    }
    if (complete) ++headers_complete;
  }
  auto read_once = static_cast<std::size_t>(std::ranges::count(read, 1));
  std::printf(
      "java consumer (kafka-clients %s) read %zu/%zu once each, at the partition/offset Horizons "
      "reported %zu, partitions as murmur2 predicts %zu, keys equal %zu, values identical %zu, headers "
      "complete %zu, other records in the ranges %zu\n",
      client_version.c_str(), read_once, events.size(), as_reported, as_murmur2, keys_equal, values_identical,
      headers_complete, foreign);
  EXPECT_EQ(read_once, events.size());
  EXPECT_EQ(as_reported, events.size());
  EXPECT_EQ(as_murmur2, events.size());
  EXPECT_EQ(keys_equal, events.size());
  EXPECT_EQ(values_identical, events.size());
  EXPECT_EQ(headers_complete, events.size());
}

struct rdkafka_deleter {
  void operator()(rd_kafka_t* client) const {
    rd_kafka_consumer_close(client);
    rd_kafka_destroy(client);
  }
  void operator()(rd_kafka_topic_partition_list_t* list) const { rd_kafka_topic_partition_list_destroy(list); }
};

// Commits, for `group`, the current end of every partition of `topic`: a consumer of that group then
// reads only what is written from now on, with no race against its own offset reset.
void commit_end_offsets(const std::string& group, topic_id topic) {
  char reason[512];
  auto* conf = rd_kafka_conf_new();
  ASSERT_EQ(
      rd_kafka_conf_set(conf, "bootstrap.servers", testing_support::kafka_brokers().c_str(), reason, sizeof reason),
      RD_KAFKA_CONF_OK);
  ASSERT_EQ(rd_kafka_conf_set(conf, "group.id", group.c_str(), reason, sizeof reason), RD_KAFKA_CONF_OK);
  std::unique_ptr<rd_kafka_t, rdkafka_deleter> client(rd_kafka_new(RD_KAFKA_CONSUMER, conf, reason, sizeof reason));
  if (!client) rd_kafka_conf_destroy(conf);
  ASSERT_TRUE(client) << reason;
  std::unique_ptr<rd_kafka_topic_partition_list_t, rdkafka_deleter> ends(
      rd_kafka_topic_partition_list_new(spec(topic).partitions));
  const std::string name(topic_name(topic));
  for (std::int32_t p = 0; p < spec(topic).partitions; ++p) {
    std::int64_t low = 0, high = 0;
    auto err = rd_kafka_query_watermark_offsets(client.get(), name.c_str(), p, &low, &high, 30'000);
    ASSERT_EQ(err, RD_KAFKA_RESP_ERR_NO_ERROR) << rd_kafka_err2str(err);
    rd_kafka_topic_partition_list_add(ends.get(), name.c_str(), p)->offset = high;
  }
  auto err = rd_kafka_commit(client.get(), ends.get(), 0 /* synchronous */);
  ASSERT_EQ(err, RD_KAFKA_RESP_ERR_NO_ERROR) << rd_kafka_err2str(err);
}

TEST_F(java_peer, records_the_java_producer_sent_land_where_murmur2_predicts_and_decode_in_horizons) {
  auto events = sample_events(2424, "java-peer-in-");
  std::unordered_map<uuid, std::size_t> index_of;
  for (std::size_t i = 0; i < events.size(); ++i) index_of.emplace(events[i].event.event_id, i);
  ASSERT_EQ(index_of.size(), events.size()) << "sampled event ids repeat";

  const std::string group = "java-peer-" + events.front().event.event_id.to_string();
  commit_end_offsets(group, topic);
  if (HasFatalFailure()) return;

  auto input = std::filesystem::path(testing::TempDir()) / ("horizons-java-peer-" + group + ".txt");
  {
    std::ofstream out(input);
    for (const auto& e : events) out << to_hex(e.key) << '\t' << to_hex(e.value) << '\n';
    ASSERT_TRUE(out.good()) << "writing " << input;
  }
  std::vector<std::string> lines;
  int exit_code =
      run_peer({"produce", testing_support::kafka_brokers(), std::string(topic_name(topic)), input.string()}, lines);
  std::filesystem::remove(input);
  ASSERT_EQ(exit_code, 0) << "the Java producer failed (its stderr is above)";
  ASSERT_EQ(lines.size(), events.size());

  std::vector<std::pair<std::int32_t, std::int64_t>> java_put(events.size(), {-1, -1});
  std::size_t as_murmur2 = 0;
  first_mismatches shown;
  for (const auto& line : lines) {
    auto fields = split(line);
    ASSERT_EQ(fields.size(), 4u) << line;
    ASSERT_EQ(fields[0], "sent") << line;
    auto index = static_cast<std::size_t>(to_int(fields[1]));
    ASSERT_LT(index, events.size()) << line;
    java_put[index] = {static_cast<std::int32_t>(to_int(fields[2])), to_int(fields[3])};
    auto predicted = testkit::detail::murmur2_partition(events[index].key, spec(topic).partitions);
    if (java_put[index].first == predicted) {
      ++as_murmur2;
    } else if (shown.report()) {
      ADD_FAILURE() << "key " << events[index].key << ": Java put it on partition " << java_put[index].first
                    << ", murmur2_partition predicts " << predicted;
    }
  }

  auto made = consumer::create({.config = plaintext(), .topics = {topic}, .group = group});
  ASSERT_TRUE(made) << made.error().message;
  auto& in = **made;
  std::vector<int> handled(events.size(), 0);
  std::size_t at_java_position = 0, fields_equal = 0, foreign = 0;
  auto judge = [&](const envelope& meta, const auto& payload, const message_context& at) -> handler_result {
    using payload_type = std::decay_t<decltype(payload)>;
    auto found = index_of.find(meta.event_id);
    if (found == index_of.end()) {
      ++foreign;
      return {};
    }
    const auto i = found->second;
    if (++handled[i] > 1) return {};  // at-least-once: a redelivery is counted, not judged again
    if (at.partition == java_put[i].first && at.offset == java_put[i].second) ++at_java_position;
    const auto& sent = events[i].event;
    const auto* sent_payload = std::get_if<payload_type>(&sent.payload);
    if (static_cast<const envelope&>(sent) == meta && sent_payload && *sent_payload == payload) {
      ++fields_equal;
    } else {
      if (shown.report()) ADD_FAILURE() << "event " << meta.event_id.to_string() << " decoded unlike the event sent";
    }
    return {};
  };
  in.on<job_submitted>(judge).on<job_status_changed>(judge).on<job_completed>(judge).on<job_failed>(judge);
  in.on<job_cancelled>(judge);
  auto distinct = [&] { return static_cast<std::size_t>(std::ranges::count_if(handled, [](int n) { return n > 0; })); };
  for (auto deadline = std::chrono::steady_clock::now() + 120s;
       distinct() < events.size() && std::chrono::steady_clock::now() < deadline;) {
    auto polled = in.poll(200ms);
    ASSERT_TRUE(polled) << polled.error().message;
  }
  ASSERT_TRUE(in.close());
  const auto stats = in.stats();
  auto redelivered = static_cast<std::size_t>(std::ranges::count_if(handled, [](int n) { return n > 1; }));
  std::printf(
      "java producer (kafka-clients %s, default partitioner) sent %zu, partitions as murmur2 predicts %zu; "
      "horizons consumer handled %zu/%zu, at java's partition/offset %zu, fields equal %zu, redelivered %zu, "
      "dead-lettered %zu, other events %zu\n",
      client_version.c_str(), lines.size(), as_murmur2, distinct(), events.size(), at_java_position, fields_equal,
      redelivered, static_cast<std::size_t>(stats.dead_lettered), foreign);
  EXPECT_EQ(as_murmur2, events.size());
  EXPECT_EQ(distinct(), events.size());
  EXPECT_EQ(at_java_position, events.size());
  EXPECT_EQ(fields_equal, events.size());
  EXPECT_EQ(stats.dead_lettered, 0u);
}

}  // namespace
}  // namespace horizons
