#include <horizons/catalogue.hpp>
#include <horizons/codec.hpp>

#include <fmt/format.h>

#include "avro_binary.hpp"

namespace horizons {

std::string_view to_string(codec_errc code) {
  switch (code) {
    case codec_errc::truncated: return "truncated record";
    case codec_errc::bad_magic: return "bad magic byte";
    case codec_errc::unknown_schema_id: return "unknown schema id";
    case codec_errc::bad_union_index: return "bad union index";
    case codec_errc::bad_enum_index: return "bad enum index";
    case codec_errc::bad_length: return "bad length";
    case codec_errc::bad_varint: return "bad varint";
    case codec_errc::bad_uuid: return "bad uuid";
    case codec_errc::bad_boolean: return "bad boolean";
    case codec_errc::trailing_bytes: return "trailing bytes";
    case codec_errc::wrong_event_type: return "wrong event type";
    case codec_errc::event_type_mismatch: return "event_type mismatch";
    case codec_errc::unresolvable_schema: return "unresolvable schema";
  }
  return "codec error";
}

namespace {

codec_error make_error(codec_errc code, std::string message) { return {code, std::move(message)}; }

codec_error reader_error(const detail::avro_reader& r, std::size_t size) {
  auto message = fmt::format("{} in field '{}' at byte {} of {}", to_string(r.error()),
                             r.field().empty() ? "?" : r.field(), r.offset(), size);
  if (!r.detail().empty()) message += ": " + r.detail();
  return make_error(r.error(), std::move(message));
}

void write_frame_header(std::int32_t schema_id, byte_buffer& out) {
  auto* p = out.prepare(frame_header_size);
  p[0] = std::byte{0};
  auto id = static_cast<std::uint32_t>(schema_id);
  for (int i = 0; i < 4; ++i) p[1 + i] = std::byte(static_cast<std::uint8_t>(id >> (24 - 8 * i)));
  out.commit(frame_header_size);
}

}  // namespace

template <class Payload>
void encode_body(const event<Payload>& e, byte_buffer& out) {
  detail::avro_writer(out).append([&](auto& sink) { detail::encode_event(sink, e); });
}

template <class Payload>
void encode_framed(const event<Payload>& e, byte_buffer& out) {
  write_frame_header(spec(topic_of_payload<Payload>).schema_id, out);
  encode_body(e, out);
}

namespace {

// The payload branch of a single payload type: another branch is another event type.
template <payload_record Payload>
std::expected<void, codec_error> read_payload_branch(detail::avro_reader& r) {
  auto branch = r.read_long();
  if (!r.failed() && branch != static_cast<std::int64_t>(payload_traits<Payload>::union_index)) {
    return std::unexpected(
        make_error(codec_errc::wrong_event_type,
                   fmt::format("wrong event type: payload branch {} where {} (branch {}) was expected", branch,
                               payload_traits<Payload>::event_type, payload_traits<Payload>::union_index)));
  }
  return {};
}

// What every decode checks once the payload is read: no error, no bytes left, an event_type that names it.
std::expected<void, codec_error> check_complete(const detail::avro_reader& r, std::size_t size,
                                                std::string_view event_type, std::string_view expected_type) {
  if (r.failed()) return std::unexpected(reader_error(r, size));
  if (r.remaining() != 0) {
    return std::unexpected(
        make_error(codec_errc::trailing_bytes,
                   fmt::format("trailing bytes: {} bytes left after the record ({} bytes)", r.remaining(), size)));
  }
  if (event_type != expected_type) {
    return std::unexpected(make_error(codec_errc::event_type_mismatch,
                                      fmt::format("event_type mismatch: envelope says '{}' but the payload is {}",
                                                  event_type.substr(0, 64), expected_type)));
  }
  return {};
}

// The event type of a payload, a payload view, or a variant of either.
template <class Payload>
std::string_view event_type_of_payload(const Payload& payload) {
  if constexpr (is_variant<Payload>::value) {
    return std::visit([](const auto& p) { return event_type_of_payload(p); }, payload);
  } else if constexpr (payload_record<Payload>) {
    return payload_traits<Payload>::event_type;
  } else {
    return payload_traits<typename Payload::owned_type>::event_type;
  }
}

}  // namespace

template <class Payload>
std::expected<void, codec_error> decode_body(std::span<const std::byte> body, event<Payload>& into) {
  detail::avro_reader r(body);
  detail::decode_record(r, static_cast<envelope&>(into));
  r.set_field("payload");
  if constexpr (is_variant<Payload>::value) {
    detail::decode_value(r, into.payload);
  } else {
    if (auto branch = read_payload_branch<Payload>(r); !branch) return branch;
    detail::decode_record(r, into.payload);
  }
  return check_complete(r, body.size(), into.event_type, event_type_of(into.payload));
}

template <class Payload>
std::expected<event_view<Payload>, codec_error> decode_view(std::span<const std::byte> body) {
  event_view<Payload> view;
  detail::avro_reader r(body);
  detail::decode_view_record(r, static_cast<envelope_view&>(view));
  r.set_field("payload");
  if constexpr (is_variant<Payload>::value) {
    detail::decode_view_value(r, view.payload);
  } else {
    if (auto branch = read_payload_branch<Payload>(r); !branch) return std::unexpected(std::move(branch.error()));
    detail::decode_view_record(r, view.payload);
  }
  if (auto ok = check_complete(r, body.size(), view.event_type, event_type_of_payload(view.payload)); !ok) {
    return std::unexpected(std::move(ok.error()));
  }
  return view;
}

namespace {

// The envelope (owning or view, with decode_envelope_fields) and the payload's branch index.
template <class Envelope, class DecodeFields>
std::expected<payload_position, codec_error> read_envelope(topic_id topic, std::span<const std::byte> body,
                                                           Envelope& into, const DecodeFields& decode_fields) {
  detail::avro_reader r(body);
  decode_fields(r, into);
  r.set_field("payload");
  auto t = static_cast<std::size_t>(topic);
  auto branches = detail::topic_payload_offsets[t + 1] - detail::topic_payload_offsets[t];
  auto branch = r.read_long();
  if (!r.failed() && (branch < 0 || static_cast<std::uint64_t>(branch) >= branches)) {
    r.fail_bad_union_index(branch, branches);
  }
  if (r.failed()) return std::unexpected(reader_error(r, body.size()));
  return payload_position{.branch = static_cast<std::size_t>(branch), .offset = r.consumed()};
}

// The payload record of branch at.branch into the variant `into`, then the checks decode_body ends with.
template <class Variant, class DecodeRecord>
std::expected<void, codec_error> read_payload(std::span<const std::byte> body, payload_position at,
                                              std::string_view event_type, Variant& into,
                                              const DecodeRecord& decode_branch) {
  detail::avro_reader r(body, at.offset);
  r.set_field("payload");
  [&]<std::size_t... I>(std::index_sequence<I...>) {
    ((at.branch == I
          ? (into.index() == I ? void() : void(into.template emplace<I>()), decode_branch(r, std::get<I>(into)))
          : void()),
     ...);
  }
  (std::make_index_sequence<std::variant_size_v<Variant>>{});
  return check_complete(r, body.size(), event_type, event_type_of_payload(into));
}

}  // namespace

std::expected<event_head, codec_error> decode_head(topic_id topic, std::span<const std::byte> body) {
  event_head head;
  auto at = read_envelope(topic, body, head.meta, [](auto& r, auto& meta) { detail::decode_view_record(r, meta); });
  if (!at) return std::unexpected(std::move(at.error()));
  head.payload = *at;
  return head;
}

std::expected<payload_position, codec_error> decode_envelope(topic_id topic, std::span<const std::byte> body,
                                                             envelope& into) {
  return read_envelope(topic, body, into, [](auto& r, auto& meta) { detail::decode_record(r, meta); });
}

template <class TopicPayload>
std::expected<void, codec_error> decode_payload_view(std::span<const std::byte> body, payload_position at,
                                                     std::string_view event_type, view_of<TopicPayload>& into) {
  return read_payload(body, at, event_type, into, [](auto& r, auto& p) { detail::decode_view_record(r, p); });
}

template <class TopicPayload>
std::expected<void, codec_error> decode_payload(std::span<const std::byte> body, payload_position at,
                                                std::string_view event_type, TopicPayload& into) {
  return read_payload(body, at, event_type, into, [](auto& r, auto& p) { detail::decode_record(r, p); });
}

std::expected<frame, codec_error> parse_frame(std::span<const std::byte> record) {
  if (record.size() < frame_header_size) {
    return std::unexpected(make_error(codec_errc::truncated,
                                      fmt::format("truncated record: {} bytes, shorter than the {}-byte frame header",
                                                  record.size(), frame_header_size)));
  }
  if (record[0] != std::byte{0}) {
    return std::unexpected(make_error(codec_errc::bad_magic, fmt::format("bad magic byte 0x{:02x} (expected 0x00)",
                                                                         static_cast<unsigned>(record[0]))));
  }
  std::uint32_t id = 0;
  for (int i = 1; i < 5; ++i) id = (id << 8) | static_cast<std::uint8_t>(record[i]);
  return frame{static_cast<std::int32_t>(id), record.subspan(frame_header_size)};
}

namespace {

template <std::size_t... I>
std::expected<any_event, codec_error> decode_topic(topic_id topic, std::span<const std::byte> body,
                                                   std::index_sequence<I...>) {
  std::expected<any_event, codec_error> result =
      std::unexpected(make_error(codec_errc::unknown_schema_id, "unknown topic"));
  (void)((static_cast<std::size_t>(topic) == I ? (
                                                     result = [&]() -> std::expected<any_event, codec_error> {
                                                       any_event e{std::in_place_index<I>};
                                                       if (auto ok = decode_body(body, std::get<I>(e)); !ok)
                                                         return std::unexpected(ok.error());
                                                       return e;
                                                     }(),
                                                     true)
                                               : false) ||
         ...);
  return result;
}

}  // namespace

std::expected<any_event, codec_error> decode_topic_body(topic_id topic, std::span<const std::byte> body) {
  return decode_topic(topic, body, std::make_index_sequence<topic_count>{});
}

std::expected<any_event, codec_error> decode_framed(std::span<const std::byte> record) {
  auto framed = parse_frame(record);
  if (!framed) return std::unexpected(std::move(framed.error()));
  auto topic = topic_from_schema_id(framed->schema_id);
  if (!topic) {
    return std::unexpected(make_error(codec_errc::unknown_schema_id,
                                      fmt::format("unknown schema id {} (this build knows {}..{})", framed->schema_id,
                                                  catalogue.front().schema_id, catalogue.back().schema_id)));
  }
  return decode_topic(*topic, framed->body, std::make_index_sequence<topic_count>{});
}

void encode_framed(const any_event& e, byte_buffer& out) {
  std::visit([&](const auto& topic_event) { encode_framed(topic_event, out); }, e);
}

#define HORIZONS_INSTANTIATE_CODEC(P)                                                              \
  template void encode_body<P>(const event<P>&, byte_buffer&);                                     \
  template void encode_framed<P>(const event<P>&, byte_buffer&);                                   \
  template std::expected<void, codec_error> decode_body<P>(std::span<const std::byte>, event<P>&); \
  template std::expected<event_view<P>, codec_error> decode_view<P>(std::span<const std::byte>);
HORIZONS_FOR_EACH_PAYLOAD(HORIZONS_INSTANTIATE_CODEC)
HORIZONS_FOR_EACH_TOPIC_PAYLOAD(HORIZONS_INSTANTIATE_CODEC)
#undef HORIZONS_INSTANTIATE_CODEC
#define HORIZONS_INSTANTIATE_PAYLOAD_VIEW(P)                                                                     \
  template std::expected<void, codec_error> decode_payload_view<P>(std::span<const std::byte>, payload_position, \
                                                                   std::string_view, view_of<P>&);               \
  template std::expected<void, codec_error> decode_payload<P>(std::span<const std::byte>, payload_position,      \
                                                              std::string_view, P&);
HORIZONS_FOR_EACH_TOPIC_PAYLOAD(HORIZONS_INSTANTIATE_PAYLOAD_VIEW)
#undef HORIZONS_INSTANTIATE_PAYLOAD_VIEW

}  // namespace horizons
