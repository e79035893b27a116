#include "services/schema_registry/topic_store.hpp"

#include <algorithm>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <horizons/admin.hpp>
#include <horizons/record_writer.hpp>
#include <horizons/topic_reader.hpp>
#include <horizons/uuid.hpp>

namespace horizons::schema_registry_service {

namespace {

using namespace std::chrono_literals;
using clock = std::chrono::steady_clock;

constexpr auto role_tick = 100ms;

std::string describe(const fact& what) {
  struct visitor {
    std::string operator()(const schema_fact& f) const {
      return fmt::format("subject {} version {} (id {})", f.subject, f.version, f.id);
    }
    std::string operator()(const config_fact& f) const {
      return f.subject.empty() ? "the global level" : fmt::format("the level of subject {}", f.subject);
    }
    std::string operator()(const claim_fact&) const { return "a claim"; }
    std::string operator()(const resign_fact&) const { return "a resignation"; }
    std::string operator()(const heartbeat_fact&) const { return "a heartbeat"; }
  };
  return std::visit(visitor{}, what);
}

std::string_view outcome_name(apply_outcome outcome) {
  return outcome == apply_outcome::applied ? "applied" : outcome == apply_outcome::fenced ? "fenced" : "conflicting";
}

}  // namespace

topic_store::topic_store(options opts) : opts_(std::move(opts)), instance_(uuid::random().to_string()) {}

topic_store::~topic_store() { close(); }

std::expected<std::unique_ptr<topic_store>, std::string> topic_store::open(options opts) {
  std::unique_ptr<topic_store> store(new topic_store(std::move(opts)));
  if (auto ready = store->prepare_topic(); !ready) return std::unexpected(ready.error());
  // A short fetch wait: the mock cluster answers an empty fetch only after it, and a write is
  // acknowledged only once read back. Real brokers answer as soon as data arrives either way.
  auto reader_config = store->opts_.config;
  reader_config.fetch_wait = std::min<std::chrono::milliseconds>(reader_config.fetch_wait, 100ms);
  auto reader = topic_reader::open(reader_config, store->opts_.topic, read_from::beginning);
  if (!reader) return std::unexpected(fmt::format("cannot read {}: {}", store->opts_.topic, reader.error().message));
  store->reader_ = std::move(*reader);
  auto writer = record_writer::create(store->opts_.config);
  if (!writer) return std::unexpected(fmt::format("cannot write {}: {}", store->opts_.topic, writer.error().message));
  store->writer_ = std::move(*writer);
  if (auto read = store->catch_up(); !read) return std::unexpected(read.error());

  store->follower_ = std::jthread([raw = store.get()](std::stop_token stop) { raw->follow(stop); });
  // Nobody writes: claim now, so that a lone instance accepts writes as soon as it answers.
  const auto role = store->status().writer;
  if (role.epoch == 0 || role.resigned) {
    if (auto claimed = store->claim(); !claimed) spdlog::warn("schema registry: {}", claimed.error().message);
  }
  store->role_keeper_ = std::jthread([raw = store.get()](std::stop_token stop) { raw->keep_role(stop); });
  return store;
}

std::expected<void, std::string> topic_store::prepare_topic() {
  auto made = admin::create(opts_.config);
  if (!made) return std::unexpected(fmt::format("cannot reach Kafka for {}: {}", opts_.topic, made.error().message));
  auto& kafka = **made;
  auto metadata = kafka.metadata();
  if (!metadata) return std::unexpected(fmt::format("{}: {}", opts_.topic, metadata.error().message));
  const int replication = std::min<int>(3, static_cast<int>(metadata->brokers.size()));
  auto created =
      kafka.create_topic({.name = opts_.topic,
                          .partitions = 1,
                          .replication = replication,
                          .configs = {{"cleanup.policy", "compact"},
                                      {"min.insync.replicas", std::to_string(std::max(1, replication - 1))}}});
  if (!created) {
    return std::unexpected(
        fmt::format("topic {} is missing and could not be created ({}); create it with 1 partition "
                    "and cleanup.policy=compact",
                    opts_.topic, created.error().message));
  }
  if (*created == topic_creation::existed) {
    metadata = kafka.metadata();
    if (!metadata) return std::unexpected(fmt::format("{}: {}", opts_.topic, metadata.error().message));
    const auto found = std::ranges::find(metadata->topics, opts_.topic, &topic_info::name);
    if (found != metadata->topics.end() && found->partitions.size() != 1) {
      return std::unexpected(
          fmt::format("topic {} has {} partitions; the registry needs exactly 1 (a total order of "
                      "its records)",
                      opts_.topic, found->partitions.size()));
    }
  }
  return {};
}

std::expected<void, std::string> topic_store::catch_up() {
  const auto deadline = clock::now() + opts_.catch_up_timeout;
  std::size_t records = 0;
  while (!reader_->at_end()) {
    if (clock::now() > deadline) {
      return std::unexpected(fmt::format("{} not read to its end within {} ms ({} records read)", opts_.topic,
                                         opts_.catch_up_timeout.count(), records));
    }
    auto next = reader_->next(200ms);
    if (!next) return std::unexpected(fmt::format("cannot read {}: {}", opts_.topic, next.error().message));
    if (!*next) continue;
    apply_record((*next)->offset, (*next)->key, (*next)->value);
    ++records;
  }
  const std::unique_lock lock(state_mutex_);
  last_heard_ = clock::now();  // a writer named by the log gets a whole lease from now
  spdlog::info("schema registry: read {} records of {}; writer epoch {}", records, opts_.topic, state_.writer().epoch);
  return {};
}

void topic_store::apply_record(std::int64_t offset, const std::optional<std::string>& key, const std::string& value) {
  // The reader cannot tell an empty value from none; this registry never writes an empty one.
  auto decoded = decode(key.value_or(""), value.empty() ? std::nullopt : std::optional<std::string_view>(value));
  std::optional<apply_outcome> outcome;
  if (decoded) {
    const std::unique_lock lock(state_mutex_);
    outcome = state_.apply(*decoded);
    if (*outcome == apply_outcome::applied) last_heard_ = clock::now();
  } else {
    spdlog::warn("schema registry: {} offset {} skipped: {}", opts_.topic, offset, decoded.error());
  }
  if (outcome && *outcome != apply_outcome::applied && !std::holds_alternative<claim_fact>(decoded->what)) {
    spdlog::warn("schema registry: {} offset {}: {} by {} (epoch {}) {}", opts_.topic, offset, describe(decoded->what),
                 decoded->writer, decoded->epoch, outcome_name(*outcome));
  }
  const std::scoped_lock lock(progress_mutex_);
  if (outcome && decoded->writer == instance_ && !std::holds_alternative<heartbeat_fact>(decoded->what)) {
    own_outcomes_.insert_or_assign(offset, *outcome);
  }
  applied_offset_ = offset;
  progress_.notify_all();
}

void topic_store::follow(std::stop_token stop) {
  while (!stop.stop_requested()) {
    auto next = reader_->next(role_tick);
    if (!next) {
      spdlog::error("schema registry: reading {}: {}", opts_.topic, next.error().message);
      std::this_thread::sleep_for(1s);
      continue;
    }
    if (*next) apply_record((*next)->offset, (*next)->key, (*next)->value);
  }
}

void topic_store::keep_role(std::stop_token stop) {
  const auto heartbeat_every = opts_.lease / 3;
  auto next_claim = clock::now();
  std::mutex tick_mutex;
  std::condition_variable_any tick;
  while (!stop.stop_requested()) {
    {
      std::unique_lock lock(tick_mutex);
      tick.wait_for(lock, stop, role_tick, [] { return false; });
    }
    if (stop.stop_requested()) return;
    auto [writes, role, heard, repairs] = read([&](const schema_store& s) {
      return std::tuple{s.is_writer(instance_), s.writer(), last_heard_, !s.repairs().empty()};
    });
    const auto now = clock::now();
    if (writes) {
      bool idle = false;
      {
        const std::scoped_lock lock(write_mutex_);
        idle = now - last_written_ >= heartbeat_every;
      }
      if (idle) heartbeat();
      if (repairs) repair();
    } else if ((role.epoch == 0 || role.resigned || now - heard >= role.lease) && now >= next_claim) {
      if (role.epoch > 0 && !role.resigned) {
        spdlog::warn("schema registry: nothing from the writer {} (epoch {}) for {} ms; claiming the role", role.url,
                     role.epoch, std::chrono::duration_cast<std::chrono::milliseconds>(now - heard).count());
      }
      if (auto claimed = claim(); !claimed) {
        spdlog::info("schema registry: {}", claimed.error().message);
        next_claim = clock::now() + std::max<std::chrono::milliseconds>(opts_.lease / 4, role_tick);
      }
    }
  }
}

std::expected<void, api_error> topic_store::claim() {
  const std::scoped_lock writing(write_mutex_);
  const auto epoch = read([](const schema_store& s) { return s.writer().epoch + 1; });
  auto written = append({claim_fact{.url = opts_.url, .lease_ms = opts_.lease.count()}}, epoch);
  if (!written && written.error().code == error_code::not_the_writer) {
    return std::unexpected(
        api_error::make(error_code::not_the_writer, fmt::format("another instance claimed epoch {} first", epoch)));
  }
  if (!written) {
    return std::unexpected(
        api_error::make(written.error().code, fmt::format("claim of epoch {}: {}", epoch, written.error().message)));
  }
  spdlog::info("schema registry: this instance ({}) writes to {} from epoch {}", opts_.url, opts_.topic, epoch);
  return {};
}

void topic_store::heartbeat() {
  std::unique_lock lock(write_mutex_, std::try_to_lock);
  if (!lock) return;  // a write is under way: that is a sign of life already
  const auto epoch = read([](const schema_store& s) { return s.writer().epoch; });
  const auto record = encode({.what = heartbeat_fact{}, .epoch = epoch, .writer = instance_});
  const keyed_record records[]{{.key = record.key, .value = record.value}};
  if (auto written = writer_->write(opts_.topic, records); !written) {
    spdlog::warn("schema registry: heartbeat to {}: {}", opts_.topic, written.error().message);
    return;
  }
  last_written_ = clock::now();
}

void topic_store::repair() {
  auto written = write([](const schema_store& s) -> decision { return s.repairs(); });
  if (!written) {
    spdlog::warn("schema registry: rewriting the facts of fenced records: {}", written.error().message);
  } else {
    spdlog::warn("schema registry: rewrote the facts of fenced records (up to offset {})", *written);
  }
}

std::expected<std::int64_t, api_error> topic_store::write(const std::function<decision(const schema_store&)>& decide) {
  const std::unique_lock writing(write_mutex_);
  std::vector<fact> facts;
  std::int64_t epoch = 0;
  {
    const std::shared_lock lock(state_mutex_);
    const auto& role = state_.writer();
    if (!state_.is_writer(instance_)) {
      return std::unexpected(api_error::make(
          error_code::not_the_writer,
          role.epoch == 0 || role.resigned
              ? std::string("no instance holds the writer role yet (an election is under way); retry shortly")
              : fmt::format("this instance is not the writer; the writer is {}", role.url)));
    }
    auto decided = decide(state_);
    if (!decided) return std::unexpected(std::move(decided.error()));
    facts = std::move(*decided);
    epoch = role.epoch;
  }
  if (facts.empty()) {
    const std::scoped_lock lock(progress_mutex_);
    return applied_offset_;
  }
  auto written = append(facts, epoch);
  return written;
}

std::expected<std::int64_t, api_error> topic_store::append(const std::vector<fact>& facts, std::int64_t epoch) {
  std::vector<keyed_record> records;
  records.reserve(facts.size());
  for (const auto& f : facts) {
    auto encoded = encode({.what = f, .epoch = epoch, .writer = instance_});
    records.push_back({.key = std::move(encoded.key), .value = std::move(encoded.value)});
  }
  auto offsets = writer_->write(opts_.topic, records);
  if (!offsets) return std::unexpected(api_error::make(error_code::store_error, offsets.error().message));
  last_written_ = clock::now();
  if (!wait_applied(offsets->back(), opts_.write_timeout)) {
    return std::unexpected(api_error::make(error_code::operation_timeout,
                                           fmt::format("written to {} up to offset {}, but not read back within {} ms",
                                                       opts_.topic, offsets->back(), opts_.write_timeout.count())));
  }
  const std::scoped_lock lock(progress_mutex_);
  std::optional<std::string> refused;
  for (std::size_t i = 0; i < offsets->size(); ++i) {
    const auto found = own_outcomes_.find((*offsets)[i]);
    const auto outcome = found == own_outcomes_.end() ? apply_outcome::conflicting : found->second;
    if (outcome != apply_outcome::applied && !refused) {
      refused = fmt::format("{} at offset {} was {}", describe(facts[i]), (*offsets)[i], outcome_name(outcome));
    }
  }
  own_outcomes_.erase(own_outcomes_.begin(), own_outcomes_.upper_bound(offsets->back()));
  if (refused) {
    return std::unexpected(api_error::make(
        error_code::not_the_writer, fmt::format("this instance lost the writer role while writing: {}", *refused)));
  }
  return offsets->back();
}

bool topic_store::wait_applied(std::int64_t offset, std::chrono::milliseconds timeout) const {
  std::unique_lock lock(progress_mutex_);
  return progress_.wait_for(lock, timeout, [&] { return applied_offset_ >= offset; });
}

store_status topic_store::status() const {
  store_status s{.instance = instance_};
  {
    const std::shared_lock lock(state_mutex_);
    s.writer = state_.writer();
    s.this_instance_writes = state_.is_writer(instance_);
  }
  const std::scoped_lock lock(progress_mutex_);
  s.applied_offset = applied_offset_;
  return s;
}

void topic_store::close() {
  if (closed_) return;
  closed_ = true;
  role_keeper_ = {};  // request_stop + join
  if (writer_ && read([&](const schema_store& s) { return s.is_writer(instance_); })) {
    const std::scoped_lock writing(write_mutex_);
    const auto epoch = read([](const schema_store& s) { return s.writer().epoch; });
    const auto record = encode({.what = resign_fact{}, .epoch = epoch, .writer = instance_});
    const keyed_record records[]{{.key = record.key, .value = record.value}};
    if (auto written = writer_->write(opts_.topic, records); !written) {
      spdlog::warn("schema registry: resigning the writer role: {}", written.error().message);
    } else {
      spdlog::info("schema registry: resigned the writer role of epoch {}", epoch);
    }
  }
  follower_ = {};
  reader_.reset();
  writer_.reset();
}

}  // namespace horizons::schema_registry_service
