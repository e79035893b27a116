// Random events, reproducible from a seed: for tests, demos and
// `horizons events sample`.
//
//   horizons::event_sampler sampler(42);
//   auto e = sampler.next<horizons::job_submitted>();        // valid: passes validate()
//   auto any = sampler.next("job.failed");                   // std::optional<any_event>
//
// `sample_range::valid` draws events that pass validation with plausible
// values; `sample_range::extreme` also draws empty strings, UNKNOWN enum
// symbols, negative and 64-bit-extreme numbers, infinities and multi-byte
// UTF-8, to exercise the codec's corners (such events need not validate).
#pragma once

#include <cstdint>
#include <optional>
#include <random>
#include <string_view>

#include <horizons/events.hpp>

namespace horizons {

enum class sample_range : std::uint8_t { valid, extreme };

class event_sampler {
 public:
  explicit event_sampler(std::uint64_t seed, sample_range range = sample_range::valid) : rng_(seed), range_(range) {}

  template <payload_record Payload>
  [[nodiscard]] event<Payload> next();

  /// An event of a dotted type; nullopt for an unknown type.
  [[nodiscard]] std::optional<any_event> next(std::string_view event_type);

 private:
  std::mt19937_64 rng_;
  sample_range range_;
};

}  // namespace horizons
