// The bench's results as one plain SVG file: e2e latency percentile curves per offered rate (every
// side in one log-log panel), then the numbers as a fixed-width table and the targets.
//
//   std::ofstream(path) << plot_svg(r, ctx);
#pragma once

#include <string>

#include "report.hpp"

namespace horizons::kafka_bench {

[[nodiscard]] std::string plot_svg(const report& r, const bench_context& ctx);

}  // namespace horizons::kafka_bench
