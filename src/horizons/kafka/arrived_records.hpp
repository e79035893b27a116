// What a consumer has received and not handed out yet, taken from librdkafka in batches (private to
// the kafka module; the bench's raw side takes records the same way, through this class).
//
//   rd_kafka_poll_set_consumer(client);
//   detail::arrived_records arrived(client);
//   detail::message_ptr record = arrived.take(wait_ms);   // null when none came within wait_ms
//
// take() takes everything that has arrived (up to 512 records) in one rd_kafka_consume_batch_queue()
// call, one round of librdkafka's queue locking per batch instead of per record, and hands the records
// out in order. Only when nothing has arrived does it wait, up to `wait_ms`, in rd_kafka_consumer_poll()
// for one record: a batch call with a timeout waits for a full batch. Records taken and not handed out
// are destroyed by drop() or the destructor without being stored, so they are delivered again.
//
// Threads: the one that polls the client. The client must outlive this object.
#pragma once

#include <array>
#include <cstddef>

#include "rdkafka.hpp"

namespace horizons::detail {

class arrived_records {
 public:
  explicit arrived_records(rd_kafka_t* client) : client_(client), queue_(rd_kafka_queue_get_consumer(client)) {}
  ~arrived_records() { drop(); }
  arrived_records(const arrived_records&) = delete;
  arrived_records& operator=(const arrived_records&) = delete;

  [[nodiscard]] message_ptr take(int wait_ms) {
    if (next_ == count_) {
      auto taken = rd_kafka_consume_batch_queue(queue_.get(), 0, records_.data(), records_.size());
      next_ = 0;
      count_ = taken > 0 ? static_cast<std::size_t>(taken) : 0;
      if (count_ == 0) return message_ptr(rd_kafka_consumer_poll(client_, wait_ms));
    }
    return message_ptr(records_[next_++]);
  }

  void drop() {
    while (next_ < count_) rd_kafka_message_destroy(records_[next_++]);
  }

 private:
  rd_kafka_t* client_;
  queue_ptr queue_;  // the consumer queue
  std::array<rd_kafka_message_t*, 512> records_{};
  std::size_t next_ = 0, count_ = 0;
};

}  // namespace horizons::detail
