#include <horizons/metrics.hpp>

#include <algorithm>
#include <mutex>
#include <sstream>

#include <prometheus/text_serializer.h>

namespace horizons::metrics {
namespace {

struct sources {
  std::mutex mutex;
  std::vector<std::weak_ptr<prometheus::Collectable>> live;
};

sources& extra_sources() {
  static sources s;
  return s;
}

}  // namespace

prometheus::Registry& registry() {
  static prometheus::Registry process_registry;
  return process_registry;
}

void add_source(std::weak_ptr<prometheus::Collectable> source) {
  auto& s = extra_sources();
  std::lock_guard lock(s.mutex);
  std::erase_if(s.live, [](const auto& weak) { return weak.expired(); });
  s.live.push_back(std::move(source));
}

std::string exposition() {
  auto families = registry().Collect();
  {
    auto& s = extra_sources();
    std::lock_guard lock(s.mutex);
    std::erase_if(s.live, [](const auto& weak) { return weak.expired(); });
    for (const auto& weak : s.live) {
      if (auto source = weak.lock()) {
        auto more = source->Collect();
        families.insert(families.end(), std::make_move_iterator(more.begin()), std::make_move_iterator(more.end()));
      }
    }
  }
  std::ostringstream out;
  prometheus::TextSerializer().Serialize(out, families);
  return std::move(out).str();
}

const prometheus::Histogram::BucketBoundaries& latency_buckets() {
  static const prometheus::Histogram::BucketBoundaries bounds{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                                              0.25,   0.5,   1,      2.5,   5,    10,    30,   60};
  return bounds;
}

const prometheus::Histogram::BucketBoundaries& duration_buckets() {
  static const prometheus::Histogram::BucketBoundaries bounds{0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005,
                                                              0.001,   0.0025,   0.005,   0.01,   0.025,   0.05,
                                                              0.1,     0.25,     0.5,     1,      2.5,     10};
  return bounds;
}

}  // namespace horizons::metrics
