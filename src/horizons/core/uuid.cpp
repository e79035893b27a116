#include <horizons/uuid.hpp>

namespace horizons {

namespace {

uuid make_v4(std::uint64_t high, std::uint64_t low) {
  std::array<std::uint8_t, 16> bytes{};
  for (int i = 0; i < 8; ++i) {
    bytes[i] = static_cast<std::uint8_t>(high >> (56 - 8 * i));
    bytes[8 + i] = static_cast<std::uint8_t>(low >> (56 - 8 * i));
  }
  bytes[6] = static_cast<std::uint8_t>((bytes[6] & 0x0f) | 0x40);  // version 4
  bytes[8] = static_cast<std::uint8_t>((bytes[8] & 0x3f) | 0x80);  // RFC 4122 variant
  return uuid(bytes);
}

}  // namespace

uuid uuid::random() {
  thread_local std::mt19937_64 rng{[] {
    std::random_device device;
    std::seed_seq seed{device(), device(), device(), device(), device(), device()};
    return std::mt19937_64(seed);
  }()};
  return random(rng);
}

uuid uuid::random(std::mt19937_64& rng) {
  auto high = rng();
  return make_v4(high, rng());
}

std::string uuid::to_string() const {
  std::string text(text_size, '\0');
  format_to(text.data());
  return text;
}

}  // namespace horizons
