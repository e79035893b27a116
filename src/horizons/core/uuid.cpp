#include <horizons/uuid.hpp>

namespace horizons {

namespace {

constexpr char hex_digits[] = "0123456789abcdef";
// Positions of the 16 bytes' first hex digit in the 36-char canonical form.
constexpr std::array<std::uint8_t, 16> byte_positions{0, 2, 4, 6, 9, 11, 14, 16, 19, 21, 24, 26, 28, 30, 32, 34};

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

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

std::optional<uuid> uuid::parse(std::string_view text) {
  if (text.size() != text_size || text[8] != '-' || text[13] != '-' || text[18] != '-' || text[23] != '-') {
    return std::nullopt;
  }
  std::array<std::uint8_t, 16> bytes{};
  for (std::size_t i = 0; i < 16; ++i) {
    int high = hex_value(text[byte_positions[i]]);
    int low = hex_value(text[byte_positions[i] + 1]);
    if (high < 0 || low < 0) return std::nullopt;
    bytes[i] = static_cast<std::uint8_t>(high << 4 | low);
  }
  return uuid(bytes);
}

void uuid::format_to(char* out) const {
  out[8] = out[13] = out[18] = out[23] = '-';
  for (std::size_t i = 0; i < 16; ++i) {
    out[byte_positions[i]] = hex_digits[bytes_[i] >> 4];
    out[byte_positions[i] + 1] = hex_digits[bytes_[i] & 0x0f];
  }
}

std::string uuid::to_string() const {
  std::string text(text_size, '\0');
  format_to(text.data());
  return text;
}

}  // namespace horizons
