// The metrics aggregator's fold: each job's samples folded into one row of
// <data_dir>/metrics-aggregator/state.db (table `folds`), and the job's
// `job.performance.summary` put into the outbox when its allocation is released.
//
//   metrics_aggregator::job_folds folds(store);           // store: the service's state_store
//   if (auto ok = folds.prepare(); !ok) return fail(ok.error());
//   folds.fold(meta, sample);                             // a job.metrics.recorded record
//   folds.released(meta, allocation_change);              // deallocated: the summary is emitted
//
// The summary: sample_count samples; execution_time_ms the sum of their
// intervals; cpu/gpu averages over the samples and maxima; memory and GPU
// memory peaks; network and disk totals in MB (each sample's rate times its
// interval). The fold is commutative, so samples may arrive in any order.
// Each record counts once (state_store::handle_once by event id): a
// redelivered sample or release changes nothing. A sample arriving after its
// job's summary is logged and not folded; a second release of a summarized
// job emits nothing. A job released without samples gets a summary of zeros.
//
// Threads: the thread that owns `store`, which must outlive the fold.
#pragma once

#include <expected>
#include <functional>
#include <string>

#include <horizons/consumer.hpp>
#include <horizons/events.hpp>

#include "services/common/state_store.hpp"

namespace horizons::metrics_aggregator {

class job_folds {
 public:
  explicit job_folds(services::state_store& store) : store_(store) {}

  /// Creates the folds table if needed.
  [[nodiscard]] std::expected<void, std::string> prepare();
  /// Folds one sample; an error means nothing was kept (the consumer retries).
  [[nodiscard]] handler_result fold(const envelope& meta, const job_metrics_recorded& sample);
  /// On a deallocation, emits the job's summary (once); other allocation changes are ignored.
  [[nodiscard]] handler_result released(const envelope& meta, const resource_allocation_changed& change);

 private:
  handler_result once(const envelope& meta, const std::function<services::step_result(services::outbox&)>& step);
  std::expected<job_performance_summary, std::string> summary_of(const std::string& job_id);

  services::state_store& store_;
};

}  // namespace horizons::metrics_aggregator
