// read_dead_letter: the dlq_header:: headers of a dead letter, typed; what is missing or malformed is
// nullopt, never a guess.
#include <gtest/gtest.h>

#include <horizons/consumer.hpp>

namespace horizons {
namespace {

raw_record letter(std::vector<std::pair<std::string, std::string>> headers) {
  return raw_record{.topic = "job-lifecycle.dlq", .headers = std::move(headers)};
}

TEST(read_dead_letter, reads_what_the_consumer_writes) {
  auto read = read_dead_letter(letter({{"dlq-original-topic", "job-lifecycle"},
                                       {"dlq-original-partition", "3"},
                                       {"dlq-original-offset", "9000000000"},
                                       {"dlq-error-class", "handler"},
                                       {"dlq-error-message", "quota exceeded"},
                                       {"dlq-attempts", "3"},
                                       {"dlq-failed-at", "1765000000000000"}}));
  EXPECT_EQ(read.original_topic, "job-lifecycle");
  EXPECT_EQ(read.original_partition, 3);
  EXPECT_EQ(read.original_offset, 9'000'000'000);
  EXPECT_EQ(read.error_class, "handler");
  EXPECT_EQ(read.error_message, "quota exceeded");
  EXPECT_EQ(read.attempts, 3);
  ASSERT_TRUE(read.failed_at);
  EXPECT_EQ(read.failed_at->time_since_epoch().count(), 1'765'000'000'000'000);
}

TEST(read_dead_letter, missing_or_malformed_headers_are_nullopt) {
  auto read = read_dead_letter(letter({{"dlq-original-partition", "3x"},
                                       {"dlq-original-offset", "99999999999999999999"},
                                       {"dlq-attempts", ""},
                                       {"dlq-failed-at", "-"}}));
  EXPECT_FALSE(read.original_topic);
  EXPECT_FALSE(read.original_partition) << "trailing text";
  EXPECT_FALSE(read.original_offset) << "out of range";
  EXPECT_FALSE(read.attempts) << "empty";
  EXPECT_FALSE(read.failed_at);
  EXPECT_FALSE(read.error_class);
  EXPECT_FALSE(read.error_message);
}

TEST(read_dead_letter, the_last_header_of_a_name_counts) {
  auto read = read_dead_letter(letter({{"dlq-attempts", "1"}, {"dlq-attempts", "2"}}));
  EXPECT_EQ(read.attempts, 2);
}

}  // namespace
}  // namespace horizons
