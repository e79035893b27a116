// What the fuzz targets share: the input as bytes or text, a topic chosen at run time as a
// compile-time index, and `expect`, which reports a broken property and aborts (libFuzzer then
// saves the input as a crash).
//
//   extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
//     auto bytes = horizons::fuzz::as_bytes(data, size);
//     horizons::fuzz::expect(decoded_twice == decoded_once, "decode is deterministic");
//     return 0;
//   }
//
// Every target is built twice: with libFuzzer (clang, `make fuzz`) and, with any compiler, against
// replay_main.cpp, which runs the committed corpus and regressions once (the `fuzz_replay` tests).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>
#include <string_view>
#include <utility>

#include <fmt/core.h>

#include <horizons/events.hpp>

namespace horizons::fuzz {

inline std::span<const std::byte> as_bytes(const std::uint8_t* data, std::size_t size) {
  return {reinterpret_cast<const std::byte*>(data), size};
}

inline std::string_view as_text(const std::uint8_t* data, std::size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

/// Aborts, naming the property (and what was seen, when given), when it does not hold.
inline void expect(bool holds, const char* property, std::string_view seen = {}) {
  if (holds) return;
  fmt::print(stderr, "fuzz: property broken: {}{}{}\n", property, seen.empty() ? "" : ": ", seen);
  std::abort();
}

/// Calls fn(std::integral_constant<std::size_t, I>) for the topic whose index is I.
template <class Fn>
void with_topic(topic_id topic, Fn&& fn) {
  [&]<std::size_t... I>(std::index_sequence<I...>) {
    (void)((static_cast<std::size_t>(topic) == I ? (fn(std::integral_constant<std::size_t, I>{}), true) : false) ||
           ...);
  }
  (std::make_index_sequence<topic_count>{});
}

}  // namespace horizons::fuzz
