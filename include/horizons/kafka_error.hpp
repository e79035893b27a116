// Errors from Kafka clients, as values.
//
// `code` is librdkafka's error code (rd_kafka_resp_err_t) and `name` its
// symbolic name ("_QUEUE_FULL", "NOT_ENOUGH_REPLICAS", "_TIMED_OUT"), so an
// application can act on the class of error without including rdkafka.h.
#pragma once

#include <string>

namespace horizons {

struct kafka_error {
  int code = 0;
  std::string name;        // librdkafka's symbolic name
  std::string message;     // one line, for people
  bool fatal = false;      // the client is unusable: destroy it and create a new one
  bool retriable = false;  // the same request may succeed later
};

}  // namespace horizons
