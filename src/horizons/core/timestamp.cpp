#include <horizons/timestamp.hpp>

#include <charconv>

#include <fmt/format.h>

namespace horizons {

using namespace std::chrono;

bool is_rfc3339_range(timestamp t) {
  constexpr auto first = sys_days{year{1} / January / 1};
  constexpr auto last = sys_days{year{9999} / December / 31} + days{1};
  return t >= first && t < last;
}

std::optional<std::string> format_rfc3339(timestamp t) {
  // Bound the range first: year_month_day wraps silently beyond +-32767 years.
  if (!is_rfc3339_range(t)) return std::nullopt;
  auto day = floor<days>(t);
  year_month_day date{day};
  hh_mm_ss time{t - day};
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z", static_cast<int>(date.year()),
                     static_cast<unsigned>(date.month()), static_cast<unsigned>(date.day()), time.hours().count(),
                     time.minutes().count(), time.seconds().count(), time.subseconds().count());
}

namespace {

// Reads exactly `width` digits at text[pos]; -1 if any is not a digit.
int digits(std::string_view text, std::size_t pos, std::size_t width) {
  if (pos + width > text.size()) return -1;
  int value = 0;
  for (std::size_t i = pos; i < pos + width; ++i) {
    if (text[i] < '0' || text[i] > '9') return -1;
    value = value * 10 + (text[i] - '0');
  }
  return value;
}

}  // namespace

std::optional<timestamp> parse_rfc3339(std::string_view text) {
  if (text.size() < 20 || text[4] != '-' || text[7] != '-' || (text[10] != 'T' && text[10] != 't') || text[13] != ':' ||
      text[16] != ':') {
    return std::nullopt;
  }
  int y = digits(text, 0, 4), mo = digits(text, 5, 2), d = digits(text, 8, 2);
  int h = digits(text, 11, 2), mi = digits(text, 14, 2), s = digits(text, 17, 2);
  if (y < 1 || mo < 0 || d < 0 || h < 0 || h > 23 || mi < 0 || mi > 59 || s < 0 || s > 59) return std::nullopt;
  year_month_day date{year{y}, month{static_cast<unsigned>(mo)}, day{static_cast<unsigned>(d)}};
  if (!date.ok()) return std::nullopt;

  std::size_t pos = 19;
  std::int64_t micros = 0;
  if (pos < text.size() && text[pos] == '.') {
    std::size_t start = ++pos;
    while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') ++pos;
    std::size_t count = pos - start;
    if (count == 0 || count > 6) return std::nullopt;  // finer than microseconds would be lost
    micros = digits(text, start, count);
    for (std::size_t i = count; i < 6; ++i) micros *= 10;
  }
  minutes offset{0};
  if (pos < text.size() && (text[pos] == 'Z' || text[pos] == 'z')) {
    ++pos;
  } else if (pos + 6 == text.size() && (text[pos] == '+' || text[pos] == '-') && text[pos + 3] == ':') {
    int oh = digits(text, pos + 1, 2), om = digits(text, pos + 4, 2);
    if (oh < 0 || oh > 23 || om < 0 || om > 59) return std::nullopt;
    offset = hours{oh} + minutes{om};
    if (text[pos] == '-') offset = -offset;
    pos += 6;
  } else {
    return std::nullopt;
  }
  if (pos != text.size()) return std::nullopt;
  return timestamp{sys_days{date}} + hours{h} + minutes{mi} + seconds{s} + microseconds{micros} - offset;
}

}  // namespace horizons
