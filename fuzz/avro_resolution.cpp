// Schema resolution, as a consumer decodes a record written with an older version of a topic's
// schema: the first input byte picks a version under schemas/history/, the rest is the writer's body.
// Property (schema_evolution.hpp): a body a plan translates decodes with the reader's exact
// decoder, the structure intact; only value checks the plan does not make (uuid text, the
// envelope's event type) may still refuse it. An identity plan copies unchecked (the decoder checks).
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <vector>

#include <horizons/catalogue.hpp>
#include <horizons/codec.hpp>
#include <horizons/schema_evolution.hpp>

#include "fuzz/fuzz_support.hpp"

using namespace horizons;

namespace {

struct older_version {
  topic_id topic;
  resolution_plan plan;
};

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// A plan from every committed version to this build's schema of its topic.
std::vector<older_version> load_versions() {
  std::vector<older_version> versions;
  for (const auto& spec : catalogue) {
    auto reader = avro_schema::parse(schema_json(spec.id));
    fuzz::expect(reader.has_value(), "this build's schemas parse");
    const auto folder = std::filesystem::path(HORIZONS_SOURCE_DIR) / "schemas/history" / topic_name(spec.id);
    std::vector<std::filesystem::path> files;
    for (const auto& entry : std::filesystem::directory_iterator(folder)) files.push_back(entry.path());
    std::ranges::sort(files);
    for (const auto& file : files) {
      auto writer = avro_schema::parse(read_file(file));
      fuzz::expect(writer.has_value(), "the committed history parses");
      auto plan = resolution_plan::build(*writer, *reader);
      fuzz::expect(plan.has_value(), "this build reads every committed version");
      versions.push_back({spec.id, std::move(*plan)});
    }
  }
  return versions;
}

bool structural(codec_errc code) {
  switch (code) {
    case codec_errc::truncated:
    case codec_errc::bad_length:
    case codec_errc::bad_varint:
    case codec_errc::bad_union_index:
    case codec_errc::bad_enum_index:
    case codec_errc::trailing_bytes: return true;
    default: return false;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const std::vector<older_version> versions = load_versions();
  if (size == 0) return 0;
  const auto& version = versions[data[0] % versions.size()];
  byte_buffer reader_body;
  if (!version.plan.translate(fuzz::as_bytes(data + 1, size - 1), reader_body)) return 0;
  auto decoded = decode_topic_body(version.topic, reader_body.bytes());
  fuzz::expect(decoded.has_value() || version.plan.identity() || !structural(decoded.error().code),
               "a translated body has the reader schema's structure", decoded ? "" : decoded.error().message);
  return 0;
}
