#include <horizons/testkit/message_capture.hpp>

#include <array>

#include <fmt/format.h>

#include <horizons/catalogue.hpp>
#include <horizons/json.hpp>

namespace horizons::testkit {

using namespace std::chrono_literals;

namespace {

std::string topic_list(const std::vector<topic_id>& topics) {
  std::string out;
  for (auto t : topics) {
    if (!out.empty()) out += ", ";
    out += topic_name(t);
  }
  return out;
}

std::size_t payload_index_of(const any_event& e) {
  return std::visit(
      [](const auto& topic_event) {
        return std::visit([](const auto& p) { return payload_index<std::decay_t<decltype(p)>>; }, topic_event.payload);
      },
      e);
}

}  // namespace

std::expected<std::unique_ptr<message_capture>, kafka_error> message_capture::start(options opts) {
  if (opts.topics.empty()) {
    for (const auto& t : catalogue) opts.topics.push_back(t.id);
  }
  auto group = opts.group.empty() ? "horizons-testkit-capture-" + uuid::random().to_string() : opts.group;
  std::unique_ptr<message_capture> capture(new message_capture(std::move(opts), std::move(group)));
  // The consumer is created, polled and closed on one thread (consumer.hpp); the promise carries
  // the outcome of create() back here. The thread owns the promise, so it outlives set_value().
  std::promise<std::expected<void, kafka_error>> created;
  auto outcome = created.get_future();
  capture->thread_ = std::jthread(
      [raw = capture.get(), created = std::move(created)](std::stop_token stop) mutable { raw->run(stop, created); });
  if (auto ok = outcome.get(); !ok) return std::unexpected(std::move(ok.error()));
  return capture;
}

message_capture::message_capture(options opts, std::string group) : opts_(std::move(opts)), group_(std::move(group)) {}

message_capture::~message_capture() { stop(); }

void message_capture::stop() {
  thread_.request_stop();
  if (thread_.joinable() && thread_.get_id() != std::this_thread::get_id()) thread_.join();
}

void message_capture::run(std::stop_token stop, std::promise<std::expected<void, kafka_error>>& created) {
  auto made = consumer::create({.config = opts_.config,
                                .topics = opts_.topics,
                                .group = group_,
                                .retry = {.max_attempts = 1},
                                .start = opts_.start,
                                .undecodable = undecodable_policy::skip});
  if (!made) {
    {
      std::scoped_lock lock(mutex_);
      error_ = made.error();
      stopped_ = true;
    }
    created.set_value(std::unexpected(made.error()));
    return;
  }
  auto& reader = **made;
  reader.on_every([this](const envelope& meta, const auto& payload, const message_context& at) -> handler_result {
    event<std::decay_t<decltype(payload)>> typed;
    static_cast<envelope&>(typed) = meta;
    typed.payload = payload;
    record({to_topic_event(std::move(typed)), at.detached()});
    return {};
  });
  created.set_value({});

  std::optional<kafka_error> failure;
  // consumer::run() with the stats read between polls.
  while (!stop.stop_requested()) {
    auto polled = reader.poll(100ms);
    undecodable_ = reader.stats().undecodable;
    if (!polled) {
      failure = polled.error();
      break;
    }
  }
  auto closed = reader.close();
  if (!failure && !closed) failure = closed.error();
  std::scoped_lock lock(mutex_);
  if (failure) error_ = failure;
  stopped_ = true;
  arrived_.notify_all();
}

void message_capture::record(captured_event captured) {
  std::scoped_lock lock(mutex_);
  captured_.push_back(std::move(captured));
  arrived_.notify_all();
}

std::optional<captured_event> message_capture::wait_for(const std::function<bool(const captured_event&)>& matches,
                                                        std::chrono::milliseconds timeout) const {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  std::size_t scanned = 0;
  std::unique_lock lock(mutex_);
  for (;;) {
    // The predicate is the caller's code: run it on copies, without the lock.
    std::vector<captured_event> fresh(captured_.begin() + static_cast<std::ptrdiff_t>(scanned), captured_.end());
    scanned = captured_.size();
    lock.unlock();
    for (auto& c : fresh) {
      if (matches(c)) return std::move(c);
    }
    lock.lock();
    if (captured_.size() > scanned) continue;
    if (stopped_) return std::nullopt;  // nothing more will arrive
    if (!arrived_.wait_until(lock, deadline, [&] { return captured_.size() > scanned || stopped_; })) {
      return std::nullopt;
    }
  }
}

testing::AssertionResult message_capture::wait_for_count(std::size_t count, std::chrono::milliseconds timeout) {
  {
    std::unique_lock lock(mutex_);
    arrived_.wait_for(lock, timeout, [&] { return captured_.size() >= count || stopped_; });
    if (captured_.size() >= count) return testing::AssertionSuccess();
  }
  return testing::AssertionFailure() << "wanted " << count << " events within " << timeout.count() << " ms; "
                                     << describe();
}

std::vector<captured_event> message_capture::all() const {
  std::scoped_lock lock(mutex_);
  return captured_;
}

std::size_t message_capture::count() const {
  std::scoped_lock lock(mutex_);
  return captured_.size();
}

std::uint64_t message_capture::undecodable() const { return undecodable_.load(); }

std::optional<kafka_error> message_capture::error() const {
  std::scoped_lock lock(mutex_);
  return error_;
}

std::string message_capture::describe() const {
  std::array<std::size_t, payload_count> per_type{};
  std::size_t total = 0;
  std::optional<kafka_error> failure;
  {
    std::scoped_lock lock(mutex_);
    for (const auto& c : captured_) ++per_type[payload_index_of(c.event)];
    total = captured_.size();
    failure = error_;
  }
  auto text = fmt::format("{} event{} captured from {} (group {})", total, total == 1 ? "" : "s",
                          topic_list(opts_.topics), group_);
  const char* separator = ": ";
  for (std::size_t i = 0; i < payload_count; ++i) {
    if (per_type[i] == 0) continue;
    text += fmt::format("{}{} x{}", separator, all_event_types[i], per_type[i]);
    separator = ", ";
  }
  if (auto bad = undecodable_.load(); bad > 0) text += fmt::format("; {} undecodable records skipped", bad);
  if (failure) text += fmt::format("; the consumer stopped: {} ({})", failure->message, failure->name);
  return text;
}

void message_capture::report_missing(std::string_view event_type, std::string_view condition,
                                     std::chrono::milliseconds timeout, const std::source_location& where) const {
  // The last few events of the wanted type show why the predicate refused them.
  constexpr std::size_t shown = 3;
  std::vector<std::string> recent;
  {
    std::scoped_lock lock(mutex_);
    for (auto it = captured_.rbegin(); it != captured_.rend() && recent.size() < shown; ++it) {
      if (envelope_of(it->event).event_type == event_type) recent.push_back(to_json(it->event));
    }
  }
  std::string samples;
  if (!recent.empty()) {
    samples = fmt::format("\nlast {} {} event{} captured (newest first):", recent.size(), event_type,
                          recent.size() == 1 ? "" : "s");
    for (const auto& json : recent) samples += "\n  " + json;
  }
  ADD_FAILURE_AT(where.file_name(), static_cast<int>(where.line()))
      << "expect_event: no " << event_type << " event " << condition << "within " << timeout.count() << " ms; "
      << describe() << samples;
}

}  // namespace horizons::testkit
