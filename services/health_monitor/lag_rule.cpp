#include "services/health_monitor/lag_rule.hpp"

#include <algorithm>

#include <fmt/format.h>

namespace horizons::health_monitor {
namespace {

double seconds(timestamp::duration d) { return std::chrono::duration<double>(d).count(); }

}  // namespace

int severity_rank(lag_status status) {
  switch (status) {
    case lag_status::warning: return 1;
    case lag_status::stalled: return 2;
    case lag_status::stopped: return 3;
    case lag_status::error: return 4;
    case lag_status::ok:
    case lag_status::unknown: return 0;
  }
  return 0;
}

std::string_view status_name(lag_status status) {
  switch (status) {
    case lag_status::ok: return "ok";
    case lag_status::warning: return "warning";
    case lag_status::stalled: return "stalled";
    case lag_status::stopped: return "stopped";
    case lag_status::error: return "error";
    case lag_status::unknown: return "unknown";
  }
  return "unknown";
}

void lag_window::add(observation seen) {
  if (observations_.empty()) {
    seen.committed_since = seen.time;
  } else {
    const auto& newest = observations_.back();
    if (seen.time <= newest.time) return;
    seen.committed_since = seen.committed == newest.committed ? newest.committed_since : seen.time;
  }
  restore(seen);
}

void lag_window::restore(const observation& stored) {
  if (!observations_.empty() && stored.time <= observations_.back().time) return;
  observations_.push_back(stored);
  while (observations_.size() > capacity_) observations_.pop_front();
}

verdict lag_window::evaluate(const lag_rule_options& options, std::string_view where) const {
  if (observations_.empty()) return {lag_status::ok, fmt::format("{}: not observed yet", where)};
  const auto& first = observations_.front();
  const auto& last = observations_.back();
  auto count = observations_.size();
  auto span = seconds(last.time - first.time);

  if (std::ranges::any_of(observations_, [](const observation& o) { return o.lag == 0; })) {
    return {lag_status::ok, fmt::format("{}: caught up within the window", where)};
  }
  if (!full()) {
    return {lag_status::ok, fmt::format("{}: {} of {} observations, too few to judge", where, count, capacity_)};
  }
  bool offset_unchanged =
      std::ranges::all_of(observations_, [&](const observation& o) { return o.committed == first.committed; });
  if (offset_unchanged) {
    if (!last.committed) {
      return {lag_status::stopped,
              fmt::format("{}: the group never committed while {} records wait ({} observations over {:.1f} s)", where,
                          last.lag, count, span)};
    }
    auto still = last.time - last.committed_since;
    if (still >= options.stop_after) {
      return {lag_status::stopped,
              fmt::format("{}: committed offset {} has not moved for {:.1f} s (stopped after {:.1f} s) while {} "
                          "records wait",
                          where, *last.committed, seconds(still), seconds(options.stop_after), last.lag)};
    }
    return {lag_status::stalled,
            fmt::format("{}: committed offset {} unchanged over {} observations ({:.1f} s) while {} records wait",
                        where, *last.committed, count, span, last.lag)};
  }
  bool lag_never_fell =
      std::ranges::adjacent_find(observations_, [](const observation& before, const observation& after) {
        return after.lag < before.lag;
      }) == observations_.end();
  if (lag_never_fell && last.lag > first.lag) {
    return {lag_status::warning,
            fmt::format("{}: lag grew from {} to {} over {} observations ({:.1f} s) although the consumer moved", where,
                        first.lag, last.lag, count, span)};
  }
  return {lag_status::ok, fmt::format("{}: consuming, lag {}", where, last.lag)};
}

lag_window& lag_evaluator::window_of(const partition_ref& partition) {
  return windows_.try_emplace(partition, options_.window_size).first->second;
}

void lag_evaluator::restore(const partition_ref& partition, const std::vector<observation>& stored) {
  auto& window = window_of(partition);
  for (const auto& o : stored) window.restore(o);
}

std::vector<topic_verdict> lag_evaluator::evaluate(const lag_report& report, timestamp time) {
  std::vector<topic_verdict> verdicts;
  for (const auto& topic : report.topics) {
    verdict worst{lag_status::ok, {}};
    int partitions = 0;
    int as_bad = 0;  // partitions at the worst status
    for (const auto& p : report.partitions) {
      if (p.topic != topic.topic) continue;
      ++partitions;
      auto where = fmt::format("{}[{}]", p.topic, p.partition);
      verdict current;
      if (!p.error.empty()) {
        current = {lag_status::error, fmt::format("{}: {}", where, p.error)};
      } else {
        auto& window = window_of({report.group, p.topic, p.partition});
        window.add({.time = time, .committed = p.committed, .high = p.high, .lag = p.lag_messages});
        current = window.evaluate(options_, where);
      }
      if (severity_rank(current.status) > severity_rank(worst.status)) {
        worst = std::move(current);
        as_bad = 1;
      } else if (current.status == worst.status) {
        ++as_bad;
      }
    }
    if (worst.status != lag_status::ok && as_bad > 1) {
      worst.reason += fmt::format(" (and {} more partitions {})", as_bad - 1, status_name(worst.status));
    }
    verdicts.push_back({
        .group = report.group,
        .topic = topic.topic,
        .status = worst.status,
        .lag_messages = topic.lag_messages,
        .lag_seconds = topic.lag_seconds.count(),
        .reason = worst.status == lag_status::ok ? fmt::format("all {} partitions ok", partitions) : worst.reason,
    });
  }
  return verdicts;
}

std::vector<topic_verdict> lag_evaluator::failed(const std::string& group, const std::vector<std::string>& topics,
                                                 std::string_view error) {
  std::vector<topic_verdict> verdicts;
  for (const auto& topic : topics) {
    verdicts.push_back({.group = group,
                        .topic = topic,
                        .status = lag_status::error,
                        .reason = fmt::format("lag not measured: {}", error)});
  }
  return verdicts;
}

}  // namespace horizons::health_monitor
