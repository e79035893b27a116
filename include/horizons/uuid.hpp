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
