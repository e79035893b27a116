// The job submission parser: the body of POST /jobs and `horizons submit --json`.
// Properties: an accepted submission is a valid job.submitted for the given user, and encodes.
#include <horizons/codec.hpp>
#include <horizons/validate.hpp>

#include "fuzz/fuzz_support.hpp"
#include "services/orchestrator/submission.hpp"

using namespace horizons;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto submitted = orchestrator::submission_from_json(fuzz::as_text(data, size), "alice");
  if (!submitted) {
    fuzz::expect(!submitted.error().empty(), "a refusal says why");
    return 0;
  }
  fuzz::expect(validate(*submitted).has_value(), "an accepted submission passes the contract's rules");
  byte_buffer avro;
  encode_framed(*submitted, avro);
  fuzz::expect(decode_framed(avro.bytes()).has_value(), "an accepted submission encodes to a record that decodes");
  return 0;
}
