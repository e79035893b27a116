// Random damage to an encoded record, for tests that feed decoders broken bytes.
#pragma once

#include <random>
#include <string>

namespace horizons::testing {

/// Flips, drops or inserts one to four bytes of `bytes` at random places.
inline void mutate(std::string& bytes, std::mt19937_64& rng) {
  for (int m = 0, count = 1 + static_cast<int>(rng() % 4); m < count && !bytes.empty(); ++m) {
    auto at = rng() % bytes.size();
    switch (rng() % 3) {
      case 0: bytes[at] = static_cast<char>(rng()); break;
      case 1: bytes.erase(at, 1); break;
      default: bytes.insert(at, 1, static_cast<char>(rng())); break;
    }
  }
}

}  // namespace horizons::testing
