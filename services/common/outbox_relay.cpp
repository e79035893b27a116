#include "services/common/outbox_relay.hpp"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <map>
#include <mutex>
#include <optional>
#include <span>
#include <thread>
#include <vector>

#include <spdlog/spdlog.h>

#include <horizons/metrics.hpp>
#include <horizons/uuid.hpp>

#include "services/common/sql/sql.hpp"
#include "services/common/state_store.hpp"

namespace horizons::services {
namespace {

using clock = std::chrono::steady_clock;

std::int64_t wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

struct ack {
  std::int64_t seq;
  uuid event_id;
  bool ok;
  std::string error;
};

struct in_flight_row {
  std::string topic;
  std::string event_type;
};

constexpr std::size_t claim_batch = 1'000;

}  // namespace

struct outbox_relay::impl {
  options opts;
  std::string owner = uuid::random().to_string();  // this relay's claim on rows
  sql::database db;
  sql::statement claim, release, renew, record_delivered, remove;
  std::optional<sql::statement> claim_turn;  // PostgreSQL: claims take turns
  std::shared_ptr<relay_producer> shared;
  std::optional<relay_producer::connection> out;  // this relay's channel on the shared producer

  std::map<std::int64_t, in_flight_row> in_flight;  // relay thread only

  mutable std::mutex mutex;
  std::condition_variable wakeup;
  std::vector<ack> acks;  // from the delivery thread
  bool woken = false;
  bool stopping = false;
  clock::time_point deadline{};

  std::atomic<std::uint64_t> published{0}, delivered{0}, failed{0};
  std::thread thread;

  // Prometheus (horizons/metrics.hpp), labelled with the service.
  struct instruments {
    prometheus::Gauge& depth;
    prometheus::Counter& delivered;
    prometheus::Counter& failed;
  };
  instruments metrics = instruments_of(opts.service);
  clock::time_point next_depth_check{};

  static instruments instruments_of(const std::string& service) {
    auto& registry = horizons::metrics::registry();
    const prometheus::Labels labels{{"service", service}};
    return {
        .depth = prometheus::BuildGauge()
                     .Name("horizons_outbox_depth")
                     .Help("Events committed to a service's outbox and not yet acknowledged by Kafka.")
                     .Register(registry)
                     .Add(labels),
        .delivered = prometheus::BuildCounter()
                         .Name("horizons_outbox_published_total")
                         .Help("Outbox events acknowledged by Kafka and removed from the outbox.")
                         .Register(registry)
                         .Add(labels),
        .failed = prometheus::BuildCounter()
                      .Name("horizons_outbox_delivery_failures_total")
                      .Help("Outbox deliveries Kafka refused or that timed out; each is sent again.")
                      .Register(registry)
                      .Add(labels),
    };
  }

  impl(options o, sql::database d, sql::statement c, sql::statement rl, sql::statement rn, sql::statement rd,
       sql::statement rm)
      : opts(std::move(o)),
        db(std::move(d)),
        claim(std::move(c)),
        release(std::move(rl)),
        renew(std::move(rn)),
        record_delivered(std::move(rd)),
        remove(std::move(rm)) {}

  std::expected<void, std::string> connect() {
    auto made = shared->connect([this](const delivery_report& r) {
      std::lock_guard lock(mutex);
      acks.push_back({static_cast<std::int64_t>(r.tag), r.event_id, !r.error.has_value(),
                      r.error ? r.error->message : std::string()});
      wakeup.notify_one();
    });
    if (!made) return std::unexpected(made.error());
    out.emplace(std::move(*made));
    return {};
  }

  // Drops this relay's channel (no report reaches it afterwards), applies the acknowledgements heard
  // until then and releases every row still unacknowledged.
  void disconnect() {
    out.reset();
    std::vector<ack> batch;
    {
      std::lock_guard lock(mutex);
      batch.swap(acks);
    }
    apply(batch);
    for (const auto& [seq, row] : in_flight) (void)release.bind(1, seq).bind(2, owner).run();
    in_flight.clear();
  }

  void apply(std::vector<ack>& batch) {
    if (batch.empty()) return;
    auto tx = sql::transaction::begin(db);
    if (!tx) {
      spdlog::error("{} outbox: {}", opts.service, tx.error().message);
      return;  // rows stay claimed; the lease hands them out again
    }
    for (const auto& a : batch) {
      auto row = in_flight.find(a.seq);
      if (a.ok) {
        if (row != in_flight.end()) {
          (void)record_delivered.bind(1, a.event_id.to_string())
              .bind(2, row->second.topic)
              .bind(3, row->second.event_type)
              .bind(4, wall_ms() * 1000)
              .run();
        }
        (void)remove.bind(1, a.seq).run();
        ++delivered;
        metrics.delivered.Increment();
      } else {
        spdlog::warn("{} outbox: delivery of row {} failed ({}); sending it again", opts.service, a.seq, a.error);
        (void)release.bind(1, a.seq).bind(2, owner).run();
        ++failed;
        metrics.failed.Increment();
      }
      if (row != in_flight.end()) in_flight.erase(row);
    }
    if (auto ok = tx->commit(); !ok) spdlog::error("{} outbox: {}", opts.service, ok.error().message);
  }

