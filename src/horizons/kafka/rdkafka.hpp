// librdkafka, owned (private to the kafka module).
//
// Every handle lives in a unique_ptr with an empty deleter struct, wrapped
// on the line it is obtained. A conf passes to rd_kafka_new() by release()
// only after the call succeeded: librdkafka owns it only then.
#pragma once

#include <chrono>

#include <expected>
#include <memory>
#include <string>
#include <string_view>

#include <librdkafka/rdkafka.h>
#include <spdlog/spdlog.h>

#include <horizons/config.hpp>
#include <horizons/kafka_error.hpp>

namespace horizons::detail {

struct kafka_deleter {
  void operator()(rd_kafka_t* p) const { rd_kafka_destroy(p); }
  void operator()(rd_kafka_conf_t* p) const { rd_kafka_conf_destroy(p); }
  void operator()(rd_kafka_topic_conf_t* p) const { rd_kafka_topic_conf_destroy(p); }
  void operator()(rd_kafka_topic_t* p) const { rd_kafka_topic_destroy(p); }
  void operator()(rd_kafka_topic_partition_list_t* p) const { rd_kafka_topic_partition_list_destroy(p); }
  void operator()(rd_kafka_message_t* p) const { rd_kafka_message_destroy(p); }
  void operator()(rd_kafka_headers_t* p) const { rd_kafka_headers_destroy(p); }
  void operator()(rd_kafka_queue_t* p) const { rd_kafka_queue_destroy(p); }
  void operator()(rd_kafka_event_t* p) const { rd_kafka_event_destroy(p); }
  void operator()(rd_kafka_error_t* p) const { rd_kafka_error_destroy(p); }
  void operator()(rd_kafka_AdminOptions_t* p) const { rd_kafka_AdminOptions_destroy(p); }
  void operator()(rd_kafka_NewTopic_t* p) const { rd_kafka_NewTopic_destroy(p); }
  void operator()(rd_kafka_ConfigResource_t* p) const { rd_kafka_ConfigResource_destroy(p); }
  void operator()(const rd_kafka_metadata_t* p) const { rd_kafka_metadata_destroy(p); }
};

using kafka_ptr = std::unique_ptr<rd_kafka_t, kafka_deleter>;
using conf_ptr = std::unique_ptr<rd_kafka_conf_t, kafka_deleter>;
using topic_conf_ptr = std::unique_ptr<rd_kafka_topic_conf_t, kafka_deleter>;
using topic_ptr = std::unique_ptr<rd_kafka_topic_t, kafka_deleter>;
using partition_list_ptr = std::unique_ptr<rd_kafka_topic_partition_list_t, kafka_deleter>;
using message_ptr = std::unique_ptr<rd_kafka_message_t, kafka_deleter>;
using headers_ptr = std::unique_ptr<rd_kafka_headers_t, kafka_deleter>;
using queue_ptr = std::unique_ptr<rd_kafka_queue_t, kafka_deleter>;
using event_ptr = std::unique_ptr<rd_kafka_event_t, kafka_deleter>;
using error_ptr = std::unique_ptr<rd_kafka_error_t, kafka_deleter>;
using admin_options_ptr = std::unique_ptr<rd_kafka_AdminOptions_t, kafka_deleter>;
using new_topic_ptr = std::unique_ptr<rd_kafka_NewTopic_t, kafka_deleter>;
using config_resource_ptr = std::unique_ptr<rd_kafka_ConfigResource_t, kafka_deleter>;
using metadata_ptr = std::unique_ptr<const rd_kafka_metadata_t, kafka_deleter>;

[[nodiscard]] kafka_error make_kafka_error(rd_kafka_resp_err_t code, std::string_view context);
[[nodiscard]] kafka_error make_kafka_error(const rd_kafka_error_t* error, std::string_view context);

/// The project's logger ("horizons"); librdkafka's own logs go to "rdkafka".
[[nodiscard]] spdlog::logger& log();

using horizons::client_role;

/// A conf with rdkafka_properties(config, role), the logging and error callbacks, and
/// `config`'s pass-through properties. The rest of a role's settings are the caller's.
[[nodiscard]] std::expected<conf_ptr, kafka_error> make_conf(const client_config& config, client_role role);

/// A conf with client_properties(config, role, settings) and the logging and error callbacks: what
/// the typed producer and consumer are made from, every property included.
[[nodiscard]] std::expected<conf_ptr, kafka_error> make_client_conf(const client_config& config, client_role role,
                                                                    const client_settings& settings);

/// Sets one property; the error names the property and librdkafka's reason.
[[nodiscard]] std::expected<void, kafka_error> set_property(rd_kafka_conf_t* conf, std::string_view name,
                                                            std::string_view value);
/// The same for a topic conf.
[[nodiscard]] std::expected<void, kafka_error> set_property(rd_kafka_topic_conf_t* conf, std::string_view name,
                                                            std::string_view value);

/// rd_kafka_new, taking ownership of `conf` only on success.
[[nodiscard]] std::expected<kafka_ptr, kafka_error> make_client(rd_kafka_type_t type, conf_ptr& conf);

/// The result of an admin request sent with `request_timeout` to `queue`. librdkafka answers every
/// admin request by its request timeout, with an error if need be: wait for that answer rather than
/// give up first. When a test killed the group coordinator, giving up a second after the timeout and
/// destroying the queue the request still referred to ended in an abort inside librdkafka 2.8
/// (rd_kafka_enq_once_del_source_return). Null only when no answer came 30 s after the timeout.
[[nodiscard]] event_ptr await_admin_result(rd_kafka_queue_t* queue, std::chrono::milliseconds request_timeout);

/// For clients that install their own error callback: passes the error on to await_brokers().
void note_client_error(const rd_kafka_t* client, int code, const char* reason) noexcept;

/// Waits up to the configured connect timeout for broker metadata; a clear error if none answers,
/// and at once if the brokers refuse the client's SASL login.
[[nodiscard]] std::expected<void, kafka_error> await_brokers(rd_kafka_t* client, const client_config& config);

}  // namespace horizons::detail
