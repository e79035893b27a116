#include "services/health_monitor/traffic.hpp"

#include <algorithm>
#include <charconv>

namespace horizons::health_monitor {

traffic_meter::traffic_meter(std::vector<std::string> topics, std::size_t max_samples)
    : order_(std::move(topics)), max_samples_(max_samples), since_(std::chrono::steady_clock::now()) {
  for (const auto& topic : order_) topics_.try_emplace(topic);
}

traffic_meter::per_topic& traffic_meter::of(std::string_view topic) {
  auto found = topics_.find(topic);
  if (found != topics_.end()) return found->second;
  order_.emplace_back(topic);
  return topics_.try_emplace(std::string(topic)).first->second;
}

void traffic_meter::record(std::string_view topic, std::optional<timestamp> produced_at, timestamp read_at) {
  std::lock_guard lock(mutex_);
  auto& t = of(topic);
  ++t.total;
  ++t.interval;
  if (produced_at && t.latencies_ms.size() < max_samples_) {
    // Clocks of other hosts may run ahead: a negative latency is taken as none at all.
    t.latencies_ms.push_back(std::max(0.0, std::chrono::duration<double, std::milli>(read_at - *produced_at).count()));
  }
}

void traffic_meter::dead_letter(std::string_view dlq_topic) {
  std::lock_guard lock(mutex_);
  auto found = dead_letters_.find(dlq_topic);
  if (found == dead_letters_.end()) found = dead_letters_.emplace(std::string(dlq_topic), 0).first;
  ++found->second;
}

void traffic_meter::watch_dead_letters(std::string_view dlq_topic) {
  std::lock_guard lock(mutex_);
  if (!dead_letters_.contains(dlq_topic)) dead_letters_.emplace(std::string(dlq_topic), 0);
}

void traffic_meter::reset_dead_letters() {
  std::lock_guard lock(mutex_);
  for (auto& [topic, n] : dead_letters_) n = 0;
}

traffic_interval traffic_meter::take(std::chrono::steady_clock::time_point now) {
  std::lock_guard lock(mutex_);
  double seconds = std::max(1e-3, std::chrono::duration<double>(now - since_).count());
  since_ = now;
  traffic_interval out;
  for (const auto& name : order_) {
    auto& t = topics_.at(name);
    topic_traffic report{.topic = name,
                         .events_total = t.total,
                         .events_per_s = static_cast<double>(t.interval) / seconds,
                         .latency_samples = t.latencies_ms.size()};
    auto& samples = t.latencies_ms;
    if (!samples.empty()) {
      std::ranges::sort(samples);
      auto at = [&](double q) {
        return samples[std::min(samples.size() - 1, static_cast<std::size_t>(q * static_cast<double>(samples.size())))];
      };
      report.p50_ms = at(0.50);
      report.p95_ms = at(0.95);
      report.p99_ms = at(0.99);
      report.max_ms = samples.back();
    }
    out.topics.push_back(std::move(report));
    t.interval = 0;
    samples.clear();
  }
  out.dead_letters.insert(dead_letters_.begin(), dead_letters_.end());
  return out;
}

std::optional<timestamp> parse_produced_at(std::string_view header_value) {
  std::int64_t micros = 0;
  const auto* end = header_value.data() + header_value.size();
  auto [ptr, ec] = std::from_chars(header_value.data(), end, micros);
  if (ec != std::errc{} || ptr != end || header_value.empty()) return std::nullopt;
  return timestamp(std::chrono::microseconds(micros));
}

}  // namespace horizons::health_monitor