  // Claims the next committed rows and hands them to the producer, in seq order.
  void publish_new() {
    struct claimed {
      std::int64_t seq;
      std::vector<std::byte> value;
    };
    std::vector<claimed> rows;
    {
      auto tx = sql::transaction::begin(db);
      if (!tx) return;
      if (claim_turn && !claim_turn->run()) return;
      auto now = wall_ms();
      claim.bind(1, owner)
          .bind(2, now + opts.lease.count())
          .bind(3, now)
          .bind(4, static_cast<std::int64_t>(claim_batch));
      while (claim.next()) {
        auto bytes = claim.blob(1);
        rows.push_back({claim.integer(0), {bytes.begin(), bytes.end()}});
      }
      if (claim.last_error() || !tx->commit()) return;
    }
    std::ranges::sort(rows, {}, &claimed::seq);
    for (std::size_t i = 0; i < rows.size(); ++i) {
      const auto& row = rows[i];
      auto decoded = decode_framed(row.value);
      if (!decoded) {
        // Only this build's encoder writes the outbox; an undecodable row is a bug, never retried.
        spdlog::error("{} outbox: row {} does not decode ({}); dropping it", opts.service, row.seq,
                      decoded.error().message);
        (void)remove.bind(1, row.seq).run();
        continue;
      }
      in_flight[row.seq] = {std::string(topic_name(topic_of(*decoded))), std::string(event_type_of_any(*decoded))};
      // The row's own bytes: the event was validated, and traced, when it entered the outbox.
      auto sent = std::visit(
          [&](const auto& e) {
            return out->channel->publish_encoded(
                {topic_of(*decoded), partition_key(e.payload), row.value, e, event_type_of(e.payload)},
                static_cast<std::uint64_t>(row.seq));
          },
          *decoded);
      if (!sent) {
        in_flight.erase(row.seq);
        // Hand back the rest of the batch too: claimed but never published, those rows would
        // otherwise stay with this relay (its renewals keep their lease) until it stops.
        for (const auto& unsent : std::span(rows).subspan(i)) {
          (void)release.bind(1, unsent.seq).bind(2, owner).run();
        }
        if (!sent.error().fatal) spdlog::warn("{} outbox: {}; retrying", opts.service, sent.error().message);
        return;
      }
      ++published;
    }
  }

  // Rows in the outbox (claimed or not); nullopt when the database cannot say.
  std::optional<std::int64_t> outbox_rows() {
    auto count = db.prepare("SELECT count(*) FROM outbox");
    if (!count) return std::nullopt;
    auto n = count->single_int();
    if (!n) return std::nullopt;
    return n->value_or(0);
  }

  [[nodiscard]] bool outbox_empty() { return outbox_rows() == 0; }

  // The depth gauge, counted about once a second.
  void measure_depth() {
    if (clock::now() < next_depth_check) return;
    next_depth_check = clock::now() + std::chrono::seconds(1);
    if (auto rows = outbox_rows()) metrics.depth.Set(static_cast<double>(*rows));
  }

