// A UUID held as 16 bytes; on the wire it is the Avro `uuid` logical type
// (a 36-character string).
//
//   auto id = horizons::uuid::random();          // version 4
//   std::string text = id.to_string();           // "1b4e28ba-2fa1-41d2-883f-0016d3cca427"
//   auto back = horizons::uuid::parse(text);     // std::optional<uuid>
#pragma once

#include <array>
#include <cstddef>
#include <functional>
#include <compare>
#include <cstdint>
#include <cstring>
#include <optional>
#include <random>
#include <string>
#include <string_view>

namespace horizons {

class uuid {
 public:
  static constexpr std::size_t text_size = 36;

  constexpr uuid() = default;
  constexpr explicit uuid(const std::array<std::uint8_t, 16>& bytes) : bytes_(bytes) {}

  /// A random version-4 UUID from a thread-local generator seeded by the OS.
  [[nodiscard]] static uuid random();
  /// A version-4 UUID drawn from `rng` (reproducible samples).
  [[nodiscard]] static uuid random(std::mt19937_64& rng);
  /// Parses the canonical 8-4-4-4-12 hex form (either case); nullopt otherwise.
  [[nodiscard]] static std::optional<uuid> parse(std::string_view text);

  /// Writes the lower-case canonical form into exactly text_size chars.
  void format_to(char* out) const;
  [[nodiscard]] std::string to_string() const;

  [[nodiscard]] constexpr const std::array<std::uint8_t, 16>& bytes() const { return bytes_; }
  [[nodiscard]] constexpr bool is_nil() const { return bytes_ == std::array<std::uint8_t, 16>{}; }
  friend constexpr auto operator<=>(const uuid&, const uuid&) = default;

 private:
  std::array<std::uint8_t, 16> bytes_{};
};

// parse() and format_to() are inline, table-driven and branch-free per digit:
// the codec reads and writes two UUIDs per event.
namespace detail {

// Where each byte's two hex digits start in the 36-char canonical form.
inline constexpr std::array<std::uint8_t, 16> uuid_digit_positions{0,  2,  4,  6,  9,  11, 14, 16,
                                                                   19, 21, 24, 26, 28, 30, 32, 34};

// Each char's hex value, or 0xff if it is not a hex digit (so OR-ing all values tests them at once).
inline constexpr auto hex_values = [] {
  std::array<std::uint8_t, 256> values{};
  values.fill(0xff);
  for (std::uint8_t i = 0; i < 10; ++i) values['0' + i] = i;
  for (std::uint8_t i = 0; i < 6; ++i) values['a' + i] = values['A' + i] = static_cast<std::uint8_t>(10 + i);
  return values;
}();

// The two lower-case hex digits of every byte value, in order.
inline constexpr auto hex_pairs = [] {
  constexpr char digits[] = "0123456789abcdef";
  std::array<char, 512> pairs{};
  for (std::size_t b = 0; b < 256; ++b) {
    pairs[2 * b] = digits[b >> 4];
    pairs[2 * b + 1] = digits[b & 0x0f];
  }
  return pairs;
}();

}  // namespace detail

inline std::optional<uuid> uuid::parse(std::string_view text) {
  if (text.size() != text_size || text[8] != '-' || text[13] != '-' || text[18] != '-' || text[23] != '-') {
    return std::nullopt;
  }
  std::array<std::uint8_t, 16> bytes;
  std::uint8_t combined = 0;  // OR of all digit values: above 0x0f iff a char was not a hex digit
  for (std::size_t i = 0; i < 16; ++i) {
    auto high = detail::hex_values[static_cast<unsigned char>(text[detail::uuid_digit_positions[i]])];
    auto low = detail::hex_values[static_cast<unsigned char>(text[detail::uuid_digit_positions[i] + 1])];
    combined |= high | low;
    bytes[i] = static_cast<std::uint8_t>(high << 4 | low);
  }
  if (combined > 0x0f) return std::nullopt;
  return uuid(bytes);
}

inline void uuid::format_to(char* out) const {
  out[8] = out[13] = out[18] = out[23] = '-';
  for (std::size_t i = 0; i < 16; ++i) {
    std::memcpy(out + detail::uuid_digit_positions[i], &detail::hex_pairs[2 * std::size_t{bytes_[i]}], 2);
  }
}

}  // namespace horizons

template <>
struct std::hash<horizons::uuid> {
  std::size_t operator()(const horizons::uuid& id) const noexcept {
    // Version-4 UUIDs are random: the first eight bytes are already a good hash.
    std::size_t h = 0;
    for (int i = 0; i < 8; ++i) h = h << 8 | id.bytes()[static_cast<std::size_t>(i)];
    return h;
  }
};
