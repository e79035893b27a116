// One table of settings drives the environment, the file, the flags, the
// error messages and --help: a setting is described once, so a new one cannot
// be readable from one source and forgotten in another.
#include <horizons/config.hpp>
#include <horizons/schema_registry.hpp>

#include <fmt/format.h>

#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <cstdint>
#include <fstream>
#include <functional>
#include <set>
#include <string_view>
#include <system_error>

namespace horizons {

std::string_view to_string(security_protocol p) {
  constexpr std::array<std::string_view, 4> names{"plaintext", "ssl", "sasl_plaintext", "sasl_ssl"};
  return names[static_cast<std::size_t>(p)];
}

std::string_view to_string(sasl_mechanism m) {
  constexpr std::array<std::string_view, 3> names{"PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"};
  return names[static_cast<std::size_t>(m)];
}

std::string_view to_string(group_protocol p) {
  constexpr std::array<std::string_view, 2> names{"classic", "consumer"};
  return names[static_cast<std::size_t>(p)];
}

std::string_view to_string(subject_name_strategy s) {
  return s == subject_name_strategy::topic_name ? "topic" : "record";
}

std::vector<std::pair<std::string, std::string>> rdkafka_properties(const client_config& config, client_role role) {
  std::vector<std::pair<std::string, std::string>> properties{
      {"bootstrap.servers", config.brokers},
      {"client.id", config.client_id},
      {"socket.connection.setup.timeout.ms", std::to_string(config.connect_timeout.count())},
      {"security.protocol", std::string(to_string(config.security))},
  };
  if (config.security == security_protocol::sasl_plaintext || config.security == security_protocol::sasl_ssl) {
    properties.insert(properties.end(), {{"sasl.mechanisms", std::string(to_string(config.mechanism))},
                                         {"sasl.username", config.sasl_username},
                                         {"sasl.password", config.sasl_password}});
  }
  for (const auto& [name, value] : {std::pair{"ssl.ca.location", &config.ssl_ca_location},
                                    std::pair{"ssl.certificate.location", &config.ssl_certificate_location},
                                    std::pair{"ssl.key.location", &config.ssl_key_location},
                                    std::pair{"ssl.key.password", &config.ssl_key_password}}) {
    if (!value->empty()) properties.emplace_back(name, *value);
  }
  if (role == client_role::consumer) {
    properties.emplace_back("group.protocol", to_string(config.group_protocol));
    // KIP-848: the broker owns the session timeout; librdkafka refuses the client setting.
    if (config.group_protocol == group_protocol::classic) {
      properties.emplace_back("session.timeout.ms", std::to_string(config.session_timeout.count()));
    }
    properties.emplace_back("fetch.wait.max.ms", std::to_string(config.fetch_wait.count()));
    // Once a partition's local queue holds queued.min.messages records (100,000) librdkafka
    // postpones its next fetch by fetch.queue.backoff.ms, 1 s by default: a consumer catching up
    // would then idle for a second each time it drains the queue. 10 ms keeps it fed; memory stays
    // bounded by queued.max.messages.kbytes.
    properties.emplace_back("fetch.queue.backoff.ms", "10");
  }
  return properties;
}

std::vector<std::pair<std::string, std::string>> client_properties(const client_config& config, client_role role,
                                                                   const client_settings& settings) {
  auto properties = rdkafka_properties(config, role);
  if (role == client_role::producer) {
    properties.insert(properties.end(),
                      {{"enable.idempotence", "true"},
                       {"acks", "all"},
                       {"linger.ms", std::to_string(config.linger.count())},
                       {"batch.size", std::to_string(config.batch_size)},
                       {"delivery.timeout.ms", std::to_string(config.delivery_timeout.count())},
                       {"queue.buffering.max.messages", std::to_string(settings.max_queued_messages)},
                       // The Java client's partitioner: every client maps a key to the same partition.
                       {"partitioner", "murmur2_random"}});
  } else if (role == client_role::consumer) {
    if (!settings.group.empty()) properties.emplace_back("group.id", settings.group);
    properties.insert(properties.end(),
                      {{"enable.auto.commit", "true"},
                       {"auto.commit.interval.ms", "1000"},
                       // Offsets are stored by hand after a handler succeeded: auto-commit only writes those.
                       {"enable.auto.offset.store", "false"},
                       {"auto.offset.reset", settings.start == offset_reset::earliest ? "earliest" : "latest"}});
  }
  properties.insert(properties.end(), config.rdkafka.begin(), config.rdkafka.end());
  return properties;
}

std::vector<std::pair<std::string, std::string>> topic_properties(const client_config& config, topic_id topic) {
  return {{"compression.codec",
           std::string(to_string(config.compression_override.value_or(spec(topic).compression_type)))}};
}

namespace {

constexpr std::string_view kafka_prefix = "KAFKA_";
constexpr std::string_view rdkafka_prefix = "KAFKA_RDKAFKA_";
constexpr std::string_view registry_prefix = "SCHEMA_REGISTRY_";

bool is_setting_name(std::string_view name) {
  return name.starts_with(kafka_prefix) || name.starts_with(registry_prefix);
}

// Stores a value into its field; false means "refused" and the caller words
// the message, so every setting's message has the same shape.
using assign_fn = std::function<bool(client_config&, std::string_view)>;

struct value_parser {
  std::string expected;  // completes "expected ..., got '<value>'"
  assign_fn assign;
};

struct setting {
  std::string_view name;
  std::string_view flag;
  std::string_view help;
  value_parser parser;
  bool secret = false;  // the value is never echoed in a message
};

bool is_control(char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7f; }
bool is_upper(char c) { return c >= 'A' && c <= 'Z'; }
char to_lower(char c) { return is_upper(c) ? static_cast<char>(c - 'A' + 'a') : c; }

bool iequals(std::string_view a, std::string_view b) {
  return std::ranges::equal(a, b, [](char x, char y) { return to_lower(x) == to_lower(y); });
}

std::string_view trim(std::string_view s) {
  constexpr std::string_view blanks = " \t\r\n\f\v";
  const auto first = s.find_first_not_of(blanks);
  if (first == std::string_view::npos) return {};
  return s.substr(first, s.find_last_not_of(blanks) - first + 1);
}

// Messages are one line, whatever bytes a value holds.
std::string printable(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    if (is_control(c)) {
      out += fmt::format("\\x{:02x}", static_cast<unsigned char>(c));
    } else {
      out += c;
    }
  }
  return out;
}

std::optional<std::int64_t> parse_integer(std::string_view v) {
  std::int64_t n = 0;
  const char* end = v.data() + v.size();
  auto [stop, ec] = std::from_chars(v.data(), end, n);
  if (ec != std::errc{} || stop != end) return std::nullopt;
  return n;
}

// ------------------------------------------------------------ value parsers

// A free-text setting; empty is refused because it has no meaning for these
// (an empty client id or group is a templating mistake, not a choice).
template <class Field>
value_parser non_empty_text(Field client_config::*field, std::string_view what) {
  return {fmt::format("{} (non-empty, one line)", what), [field](client_config& c, std::string_view v) {
            if (v.empty() || std::ranges::any_of(v, is_control)) return false;
            c.*field = std::string(v);
            return true;
          }};
}

template <class Field>
value_parser integer(Field client_config::*field, std::int64_t low, std::int64_t high, std::string_view unit) {
  return {fmt::format("an integer of {} in {}..{}", unit, low, high),
          [field, low, high](client_config& c, std::string_view v) {
            const auto n = parse_integer(v);
            if (!n || *n < low || *n > high) return false;
            c.*field = static_cast<Field>(*n);
            return true;
          }};
}

// An enum spelled as its to_string(), in any case ("LZ4", "SASL_SSL").
template <class Field, class Enum, std::size_t N>
value_parser one_of(Field client_config::*field, std::array<Enum, N> values) {
  std::string expected = "one of ";
  for (std::size_t i = 0; i < N; ++i) expected += fmt::format("{}{}", i ? "|" : "", to_string(values[i]));
  return {std::move(expected), [field, values](client_config& c, std::string_view v) {
            const auto match = std::ranges::find_if(values, [v](Enum e) { return iequals(to_string(e), v); });
            if (match == values.end()) return false;
            c.*field = *match;
            return true;
          }};
}

bool valid_port(std::string_view port) {
  if (port.empty() || port.size() > 5 || !std::ranges::all_of(port, [](char c) { return c >= '0' && c <= '9'; })) {
    return false;
  }
  const auto n = parse_integer(port);
  return n && *n >= 1 && *n <= 65535;
}

bool valid_host(std::string_view host) {
  return !host.empty() && std::ranges::all_of(host, [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
           c == '_';
  });
}

// host:port, or [ipv6]:port (a bare IPv6 address is ambiguous with its port).
bool valid_broker(std::string_view entry) {
  if (entry.starts_with('[')) {
    const auto close = entry.find(']');
    if (close == std::string_view::npos || close == 1) return false;
    const auto address = entry.substr(1, close - 1);
    const bool address_ok = std::ranges::all_of(address, [](char c) {
      return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') || c == ':' || c == '.';
    });
    const auto rest = entry.substr(close + 1);
    return address_ok && rest.starts_with(':') && valid_port(rest.substr(1));
  }
  const auto colon = entry.rfind(':');
  if (colon == std::string_view::npos) return false;
  return valid_host(entry.substr(0, colon)) && valid_port(entry.substr(colon + 1));
}

value_parser broker_list() {
  return {"a comma-separated list of host:port with port in 1..65535, or empty for the embedded cluster",
          [](client_config& c, std::string_view v) {
            std::string normalised;
            if (!v.empty()) {
              // Spaces after commas are common in hand-written lists; an empty entry is not.
              for (std::size_t start = 0;;) {
                const auto comma = v.find(',', start);
                const auto entry = trim(v.substr(start, comma == std::string_view::npos ? v.npos : comma - start));
                if (!valid_broker(entry)) return false;
                if (!normalised.empty()) normalised += ',';
                normalised += entry;
                if (comma == std::string_view::npos) break;
                start = comma + 1;
              }
            }
            c.brokers = std::move(normalised);
            return true;
          }};
}

// Checked here so a wrong path is reported with its setting's name, not as a
// TLS handshake failure minutes later. Empty means "none" (for the CA: the
// system's store).
value_parser readable_file(std::string client_config::*field, std::string_view what) {
  return {fmt::format("the path of an existing, readable {}, or empty", what),
          [field](client_config& c, std::string_view v) {
            if (!v.empty()) {
              const std::filesystem::path path(v);
              std::error_code ec;
              if (!std::filesystem::is_regular_file(path, ec)) return false;
              if (!std::ifstream(path)) return false;
            }
            c.*field = std::string(v);
            return true;
          }};
}

// The registry client's own check of a URL, so that a URL the client would refuse is refused here.
value_parser registry_url() {
  return {"http[s]://host[:port][/path], or empty", [](client_config& c, std::string_view v) {
            if (!v.empty() && !schema_registry::create({.url = std::string(v)})) return false;
            c.registry_url = std::string(v);
            return true;
          }};
}

value_parser boolean(bool client_config::*field) {
  return {"true or false", [field](client_config& c, std::string_view v) {
            if (!iequals(v, "true") && !iequals(v, "false")) return false;
            c.*field = iequals(v, "true");
            return true;
          }};
}

value_parser user_info() {
  return {"user:password", [](client_config& c, std::string_view v) {
            if (v.find(':') == std::string_view::npos || v.front() == ':') return false;
            c.registry_basic_auth_user_info = std::string(v);
            return true;
          }};
}

// --------------------------------------------------------------- the table

const std::vector<setting>& settings() {
  using enum compression;
  using enum security_protocol;
  using enum sasl_mechanism;
  static const std::vector<setting> table{
      {.name = "KAFKA_BROKERS",
       .flag = "brokers",
       .help = "Kafka bootstrap servers, host:port[,host:port...]; without them `horizons run` and `bench` "
               "start the embedded cluster and the other Kafka commands refuse",
       .parser = broker_list()},
      {.name = "KAFKA_CLIENT_ID",
       .flag = "client-id",
       .help = "client.id reported to the brokers (default horizons)",
       .parser = non_empty_text(&client_config::client_id, "a client id")},
      {.name = "KAFKA_CONSUMER_GROUP_ID",
       .flag = "consumer-group",
       .help = "consumer group, instead of the catalogue's group of the consumed topic",
       .parser = non_empty_text(&client_config::consumer_group, "a consumer group id")},
      {.name = "KAFKA_COMPRESSION_TYPE",
       .flag = "compression",
       .help = "none|snappy|lz4|gzip|zstd, instead of every topic's catalogue compression",
       .parser = one_of(&client_config::compression_override, std::array{none, snappy, lz4, gzip, zstd})},
      {.name = "KAFKA_SESSION_TIMEOUT_MS",
       .flag = "session-timeout-ms",
       .help = "consumer group session timeout in ms, 1000..3600000 (default 45000)",
       .parser = integer(&client_config::session_timeout, 1'000, 3'600'000, "milliseconds")},
      {.name = "KAFKA_CONSUMER_FETCH_WAIT_MS",
       .flag = "fetch-wait-ms",
       .help = "longest a fetch waits on the broker for data, in ms, 0..300000 (default 500)",
       .parser = integer(&client_config::fetch_wait, 0, 300'000, "milliseconds")},
      {.name = "KAFKA_CONSUMER_MAX_RECORD_BYTES",
       .flag = "max-record-bytes",
       .help = "longest record value a consumer decodes, in bytes, 1..1000000000 (default 1048576); longer "
               "ones go to the DLQ undecoded, without their value",
       .parser = integer(&client_config::max_record_bytes, 1, 1'000'000'000, "bytes")},
      {.name = "KAFKA_PRODUCER_LINGER_MS",
       .flag = "linger-ms",
       .help = "how long the producer waits to fill a batch, in ms, 0..900000 (default 5)",
       .parser = integer(&client_config::linger, 0, 900'000, "milliseconds")},
      {.name = "KAFKA_PRODUCER_BATCH_SIZE",
       .flag = "batch-size",
       .help = "producer batch size per partition in bytes, 1..2147483647 (default 1000000)",
       .parser = integer(&client_config::batch_size, 1, 2'147'483'647, "bytes")},
      {.name = "KAFKA_DELIVERY_TIMEOUT_MS",
       .flag = "delivery-timeout-ms",
       .help = "how long a publish may wait for acknowledgement, in ms, 1000..2147483647 (default 120000)",
       .parser = integer(&client_config::delivery_timeout, 1'000, 2'147'483'647, "milliseconds")},
      {.name = "KAFKA_CONNECT_TIMEOUT_MS",
       .flag = "connect-timeout-ms",
       .help = "how long unreachable brokers are tolerated before an error, in ms, 1000..600000 (default 10000)",
       // librdkafka's socket.connection.setup.timeout.ms, which takes it too, starts at 1000.
       .parser = integer(&client_config::connect_timeout, 1'000, 600'000, "milliseconds")},
      {.name = "KAFKA_SECURITY_PROTOCOL",
       .flag = "security-protocol",
       .help = "plaintext|ssl|sasl_plaintext|sasl_ssl, any case (default plaintext)",
       .parser = one_of(&client_config::security, std::array{plaintext, ssl, sasl_plaintext, sasl_ssl})},
      {.name = "KAFKA_SASL_MECHANISM",
       .flag = "sasl-mechanism",
       .help = "PLAIN|SCRAM-SHA-256|SCRAM-SHA-512 (default SCRAM-SHA-512)",
       .parser = one_of(&client_config::mechanism, std::array{plain, scram_sha_256, scram_sha_512})},
      {.name = "KAFKA_SASL_USERNAME",
       .flag = "sasl-username",
       .help = "SASL user name, required by sasl_plaintext and sasl_ssl",
       .parser = non_empty_text(&client_config::sasl_username, "a user name")},
      // No flag: a command line is readable by every user of the machine (ps, /proc).
      {.name = "KAFKA_SASL_PASSWORD",
       .flag = "",
       .help = "SASL password, required by sasl_plaintext and sasl_ssl (environment or file only)",
       .parser = non_empty_text(&client_config::sasl_password, "a password"),
       .secret = true},
      {.name = "KAFKA_SSL_CA_LOCATION",
       .flag = "ssl-ca-location",
       .help = "CA certificate file for ssl and sasl_ssl; empty uses the default CA store",
       .parser = readable_file(&client_config::ssl_ca_location, "PEM file")},
      {.name = "KAFKA_SSL_CERTIFICATE_LOCATION",
       .flag = "ssl-certificate-location",
       .help = "the client's certificate (PEM) for mutual TLS, with KAFKA_SSL_KEY_LOCATION",
       .parser = readable_file(&client_config::ssl_certificate_location, "PEM file")},
      {.name = "KAFKA_SSL_KEY_LOCATION",
       .flag = "ssl-key-location",
       .help = "the client's private key (PEM) for mutual TLS, with KAFKA_SSL_CERTIFICATE_LOCATION",
       .parser = readable_file(&client_config::ssl_key_location, "PEM file")},
      {.name = "KAFKA_SSL_KEY_PASSWORD",
       .flag = "",
       .help = "password of an encrypted KAFKA_SSL_KEY_LOCATION (environment or file only)",
       .parser = non_empty_text(&client_config::ssl_key_password, "a password"),
       .secret = true},
      {.name = "KAFKA_GROUP_PROTOCOL",
       .flag = "group-protocol",
       .help = "consumer group protocol: classic|consumer (KIP-848, Kafka 4.0+, early access in librdkafka 2.8) "
               "(default classic)",
       .parser = one_of(&client_config::group_protocol, std::array{group_protocol::classic, group_protocol::consumer})},
      {.name = "SCHEMA_REGISTRY_URL",
       .flag = "registry",
       .help = "a Confluent-compatible schema registry, http[s]://host[:port][/path]; empty: none",
       .parser = registry_url()},
      {.name = "SCHEMA_REGISTRY_BASIC_AUTH_USER_INFO",
       .flag = "",
       .help = "user:password for the schema registry's basic authentication (environment or file only)",
       .parser = user_info(),
       .secret = true},
      {.name = "SCHEMA_REGISTRY_SSL_CA_LOCATION",
       .flag = "registry-ca-location",
       .help = "CA certificate file for an https schema registry; empty uses the default CA store",
       .parser = readable_file(&client_config::registry_ca_location, "PEM file")},
      {.name = "SCHEMA_REGISTRY_AUTO_REGISTER",
       .flag = "registry-auto-register",
       .help = "true: producers register this build's schemas; false: they only look them up (default true)",
       .parser = boolean(&client_config::registry_auto_register)},
      {.name = "KAFKA_UNSAFE_RDKAFKA_OVERRIDES",
       .flag = "unsafe-rdkafka-overrides",
       .help = "true: let -X / KAFKA_RDKAFKA_* change acks, enable.idempotence and enable.auto.offset.store, "
               "giving up the delivery guarantees (default false)",
       .parser = boolean(&client_config::unsafe_rdkafka_overrides)},
      {.name = "SCHEMA_REGISTRY_SUBJECT_NAME_STRATEGY",
       .flag = "registry-subject-strategy",
       .help = "topic (<topic>-value) | record (the record's full name) (default topic)",
       .parser = one_of(&client_config::registry_subject_strategy,
                        std::array{subject_name_strategy::topic_name, subject_name_strategy::record_name})},
  };
  return table;
}

const setting* find_setting(std::string_view name) {
  const auto& table = settings();
  const auto found = std::ranges::find(table, name, &setting::name);
  return found == table.end() ? nullptr : &*found;
}

// ------------------------------------------------------------- the sources

using step = std::expected<void, config_error>;

template <class... Args>
std::unexpected<config_error> refuse(fmt::format_string<Args...> format, Args&&... args) {
  return std::unexpected(config_error{fmt::format(format, std::forward<Args>(args)...)});
}

// The names some source gave, for checks that depend on whether a setting was chosen at all.
using given_names = std::set<std::string_view>;

step apply_setting(client_config& config, given_names& given, const setting& s, std::string_view value,
                   std::string_view source) {
  given.insert(s.name);
  if (s.parser.assign(config, value)) return {};
  return refuse("{} (from {}): expected {}, got '{}'", s.name, source, s.parser.expected,
                s.secret ? std::string("***") : printable(value));
}

// KAFKA_RDKAFKA_STATISTICS_INTERVAL_MS -> statistics.interval.ms
std::string rdkafka_property(std::string_view suffix) {
  std::string property(suffix);
  std::ranges::transform(property, property.begin(), [](char c) { return c == '_' ? '.' : to_lower(c); });
  return property;
}

// The environment carries Kafka's own variables (KAFKA_HOME, KAFKA_OPTS), so
// unknown names are skipped there; in a file or a flag they are a typo.
enum class unknown_names { skip, refuse };

step apply_named(client_config& config, given_names& given, std::string_view name, std::string_view value,
                 std::string_view source, unknown_names unknown) {
  if (const setting* s = find_setting(name)) return apply_setting(config, given, *s, value, source);
  if (name.starts_with(rdkafka_prefix)) {
    if (name.size() == rdkafka_prefix.size()) {
      return refuse("{} (from {}): expected a librdkafka property after {}, e.g. KAFKA_RDKAFKA_STATISTICS_INTERVAL_MS",
                    name, source, rdkafka_prefix);
    }
    config.rdkafka.insert_or_assign(rdkafka_property(name.substr(rdkafka_prefix.size())), std::string(value));
    return {};
  }
  if (unknown == unknown_names::skip) return {};
  // The value is not echoed: a misspelt KAFKA_SASL_PASSWORD must not leak.
  return refuse("{} (from {}): unknown setting; expected a name listed by --help or {}<property>", printable(name),
                source, rdkafka_prefix);
}

step apply_environment(client_config& config, given_names& given,
                       const std::map<std::string, std::string>& environment) {
  for (const auto& [name, value] : environment) {
    if (!is_setting_name(name)) continue;
    if (auto applied = apply_named(config, given, name, value, "environment", unknown_names::skip); !applied) {
      return applied;
    }
  }
  return {};
}

step apply_file(client_config& config, given_names& given, const std::filesystem::path& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) {
    return refuse("cannot read config file '{}': is a directory", path.string());
  }
  errno = 0;
  std::ifstream in(path);
  if (!in) {
    const int error = errno;
    return refuse("cannot read config file '{}': {}", path.string(),
                  error ? std::system_category().message(error) : std::string("cannot open"));
  }
  std::string line;
  for (int number = 1; std::getline(in, line); ++number) {
    const auto text = trim(line);
    // Only whole-line comments: a '#' inside a value (a password) is data.
    if (text.empty() || text.starts_with('#')) continue;
    const auto source = fmt::format("{}:{}", path.string(), number);
    const auto equals = text.find('=');
    // The line is not echoed either: it may be a password on a line of its own.
    if (equals == std::string_view::npos) return refuse("{}: expected NAME=value, got a line without '='", source);
    const auto name = trim(text.substr(0, equals));
    if (name.empty()) return refuse("{}: expected NAME=value, got an empty NAME", source);
    if (auto applied = apply_named(config, given, name, trim(text.substr(equals + 1)), source, unknown_names::refuse);
        !applied) {
      return applied;
    }
  }
  if (in.bad()) return refuse("cannot read config file '{}': read error", path.string());
  return {};
}

// Setting names are upper-case; a key with a '.' or without upper-case
// letters is a librdkafka property ("-X linger.ms=5", "-X debug=all").
bool is_rdkafka_property(std::string_view key) { return key.contains('.') || std::ranges::none_of(key, is_upper); }

step apply_flags(client_config& config, given_names& given, const config_sources& sources) {
  for (const auto& [key, value] : sources.flags) {
    const auto spelling = sources.flag_names.find(key);
    const std::string_view source = spelling == sources.flag_names.end() ? std::string_view(key) : spelling->second;
    if (key.empty()) return refuse("flags: expected a setting name or a librdkafka property, got an empty name");
    if (is_rdkafka_property(key)) {
      config.rdkafka.insert_or_assign(key, value);
      continue;
    }
    if (auto applied = apply_named(config, given, key, value, source, unknown_names::refuse); !applied) {
      return applied;
    }
  }
  return {};
}

// Checked once all sources are read: the protocol and the credentials may
// come from different ones.
step check_tls(const client_config& config) {
  const bool tls = config.security == security_protocol::ssl || config.security == security_protocol::sasl_ssl;
  // A client certificate on a plaintext connection means the protocol was forgotten: the connection
  // would fail later as a timeout. (A CA alone is harmless, and often set machine-wide.)
  for (auto [name, value] : {std::pair{"KAFKA_SSL_CERTIFICATE_LOCATION", &config.ssl_certificate_location},
                             std::pair{"KAFKA_SSL_KEY_LOCATION", &config.ssl_key_location},
                             std::pair{"KAFKA_SSL_KEY_PASSWORD", &config.ssl_key_password}}) {
    if (!tls && !value->empty()) {
      return refuse("{}: used only when KAFKA_SECURITY_PROTOCOL is ssl or sasl_ssl, which is {}", name,
                    to_string(config.security));
    }
  }
  if (config.ssl_certificate_location.empty() != config.ssl_key_location.empty()) {
    return refuse("{}: required with {} (a client certificate needs its private key, and the reverse)",
                  config.ssl_key_location.empty() ? "KAFKA_SSL_KEY_LOCATION" : "KAFKA_SSL_CERTIFICATE_LOCATION",
                  config.ssl_key_location.empty() ? "KAFKA_SSL_CERTIFICATE_LOCATION" : "KAFKA_SSL_KEY_LOCATION");
  }
  if (!config.ssl_key_password.empty() && config.ssl_key_location.empty()) {
    return refuse("KAFKA_SSL_KEY_PASSWORD: given without KAFKA_SSL_KEY_LOCATION");
  }
  return {};
}

step check_registry(const client_config& config) {
  if (!config.registry_url.empty()) return {};
  for (auto [name, value] : {std::pair{"SCHEMA_REGISTRY_BASIC_AUTH_USER_INFO", &config.registry_basic_auth_user_info},
                             std::pair{"SCHEMA_REGISTRY_SSL_CA_LOCATION", &config.registry_ca_location}}) {
    if (!value->empty()) return refuse("{}: given without SCHEMA_REGISTRY_URL", name);
  }
  return {};
}

// The librdkafka properties the guarantees rest on, and the values Horizons sets them to.
step check_guarded_overrides(const client_config& config) {
  if (config.unsafe_rdkafka_overrides) return {};
  struct guarded {
    std::string_view property;
    std::vector<std::string_view> safe;
    std::string_view why;
  };
  static const std::array<guarded, 4> table{{
      {"acks", {"all", "-1"}, "a record is reported delivered only once every in-sync replica has it"},
      {"request.required.acks", {"all", "-1"}, "a record is reported delivered only once every in-sync replica has it"},
      {"enable.idempotence", {"true"}, "retries never write a record twice or out of order"},
      {"enable.auto.offset.store", {"false"}, "an offset is committed only after its record was handled"},
  }};
  for (const auto& g : table) {
    const auto it = config.rdkafka.find(std::string(g.property));
    if (it == config.rdkafka.end() ||
        std::ranges::any_of(g.safe, [&](std::string_view safe) { return iequals(it->second, safe); })) {
      continue;
    }
    return refuse(
        "librdkafka property {}={} (-X or KAFKA_RDKAFKA_*) would break a guarantee: {} ({}={}); drop it, or set "
        "KAFKA_UNSAFE_RDKAFKA_OVERRIDES=true to give the guarantee up",
        g.property, printable(it->second), g.why, g.property, g.safe.front());
  }
  return {};
}

step check_credentials(const client_config& config) {
  if (config.security != security_protocol::sasl_plaintext && config.security != security_protocol::sasl_ssl) {
    return {};
  }
  if (config.sasl_username.empty()) {
    return refuse("KAFKA_SASL_USERNAME: required when KAFKA_SECURITY_PROTOCOL is {}", to_string(config.security));
  }
  if (config.sasl_password.empty()) {
    return refuse("KAFKA_SASL_PASSWORD: required when KAFKA_SECURITY_PROTOCOL is {}", to_string(config.security));
  }
  return {};
}

}  // namespace

std::expected<client_config, config_error> load_config(const config_sources& sources) {
  client_config config;
  // Every source is checked, even where a later one overrides a value: a
  // wrong value left in the environment is a fault waiting for the day the
  // flag is dropped.
  given_names given;
  auto applied = apply_environment(config, given, sources.environment);
  if (applied && sources.file) applied = apply_file(config, given, *sources.file);
  if (applied) applied = apply_flags(config, given, sources);
  if (applied) applied = check_tls(config);
  if (applied) applied = check_credentials(config);
  if (applied) applied = check_registry(config);
  if (applied) applied = check_guarded_overrides(config);
  if (applied && config.group_protocol == group_protocol::consumer && given.contains("KAFKA_SESSION_TIMEOUT_MS")) {
    applied = refuse(
        "KAFKA_SESSION_TIMEOUT_MS: not used when KAFKA_GROUP_PROTOCOL is consumer (the broker's "
        "group.consumer.session.timeout.ms decides); drop one of the two");
  }
  if (!applied) return std::unexpected(std::move(applied).error());
  return config;
}

std::map<std::string, std::string> process_environment() {
  std::map<std::string, std::string> variables;
  for (char** entry = environ; entry && *entry; ++entry) {
    const std::string_view text(*entry);
    const auto equals = text.find('=');
    if (!is_setting_name(text) || equals == std::string_view::npos) continue;
    variables.insert_or_assign(std::string(text.substr(0, equals)), std::string(text.substr(equals + 1)));
  }
  return variables;
}

const std::vector<setting_doc>& config_settings() {
  static const std::vector<setting_doc> docs = [] {
    std::vector<setting_doc> out;
    for (const auto& s : settings()) out.push_back({s.name, s.flag, s.help});
    return out;
  }();
  return docs;
}

}  // namespace horizons
