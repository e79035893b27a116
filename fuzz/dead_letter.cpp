// A dead letter as `horizons dlq list` reads it: the dlq_header:: headers, then the record itself
// decoded and shown as JSON. Input: NUL-separated parts, header name and value in turn, the last
// part the record's value. Properties: a number header is read exactly when it is one; the event
// shown is always JSON (nlohmann's strict parser reads what to_json printed).
#include <charconv>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include <horizons/consumer.hpp>
#include <horizons/json.hpp>
#include <horizons/schema_registry.hpp>

#include "fuzz/fuzz_support.hpp"

using namespace horizons;

namespace {

// Whole text, a number in the type's range.
bool is_number(std::optional<std::string_view> text) {
  if (!text || text->empty()) return false;
  std::int64_t value = 0;
  auto [end, error] = std::from_chars(text->data(), text->data() + text->size(), value);
  return error == std::errc{} && end == text->data() + text->size();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static record_decoder decoder = *record_decoder::create(client_config{});
  std::vector<std::string_view> parts;
  for (auto text = fuzz::as_text(data, size);;) {
    const auto end = text.find('\0');
    parts.push_back(text.substr(0, end));
    if (end == std::string_view::npos) break;
    text.remove_prefix(end + 1);
  }
  raw_record record{.topic = "job-lifecycle.dlq", .value = std::string(parts.back())};
  for (std::size_t i = 0; i + 1 < parts.size(); i += 2) record.headers.emplace_back(parts[i], parts[i + 1]);

  const auto letter = read_dead_letter(record);
  fuzz::expect(letter.original_offset.has_value() == is_number(record.header(dlq_header::original_offset)),
               "the original offset is read exactly when it is a number");
  auto decoded = decoder.decode(letter.original_topic.value_or("job-lifecycle"), as_bytes(std::span(record.value)));
  if (!decoded) return 0;
  fuzz::expect(nlohmann::ordered_json::accept(to_json(*decoded)), "the event shown is JSON");
  return 0;
}
