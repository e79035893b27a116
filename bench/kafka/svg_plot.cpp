// The bench's picture: e2e latency percentile curves per offered rate (every side in one log-log
// panel), then the throughput table and the targets, as one plain SVG file.
#include "svg_plot.hpp"

#include <algorithm>
#include <cmath>
#include <string_view>
#include <thread>
#include <tuple>

#include <fmt/format.h>

namespace horizons::kafka_bench {

namespace {

std::string svg_escape(std::string_view text) {
  std::string out;
  for (char c : text) {
    if (c == '<')
      out += "&lt;";
    else if (c == '>')
      out += "&gt;";
    else if (c == '&')
      out += "&amp;";
    else
      out += c;
  }
  return out;
}

}  // namespace

std::string plot_svg(const report& r, const bench_context& ctx) {
  std::vector<const scenario_result*> e2e;
  for (const auto& s : r.scenarios) {
    if (s.name == "e2e" &&
        std::ranges::none_of(s.sides, [](const side_outcome& side) { return side.result.latencies_us.empty(); })) {
      e2e.push_back(&s);
    }
  }
  constexpr double panel_w = 360, panel_h = 260, margin_l = 70, margin_t = 80, gap = 90;
  auto panels = static_cast<double>(std::max<std::size_t>(e2e.size(), 1));
  double width = std::max(margin_l + panels * (panel_w + gap) + 20, 1000.0);
  double table_top = e2e.empty() ? margin_t : margin_t + panel_h + 70;
  double row_h = 20;
  std::size_t extra_sides = 0;  // rows beyond Horizons and raw
  for (const auto& s : r.scenarios) extra_sides += s.sides.size() > 2 ? s.sides.size() - 2 : 0;
  auto rows = static_cast<double>(r.scenarios.size() + extra_sides + r.targets.size() + 4);
  double height = table_top + rows * row_h + 20;

  // Shared axes: x is log10(1 / (1 - p)), y is log10(latency in us), whole decades.
  double x_max = 1, y_min = 1e9, y_max = 1;
  for (auto* s : e2e) {
    for (const auto& side : s->sides) {
      const auto& latencies = side.result.latencies_us;
      x_max = std::max(x_max, std::ceil(std::log10(static_cast<double>(latencies.size()))));
      y_min = std::min(y_min, static_cast<double>(std::max<std::int64_t>(latencies.front(), 1)));
      y_max = std::max(y_max, static_cast<double>(latencies.back()));
    }
  }
  double decade_lo = std::floor(std::log10(y_min)), decade_hi = std::max(std::ceil(std::log10(y_max)), decade_lo + 1);

  std::string svg = fmt::format(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{0:.0f}\" height=\"{1:.0f}\" viewBox=\"0 0 {0:.0f} {1:.0f}\" "
      "font-family=\"sans-serif\" font-size=\"12\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n",
      width, height);
  svg += fmt::format("<text x=\"{}\" y=\"24\" font-size=\"16\" font-weight=\"bold\">{}</text>\n", margin_l,
                     svg_escape(fmt::format("horizons bench: Horizons' typed API and raw librdkafka, same bytes, "
                                            "same settings")));
  svg += fmt::format("<text x=\"{}\" y=\"44\">{}</text>\n", margin_l,
                     svg_escape(fmt::format("{} ({:.0f} B on average), {}, {} partitions, acks=all, idempotent, {}, "
                                            "{} CPUs",
                                            ctx.options.event_type, ctx.mean_bytes, ctx.cluster, ctx.partitions,
                                            to_string(ctx.codec()), std::thread::hardware_concurrency())));
  constexpr std::string_view horizons_colour = "#1f77b4", raw_colour = "#d62728";
  for (std::size_t i = 0; i < e2e.size(); ++i) {
    double left = margin_l + static_cast<double>(i) * (panel_w + gap), top = margin_t;
    auto px = [&](double x) { return left + x / x_max * panel_w; };
    auto py = [&](double us) {
      return top + panel_h - (std::log10(std::max(us, 1.0)) - decade_lo) / (decade_hi - decade_lo) * panel_h;
    };
    svg += fmt::format(
        "<text x=\"{:.0f}\" y=\"{:.0f}\" font-weight=\"bold\">e2e latency at {} events/s "
        "(from scheduled send)</text>\n",
        left, top - 10, e2e[i]->rate);
    svg += fmt::format(
        "<rect x=\"{:.0f}\" y=\"{:.0f}\" width=\"{:.0f}\" height=\"{:.0f}\" fill=\"none\" "
        "stroke=\"#444\"/>\n",
        left, top, panel_w, panel_h);
    for (double d = decade_lo; d <= decade_hi; ++d) {
      auto us = std::pow(10.0, d);
      auto label = us >= 1e6   ? fmt::format("{:g} s", us / 1e6)
                   : us >= 1e3 ? fmt::format("{:g} ms", us / 1e3)
                               : fmt::format("{:g} µs", us);
      svg += fmt::format(
          "<line x1=\"{:.0f}\" x2=\"{:.0f}\" y1=\"{:.1f}\" y2=\"{:.1f}\" stroke=\"#ddd\"/>"
          "<text x=\"{:.0f}\" y=\"{:.1f}\" text-anchor=\"end\">{}</text>\n",
          left, left + panel_w, py(us), py(us), left - 6, py(us) + 4, label);
    }
    for (double x = 0; x <= x_max; ++x) {
      auto label = fmt::format("{:.{}f}%", 100.0 * (1.0 - std::pow(10.0, -x)), std::max(0, static_cast<int>(x) - 2));
      svg += fmt::format(
          "<line x1=\"{0:.1f}\" x2=\"{0:.1f}\" y1=\"{1:.0f}\" y2=\"{2:.0f}\" stroke=\"#ddd\"/>"
          "<text x=\"{0:.1f}\" y=\"{3:.0f}\" text-anchor=\"middle\" font-size=\"10\">{4}</text>\n",
          px(x), top, top + panel_h, top + panel_h + 16, label);
    }
    svg += fmt::format("<text x=\"{:.0f}\" y=\"{:.0f}\" text-anchor=\"middle\">percentile</text>\n", left + panel_w / 2,
                       top + panel_h + 34);
    const auto &horizons = e2e[i]->side(horizons_side.key), &raw = e2e[i]->side(raw_side.key);
    for (auto [side, colour, name] :
         {std::tuple{&horizons, horizons_colour, horizons_side.label}, std::tuple{&raw, raw_colour, raw_side.label}}) {
      std::string points;
      for (auto [p, us] : percentile_curve(side->latencies_us)) {
        auto x = p >= 100.0 ? std::log10(static_cast<double>(side->latencies_us.size())) : -std::log10(1.0 - p / 100.0);
        points += fmt::format("{:.1f},{:.1f} ", px(x), py(us));
      }
      svg += fmt::format("<polyline fill=\"none\" stroke=\"{}\" stroke-width=\"2\"{} points=\"{}\"/>\n", colour,
                         name == raw_side.label ? " stroke-dasharray=\"6 3\"" : "", points);
    }
    svg += fmt::format(
        "<text x=\"{:.0f}\" y=\"{:.0f}\" fill=\"{}\">Horizons (solid): p99 {}</text>"
        "<text x=\"{:.0f}\" y=\"{:.0f}\" fill=\"{}\">raw (dashed): p99 {}</text>\n",
        left + 8, top + 16, horizons_colour, micros_text(percentile(horizons.latencies_us, 99)), left + 8, top + 32,
        raw_colour, micros_text(percentile(raw.latencies_us, 99)));
  }

  // The numbers, as a fixed-width table.
  double y = table_top;
  auto row = [&](const std::string& text, bool bold = false) {
    svg += fmt::format("<text x=\"{}\" y=\"{:.0f}\" font-family=\"monospace\"{} xml:space=\"preserve\">{}</text>\n",
                       margin_l, y, bold ? " font-weight=\"bold\"" : "", svg_escape(text));
    y += row_h;
  };
  row(fmt::format("{:<14} {:>32} {:>32} {:>14}", "scenario", "Horizons", "raw librdkafka", "Horizons/raw"), true);
  for (const auto& s : r.scenarios) {
    if (s.codec) {
      row(fmt::format("{:<14} {:>32}", "codec",
                      fmt::format("{:.0f} + {:.0f} ns CPU/event", s.codec->encode_ns, s.codec->decode_ns)));
    } else if (s.name == "e2e") {
      auto cell = [](const side_result& side) {
        return fmt::format("p50 {}, p99 {}", micros_text(percentile(side.latencies_us, 50)),
                           micros_text(percentile(side.latencies_us, 99)));
      };
      const auto &horizons = s.side(horizons_side.key), &raw = s.side(raw_side.key);
      auto p99_delta = (percentile(horizons.latencies_us, 99) - percentile(raw.latencies_us, 99)) / 1e3;
      row(fmt::format("{:<14} {:>32} {:>32} {:>14}", fmt::format("e2e {}/s", s.rate), cell(horizons), cell(raw),
                      fmt::format("p99 {:+.2f} ms", p99_delta)));
    } else {
      auto cell = [](const side_result& side) {
        return fmt::format("{} events/s, {:.0f} MB/s", magnitude(side.events_per_s), side.mb_per_s);
      };
      row(fmt::format("{:<14} {:>32} {:>32} {:>14.3f}", s.name, cell(s.side(horizons_side.key)),
                      cell(s.side(raw_side.key)), s.ratio()));
      // Further sides (raw+avro-c on consume): one more row each, with their ratio to raw.
      for (const auto& side : s.sides) {
        if (side.name.key == horizons_side.key || side.name.key == raw_side.key) continue;
        row(fmt::format("{:<14} {:>32} {:>32} {:>14}", "", "",
                        fmt::format("{}: {}", side.name.label, cell(side.result)),
                        fmt::format("raw x{:.3f}", s.ratio(side.name.key, raw_side.key))));
      }
    }
  }
  y += row_h / 2;
  for (const auto& t : r.targets) row(fmt::format("{:<7} {} ({})", t.met ? "met" : "MISSED", t.name, t.measured));
  svg += "</svg>\n";
  return svg;
}

}  // namespace horizons::kafka_bench
