// Client configuration: built-in defaults, then the environment, then a
// config file, then command-line flags — each later source wins.
//
//   auto config = horizons::load_config({
//       .environment = horizons::process_environment(),
//       .file = "/etc/horizons.conf",                       // optional
//       .flags = {{"KAFKA_BROKERS", "127.0.0.1:9092"}},      // from --brokers
//   });
//   if (!config) { fmt::print(stderr, "{}\n", config.error().message); return 2; }
//
// Every setting has one name, the environment variable's, used in all three
// sources (the file holds `NAME=value` lines, `#` starts a comment). A value
// that does not parse is refused with its name, its source and what was
// expected:  "KAFKA_SESSION_TIMEOUT_MS (from --session-timeout-ms): expected
// an integer of milliseconds in 1000..3600000, got 'soon'". Unknown names in
// the file are refused too (a typo must not pass silently). Any librdkafka
// property can be passed through as `KAFKA_RDKAFKA_<property with dots as
// underscores>` in the environment or file (KAFKA_RDKAFKA_STATISTICS_INTERVAL_MS
// -> statistics.interval.ms), or as a flags entry whose key is the property
// itself (`-X property=value`); those are checked by librdkafka itself when a
// client is created. Every source is checked, even where a later one
// overrides a value, and a password is never echoed in a message.
#pragma once

#include <chrono>
#include <cstdint>
#include <expected>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <horizons/catalogue.hpp>

