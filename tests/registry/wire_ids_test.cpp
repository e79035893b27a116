// Registry ids on the wire, with Apicurio (tools/registry) as the registry and the embedded cluster:
// the producer frames records with the registry's id of its schema, the consumer reads any id the
// registry knows (resolving other versions of the schema), and a record it cannot read goes to
// the dead-letter topic while the consumer carries on.
#include <horizons/codec.hpp>
#include <horizons/consumer.hpp>
#include <horizons/producer.hpp>
#include <horizons/sample.hpp>
#include <horizons/schema_registry.hpp>
#include <horizons/testkit/cluster_fixture.hpp>
#include <horizons/topic_reader.hpp>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <unistd.h>

#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "registry_tool.hpp"

namespace horizons {
namespace {

using namespace std::chrono_literals;
using testing_support::registry_url;

// The job-lifecycle schema with one more field at the end of the envelope: a later version.
std::string job_lifecycle_with_band() {
  auto schema = nlohmann::json::parse(schema_json(topic_id::job_lifecycle));
  schema["fields"].push_back({{"name", "observing_band"}, {"type", {"null", "string"}}, {"default", nullptr}});
  return schema.dump();
}

std::vector<std::byte> framed(std::int32_t id, std::span<const std::byte> body) {
  std::vector<std::byte> out{std::byte{0}};
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<std::byte>(static_cast<std::uint32_t>(id) >> (24 - 8 * i)));
  out.insert(out.end(), body.begin(), body.end());
  return out;
}

class registry_on_the_wire : public testkit::cluster_fixture {
 protected:
  void SetUp() override {
    cluster_fixture::SetUp();
    config().registry_url = registry_url();
    ASSERT_FALSE(config().registry_url.empty());
    auto made = schema_registry::create(registry_options(config()));
    ASSERT_TRUE(made) << made.error().message;
    registry_ = std::make_unique<schema_registry>(std::move(*made));
    // Ids past the catalogue's compiled ones (1..5), so a record framed with a compiled id cannot
    // pass for one framed with the registry's.
    for (int i = 0; i < 6; ++i) {
      ASSERT_TRUE(registry_->register_schema("wire-test-filler-value",
                                             fmt::format(R"({{"type":"record","name":"F{}","fields":[]}})", i)));
    }
    auto p = producer::create({.config = config()});
    ASSERT_TRUE(p) << p.error().message;
    producer_ = std::move(*p);
    submitted_ = sampler_.next<job_submitted>();
  }

  void publish_raw(std::span<const std::byte> value) {
    ASSERT_TRUE(producer_->publish_encoded({.topic = topic_id::job_lifecycle,
                                            .key = submitted_.payload.job_id,
                                            .value = value,
                                            .meta = submitted_,
                                            .event_type = submitted_.event_type},
                                           0));
    ASSERT_EQ(producer_->flush(10s), 0U);
  }

  // Consumes job-lifecycle until `count` job.submitted events were handled (or 30 s).
  std::vector<event<job_submitted>> consume(std::size_t count, consumer_stats* stats = nullptr) {
    auto made = consumer::create({.config = config(), .topics = {topic_id::job_lifecycle}, .group = "wire-test"});
    EXPECT_TRUE(made) << made.error().message;
    if (!made) return {};
    std::vector<event<job_submitted>> seen;
    (*made)->on<job_submitted>(
        [&](const envelope& meta, const job_submitted& p, const message_context&) -> handler_result {
          seen.push_back({meta, p});
          return {};
        });
    const auto until = std::chrono::steady_clock::now() + 30s;
    while (seen.size() < count && std::chrono::steady_clock::now() < until) EXPECT_TRUE((*made)->poll(100ms));
    if (stats) *stats = (*made)->stats();
    EXPECT_TRUE((*made)->close());
    return seen;
  }

  schema_registry& registry() { return *registry_; }

  event_sampler sampler_{42};
  event<job_submitted> submitted_;
  std::unique_ptr<producer> producer_;

