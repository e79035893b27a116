// Requests per caller: a token bucket each, refilled at `per_second` up to `burst`.
//
//   horizons::orchestrator::rate_limit limit({.per_second = 20, .burst = 40});
//   if (auto wait = limit.take("alice", std::chrono::steady_clock::now()); wait.count() > 0)
//     return reply(429, ...);   // Retry-After: ceil(wait)
//
// Once a minute, buckets that have refilled are forgotten (a full bucket is what a new caller gets), so
// the map stays as large as the set of recent callers. Threads: any; take() locks.
#pragma once

#include <algorithm>
#include <chrono>
#include <map>
#include <mutex>
#include <string>

namespace horizons::orchestrator {

class rate_limit {
 public:
  using clock = std::chrono::steady_clock;
  struct settings {
    double per_second = 20;  // sustained requests per second per caller
    double burst = 40;       // requests a caller may make at once after a quiet spell
  };
  explicit rate_limit(settings s) : settings_(s) {}

  /// Zero when `caller` may go ahead at `now` (one request counted); otherwise how long until it may.
  [[nodiscard]] std::chrono::milliseconds take(const std::string& caller, clock::time_point now) {
    std::lock_guard lock(mutex_);
    forget_quiet(now);
    auto [it, fresh] = buckets_.try_emplace(caller, bucket{.tokens = settings_.burst, .at = now});
    auto& b = it->second;
    if (!fresh) {
      const std::chrono::duration<double> since = now - b.at;
      b.tokens = std::min(settings_.burst, b.tokens + since.count() * settings_.per_second);
      b.at = now;
    }
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return std::chrono::milliseconds(0);
    }
    const double seconds = (1 - b.tokens) / settings_.per_second;
    return std::chrono::milliseconds(static_cast<std::int64_t>(seconds * 1000) + 1);
  }

 private:
  struct bucket {
    double tokens;
    clock::time_point at;
  };
  void forget_quiet(clock::time_point now) {
    if (now - swept_ < std::chrono::minutes(1)) return;
    std::erase_if(buckets_, [&](const auto& entry) {
      const std::chrono::duration<double> since = now - entry.second.at;
      return entry.second.tokens + since.count() * settings_.per_second >= settings_.burst;
    });
    swept_ = now;
  }

  settings settings_;
  std::mutex mutex_;
  std::map<std::string, bucket> buckets_;
  clock::time_point swept_{};
};

}  // namespace horizons::orchestrator
