// Views decode to what the owning decode gives, refuse what it refuses with
// the same error, iterate arrays and maps however they were blocked on the
// wire, and allocate nothing; so does decoding in two steps (envelope, then
// payload), as the consumer does.
#include <horizons/catalogue.hpp>
#include <horizons/codec.hpp>
#include <horizons/json.hpp>
#include <horizons/sample.hpp>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <random>

#include "codec/avro_binary.hpp"
#include "mutate.hpp"

namespace horizons::testing {
std::size_t allocation_count();  // counting_new.cpp: operator new calls in this process
}  // namespace horizons::testing

namespace horizons {
namespace {

template <std::size_t I>
using topic_payload = decltype(std::variant_alternative_t<I, any_event>::payload);

// Calls fn(std::integral_constant<std::size_t, I>) for the topic index of `topic`.
template <class Fn>
decltype(auto) with_topic(topic_id topic, Fn&& fn) {
  return [&]<std::size_t... I>(std::index_sequence<I...>) {
    using result = decltype(fn(std::integral_constant<std::size_t, 0>{}));
    result out{};
    (void)((static_cast<std::size_t>(topic) == I ? (out = fn(std::integral_constant<std::size_t, I>{}), true)
                                                 : false) ||
           ...);
    return out;
  }
  (std::make_index_sequence<topic_count>{});
}

using decoded = std::expected<any_event, codec_error>;

// Framing and schema ids are read before any view: their errors are decode_framed's own.
decoded frame_error(std::span<const std::byte> record) { return std::unexpected(decode_framed(record).error()); }

// decode_framed, by decode_view of the topic's payload variant and to_owned().
decoded decode_framed_by_view(std::span<const std::byte> record) {
  auto framed = parse_frame(record);
  if (!framed) return std::unexpected(framed.error());
  auto topic = topic_from_schema_id(framed->schema_id);
  if (!topic) return frame_error(record);
  return with_topic(*topic, [&](auto index) -> decoded {
    auto view = decode_view<topic_payload<index()>>(framed->body);
    if (!view) return std::unexpected(view.error());
    return any_event(std::in_place_index<index()>, view->to_owned());
  });
}

// decode_framed, by decode_head and decode_payload_view: the consumer's way.
decoded decode_framed_by_head(std::span<const std::byte> record) {
  auto framed = parse_frame(record);
  if (!framed) return std::unexpected(framed.error());
  auto topic = topic_from_schema_id(framed->schema_id);
  if (!topic) return frame_error(record);
  auto head = decode_head(*topic, framed->body);
  if (!head) return std::unexpected(head.error());
  return with_topic(*topic, [&](auto index) -> decoded {
    event_view<topic_payload<index()>> view;
    static_cast<envelope_view&>(view) = head->meta;
    if (auto ok = decode_payload_view<topic_payload<index()>>(framed->body, head->payload, head->meta.event_type,
                                                              view.payload);
        !ok) {
      return std::unexpected(ok.error());
    }
    return any_event(std::in_place_index<index()>, view.to_owned());
  });
}

// decode_framed, by decode_envelope and decode_payload: the consumer's owning way.
decoded decode_framed_in_two_steps(std::span<const std::byte> record) {
  auto framed = parse_frame(record);
  if (!framed) return std::unexpected(framed.error());
  auto topic = topic_from_schema_id(framed->schema_id);
  if (!topic) return frame_error(record);
  return with_topic(*topic, [&](auto index) -> decoded {
    any_event e(std::in_place_index<index()>);
    auto& event = std::get<index()>(e);
    auto at = decode_envelope(*topic, framed->body, event);
    if (!at) return std::unexpected(at.error());
    if (auto ok = decode_payload(framed->body, *at, event.event_type, event.payload); !ok) {
      return std::unexpected(ok.error());
    }
    return e;
  });
}

// The view paths and the two-step owning path give exactly what the owning decode gives: the event, or the error code
// and message.
void expect_same_as_owning(std::span<const std::byte> record, const std::string& what) {
  auto owning = decode_framed(record);
  for (auto [path, by_view] : {std::pair{"decode_view", decode_framed_by_view(record)},
                               std::pair{"decode_head", decode_framed_by_head(record)},
                               std::pair{"decode_envelope", decode_framed_in_two_steps(record)}}) {
    ASSERT_EQ(owning.has_value(), by_view.has_value())
        << what << " (" << path << "): owning " << (owning ? "decoded" : owning.error().message) << ", view "
        << (by_view ? "decoded" : by_view.error().message);
    if (owning) {
      // Compared by their encoding: a mutated double can be a NaN, which equals nothing.
      byte_buffer owning_bytes, view_bytes;
      encode_framed(*owning, owning_bytes);
      encode_framed(*by_view, view_bytes);
      ASSERT_EQ(view_bytes.view(), owning_bytes.view())
          << what << " (" << path << ")\nowning: " << to_json(*owning) << "\nview:   " << to_json(*by_view);
    } else {
      ASSERT_EQ(by_view.error().code, owning.error().code) << what << " (" << path << "): " << by_view.error().message;
      ASSERT_EQ(by_view.error().message, owning.error().message) << what << " (" << path << ")";
    }
  }
}

TEST(views, to_owned_equals_the_owning_decode_for_sampled_events_of_every_type) {
  for (auto range : {sample_range::valid, sample_range::extreme}) {
    event_sampler sampler(0x71E3 + static_cast<std::uint64_t>(range), range);
    byte_buffer buffer;
    for (auto type : all_event_types) {
      for (int i = 0; i < 300; ++i) {
        auto e = *sampler.next(type);
        buffer.clear();
        encode_framed(e, buffer);
        auto what = fmt::format("{} #{}", type, i);
        expect_same_as_owning(buffer.bytes(), what);
        auto by_view = decode_framed_by_view(buffer.bytes());
        ASSERT_TRUE(by_view) << what;
        ASSERT_EQ(*by_view, e) << what;
      }
    }
  }
}

TEST(views, a_single_payload_type_view_equals_its_owning_decode) {
  event_sampler sampler(0x5EED, sample_range::extreme);
  byte_buffer buffer;
  auto check = [&]<class P>(std::type_identity<P>) {
    for (int i = 0; i < 100; ++i) {
      auto e = sampler.next<P>();
      buffer.clear();
      encode_body(e, buffer);
      auto view = decode_view<P>(buffer.bytes());
      ASSERT_TRUE(view) << payload_traits<P>::event_type << ": " << view.error().message;
      ASSERT_EQ(view->to_owned(), e) << payload_traits<P>::event_type;
      static_assert(std::is_same_v<decltype(view->payload), view_of<P>>);
    }
  };
#define HORIZONS_CHECK_VIEW(P) check(std::type_identity<P>{});
  HORIZONS_FOR_EACH_PAYLOAD(HORIZONS_CHECK_VIEW)
#undef HORIZONS_CHECK_VIEW
}

TEST(views, a_record_of_another_type_is_wrong_event_type_as_for_the_owning_decode) {
  event_sampler sampler(6);
  byte_buffer buffer;
  encode_body(sampler.next<job_cancelled>(), buffer);
  auto owning = decode_body<job_submitted>(buffer.bytes());
  auto view = decode_view<job_submitted>(buffer.bytes());
  ASSERT_FALSE(owning);
  ASSERT_FALSE(view);
  EXPECT_EQ(view.error().code, codec_errc::wrong_event_type);
  EXPECT_EQ(view.error().message, owning.error().message);
}

TEST(views, every_truncation_and_random_mutation_is_refused_or_accepted_as_by_the_owning_decode) {
  event_sampler sampler(2027, sample_range::extreme);
  std::mt19937_64 rng(23);
  byte_buffer buffer;
  std::size_t refused = 0;
  for (auto type : all_event_types) {
    buffer.clear();
    encode_framed(*sampler.next(type), buffer);
    for (std::size_t size = 0; size < buffer.size(); ++size) {
      expect_same_as_owning(buffer.bytes().first(size), fmt::format("{} cut to {}", type, size));
    }
  }
  for (int round = 0; round < 20000; ++round) {
    buffer.clear();
    encode_framed(*sampler.next(all_event_types[static_cast<std::size_t>(round) % all_event_types.size()]), buffer);
    std::string bytes(buffer.view());
    testing::mutate(bytes, rng);
    expect_same_as_owning(as_bytes(bytes), fmt::format("mutation round {}", round));
    if (HasFatalFailure()) return;
    refused += decode_framed(as_bytes(bytes)) ? 0 : 1;
  }
  EXPECT_GT(refused, 10000u) << "the mutations should mostly break records";
}

// A framed job-lifecycle record written field by field (the codec's own writer), to break one thing.
class record_builder {
 public:
  record_builder() {
    auto id = spec(topic_id::job_lifecycle).schema_id;
    const std::uint8_t header[5] = {0, static_cast<std::uint8_t>(id >> 24), static_cast<std::uint8_t>(id >> 16),
                                    static_cast<std::uint8_t>(id >> 8), static_cast<std::uint8_t>(id)};
    buffer_.append(std::as_bytes(std::span(header)));
  }
  record_builder& envelope_of(std::string_view event_type, bool tags_as_negative_block = false) {
    event_sampler sampler(3);
    envelope env = sampler.next<job_submitted>();
    env.event_type = std::string(event_type);
    env.tags = {{"a", "1"}, {"b", "2"}, {"c", "3"}};
    for_each_field(env, [&](std::string_view name, const auto& field) {
      if constexpr (std::is_same_v<std::decay_t<decltype(field)>, std::map<std::string, std::string>>) {
        if (name == "tags" && tags_as_negative_block) {
          // Avro lets a writer send a block as -count and its byte size, and split a map in blocks.
          byte_buffer block;
          detail::avro_writer(block).append([&](auto& sink) {
            sink.write_string("a"), sink.write_string("1"), sink.write_string("b"), sink.write_string("2");
          });
          writer_.write_long(-2);
          writer_.write_long(static_cast<std::int64_t>(block.size()));
          buffer_.append(block.bytes());
          writer_.write_long(2);
          detail::encode_value(writer_, std::string("c"));
          detail::encode_value(writer_, std::string("3"));
          detail::encode_value(writer_, std::string("a"));  // repeated: the last value wins
          detail::encode_value(writer_, std::string("9"));
          writer_.write_long(0);
          return;
        }
      }
      detail::encode_value(writer_, field);
    });
    return *this;
  }
  record_builder& value(const auto& v) {
    detail::encode_value(writer_, v);
    return *this;
  }
  record_builder& varint(std::int64_t v) {
    writer_.write_long(v);
    return *this;
  }
  [[nodiscard]] std::span<const std::byte> bytes() const { return buffer_.bytes(); }

