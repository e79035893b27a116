// The Horizons side of the bench: the typed producer and consumer of one payload type, run the way an
// application runs them, measured the way the raw side is.
//
//   typed_bench<job_submitted> typed(ctx, sampled_events);
//   auto produced = typed.produce();                         // publish() every event, wait for reports
//   auto consumed = typed.consume(typed_handler::owning);    // decode every record into event<Payload>
//   auto viewed = typed.consume(typed_handler::view);        // read every record as views, copy nothing
//
// The handler kinds a consumer can be given are listed in typed_handler; subscribe() is the one place
// that registers each, so another kind (a view handler) is one more enumerator and one more case there.
// Each run blocks the calling thread; e2e runs its consumer on a thread of its own. Errors are values.
#pragma once

#include <algorithm>
#include <atomic>
#include <cmath>
#include <condition_variable>
#include <cstdint>
#include <expected>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include <horizons/codec.hpp>
#include <horizons/consumer.hpp>
#include <horizons/producer.hpp>

#include "context.hpp"
#include "cpu_meter.hpp"
#include "pacing.hpp"
#include "raw_side.hpp"
#include "report.hpp"

namespace horizons::kafka_bench {

/// How the typed consumer hands records to the application.
enum class typed_handler : std::uint8_t {
  owning,  // on_every: every event decoded into an owning event<Payload>
  view,    // on_every_view: every event read as views into the record, nothing copied
};

/// The report's side for a handler kind.
[[nodiscard]] constexpr side_name side_of(typed_handler kind) {
  switch (kind) {
    case typed_handler::owning: return horizons_side;
    case typed_handler::view: return horizons_view_side;
  }
  return horizons_side;
}

/// Registers `on_record(timestamp occurred_at)` on `in` as a handler of the given kind, for every
/// event type of the topic.
template <class OnRecord>
void subscribe(consumer& in, typed_handler kind, OnRecord& on_record) {
  switch (kind) {
    case typed_handler::owning:
      in.on_every([&on_record](const envelope& meta, const auto&, const message_context&) -> handler_result {
        on_record(meta.occurred_at);
        return {};
      });
      return;
    case typed_handler::view:
      in.on_every_view([&on_record](const envelope_view& meta, const auto&, const message_context&) -> handler_result {
        on_record(meta.occurred_at);
        return {};
      });
      return;
  }
}

template <payload_record Payload>
class typed_bench {
 public:
  typed_bench(bench_context& ctx, std::vector<event<Payload>> events) : ctx_(ctx), events_(std::move(events)) {}

  std::expected<side_result, std::string> produce() {
    using namespace std::chrono_literals;
    std::atomic<std::uint64_t> delivered{0}, failed{0};
    auto made = producer::create({.config = ctx_.config,
                                  .on_delivery =
                                      [&](const delivery_report& report) {
                                        (report.error ? failed : delivered).fetch_add(1, std::memory_order_relaxed);
                                      },
                                  .max_queued_messages = producer_settings().max_queued_messages,
                                  .reports = ctx_.options.reports_mode()});
    if (!made) return std::unexpected(made.error().message);
    auto& out = **made;
    progress bar("produce Horizons", ctx_.options.events, delivered, ctx_.tty);
    auto cpu0 = ctx_.cpu.client_ns();
    auto t0 = steady::now();
    for (std::uint64_t i = 0; i < ctx_.options.events; ++i) {
      if (ctx_.stop.stop_requested()) return std::unexpected("interrupted");
      if (auto sent = out.publish(events_[i % events_.size()], i); !sent) return std::unexpected(sent.error().message);
    }
    if (auto pending = out.flush(ctx_.config.delivery_timeout + 5s); pending > 0) {
      return std::unexpected(fmt::format("Horizons produce: {} records undelivered", pending));
    }
    side_result r{.events = delivered.load()};
    finish_throughput(r, ctx_, steady::now() - t0, ctx_.cpu.client_ns() - cpu0);
    if (failed.load() > 0) return std::unexpected(fmt::format("Horizons produce: {} records failed", failed.load()));
    bar.finish(throughput_text(r));
    return r;
  }

  std::expected<side_result, std::string> consume(typed_handler kind) {
    using namespace std::chrono_literals;
    auto made = consumer::create({.config = ctx_.config,
                                  .topics = {ctx_.topic},
                                  .group = ctx_.group("consume"),
                                  .retry = {},
                                  .start = start_position::earliest,
                                  .undecodable = undecodable_policy::skip});
    if (!made) return std::unexpected(made.error().message);
    auto& in = **made;
    std::atomic<std::uint64_t> consumed{0};
    progress bar(fmt::format("consume {}", side_of(kind).label), ctx_.consume_events, consumed, ctx_.tty);
    std::uint64_t count = 0, checksum = 0;
    steady::time_point first{};
    std::int64_t cpu0 = 0;
    // Every event type of the topic, typed; the timing starts at the first record, after the group join.
    auto on_record = [&](timestamp occurred_at) {
      if (count == 0) {
        cpu0 = ctx_.cpu.client_ns();
        first = steady::now();
      }
      checksum += static_cast<std::uint64_t>(occurred_at.time_since_epoch().count());
      consumed.store(++count, std::memory_order_relaxed);
    };
    subscribe(in, kind, on_record);
    auto quiet_since = steady::now();
    while (count < ctx_.consume_events) {
      if (ctx_.stop.stop_requested()) return std::unexpected("interrupted");
      auto before = count;
      auto polled = in.poll(100ms, std::min<std::uint64_t>(500, ctx_.consume_events - count));
      if (!polled) return std::unexpected(polled.error().message);
      if (count != before) quiet_since = steady::now();
      if (steady::now() - quiet_since > 30s) {
        return std::unexpected(fmt::format("Horizons consume: stalled after {} records", count));
      }
    }
    auto elapsed = steady::now() - first;
    side_result r{.events = count};
    finish_throughput(r, ctx_, elapsed, ctx_.cpu.client_ns() - cpu0);
    if (checksum == 0 || in.stats().undecodable > 0) return std::unexpected("Horizons consume: records did not decode");
    (void)in.close();
    bar.finish(throughput_text(r));
    return r;
  }

