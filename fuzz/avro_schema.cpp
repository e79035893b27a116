// The Avro schema parser, which reads every schema a registry serves or a producer registers.
// Properties: a schema that parses has a Parsing Canonical Form that parses to itself, reads data
// it wrote itself, and shows no changes against itself.
#include <horizons/schema_evolution.hpp>

#include "fuzz/fuzz_support.hpp"

using namespace horizons;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto schema = avro_schema::parse(fuzz::as_text(data, size));
  if (!schema) return 0;
  auto canonical = avro_schema::parse(schema->canonical_form());
  fuzz::expect(canonical.has_value(), "the canonical form parses");
  fuzz::expect(canonical->canonical_form() == schema->canonical_form(), "the canonical form is its own");
  fuzz::expect(reader_cannot_read(*schema, *schema).empty(), "a schema reads what it wrote");
  fuzz::expect(schema_changes(*schema, *schema).empty(), "a schema has no changes against itself");
  return 0;
}
