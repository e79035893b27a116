// The JSON event parser (`horizons produce`, `events encode`, stdin of the tools).
// Properties (json.hpp): an accepted text prints back as JSON that parses to the same event, and
// printing is stable: JSON -> event -> JSON -> event -> JSON gives one text.
#include <horizons/codec.hpp>
#include <horizons/json.hpp>

#include "fuzz/fuzz_support.hpp"

using namespace horizons;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto parsed = any_event_from_json(fuzz::as_text(data, size));
  if (!parsed) return 0;
  const auto printed = to_json(*parsed);
  auto reparsed = any_event_from_json(printed);
  fuzz::expect(reparsed.has_value(), "printed JSON parses");
  fuzz::expect(to_json(*reparsed) == printed, "JSON -> event -> JSON is stable");
  byte_buffer avro;
  encode_framed(*parsed, avro);
  fuzz::expect(decode_framed(avro.bytes()).has_value(), "a parsed event encodes to a record that decodes");
  return 0;
}