namespace horizons {

enum class security_protocol : std::uint8_t { plaintext, ssl, sasl_plaintext, sasl_ssl };
enum class sasl_mechanism : std::uint8_t { plain, scram_sha_256, scram_sha_512 };
/// The consumer group protocol: `classic` (JoinGroup/SyncGroup, the default) or `consumer` (KIP-848,
/// the broker assigns partitions; librdkafka 2.8 calls it early access; needs Kafka 4.0 or newer).
enum class group_protocol : std::uint8_t { classic, consumer };

/// How a topic's record schema is named in a schema registry (SCHEMA_REGISTRY_SUBJECT_NAME_STRATEGY).
enum class subject_name_strategy : std::uint8_t {
  topic_name,   ///< "<topic>-value" (Confluent's default, TopicNameStrategy); spelled "topic"
  record_name,  ///< the record's full name, "namespace.Name" (RecordNameStrategy); spelled "record"
};

struct client_config {
  /// KAFKA_BROKERS: comma-separated host:port list. Empty: `horizons run` and `horizons bench` start the
  /// embedded cluster; the other commands that talk to Kafka refuse ("no Kafka brokers: ...").
  std::string brokers{};
  /// KAFKA_CLIENT_ID
  std::string client_id = "horizons";
  /// KAFKA_CONSUMER_GROUP_ID: overrides the catalogue's group of the consumed topic.
  std::optional<std::string> consumer_group{};
  /// KAFKA_COMPRESSION_TYPE: overrides every topic's catalogue compression when set.
  std::optional<compression> compression_override{};
  /// KAFKA_SESSION_TIMEOUT_MS (1000..3600000)
  std::chrono::milliseconds session_timeout{45'000};
  /// KAFKA_CONSUMER_FETCH_WAIT_MS (0..300000): librdkafka's fetch.wait.max.ms. Real brokers answer
  /// as soon as data arrives; librdkafka's mock cluster always waits this long when a fetch finds
  /// nothing, so the embedded cluster wants it short.
  std::chrono::milliseconds fetch_wait{500};
  /// KAFKA_CONSUMER_MAX_RECORD_BYTES (1..1000000000): a consumed record whose value is longer is
  /// dead-lettered without being decoded, its value left out of the letter (consumer.hpp).
  std::int64_t max_record_bytes = 1'048'576;
  /// KAFKA_PRODUCER_LINGER_MS (0..900000)
  std::chrono::milliseconds linger{5};
  /// KAFKA_PRODUCER_BATCH_SIZE: bytes per partition batch (1..2147483647)
  int batch_size = 1'000'000;
  /// KAFKA_DELIVERY_TIMEOUT_MS: how long a publish may wait for acknowledgement (1000..2147483647)
  std::chrono::milliseconds delivery_timeout{120'000};
  /// KAFKA_CONNECT_TIMEOUT_MS: bound on "brokers unreachable" before an error (1000..600000)
  std::chrono::milliseconds connect_timeout{10'000};
  /// KAFKA_SECURITY_PROTOCOL: plaintext | ssl | sasl_plaintext | sasl_ssl
  security_protocol security = security_protocol::plaintext;
  /// KAFKA_SASL_MECHANISM: PLAIN | SCRAM-SHA-256 | SCRAM-SHA-512
  sasl_mechanism mechanism = sasl_mechanism::scram_sha_512;
  /// KAFKA_SASL_USERNAME, KAFKA_SASL_PASSWORD
  std::string sasl_username{};
  std::string sasl_password{};
  /// KAFKA_SSL_CA_LOCATION: CA certificate file for ssl / sasl_ssl (empty: the system's CA store)
  std::string ssl_ca_location{};
  /// KAFKA_SSL_CERTIFICATE_LOCATION, KAFKA_SSL_KEY_LOCATION: the client's certificate and private key
  /// (PEM) for mutual TLS; both or neither, only with ssl / sasl_ssl.
  std::string ssl_certificate_location{};
  std::string ssl_key_location{};
  /// KAFKA_SSL_KEY_PASSWORD: the password of an encrypted private key.
  std::string ssl_key_password{};
  /// KAFKA_GROUP_PROTOCOL: classic | consumer. With `consumer` the session timeout is the broker's
  /// group.consumer.session.timeout.ms, so KAFKA_SESSION_TIMEOUT_MS is refused alongside it.
  horizons::group_protocol group_protocol = group_protocol::classic;
  /// SCHEMA_REGISTRY_URL: a Confluent-compatible schema registry, http[s]://host[:port][/path];
  /// empty means none (records carry the catalogue's compiled schema ids).
  std::string registry_url{};
  /// SCHEMA_REGISTRY_BASIC_AUTH_USER_INFO: "user:password" for the registry's basic authentication.
  std::string registry_basic_auth_user_info{};
  /// SCHEMA_REGISTRY_SSL_CA_LOCATION: CA certificate (PEM) for an https registry (empty: system store).
  std::string registry_ca_location{};
  /// SCHEMA_REGISTRY_AUTO_REGISTER: true (a producer registers this build's schemas) | false (it only
  /// looks them up, and fails to start if one is not registered).
  bool registry_auto_register = true;
  /// SCHEMA_REGISTRY_SUBJECT_NAME_STRATEGY: topic | record.
  subject_name_strategy registry_subject_strategy = subject_name_strategy::topic_name;
  /// librdkafka properties passed through unchanged (name -> value), applied last. Those the
  /// guarantees rest on (acks, enable.idempotence, enable.auto.offset.store) are refused with any
  /// other value than Horizons' own unless unsafe_rdkafka_overrides is set.
  std::map<std::string, std::string> rdkafka{};
  /// KAFKA_UNSAFE_RDKAFKA_OVERRIDES: true lets -X / KAFKA_RDKAFKA_* weaken acks, idempotence and
  /// offset storing, giving up the delivery guarantees (default false).
  bool unsafe_rdkafka_overrides = false;
};

/// Where settings come from. The `{}` initialisers let callers name only the
/// sources they have: g++ 12 -Wextra warns about omitted members without them.
struct config_sources {
  // Only KAFKA_* and SCHEMA_REGISTRY_* names are read; unknown ones (KAFKA_HOME,
  // KAFKA_OPTS of Kafka's own scripts) are skipped.
  std::map<std::string, std::string> environment{};
  // NAME=value lines; whole-line `#` comments and blank lines are skipped,
  // whitespace around NAME and value is trimmed, the value is taken literally
  // (no quotes). A line without '=' or an unknown NAME is refused.
  std::optional<std::filesystem::path> file{};
  // NAME -> value, from the command line. A key containing a '.' or without
  // upper-case letters is a librdkafka property passed as is (`-X linger.ms=5`).
  std::map<std::string, std::string> flags{};
  std::map<std::string, std::string> flag_names{};  // NAME -> "--flag" spelling, for messages
};

struct config_error {
  std::string message;
};

[[nodiscard]] std::expected<client_config, config_error> load_config(const config_sources& sources);

/// The process's KAFKA_* and SCHEMA_REGISTRY_* environment variables.
[[nodiscard]] std::map<std::string, std::string> process_environment();

/// A setting's name and the one-line help a CLI shows for it.
struct setting_doc {
  std::string_view name;
  std::string_view flag;  // long flag without dashes, e.g. "session-timeout-ms"; empty if none
  std::string_view help;
};
/// Every setting load_config understands, for --help and README generation.
[[nodiscard]] const std::vector<setting_doc>& config_settings();

/// librdkafka's "security.protocol" etc. spellings.
[[nodiscard]] std::string_view to_string(security_protocol p);
[[nodiscard]] std::string_view to_string(sasl_mechanism m);
[[nodiscard]] std::string_view to_string(group_protocol p);
[[nodiscard]] std::string_view to_string(subject_name_strategy s);

/// What kind of librdkafka client a configuration is turned into.
enum class client_role : std::uint8_t { producer, consumer, admin };

/// The librdkafka properties a configuration stands for, for a client of `role`: the connection,
/// security and TLS settings of every client and, for a consumer, the group protocol, session
/// timeout, fetch wait and `fetch.queue.backoff.ms` (10 ms, librdkafka's default being 1 s).
/// The pass-through properties (`config.rdkafka`) are not included: callers apply them last, so
/// they win. Every Horizons client is made from this list; a producer or consumer takes it through
/// client_properties(), which adds the role's own settings.
[[nodiscard]] std::vector<std::pair<std::string, std::string>> rdkafka_properties(const client_config& config,
                                                                                  client_role role);

/// Where a consumer starts reading a partition its group has no committed offset for.
enum class offset_reset : std::uint8_t { earliest, latest };

/// What a producer or consumer is made with besides `client_config`.
struct client_settings {
  /// Producer: records the local queue may hold (queue.buffering.max.messages).
  int max_queued_messages = 500'000;
  /// Consumer: group.id (empty: none) and auto.offset.reset.
  std::string group{};
  offset_reset start = offset_reset::earliest;
};

/// Every librdkafka property a Horizons client of `role` is created with, in the order applied:
/// rdkafka_properties(config, role); then the role's own: a producer's idempotence, acks=all,
/// linger, batch size, delivery timeout, queue bound and the Java client's partitioner, a
/// consumer's group, offsets stored by hand after each handled record and committed every second,
/// and where it starts; last the pass-through properties (`config.rdkafka`), which win. The typed
/// producer and consumer are made from this list alone, and so is anything that wants a client with
/// their settings through librdkafka's own API (the bench's raw side): the two cannot drift.
/// Topic-level settings are topic_properties().
///
///   auto properties = client_properties(config, client_role::consumer, {.group = "audit"});
[[nodiscard]] std::vector<std::pair<std::string, std::string>> client_properties(const client_config& config,
                                                                                 client_role role,
                                                                                 const client_settings& settings = {});

/// The topic-level properties a producer gives each topic: `compression.codec`, the catalogue's
/// compression of `topic` unless `config.compression_override` says otherwise.
[[nodiscard]] std::vector<std::pair<std::string, std::string>> topic_properties(const client_config& config,
                                                                                topic_id topic);

}  // namespace horizons