 private:
  byte_buffer buffer_;
  detail::avro_writer writer_{buffer_};
};

TEST(views, the_malformed_input_cases_fail_with_the_owning_decodes_errors) {
  event_sampler sampler(4);
  auto cancelled = sampler.next<job_cancelled>();
  auto failed = sampler.next<job_failed>();
  std::vector<std::pair<std::string, record_builder>> cases(7);
  cases[0].first = "payload union index out of range";
  cases[0].second.envelope_of("job.submitted").varint(7);
  cases[1].first = "negative payload union index";
  cases[1].second.envelope_of("job.submitted").varint(-1);
  cases[2].first = "enum index out of range";
  cases[2].second.envelope_of("job.submitted").varint(0).value(std::string("j")).value(std::string("n")).varint(9);
  cases[3].first = "event_type that disagrees with the payload";
  cases[3].second.envelope_of("job.failed").varint(4).value(cancelled.payload);
  cases[4].first = "int out of 32-bit range";
  cases[4]
      .second.envelope_of("job.failed")
      .varint(3)
      .value(std::string("j"))
      .value(std::string("E1"))
      .value(std::string("boom"))
      .varint(std::int64_t{1} << 33);
  cases[5].first = "invalid uuid text";
  cases[5].second.value(std::string("this-is-not-a-uuid-but-36-chars-long"));
  cases[6].first = "trailing bytes";
  cases[6].second.envelope_of("job.failed").varint(3).value(failed.payload).varint(0);
  for (const auto& [what, record] : cases) {
    ASSERT_FALSE(decode_framed(record.bytes())) << what;
    expect_same_as_owning(record.bytes(), what);
  }
}

TEST(views, maps_in_negative_and_several_blocks_iterate_in_wire_order_and_keep_the_last_value) {
  event_sampler sampler(8);
  record_builder record;
  record.envelope_of("job.cancelled", true).varint(4).value(sampler.next<job_cancelled>().payload);
  expect_same_as_owning(record.bytes(), "blocked tags");
  auto framed = parse_frame(record.bytes());
  ASSERT_TRUE(framed);
  auto view = decode_view<job_cancelled>(framed->body);
  ASSERT_TRUE(view) << view.error().message;
  std::vector<std::pair<std::string_view, std::string_view>> seen;
  for (const auto& entry : view->tags) seen.push_back(entry);
  std::vector<std::pair<std::string_view, std::string_view>> wire{{"a", "1"}, {"b", "2"}, {"c", "3"}, {"a", "9"}};
  EXPECT_EQ(seen, wire);
  EXPECT_EQ(view->tags.size(), 4u);
  EXPECT_EQ(view->tags.find("a"), std::optional<std::string_view>("9"));
  EXPECT_EQ(view->tags.find("z"), std::nullopt);
  EXPECT_EQ(view->to_owned().tags, (std::map<std::string, std::string>{{"a", "9"}, {"b", "2"}, {"c", "3"}}));
}

TEST(views, strings_point_into_the_record_bytes) {
  event_sampler sampler(9);
  byte_buffer buffer;
  encode_body(sampler.next<job_submitted>(), buffer);
  auto view = decode_view<job_submitted>(buffer.bytes());
  ASSERT_TRUE(view);
  const auto* begin = reinterpret_cast<const char*>(buffer.data());
  for (auto text : {std::string_view(view->event_type), view->payload.job_id, view->payload.job_name}) {
    EXPECT_GE(text.data(), begin);
    EXPECT_LE(text.data() + text.size(), begin + buffer.size());
  }
}

TEST(views, decoding_and_iterating_views_allocates_nothing) {
  event_sampler sampler(0xA110C, sample_range::extreme);
  std::vector<byte_buffer> records;
  for (int round = 0; round < 20; ++round) {
    for (auto type : all_event_types) {
      records.emplace_back();
      encode_framed(*sampler.next(type), records.back());
    }
  }
  std::size_t entries = 0;
  auto before = testing::allocation_count();
  for (const auto& record : records) {
    auto framed = parse_frame(record.bytes());
    auto topic = topic_from_schema_id(framed->schema_id);
    auto head = decode_head(*topic, framed->body);
    if (!head) continue;
    for (const auto& entry : head->meta.tags) entries += entry.first.size() > 0 ? 1 : 0;
    with_topic(*topic, [&](auto index) {
      view_of<topic_payload<index()>> payload;
      if (!decode_payload_view<topic_payload<index()>>(framed->body, head->payload, head->meta.event_type, payload)) {
        return 0;
      }
      auto whole = decode_view<topic_payload<index()>>(framed->body);
      if (!whole) return 0;
      // Walk every array and map in the payload.
      std::visit(
          [&](const auto& p) {
            for_each_field(p, [&](std::string_view, const auto& field) {
              using field_type = std::decay_t<decltype(field)>;
              if constexpr (requires {
                              field.begin();
                              field.size();
                            }) {
                if constexpr (!std::is_same_v<field_type, std::string_view>) {
                  for (auto it = field.begin(); it != field.end(); ++it) ++entries;
                }
              }
            });
          },
          whole->payload);
      return 0;
    });
  }
  auto made = testing::allocation_count() - before;
  EXPECT_EQ(made, 0u) << "allocations while decoding and iterating " << records.size() << " views";
  EXPECT_GT(entries, 0u) << "the sample should hold maps or arrays";

  // The counter sees allocations: keeping a view does allocate.
  auto view = decode_view<job_submitted>(parse_frame(records.front().bytes())->body);
  ASSERT_TRUE(view);
  before = testing::allocation_count();
  auto kept = view->to_owned();
  EXPECT_GT(testing::allocation_count() - before, 0u) << kept.event_type;
}

}  // namespace
}  // namespace horizons
