// Prometheus metrics of this process: one registry that Horizons' consumers
// and the services record into, served as text by every service's /metrics.
//
//   auto& handled = prometheus::BuildCounter()
//                       .Name("horizons_webhooks_sent_total").Help("Webhooks delivered.")
//                       .Register(horizons::metrics::registry())
//                       .Add({{"service", "notification-dispatcher"}});
//   handled.Increment();
//   std::string body = horizons::metrics::exposition();   // text format 0.0.4, for GET /metrics
//
// What the library records by itself, per consumer (labels in braces):
//   horizons_event_latency_seconds{group,topic}        histogram: the record's production to the
//                                                      start of its handling (its CreateTime, which
//                                                      Horizons' producer sets from the clock
//                                                      reading of its produced-at header; the
//                                                      header on LogAppendTime topics)
//   horizons_handler_duration_seconds{group,event_type} histogram: each handler call
//   horizons_handler_retries_total{group,event_type}    handler calls repeated after a failure
//   horizons_dead_letters_total{group,topic,error_class} records written to a DLQ (decode, handler)
//   horizons_consumer_partition_lag_messages{group,topic,partition}
//                                                      records on an assigned partition not read
//                                                      yet (high watermark - position), about
//                                                      every second while the consumer polls
// Consumers batch their observations and add them at the end of each poll(), so a record costs
// two clock reads and a few additions, not a lock.
//
// Families are created on first use and live as long as the process (Prometheus counters only
// grow); a consumer's partition gauges go when it loses the partition or closes.
// Threads: everything here from any thread.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <prometheus/collectable.h>
#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

namespace horizons::metrics {

/// The process's registry: the library's families and any a service adds.
[[nodiscard]] prometheus::Registry& registry();

/// A source of families computed when scraped (the health monitor's latest evaluation), served
/// with the registry's until `source` expires. Its family names must not clash with the registry's.
void add_source(std::weak_ptr<prometheus::Collectable> source);

/// Every family of the process (the registry's, then each live source's), in the Prometheus text
/// exposition format 0.0.4.
[[nodiscard]] std::string exposition();

/// The Content-Type of exposition().
inline constexpr std::string_view content_type = "text/plain; version=0.0.4; charset=utf-8";

/// Bucket bounds in seconds: end-to-end latency (0.5 ms to 60 s) and work in a process (10 µs to 10 s).
[[nodiscard]] const prometheus::Histogram::BucketBoundaries& latency_buckets();
[[nodiscard]] const prometheus::Histogram::BucketBoundaries& duration_buckets();

}  // namespace horizons::metrics
