// The registry's state kept in a compacted Kafka topic (`_schemas`): read from the beginning to
// its end at open, followed from then on, and written by one instance at a time.
//
//   auto store = topic_store::open({.config = config, .topic = "_schemas", .url = "http://127.0.0.1:8081"});
//   if (!store) return std::unexpected(store.error());
//   auto names = (*store)->read([](const schema_store& s) { return s.subjects(false); });
//   auto written = (*store)->write([&](const schema_store& s) -> decision {
//     return std::vector<fact>{config_fact{.subject = "", .level = compatibility_level::full}};
//   });   // the offset of the last record once this instance has read it back, or an api_error
//   (*store)->close();   // resigns the writer role if held; stops following
//
// The writer role (schema_store.hpp has the fencing rules). Every instance follows the topic. One
// that sees no writer, a resigned one, or no record from the writer for the writer's lease (its
// `lease` option, named in its claim), appends a claim of the next epoch; the first claim of an
// epoch wins, on every instance alike. The writer appends a heartbeat when it has written nothing
// for lease/3, and a resignation when it closes, so that another instance takes over at once
// rather than after the lease.
//
// A write: under one lock (one write at a time per instance), `decide` sees the state as this
// instance has read it — which includes all its own earlier writes — and returns the facts to
// append; they are appended (acks=all, idempotent) and write() returns only once this instance has
// read them back and seen each one applied. So an id is never given twice: the writer decides from
// a state holding every record that counts, and a record from anyone else is fenced. Errors:
//   not_the_writer    this instance does not hold the role (or lost it while writing);
//   store_error       Kafka refused the records or did not acknowledge them in time;
//   operation_timeout acknowledged but not read back within `write_timeout`.
//
// Threads: open() blocks until the topic is read to its end (at most `catch_up_timeout`). Then two
// threads of its own: one follows the topic and applies records, one keeps the writer role
// (claims, heartbeats, repairs of fenced records). read(), write(), wait_applied() and status()
// may be called from any thread; close() from one thread, after the last write() returned.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <expected>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <thread>
#include <vector>

#include <horizons/config.hpp>

#include "services/schema_registry/errors.hpp"
#include "services/schema_registry/facts.hpp"
#include "services/schema_registry/schema_store.hpp"

namespace horizons {
class record_writer;
class topic_reader;
}  // namespace horizons

namespace horizons::schema_registry_service {

/// What a write decides: the facts to append (none: nothing to write), or why not.
using decision = std::expected<std::vector<fact>, api_error>;

struct store_status {
  std::string instance;  ///< this instance's id in the records it writes
  writer_role writer{};
  bool this_instance_writes = false;
  std::int64_t applied_offset = -1;  ///< the last record applied; -1 before any
};

class topic_store {
 public:
  struct options {
    client_config config{};
    std::string topic = "_schemas";
    /// Where this instance answers, advertised in its claim: other instances forward writes there.
    std::string url{};
    /// How long the writer may go unheard before another instance claims the role.
    std::chrono::milliseconds lease{30'000};
    /// Bound on reading back a write (and on a claim's).
    std::chrono::milliseconds write_timeout{10'000};
    /// Bound on reading the topic to its end at open().
    std::chrono::milliseconds catch_up_timeout{120'000};
  };

  /// Creates the topic if it is missing (1 partition, cleanup.policy=compact, replication
  /// min(3, brokers)), refuses one with more partitions, reads it to its end, claims the writer
  /// role if nobody holds it, and starts following. Errors name the topic and the cause.
  [[nodiscard]] static std::expected<std::unique_ptr<topic_store>, std::string> open(options opts);
  ~topic_store();
  topic_store(const topic_store&) = delete;
  topic_store& operator=(const topic_store&) = delete;

  /// Calls `f(const schema_store&)` under a shared lock and returns what it returns.
  template <class F>
  auto read(F&& f) const {
    const std::shared_lock lock(state_mutex_);
    return f(state_);
  }

  /// See the header comment. The offset of the last record written, or the last one applied when
  /// `decide` wrote nothing.
  [[nodiscard]] std::expected<std::int64_t, api_error> write(
      const std::function<decision(const schema_store&)>& decide);

  /// Waits until every record up to `offset` is applied here; false on timeout.
  [[nodiscard]] bool wait_applied(std::int64_t offset, std::chrono::milliseconds timeout) const;
  [[nodiscard]] store_status status() const;

  /// Resigns the writer role if held, stops both threads. Idempotent; blocks up to the delivery timeout.
  void close();

 private:
  explicit topic_store(options opts);
  [[nodiscard]] std::expected<void, std::string> prepare_topic();
  [[nodiscard]] std::expected<void, std::string> catch_up();
  void apply_record(std::int64_t offset, const std::optional<std::string>& key, const std::string& value);
  void follow(std::stop_token stop);
  void keep_role(std::stop_token stop);
  // Appends `facts` stamped with `epoch`, waits until read back; the last offset. The caller holds write_mutex_.
  [[nodiscard]] std::expected<std::int64_t, api_error> append(const std::vector<fact>& facts, std::int64_t epoch);
  [[nodiscard]] std::expected<void, api_error> claim();
  void heartbeat();
  void repair();

  options opts_;
  std::string instance_;
  std::unique_ptr<topic_reader> reader_;
  std::unique_ptr<record_writer> writer_;

  mutable std::shared_mutex state_mutex_;  // guards state_ and last_heard_
  schema_store state_;
  std::chrono::steady_clock::time_point last_heard_{};  // the last record that counted from the writer

  std::mutex write_mutex_;  // one append at a time; guards last_written_
  std::chrono::steady_clock::time_point last_written_{};

  mutable std::mutex progress_mutex_;  // guards applied_offset_ and own_outcomes_
  mutable std::condition_variable progress_;
  std::int64_t applied_offset_ = -1;
  std::map<std::int64_t, apply_outcome> own_outcomes_;  // this instance's records, by offset, until looked at

  std::jthread follower_;
  std::jthread role_keeper_;
  bool closed_ = false;
};

}  // namespace horizons::schema_registry_service
