#include <horizons/catalogue.hpp>
#include <horizons/sample.hpp>
#include <horizons/status_machine.hpp>

#include <array>
#include <limits>

#include <fmt/format.h>

namespace horizons {

namespace {

using namespace std::chrono_literals;

constexpr std::array<std::string_view, 16> words{"vlass",     "calibration", "epoch",     "tile", "frontera", "mosaic",
                                                 "quicklook", "stokes",      "beam",      "cube", "survey",   "field",
                                                 "anomaly",   "pulsar",      "transient", "image"};
// Multi-byte UTF-8 pieces for the extreme range: 2-, 3- and 4-byte sequences.
constexpr std::array<std::string_view, 4> unicode{"é", "✓", "🔭", "Ωμ"};

class generator {
 public:
  generator(std::mt19937_64& rng, sample_range range) : rng_(rng), range_(range) {}

  template <class T>
  void fill(T& value, std::string_view name);

  std::int64_t between(std::int64_t low, std::int64_t high) {
    return std::uniform_int_distribution<std::int64_t>(low, high)(rng_);
  }
  bool chance(double p) { return std::bernoulli_distribution(p)(rng_); }
  std::mt19937_64& rng() { return rng_; }
  [[nodiscard]] bool extreme() const { return range_ == sample_range::extreme; }

 private:
  std::string text(std::string_view name) {
    if (name.ends_with("_id") || name == "actor_id") {
      auto prefix = name.substr(0, name.size() - 3);
      return fmt::format("{}-{:08x}", prefix.empty() ? "id" : prefix, static_cast<std::uint32_t>(rng_()));
    }
    if (extreme() && chance(0.1)) return {};
    std::string out;
    auto count = between(1, 4);
    for (std::int64_t i = 0; i < count; ++i) {
      if (i) out += ' ';
      out += words[between(0, words.size() - 1)];
      if (extreme() && chance(0.2)) out += unicode[between(0, unicode.size() - 1)];
    }
    return out;
  }

  template <class Int>
  Int integer() {
    if (extreme() && chance(0.2)) {
      constexpr std::array<Int, 5> corners{std::numeric_limits<Int>::min(), std::numeric_limits<Int>::max(), -1, 0, 63};
      return corners[between(0, corners.size() - 1)];
    }
    if (extreme()) return static_cast<Int>(between(std::numeric_limits<Int>::min(), std::numeric_limits<Int>::max()));
    return static_cast<Int>(between(1, 1000));
  }

  double real() {
    if (extreme() && chance(0.05)) return chance(0.5) ? std::numeric_limits<double>::infinity() : -0.0;
    if (extreme() && chance(0.1))
      return std::ldexp(std::uniform_real_distribution<double>(-1, 1)(rng_), between(-1000, 1000));
    return std::round(std::uniform_real_distribution<double>(0, 100)(rng_) * 100) / 100;
  }