  // Whether the relay has a working channel, recovering from a fatal producer error first.
  bool connected() {
    if (out) {
      auto fatal = out->source->fatal_error();
      if (!fatal) return true;
      spdlog::error("{} outbox: producer {} failed fatally ({}); recreating it", opts.service, shared->client_id(),
                    fatal->message);
      // The first relay to get here closes the failed producer, so what is in flight reports first.
      auto recovered = shared->recover(out->generation, std::chrono::milliseconds(1'000));
      disconnect();
      if (!recovered) {
        spdlog::error("{} outbox: {}", opts.service, recovered.error());
        return false;
      }
    }
    if (auto made = connect(); !made) {
      spdlog::error("{} outbox: {}", opts.service, made.error());
      return false;
    }
    return true;
  }

  void loop() {
    auto last_renewal = clock::now();
    for (;;) {
      std::vector<ack> batch;
      bool stop_now = false;
      clock::time_point stop_by{};
      {
        std::unique_lock lock(mutex);
        wakeup.wait_for(lock, std::chrono::milliseconds(50), [&] { return woken || !acks.empty(); });
        woken = false;
        batch.swap(acks);
        stop_now = stopping;
        stop_by = deadline;
      }
      apply(batch);
      if (connected()) {
        publish_new();
      } else if (!stop_now) {
        std::this_thread::sleep_for(std::chrono::seconds(1));
      }
      measure_depth();
      if (clock::now() - last_renewal > opts.lease / 3) {
        (void)renew.bind(1, wall_ms() + opts.lease.count()).bind(2, owner).run();
        last_renewal = clock::now();
      }
      if (stop_now && ((in_flight.empty() && outbox_empty()) || clock::now() >= stop_by)) break;
    }
    // The loop ends with nothing in flight, or at the deadline: what is unacknowledged then is released.
    disconnect();
    shared.reset();  // a relay's own producer closes now, not when the relay is destroyed
  }
};

std::expected<std::unique_ptr<outbox_relay>, std::string> outbox_relay::start(options opts) {
  auto db = sql::database::open(opts.database);
  if (!db) return std::unexpected(db.error().message);
  if (auto ok = create_shared_tables(*db); !ok) return std::unexpected(ok.error().message);
  // Rows are claimed in order and never past a row another live relay holds: per-key order in Kafka
  // follows the outbox even when a relay died with rows in flight (its successor waits out the lease
  // and sends those first).
  // `delivered` serves reports on recent runs; a day of it is plenty.
  if (auto prune = db->prepare("DELETE FROM delivered WHERE delivered_at < ?1")) {
    (void)prune->bind(1, static_cast<std::int64_t>((wall_ms() - 24 * 3'600'000) * 1000)).run();
  }
  auto claim = db->prepare(
      "UPDATE outbox SET claimed_by = ?1, claimed_until = ?2 WHERE seq IN "
      "(SELECT seq FROM outbox WHERE claimed_until < ?3 AND seq < coalesce((SELECT min(seq) FROM outbox "
      "WHERE claimed_by IS NOT NULL AND claimed_by != ?1 AND claimed_until >= ?3), 9223372036854775807) "
      "ORDER BY seq LIMIT ?4) RETURNING seq, value");
  auto release =
      db->prepare("UPDATE outbox SET claimed_by = NULL, claimed_until = 0 WHERE seq = ?1 AND claimed_by = ?2");
  auto renew = db->prepare("UPDATE outbox SET claimed_until = ?1 WHERE claimed_by = ?2");
  auto record = db->prepare(
      "INSERT INTO delivered(event_id, topic, event_type, delivered_at) VALUES (?1, ?2, ?3, ?4) "
      "ON CONFLICT DO NOTHING");
  auto remove = db->prepare("DELETE FROM outbox WHERE seq = ?1");
  for (auto* s : {&claim, &release, &renew, &record, &remove}) {
    if (!*s) return std::unexpected(s->error().message);
  }
  auto shared = opts.producer;
  if (!shared) {
    auto own = relay_producer::create(opts.config, opts.service);
    if (!own) return std::unexpected(own.error());
    shared = std::move(*own);
  }
  auto state = std::make_unique<impl>(std::move(opts), std::move(*db), std::move(*claim), std::move(*release),
                                      std::move(*renew), std::move(*record), std::move(*remove));
  state->shared = std::move(shared);
  if (state->db.kind() == sql::engine::postgresql) {
    // Under READ COMMITTED two claims could both see a row unclaimed; one claim at a time per outbox
    // keeps "never past a row another live relay holds" true. A claim is one short UPDATE.
    auto turn = state->db.prepare("SELECT pg_advisory_xact_lock(hashtext(current_schema() || ' outbox claim'))");
    if (!turn) return std::unexpected(turn.error().message);
    state->claim_turn.emplace(std::move(*turn));
  }
  if (auto made = state->connect(); !made) return std::unexpected(made.error());
  auto* raw = state.get();
  state->thread = std::thread([raw] { raw->loop(); });
  return std::unique_ptr<outbox_relay>(new outbox_relay(std::move(state)));
}

outbox_relay::outbox_relay(std::unique_ptr<impl> state) : impl_(std::move(state)) {}

outbox_relay::~outbox_relay() { stop(std::chrono::seconds(10)); }

void outbox_relay::wake() {
  std::lock_guard lock(impl_->mutex);
  impl_->woken = true;
  impl_->wakeup.notify_one();
}

std::size_t outbox_relay::stop(std::chrono::milliseconds timeout) {
  if (!impl_->thread.joinable()) return 0;
  {
    std::lock_guard lock(impl_->mutex);
    impl_->stopping = true;
    impl_->woken = true;  // once: while draining, the loop waits for acknowledgements rather than spin
    impl_->deadline = clock::now() + timeout;
    impl_->wakeup.notify_one();
  }
  impl_->thread.join();
  auto rows = impl_->outbox_rows().value_or(0);
  impl_->metrics.depth.Set(static_cast<double>(rows));
  return static_cast<std::size_t>(rows);
}

relay_stats outbox_relay::stats() const {
  return {.published = impl_->published, .delivered = impl_->delivered, .failed = impl_->failed};
}

}  // namespace horizons::services