 private:
  std::unique_ptr<schema_registry> registry_;
};

TEST_F(registry_on_the_wire, the_producer_frames_records_with_the_registrys_id_and_the_consumer_reads_them) {
  ASSERT_TRUE(producer_->publish(submitted_));
  ASSERT_EQ(producer_->flush(10s), 0U);

  auto registered = registry().lookup("job-lifecycle-value", schema_json(topic_id::job_lifecycle));
  ASSERT_TRUE(registered) << registered.error().message;
  auto reader = topic_reader::open(config(), "job-lifecycle", read_from::beginning);
  ASSERT_TRUE(reader) << reader.error().message;
  auto record = (*reader)->next(10s);
  ASSERT_TRUE(record && *record);
  auto frame = parse_frame(as_bytes(std::string_view((**record).value)));
  ASSERT_TRUE(frame);
  EXPECT_EQ(frame->schema_id, registered->id);
  EXPECT_NE(frame->schema_id, spec(topic_id::job_lifecycle).schema_id);

  const auto seen = consume(1);
  ASSERT_EQ(seen.size(), 1U);
  EXPECT_EQ(seen[0], submitted_);
}

TEST_F(registry_on_the_wire, a_tool_reading_outside_a_consumer_decodes_registry_ids_only_with_the_registry) {
  ASSERT_TRUE(producer_->publish(submitted_));
  ASSERT_EQ(producer_->flush(10s), 0U);
  auto reader = topic_reader::open(config(), "job-lifecycle", read_from::beginning);
  ASSERT_TRUE(reader) << reader.error().message;
  auto record = (*reader)->next(10s);
  ASSERT_TRUE(record && *record);
  const auto bytes = as_bytes(std::string_view((**record).value));

  auto with_registry = record_decoder::create(config());
  ASSERT_TRUE(with_registry) << with_registry.error();
  auto decoded = with_registry->decode((**record).topic, bytes);
  ASSERT_TRUE(decoded) << decoded.error().message;
  EXPECT_EQ(std::get<job_lifecycle_event>(*decoded), to_topic_event(submitted_));

  auto without = config();
  without.registry_url.clear();
  auto compiled_only = record_decoder::create(without);
  ASSERT_TRUE(compiled_only);
  auto refused = compiled_only->decode(topic_id::job_lifecycle, bytes);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, codec_errc::unknown_schema_id);
}

TEST_F(registry_on_the_wire, a_record_of_a_later_schema_version_is_read_through_resolution) {
  auto v2 = registry().register_schema(fmt::format("wire-test-{}-value", ::getpid()), job_lifecycle_with_band());
  ASSERT_TRUE(v2) << v2.error().message;
  // Version 2's bytes: this build's body, then the new field (union branch 1, "L-band").
  byte_buffer body;
  encode_body(submitted_, body);
  std::vector<std::byte> v2_body(body.bytes().begin(), body.bytes().end());
  for (int b : {0x02, 0x0c, int{'L'}, int{'-'}, int{'b'}, int{'a'}, int{'n'}, int{'d'}})
    v2_body.push_back(static_cast<std::byte>(b));
  publish_raw(framed(*v2, v2_body));

  const auto seen = consume(1);
  ASSERT_EQ(seen.size(), 1U);
  EXPECT_EQ(seen[0], submitted_);
}

TEST_F(registry_on_the_wire, records_it_cannot_read_are_dead_lettered_and_the_consumer_carries_on) {
  auto other = registry().register_schema(fmt::format("wire-test-{}-other-value", ::getpid()),
                                          R"({"type":"record","name":"Other","fields":[{"name":"x","type":"int"}]})");
  ASSERT_TRUE(other) << other.error().message;
  const std::byte one_int[] = {std::byte{0x02}};
  publish_raw(framed(987'654, one_int));  // an id the registry does not know
  publish_raw(framed(*other, one_int));   // a schema this build cannot read as job-lifecycle
  ASSERT_TRUE(producer_->publish(submitted_));
  ASSERT_EQ(producer_->flush(10s), 0U);

  consumer_stats stats;
  const auto seen = consume(1, &stats);
  ASSERT_EQ(seen.size(), 1U);
  EXPECT_EQ(seen[0], submitted_);
  EXPECT_EQ(stats.dead_lettered, 2U);

  auto reader = topic_reader::open(config(), "job-lifecycle.dlq", read_from::beginning);
  ASSERT_TRUE(reader) << reader.error().message;
  std::vector<std::string> reasons;
  while (reasons.size() < 2) {
    auto record = (*reader)->next(10s);
    ASSERT_TRUE(record && *record) << "dead letters missing";
    reasons.emplace_back((**record).header(dlq_header::error_message).value_or(""));
  }
  EXPECT_NE(reasons[0].find("schema id 987654 of a job-lifecycle record"), std::string::npos) << reasons[0];
  EXPECT_NE(reasons[1].find(fmt::format("schema id {} cannot be read as this build's job-lifecycle schema", *other)),
            std::string::npos)
      << reasons[1];
}

TEST_F(registry_on_the_wire, a_producer_that_may_not_register_refuses_to_start_on_an_unknown_schema) {
  auto strict = config();
  strict.registry_auto_register = false;
  strict.registry_subject_strategy = subject_name_strategy::record_name;  // subjects nobody registered here
  auto made = producer::create({.config = strict});
  ASSERT_FALSE(made);
  EXPECT_NE(made.error().message.find("the schema of topic job-lifecycle in the registry: looking up a schema under "
                                      "subject org.cosmichorizons.events.JobLifecycleEvent"),
            std::string::npos)
      << made.error().message;
  EXPECT_NE(made.error().message.find("SCHEMA_REGISTRY_AUTO_REGISTER is false"), std::string::npos);
}

}  // namespace
}  // namespace horizons