  std::mt19937_64& rng_;
  sample_range range_;
};

template <class T>
void generator::fill(T& value, std::string_view name) {
  if constexpr (std::is_same_v<T, bool>) {
    value = chance(0.5);
  } else if constexpr (std::is_same_v<T, std::int32_t> || std::is_same_v<T, std::int64_t>) {
    value = integer<T>();
  } else if constexpr (std::is_same_v<T, double> || std::is_same_v<T, float>) {
    value = static_cast<T>(real());
  } else if constexpr (std::is_same_v<T, std::string>) {
    value = text(name);
  } else if constexpr (std::is_same_v<T, uuid>) {
    value = uuid::random(rng_);
  } else if constexpr (std::is_same_v<T, timestamp>) {
    // Around the end of 2026, to the microsecond.
    constexpr std::int64_t base = 1'795'000'000'000'000;
    value = timestamp{std::chrono::microseconds{extreme() && chance(0.1) ? integer<std::int64_t>()
                                                                         : base + between(0, 365LL * 86'400'000'000)}};
  } else if constexpr (avro_enum<T>) {
    constexpr auto count = static_cast<std::int64_t>(enum_traits<T>::symbols.size());
    do {
      value = static_cast<T>(between(0, count - 1));
    } while (!extreme() && value == enum_traits<T>::default_value);
  } else if constexpr (is_optional<T>::value) {
    if (chance(0.5)) {
      value.emplace();
      fill(*value, name);
    } else {
      value.reset();
    }
  } else if constexpr (is_vector<T>::value) {
    value.resize(between(0, 3));
    for (auto& item : value) fill(item, name);
  } else if constexpr (is_string_map<T>::value) {
    value.clear();
    auto count = between(0, 3);
    for (std::int64_t i = 0; i < count; ++i) fill(value[text("key")], name);
  } else {
    for_each_field(value, [&](std::string_view field, auto& item) { fill(item, field); });
  }
}

// Valid-range repairs for rules the generic walk cannot know.
void make_valid(generator&, auto&) {}

void make_valid(generator& g, job_submitted& p) {
  p.resources.gpus = static_cast<std::int32_t>(g.between(0, 8));
  p.resources.memory_gb = static_cast<std::int32_t>(g.between(16, 512));
  p.resources.wall_time_minutes = static_cast<std::int32_t>(g.between(10, 48 * 60));
}

void make_valid(generator& g, job_status_changed& p) {
  using enum job_status;
  constexpr std::array<std::pair<job_status, job_status>, 9> legal{{{submitted, queued},
                                                                    {submitted, cancelled},
                                                                    {queued, running},
                                                                    {queued, cancelled},
                                                                    {running, completed},
                                                                    {running, failed},
                                                                    {running, cancelled},
                                                                    {failed, queued},
                                                                    {queued, running}}};
  auto [from, to] = legal[g.between(0, legal.size() - 1)];
  p.previous_status = from;
  p.new_status = to;
}

void make_valid(generator& g, job_failed& p) {
  p.max_retries = static_cast<std::int32_t>(g.between(0, 5));
  p.retry_count = static_cast<std::int32_t>(g.between(0, p.max_retries));
}

std::string random_hex(std::mt19937_64& rng, int digits) {
  std::string out;
  while (static_cast<int>(out.size()) < digits) out += fmt::format("{:016x}", rng());
  out.resize(digits);
  return out;
}

}  // namespace

template <payload_record Payload>
event<Payload> event_sampler::next() {
  generator g(rng_, range_);
  event<Payload> e;
  g.fill(static_cast<envelope&>(e), "envelope");
  g.fill(e.payload, "payload");
  e.event_type = std::string(payload_traits<Payload>::event_type);
  if (range_ == sample_range::valid) {
    e.schema_version = spec_of<Payload>().schema_version;
    if (e.traceparent) {
      e.traceparent = fmt::format("00-{}-{}-01", random_hex(rng_, 32), random_hex(rng_, 16));
    }
    make_valid(g, e.payload);
  }
  return e;
}

std::optional<any_event> event_sampler::next(std::string_view event_type) {
  std::optional<any_event> result;
  auto attempt = [&]<class Payload>(std::type_identity<Payload>) {
    if (result || payload_traits<Payload>::event_type != event_type) return;
    result = to_topic_event(next<Payload>());
  };
#define HORIZONS_SAMPLE_PAYLOAD(P) attempt(std::type_identity<P>{});
  HORIZONS_FOR_EACH_PAYLOAD(HORIZONS_SAMPLE_PAYLOAD)
#undef HORIZONS_SAMPLE_PAYLOAD
  return result;
}

#define HORIZONS_INSTANTIATE_SAMPLE(P) template event<P> event_sampler::next<P>();
HORIZONS_FOR_EACH_PAYLOAD(HORIZONS_INSTANTIATE_SAMPLE)
#undef HORIZONS_INSTANTIATE_SAMPLE

}  // namespace horizons