  std::expected<side_result, std::string> e2e(int rate, double duration_s) {
    using namespace std::chrono_literals;
    // Sending starts only once the group has its partitions.
    latency_sink sink(rate, duration_s);
    std::atomic<bool> assigned{false}, stopped{false};
    std::mutex setup_mutex;
    std::condition_variable setup_done;
    std::string consumer_error;
    std::jthread receiver([&](std::stop_token stop) {
      auto made = consumer::create({.config = ctx_.e2e_consumer_config(),
                                    .topics = {ctx_.topic},
                                    .group = ctx_.group("e2e"),
                                    .retry = {},
                                    .start = start_position::latest,
                                    .undecodable = undecodable_policy::skip});
      auto give_up = [&](std::string error) {
        std::scoped_lock lock(setup_mutex);
        consumer_error = std::move(error);
        stopped = true;
        setup_done.notify_all();
      };
      if (!made) return give_up(made.error().message);
      auto& in = **made;
      // The scheduled send time travels as occurred_at.
      auto on_record = [&](timestamp occurred_at) { sink.record(occurred_at, now()); };
      subscribe(in, typed_handler::owning, on_record);
      while (!stop.stop_requested()) {
        if (auto polled = in.poll(50ms); !polled) return give_up(polled.error().message);
        if (!assigned && in.stats().rebalances > 0) {
          std::scoped_lock lock(setup_mutex);
          assigned = true;
          setup_done.notify_all();
        }
      }
      (void)in.close();
    });
    {
      std::unique_lock lock(setup_mutex);
      if (!setup_done.wait_for(lock, 60s, [&] { return assigned || stopped; })) {
        return std::unexpected("Horizons e2e: no partitions assigned within 60 s");
      }
      if (stopped) return std::unexpected(consumer_error);
    }
    std::atomic<std::uint64_t> delivered{0};
    auto made = producer::create(
        {.config = ctx_.config,
         .on_delivery = [&](const delivery_report&) { delivered.fetch_add(1, std::memory_order_relaxed); },
         .max_queued_messages = producer_settings().max_queued_messages,
         .reports = ctx_.options.reports_mode()});
    if (!made) return std::unexpected(made.error().message);
    auto plan = pace_plan::starting_now(rate, std::chrono::duration<double>(duration_s));
    sink.measure_from(plan);
    std::atomic<std::uint64_t> sent{0};
    progress bar(fmt::format("e2e {}/s Horizons", rate), plan.total_events, sent, ctx_.tty);
    auto paced = pace(plan, sent, ctx_.stop, [&](std::uint64_t k, timestamp due) -> std::expected<void, std::string> {
      auto& e = events_[k % events_.size()];
      e.occurred_at = due;
      if (auto ok = (*made)->publish(e, k); !ok) return std::unexpected(ok.error().message);
      return {};
    });
    if (!paced) return std::unexpected(paced.error());
    (void)(*made)->flush(ctx_.config.delivery_timeout + 5s);
    sink.await(plan.measured_events(), 5s, ctx_.stop);
    receiver.request_stop();
    receiver.join();
    if (!consumer_error.empty()) return std::unexpected(consumer_error);
    auto r = sink.result(plan, ctx_);
    bar.finish(latency_text(r));
    return r;
  }

  // encode_framed as publish() does, decode_body into a reused event as the consumer does; this thread's
  // CPU time (not wall time, which a busy machine stretches), best of 3 passes.
  codec_result codec() const {
    auto iterations = std::max<std::uint64_t>(ctx_.options.events, 200'000);
    byte_buffer buffer(4'096);
    topic_event_of<Payload> decoded;
    std::uint64_t sink = 0;
    codec_result best{.encode_ns = HUGE_VAL, .decode_ns = HUGE_VAL};
    for (int pass = 0; pass < 3; ++pass) {
      auto t0 = cpu_clock_ns(CLOCK_THREAD_CPUTIME_ID);
      for (std::uint64_t i = 0; i < iterations; ++i) {
        buffer.clear();
        encode_framed(events_[i % events_.size()], buffer);
        sink += buffer.size();
      }
      auto t1 = cpu_clock_ns(CLOCK_THREAD_CPUTIME_ID);
      for (std::uint64_t i = 0; i < iterations; ++i) {
        auto frame = parse_frame(as_bytes(ctx_.wire[i % ctx_.wire.size()].value));
        if (frame && decode_body(frame->body, decoded)) sink += decoded.schema_version;
      }
      auto t2 = cpu_clock_ns(CLOCK_THREAD_CPUTIME_ID);
      auto per_event = [&](std::int64_t ns) { return static_cast<double>(ns) / static_cast<double>(iterations); };
      best.encode_ns = std::min(best.encode_ns, per_event(t1 - t0));
      best.decode_ns = std::min(best.decode_ns, per_event(t2 - t1));
    }
    if (sink == 0) best.decode_ns = HUGE_VAL;  // keeps `sink` observable
    return best;
  }

 private:
  bench_context& ctx_;
  std::vector<event<Payload>> events_;
};

}  // namespace horizons::kafka_bench
