// The framed Avro decoder, as every consumer meets a record: framing, schema id, the topic's body.
// Properties: the owning decode and the view decode (the consumer's allocation-free path) accept
// and refuse the same records with the same error; an accepted record re-encodes to bytes that
// decode again and re-encode to themselves.
#include <horizons/catalogue.hpp>
#include <horizons/codec.hpp>
#include <horizons/views.hpp>

#include "fuzz/fuzz_support.hpp"

using namespace horizons;

namespace {

template <std::size_t I>
using topic_payload = decltype(std::variant_alternative_t<I, any_event>::payload);

// decode_framed's result, by decode_view of the topic's payload variant.
std::expected<any_event, codec_error> decode_by_view(std::span<const std::byte> record) {
  auto framed = parse_frame(record);
  if (!framed) return std::unexpected(framed.error());
  auto topic = topic_from_schema_id(framed->schema_id);
  if (!topic) return std::unexpected(decode_framed(record).error());
  std::expected<any_event, codec_error> out = std::unexpected(codec_error{});
  fuzz::with_topic(*topic, [&](auto index) {
    auto view = decode_view<topic_payload<index()>>(framed->body);
    if (view) {
      out = any_event(std::in_place_index<index()>, view->to_owned());
    } else {
      out = std::unexpected(view.error());
    }
  });
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto record = fuzz::as_bytes(data, size);
  auto owned = decode_framed(record);
  auto viewed = decode_by_view(record);
  fuzz::expect(owned.has_value() == viewed.has_value(), "view and owning decode agree on acceptance");
  if (!owned) {
    fuzz::expect(owned.error().code == viewed.error().code, "view and owning decode refuse with one error");
    return 0;
  }
  byte_buffer once, again;
  encode_framed(*owned, once);
  byte_buffer by_view;
  encode_framed(*viewed, by_view);
  fuzz::expect(std::ranges::equal(once.bytes(), by_view.bytes()), "view and owning decode give one event");
  auto redecoded = decode_framed(once.bytes());
  fuzz::expect(redecoded.has_value(), "a decoded event re-encodes to a record that decodes");
  encode_framed(*redecoded, again);
  fuzz::expect(std::ranges::equal(once.bytes(), again.bytes()), "encode(decode(encode(e))) == encode(e)");
  return 0;
}
