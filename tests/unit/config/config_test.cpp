// load_config: defaults, environment, file and flags in that precedence, and
// a message naming the setting, its source and what was expected for every
// value that does not parse.
#include <horizons/config.hpp>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <set>

namespace horizons {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using string_map = std::map<std::string, std::string>;

// A directory of its own per test, removed afterwards.
class temp_dir {
 public:
  temp_dir() {
    const auto* test = ::testing::UnitTest::GetInstance()->current_test_info();
    path_ = fs::temp_directory_path() /
            fmt::format("horizons-config-{}-{}-{}-{}", test->test_suite_name(), test->name(), ::getpid(), counter_++);
    fs::remove_all(path_);
    fs::create_directories(path_);
  }
  ~temp_dir() {
    std::error_code ignored;
    fs::remove_all(path_, ignored);
  }
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;

  [[nodiscard]] fs::path write(const std::string& name, std::string_view text) const {
    const auto file = path_ / name;
    std::ofstream(file, std::ios::binary) << text;
    return file;
  }
  [[nodiscard]] const fs::path& path() const { return path_; }

 private:
  static inline int counter_ = 0;
  fs::path path_;
};

client_config load_ok(const config_sources& sources) {
  auto config = load_config(sources);
  EXPECT_TRUE(config.has_value()) << config.error().message;
  return config.value_or(client_config{});
}

std::string load_error(const config_sources& sources) {
  auto config = load_config(sources);
  EXPECT_FALSE(config.has_value()) << "expected an error";
  return config ? std::string() : config.error().message;
}

void expect_same(const client_config& actual, const client_config& expected) {
  EXPECT_EQ(actual.brokers, expected.brokers);
  EXPECT_EQ(actual.client_id, expected.client_id);
  EXPECT_EQ(actual.consumer_group, expected.consumer_group);
  EXPECT_EQ(actual.compression_override, expected.compression_override);
  EXPECT_EQ(actual.session_timeout, expected.session_timeout);
  EXPECT_EQ(actual.linger, expected.linger);
  EXPECT_EQ(actual.batch_size, expected.batch_size);
  EXPECT_EQ(actual.delivery_timeout, expected.delivery_timeout);
  EXPECT_EQ(actual.connect_timeout, expected.connect_timeout);
  EXPECT_EQ(actual.security, expected.security);
  EXPECT_EQ(actual.mechanism, expected.mechanism);
  EXPECT_EQ(actual.sasl_username, expected.sasl_username);
  EXPECT_EQ(actual.sasl_password, expected.sasl_password);
  EXPECT_EQ(actual.ssl_ca_location, expected.ssl_ca_location);
  EXPECT_EQ(actual.ssl_certificate_location, expected.ssl_certificate_location);
  EXPECT_EQ(actual.ssl_key_location, expected.ssl_key_location);
  EXPECT_EQ(actual.ssl_key_password, expected.ssl_key_password);
  EXPECT_EQ(actual.group_protocol, expected.group_protocol);
  EXPECT_EQ(actual.registry_url, expected.registry_url);
  EXPECT_EQ(actual.registry_basic_auth_user_info, expected.registry_basic_auth_user_info);
  EXPECT_EQ(actual.registry_ca_location, expected.registry_ca_location);
  EXPECT_EQ(actual.registry_auto_register, expected.registry_auto_register);
  EXPECT_EQ(actual.registry_subject_strategy, expected.registry_subject_strategy);
  EXPECT_EQ(actual.rdkafka, expected.rdkafka);
  EXPECT_EQ(actual.max_record_bytes, expected.max_record_bytes);
}

std::set<std::string> setting_names() {
  std::set<std::string> names;
  for (const auto& s : config_settings()) names.emplace(s.name);
  return names;
}

// ------------------------------------------------------------------ defaults

TEST(config_defaults, nothing_set_gives_the_headers_initialisers) {
  const auto config = load_ok({});
  expect_same(config, client_config{});
  // The header's documented values, so a changed initialiser is a visible decision.
  EXPECT_EQ(config.brokers, "");
  EXPECT_EQ(config.client_id, "horizons");
  EXPECT_EQ(config.consumer_group, std::nullopt);
  EXPECT_EQ(config.compression_override, std::nullopt);
  EXPECT_EQ(config.session_timeout, 45'000ms);
  EXPECT_EQ(config.linger, 5ms);
  EXPECT_EQ(config.batch_size, 1'000'000);
  EXPECT_EQ(config.max_record_bytes, 1'048'576);
  EXPECT_EQ(config.delivery_timeout, 120'000ms);
  EXPECT_EQ(config.connect_timeout, 10'000ms);
  EXPECT_EQ(config.security, security_protocol::plaintext);
  EXPECT_EQ(config.mechanism, sasl_mechanism::scram_sha_512);
  EXPECT_TRUE(config.rdkafka.empty());
}

TEST(config_defaults, other_variables_and_unknown_kafka_variables_are_ignored) {
  // KAFKA_HOME and KAFKA_OPTS belong to Kafka's own scripts.
  const auto config = load_ok({.environment = {{"KAFKA_HOME", "/opt/kafka"},
                                               {"KAFKA_OPTS", "-Xmx1g"},
                                               {"kafka_brokers", "ignored:1"},
                                               {"PATH", "/usr/bin"},
                                               {"BROKERS", "ignored:1"}}});
  expect_same(config, client_config{});
}

// ---------------------------------------------------------------- precedence

struct layered_case {
  std::string name;
  std::string env_value, file_value, flag_value;
  std::string default_shown;
  std::function<std::string(const client_config&)> shown;
};

TEST(config_precedence, flags_beat_file_beat_environment_beat_defaults) {
  const std::vector<layered_case> cases{
      {"KAFKA_BROKERS", "env:1", "file:2", "flag:3", "", [](const client_config& c) { return c.brokers; }},
      {"KAFKA_PRODUCER_LINGER_MS", "11", "22", "33", "5",
       [](const client_config& c) { return std::to_string(c.linger.count()); }},
      {"KAFKA_CONSUMER_FETCH_WAIT_MS", "11", "22", "33", "500",
       [](const client_config& c) { return std::to_string(c.fetch_wait.count()); }},
      {"KAFKA_CONSUMER_GROUP_ID", "env-group", "file-group", "flag-group", "(none)",
       [](const client_config& c) { return c.consumer_group.value_or("(none)"); }},
      {"KAFKA_CLIENT_ID", "env-id", "file-id", "flag-id", "horizons",
       [](const client_config& c) { return c.client_id; }},
      {"KAFKA_COMPRESSION_TYPE", "gzip", "lz4", "zstd", "(none)",
       [](const client_config& c) {
         return c.compression_override ? std::string(to_string(*c.compression_override)) : "(none)";
       }},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    temp_dir dir;
    const auto file = dir.write("horizons.conf", fmt::format("{}={}\n", c.name, c.file_value));
    const string_map env{{c.name, c.env_value}};
    const string_map flags{{c.name, c.flag_value}};

    EXPECT_EQ(c.shown(load_ok({})), c.default_shown);
    EXPECT_EQ(c.shown(load_ok({.environment = env})), c.env_value);
    EXPECT_EQ(c.shown(load_ok({.file = file})), c.file_value);
    EXPECT_EQ(c.shown(load_ok({.flags = flags})), c.flag_value);
    EXPECT_EQ(c.shown(load_ok({.environment = env, .file = file})), c.file_value);
    EXPECT_EQ(c.shown(load_ok({.environment = env, .flags = flags})), c.flag_value);
    EXPECT_EQ(c.shown(load_ok({.file = file, .flags = flags})), c.flag_value);
    EXPECT_EQ(c.shown(load_ok({.environment = env, .file = file, .flags = flags})), c.flag_value);
  }
}

TEST(config_precedence, settings_from_different_sources_combine) {
  temp_dir dir;
  const auto file = dir.write("horizons.conf", "KAFKA_PRODUCER_LINGER_MS=50\n");
  const auto config = load_ok({.environment = {{"KAFKA_BROKERS", "a:1"}, {"KAFKA_PRODUCER_LINGER_MS", "7"}},
                               .file = file,
                               .flags = {{"KAFKA_CONSUMER_GROUP_ID", "g"}}});
  EXPECT_EQ(config.brokers, "a:1");
  EXPECT_EQ(config.linger, 50ms);
  EXPECT_EQ(config.consumer_group, "g");
  EXPECT_EQ(config.session_timeout, client_config{}.session_timeout);
}

TEST(config_precedence, a_bad_value_is_refused_even_where_a_later_source_overrides_it) {
  EXPECT_EQ(load_error(
                {.environment = {{"KAFKA_PRODUCER_LINGER_MS", "soon"}}, .flags = {{"KAFKA_PRODUCER_LINGER_MS", "10"}}}),
            "KAFKA_PRODUCER_LINGER_MS (from environment): expected an integer of milliseconds in 0..900000, "
            "got 'soon'");
}

// ------------------------------------------------------- every good value

struct good_case {
  std::string name;
  std::string value;
  std::function<void(const client_config&)> check;
};

TEST(config_values, each_setting_lands_in_its_own_field) {
  temp_dir dir;
  const auto ca = dir.write("ca.pem", "-----BEGIN CERTIFICATE-----\n");
  const auto cert = dir.write("client.pem", "-----BEGIN CERTIFICATE-----\n");
  const auto key = dir.write("client.key", "-----BEGIN PRIVATE KEY-----\n");
  const std::vector<good_case> cases{
      {"KAFKA_BROKERS", "a.example:9092, 10.0.0.2:65535,[::1]:1,k_1:9093",
       [](const client_config& c) { EXPECT_EQ(c.brokers, "a.example:9092,10.0.0.2:65535,[::1]:1,k_1:9093"); }},
      {"KAFKA_BROKERS", "", [](const client_config& c) { EXPECT_EQ(c.brokers, ""); }},
      {"KAFKA_CLIENT_ID", "svc-1", [](const client_config& c) { EXPECT_EQ(c.client_id, "svc-1"); }},
      {"KAFKA_CONSUMER_GROUP_ID", "g1", [](const client_config& c) { EXPECT_EQ(c.consumer_group, "g1"); }},
      {"KAFKA_COMPRESSION_TYPE", "none",
       [](const client_config& c) { EXPECT_EQ(c.compression_override, compression::none); }},
      {"KAFKA_COMPRESSION_TYPE", "Snappy",
       [](const client_config& c) { EXPECT_EQ(c.compression_override, compression::snappy); }},
      {"KAFKA_COMPRESSION_TYPE", "LZ4",
       [](const client_config& c) { EXPECT_EQ(c.compression_override, compression::lz4); }},
      {"KAFKA_COMPRESSION_TYPE", "gzip",
       [](const client_config& c) { EXPECT_EQ(c.compression_override, compression::gzip); }},
      {"KAFKA_COMPRESSION_TYPE", "ZSTD",
       [](const client_config& c) { EXPECT_EQ(c.compression_override, compression::zstd); }},
      {"KAFKA_SESSION_TIMEOUT_MS", "1000", [](const client_config& c) { EXPECT_EQ(c.session_timeout, 1000ms); }},
      {"KAFKA_SESSION_TIMEOUT_MS", "3600000",
       [](const client_config& c) { EXPECT_EQ(c.session_timeout, 3'600'000ms); }},
      {"KAFKA_CONSUMER_FETCH_WAIT_MS", "10", [](const client_config& c) { EXPECT_EQ(c.fetch_wait, 10ms); }},
      {"KAFKA_CONSUMER_MAX_RECORD_BYTES", "1", [](const client_config& c) { EXPECT_EQ(c.max_record_bytes, 1); }},
      {"KAFKA_CONSUMER_MAX_RECORD_BYTES", "1000000000",
       [](const client_config& c) { EXPECT_EQ(c.max_record_bytes, 1'000'000'000); }},
      {"KAFKA_PRODUCER_LINGER_MS", "0", [](const client_config& c) { EXPECT_EQ(c.linger, 0ms); }},
      {"KAFKA_PRODUCER_LINGER_MS", "900000", [](const client_config& c) { EXPECT_EQ(c.linger, 900'000ms); }},
      {"KAFKA_PRODUCER_BATCH_SIZE", "2147483647",
       [](const client_config& c) { EXPECT_EQ(c.batch_size, 2'147'483'647); }},
      {"KAFKA_PRODUCER_BATCH_SIZE", "1", [](const client_config& c) { EXPECT_EQ(c.batch_size, 1); }},
      {"KAFKA_DELIVERY_TIMEOUT_MS", "2147483647",
       [](const client_config& c) { EXPECT_EQ(c.delivery_timeout, 2'147'483'647ms); }},
      {"KAFKA_CONNECT_TIMEOUT_MS", "1000", [](const client_config& c) { EXPECT_EQ(c.connect_timeout, 1000ms); }},
      {"KAFKA_SECURITY_PROTOCOL", "ssl", [](const client_config& c) { EXPECT_EQ(c.security, security_protocol::ssl); }},
      {"KAFKA_SECURITY_PROTOCOL", "PLAINTEXT",
       [](const client_config& c) { EXPECT_EQ(c.security, security_protocol::plaintext); }},
      {"KAFKA_SASL_MECHANISM", "PLAIN", [](const client_config& c) { EXPECT_EQ(c.mechanism, sasl_mechanism::plain); }},
      {"KAFKA_SASL_MECHANISM", "scram-sha-256",
       [](const client_config& c) { EXPECT_EQ(c.mechanism, sasl_mechanism::scram_sha_256); }},
      {"KAFKA_SASL_MECHANISM", "SCRAM-SHA-512",
       [](const client_config& c) { EXPECT_EQ(c.mechanism, sasl_mechanism::scram_sha_512); }},
      {"KAFKA_SASL_USERNAME", "alice", [](const client_config& c) { EXPECT_EQ(c.sasl_username, "alice"); }},
      {"KAFKA_SASL_PASSWORD", "s3cr#t=x", [](const client_config& c) { EXPECT_EQ(c.sasl_password, "s3cr#t=x"); }},
      {"KAFKA_SSL_CA_LOCATION", ca.string(),
       [ca](const client_config& c) { EXPECT_EQ(c.ssl_ca_location, ca.string()); }},
      {"KAFKA_SSL_CA_LOCATION", "", [](const client_config& c) { EXPECT_EQ(c.ssl_ca_location, ""); }},
      {"KAFKA_SSL_CERTIFICATE_LOCATION", cert.string(),
       [cert](const client_config& c) { EXPECT_EQ(c.ssl_certificate_location, cert.string()); }},
      {"KAFKA_SSL_KEY_LOCATION", key.string(),
       [key](const client_config& c) { EXPECT_EQ(c.ssl_key_location, key.string()); }},
      {"KAFKA_SSL_KEY_PASSWORD", "k#y=pw", [](const client_config& c) { EXPECT_EQ(c.ssl_key_password, "k#y=pw"); }},
      {"KAFKA_GROUP_PROTOCOL", "consumer",
       [](const client_config& c) { EXPECT_EQ(c.group_protocol, group_protocol::consumer); }},
      {"KAFKA_GROUP_PROTOCOL", "CLASSIC",
       [](const client_config& c) { EXPECT_EQ(c.group_protocol, group_protocol::classic); }},
      {"SCHEMA_REGISTRY_URL", "http://127.0.0.1:8081/apis/ccompat/v7",
       [](const client_config& c) { EXPECT_EQ(c.registry_url, "http://127.0.0.1:8081/apis/ccompat/v7"); }},
      {"SCHEMA_REGISTRY_URL", "https://registry.example",
       [](const client_config& c) { EXPECT_EQ(c.registry_url, "https://registry.example"); }},
      {"SCHEMA_REGISTRY_URL", "", [](const client_config& c) { EXPECT_EQ(c.registry_url, ""); }},
      {"SCHEMA_REGISTRY_BASIC_AUTH_USER_INFO", "alice:pw:with:colons",
       [](const client_config& c) { EXPECT_EQ(c.registry_basic_auth_user_info, "alice:pw:with:colons"); }},
      {"SCHEMA_REGISTRY_SSL_CA_LOCATION", ca.string(),
       [ca](const client_config& c) { EXPECT_EQ(c.registry_ca_location, ca.string()); }},
      {"SCHEMA_REGISTRY_AUTO_REGISTER", "FALSE",
       [](const client_config& c) { EXPECT_FALSE(c.registry_auto_register); }},
      {"SCHEMA_REGISTRY_AUTO_REGISTER", "true", [](const client_config& c) { EXPECT_TRUE(c.registry_auto_register); }},
      {"KAFKA_UNSAFE_RDKAFKA_OVERRIDES", "true",
       [](const client_config& c) { EXPECT_TRUE(c.unsafe_rdkafka_overrides); }},
      {"SCHEMA_REGISTRY_SUBJECT_NAME_STRATEGY", "record",
       [](const client_config& c) { EXPECT_EQ(c.registry_subject_strategy, subject_name_strategy::record_name); }},
      {"SCHEMA_REGISTRY_SUBJECT_NAME_STRATEGY", "Topic",
       [](const client_config& c) { EXPECT_EQ(c.registry_subject_strategy, subject_name_strategy::topic_name); }},
  };
  // Settings that are refused alone (a client certificate without its key or without TLS) come with
  // what they need.
  const std::map<std::string, string_map> companions{
      {"KAFKA_SSL_CERTIFICATE_LOCATION",
       {{"KAFKA_SECURITY_PROTOCOL", "ssl"}, {"KAFKA_SSL_KEY_LOCATION", key.string()}}},
      {"KAFKA_SSL_KEY_LOCATION",
       {{"KAFKA_SECURITY_PROTOCOL", "ssl"}, {"KAFKA_SSL_CERTIFICATE_LOCATION", cert.string()}}},
      {"KAFKA_SSL_KEY_PASSWORD",
       {{"KAFKA_SECURITY_PROTOCOL", "ssl"},
        {"KAFKA_SSL_CERTIFICATE_LOCATION", cert.string()},
        {"KAFKA_SSL_KEY_LOCATION", key.string()}}},
      {"SCHEMA_REGISTRY_BASIC_AUTH_USER_INFO", {{"SCHEMA_REGISTRY_URL", "https://registry.example"}}},
      {"SCHEMA_REGISTRY_SSL_CA_LOCATION", {{"SCHEMA_REGISTRY_URL", "https://registry.example"}}},
  };
  std::set<std::string> covered;
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name + "=" + c.value);
    covered.insert(c.name);
    auto with = [&](const std::string& name, const std::string& value) {
      auto all = companions.contains(name) ? companions.at(name) : string_map{};
      all[name] = value;
      return all;
    };
    c.check(load_ok({.environment = with(c.name, c.value)}));
    c.check(load_ok({.flags = with(c.name, c.value)}));
  }
  EXPECT_EQ(covered, setting_names()) << "every setting needs a good value here";
}

TEST(config_values, sasl_ssl_in_upper_case_is_accepted) {
  const auto config = load_ok(
      {.environment = {
           {"KAFKA_SECURITY_PROTOCOL", "SASL_SSL"}, {"KAFKA_SASL_USERNAME", "u"}, {"KAFKA_SASL_PASSWORD", "p"}}});
  EXPECT_EQ(config.security, security_protocol::sasl_ssl);
}

// -------------------------------------------------------- every bad value

struct bad_case {
  std::string name;
  std::string value;
};

const std::vector<bad_case>& bad_cases() {
  static const std::vector<bad_case> cases{
      {"KAFKA_BROKERS", "localhost"},           // no port
      {"KAFKA_BROKERS", "localhost:0"},         // port out of range
      {"KAFKA_BROKERS", "localhost:65536"},     // port out of range
      {"KAFKA_BROKERS", "localhost:-1"},        // negative port
      {"KAFKA_BROKERS", "localhost:http"},      // non-numeric port
      {"KAFKA_BROKERS", ":9092"},               // no host
      {"KAFKA_BROKERS", "a:1,,b:2"},            // empty entry
      {"KAFKA_BROKERS", "a:1,"},                // trailing comma
      {"KAFKA_BROKERS", "ho st:1"},             // not a host
      {"KAFKA_BROKERS", "::1:9092"},            // IPv6 without brackets
      {"KAFKA_BROKERS", "PLAINTEXT://a:9092"},  // a URL is not host:port
      {"KAFKA_CLIENT_ID", ""},
      {"KAFKA_CLIENT_ID", "line\nbreak"},
      {"KAFKA_CONSUMER_GROUP_ID", ""},
      {"KAFKA_COMPRESSION_TYPE", "brotli"},
      {"KAFKA_COMPRESSION_TYPE", ""},
      {"KAFKA_SESSION_TIMEOUT_MS", "soon"},
      {"KAFKA_SESSION_TIMEOUT_MS", "999"},
      {"KAFKA_SESSION_TIMEOUT_MS", "3600001"},
      {"KAFKA_SESSION_TIMEOUT_MS", "1099511627776"},            // 2^40
      {"KAFKA_SESSION_TIMEOUT_MS", "99999999999999999999999"},  // beyond 64 bits
      {"KAFKA_CONSUMER_FETCH_WAIT_MS", "300001"},
      {"KAFKA_CONSUMER_FETCH_WAIT_MS", "fast"},
      {"KAFKA_CONSUMER_MAX_RECORD_BYTES", "0"},
      {"KAFKA_CONSUMER_MAX_RECORD_BYTES", "1000000001"},
      {"KAFKA_PRODUCER_LINGER_MS", "-1"},
      {"KAFKA_PRODUCER_LINGER_MS", "5ms"},
      {"KAFKA_PRODUCER_LINGER_MS", ""},
      {"KAFKA_PRODUCER_LINGER_MS", "900001"},
      {"KAFKA_PRODUCER_LINGER_MS", "+5"},
      {"KAFKA_PRODUCER_BATCH_SIZE", "0"},
      {"KAFKA_PRODUCER_BATCH_SIZE", "2147483648"},
      {"KAFKA_PRODUCER_BATCH_SIZE", "1099511627776"},
      {"KAFKA_PRODUCER_BATCH_SIZE", "1e6"},
      {"KAFKA_DELIVERY_TIMEOUT_MS", "999"},
      {"KAFKA_DELIVERY_TIMEOUT_MS", "1099511627776"},
      {"KAFKA_CONNECT_TIMEOUT_MS", "999"},  // librdkafka would refuse it later, with another message
      {"KAFKA_CONNECT_TIMEOUT_MS", "600001"},
      {"KAFKA_CONNECT_TIMEOUT_MS", "-100"},
      {"KAFKA_SECURITY_PROTOCOL", "tls"},
      {"KAFKA_SECURITY_PROTOCOL", "sasl-ssl"},
      {"KAFKA_SASL_MECHANISM", "GSSAPI"},
      {"KAFKA_SASL_MECHANISM", "SCRAM-SHA-1"},
      {"KAFKA_SASL_USERNAME", ""},
      {"KAFKA_SASL_PASSWORD", ""},
      {"KAFKA_SSL_CA_LOCATION", "/nonexistent/horizons/ca.pem"},
      {"KAFKA_SSL_CERTIFICATE_LOCATION", "/nonexistent/horizons/client.pem"},
      {"KAFKA_SSL_KEY_LOCATION", "/"},
      {"KAFKA_SSL_KEY_PASSWORD", ""},
      {"KAFKA_GROUP_PROTOCOL", "eager"},
      {"KAFKA_GROUP_PROTOCOL", "cooperative-sticky"},
      {"SCHEMA_REGISTRY_URL", "127.0.0.1:8081"},         // no scheme
      {"SCHEMA_REGISTRY_URL", "ftp://127.0.0.1:8081"},   // not http
      {"SCHEMA_REGISTRY_URL", "http://127.0.0.1:0"},     // no port 0
      {"SCHEMA_REGISTRY_URL", "http://a:1,http://b:2"},  // one registry
      {"SCHEMA_REGISTRY_BASIC_AUTH_USER_INFO", "alice"},
      {"SCHEMA_REGISTRY_BASIC_AUTH_USER_INFO", ":pw"},
      {"SCHEMA_REGISTRY_SSL_CA_LOCATION", "/nonexistent/horizons/registry-ca.pem"},
      {"SCHEMA_REGISTRY_AUTO_REGISTER", "yes"},
      {"KAFKA_UNSAFE_RDKAFKA_OVERRIDES", "maybe"},
      {"SCHEMA_REGISTRY_SUBJECT_NAME_STRATEGY", "TopicNameStrategy"},
  };
  return cases;
}

TEST(config_errors, the_bad_value_table_covers_every_setting) {
  std::set<std::string> covered;
  for (const auto& c : bad_cases()) covered.insert(c.name);
  EXPECT_EQ(covered, setting_names());
}

std::string echoed(const bad_case& c) {
  // One line always; a password never.
  if (c.name == "KAFKA_SASL_PASSWORD" || c.name == "KAFKA_SSL_KEY_PASSWORD" ||
      c.name == "SCHEMA_REGISTRY_BASIC_AUTH_USER_INFO") {
    return "***";
  }
  std::string out;
  for (char ch : c.value) out += ch == '\n' ? std::string("\\x0a") : std::string(1, ch);
  return out;
}

TEST(config_errors, a_bad_value_from_the_environment_names_setting_and_source) {
  for (const auto& c : bad_cases()) {
    SCOPED_TRACE(c.name + "=" + c.value);
    const auto message = load_error({.environment = {{c.name, c.value}}});
    EXPECT_TRUE(message.starts_with(c.name + " (from environment): expected ")) << message;
    EXPECT_TRUE(message.ends_with(fmt::format(", got '{}'", echoed(c)))) << message;
    EXPECT_FALSE(message.contains('\n')) << message;
  }
}

TEST(config_errors, a_bad_value_from_the_file_names_setting_file_and_line) {
  for (const auto& c : bad_cases()) {
    if (c.value.contains('\n')) continue;  // a file line cannot hold one
    SCOPED_TRACE(c.name + "=" + c.value);
    temp_dir dir;
    const auto file = dir.write("h.conf", fmt::format("# settings\n\nKAFKA_CLIENT_ID=ok\n{} = {}\n", c.name, c.value));
    const auto message = load_error({.file = file});
    EXPECT_TRUE(message.starts_with(fmt::format("{} (from {}:4): expected ", c.name, file.string()))) << message;
    EXPECT_TRUE(message.ends_with(fmt::format(", got '{}'", echoed(c)))) << message;
  }
}

TEST(config_errors, a_bad_value_from_a_flag_names_the_flag_spelling) {
  for (const auto& c : bad_cases()) {
    SCOPED_TRACE(c.name + "=" + c.value);
    const auto spelled = load_error({.flags = {{c.name, c.value}}, .flag_names = {{c.name, "--the-flag"}}});
    EXPECT_TRUE(spelled.starts_with(c.name + " (from --the-flag): expected ")) << spelled;
    EXPECT_TRUE(spelled.ends_with(fmt::format(", got '{}'", echoed(c)))) << spelled;
    // Without a spelling the name stands for the flag.
    const auto unspelled = load_error({.flags = {{c.name, c.value}}});
    EXPECT_TRUE(unspelled.starts_with(fmt::format("{} (from {}): expected ", c.name, c.name))) << unspelled;
  }
}

TEST(config_errors, messages_say_what_was_expected) {
  EXPECT_EQ(load_error({.flags = {{"KAFKA_SESSION_TIMEOUT_MS", "soon"}},
                        .flag_names = {{"KAFKA_SESSION_TIMEOUT_MS", "--session-timeout-ms"}}}),
            "KAFKA_SESSION_TIMEOUT_MS (from --session-timeout-ms): expected an integer of milliseconds in "
            "1000..3600000, got 'soon'");
  EXPECT_EQ(load_error({.environment = {{"KAFKA_PRODUCER_BATCH_SIZE", "1099511627776"}}}),
            "KAFKA_PRODUCER_BATCH_SIZE (from environment): expected an integer of bytes in 1..2147483647, "
            "got '1099511627776'");
  EXPECT_EQ(load_error({.environment = {{"KAFKA_BROKERS", "a:9092,b:99999"}}}),
            "KAFKA_BROKERS (from environment): expected a comma-separated list of host:port with port in 1..65535, "
            "or empty for the embedded cluster, got 'a:9092,b:99999'");
  EXPECT_EQ(load_error({.environment = {{"KAFKA_COMPRESSION_TYPE", "brotli"}}}),
            "KAFKA_COMPRESSION_TYPE (from environment): expected one of none|snappy|lz4|gzip|zstd, got 'brotli'");
  EXPECT_EQ(load_error({.environment = {{"KAFKA_SECURITY_PROTOCOL", "tls"}}}),
            "KAFKA_SECURITY_PROTOCOL (from environment): expected one of plaintext|ssl|sasl_plaintext|sasl_ssl, "
            "got 'tls'");
  EXPECT_EQ(load_error({.environment = {{"KAFKA_SASL_MECHANISM", "GSSAPI"}}}),
            "KAFKA_SASL_MECHANISM (from environment): expected one of PLAIN|SCRAM-SHA-256|SCRAM-SHA-512, "
            "got 'GSSAPI'");
  EXPECT_EQ(load_error({.environment = {{"KAFKA_CLIENT_ID", ""}}}),
            "KAFKA_CLIENT_ID (from environment): expected a client id (non-empty, one line), got ''");
}

TEST(config_errors, a_ca_location_must_be_a_readable_file) {
  temp_dir dir;
  const auto message = load_error({.environment = {{"KAFKA_SSL_CA_LOCATION", dir.path().string()}}});
  EXPECT_EQ(message, fmt::format("KAFKA_SSL_CA_LOCATION (from environment): expected the path of an existing, "
                                 "readable PEM file, or empty, got '{}'",
                                 dir.path().string()));
  if (::geteuid() != 0) {  // root reads any file, so unreadability cannot be staged
    const auto locked = dir.write("locked.pem", "x");
    fs::permissions(locked, fs::perms::none);
    EXPECT_TRUE(load_error({.environment = {{"KAFKA_SSL_CA_LOCATION", locked.string()}}})
                    .starts_with("KAFKA_SSL_CA_LOCATION (from environment): expected "));
  }
}

// ----------------------------------------------------------------- secrets

TEST(config_secrets, a_password_is_never_echoed) {
  temp_dir dir;
  const std::string secret = "hunter2-topsecret";
  const auto bad_in_flags = load_error({.flags = {{"KAFKA_SASL_PASSWORD", secret + "\n"}}});
  EXPECT_EQ(bad_in_flags,
            "KAFKA_SASL_PASSWORD (from KAFKA_SASL_PASSWORD): expected a password (non-empty, one line), got '***'");

  // A misspelt name in the file: the value may be the password.
  const auto misspelt = dir.write("misspelt.conf", "KAFKA_SASL_PASWORD=" + secret + "\n");
  const auto unknown = load_error({.file = misspelt});
  EXPECT_FALSE(unknown.contains(secret)) << unknown;
  EXPECT_TRUE(unknown.starts_with("KAFKA_SASL_PASWORD (from " + misspelt.string() + ":1): unknown setting"));

  // A password on a line of its own.
  const auto bare = dir.write("bare.conf", secret + "\n");
  const auto no_equals = load_error({.file = bare});
  EXPECT_FALSE(no_equals.contains(secret)) << no_equals;

  // An unrelated error later on does not carry the password along.
  const auto later =
      load_error({.environment = {{"KAFKA_SASL_PASSWORD", secret}, {"KAFKA_SECURITY_PROTOCOL", "sasl_ssl"}}});
  EXPECT_FALSE(later.contains(secret)) << later;
}

TEST(config_registry, credentials_and_a_ca_need_a_registry_url) {
  EXPECT_EQ(load_error({.environment = {{"SCHEMA_REGISTRY_BASIC_AUTH_USER_INFO", "alice:pw"}}}),
            "SCHEMA_REGISTRY_BASIC_AUTH_USER_INFO: given without SCHEMA_REGISTRY_URL");
  const auto config = load_ok({.environment = {{"SCHEMA_REGISTRY_BASIC_AUTH_USER_INFO", "alice:pw"}},
                               .flags = {{"SCHEMA_REGISTRY_URL", "http://127.0.0.1:8081"}}});
  EXPECT_EQ(config.registry_url, "http://127.0.0.1:8081");
  EXPECT_EQ(config.registry_basic_auth_user_info, "alice:pw");
}

TEST(config_registry, the_process_environment_carries_registry_settings) {
  ::setenv("SCHEMA_REGISTRY_URL", "http://127.0.0.1:18081", 1);
  const auto environment = process_environment();
  ::unsetenv("SCHEMA_REGISTRY_URL");
  ASSERT_TRUE(environment.contains("SCHEMA_REGISTRY_URL"));
  EXPECT_EQ(load_ok({.environment = environment}).registry_url, "http://127.0.0.1:18081");
}

// -------------------------------------------------------------------- file

TEST(config_file, comments_blank_lines_and_whitespace_are_ignored) {
  temp_dir dir;
  const auto file = dir.write("h.conf",
                              "# Horizons\n"
                              "\n"
                              "   \n"
                              "\t# indented comment\n"
                              "  KAFKA_CLIENT_ID  =  svc  \n"
                              "KAFKA_BROKERS=a:1,b:2\r\n"        // written on Windows
                              "KAFKA_SASL_PASSWORD=p#ss=word\n"  // '#' and '=' in a value are data
                              "KAFKA_PRODUCER_LINGER_MS=1\n"
                              "KAFKA_PRODUCER_LINGER_MS=2");  // the later line wins; no final newline
  const auto config = load_ok({.file = file});
  EXPECT_EQ(config.client_id, "svc");
  EXPECT_EQ(config.brokers, "a:1,b:2");
  EXPECT_EQ(config.sasl_password, "p#ss=word");
  EXPECT_EQ(config.linger, 2ms);
}

TEST(config_file, an_empty_file_changes_nothing) {
  temp_dir dir;
  expect_same(load_ok({.file = dir.write("empty.conf", "")}), client_config{});
}

TEST(config_file, an_unknown_name_is_refused_with_file_and_line) {
  temp_dir dir;
  const auto file = dir.write("h.conf", "# typo below\nKAFKA_CLIENT_ID=x\nKAFKA_BROKER=a:1\n");
  EXPECT_EQ(load_error({.file = file}),
            fmt::format("KAFKA_BROKER (from {}:3): unknown setting; expected a name listed by --help or "
                        "KAFKA_RDKAFKA_<property>",
                        file.string()));
  // Kafka's own variables are skipped in the environment, not in a file.
  const auto home = dir.write("home.conf", "KAFKA_HOME=/opt/kafka\n");
  EXPECT_TRUE(
      load_error({.file = home}).starts_with(fmt::format("KAFKA_HOME (from {}:1): unknown setting", home.string())));
}

TEST(config_file, a_line_without_equals_is_refused_with_file_and_line) {
  temp_dir dir;
  const auto file = dir.write("h.conf", "KAFKA_CLIENT_ID=x\n\nKAFKA_BROKERS a:1\n");
  EXPECT_EQ(load_error({.file = file}),
            fmt::format("{}:3: expected NAME=value, got a line without '='", file.string()));
  const auto nameless = dir.write("nameless.conf", " = value\n");
  EXPECT_EQ(load_error({.file = nameless}),
            fmt::format("{}:1: expected NAME=value, got an empty NAME", nameless.string()));
}

TEST(config_file, a_missing_file_is_refused_with_its_path) {
  temp_dir dir;
  const auto missing = dir.path() / "absent.conf";
  EXPECT_EQ(load_error({.file = missing}),
            fmt::format("cannot read config file '{}': No such file or directory", missing.string()));
  EXPECT_EQ(load_error({.file = dir.path()}),
            fmt::format("cannot read config file '{}': is a directory", dir.path().string()));
}

// ------------------------------------------------------------ pass-through

TEST(config_rdkafka, properties_pass_through_from_every_source) {
  temp_dir dir;
  const auto file = dir.write("h.conf",
                              "KAFKA_RDKAFKA_SOCKET_KEEPALIVE_ENABLE=true\n"
                              "KAFKA_RDKAFKA_MESSAGE_MAX_BYTES=2000000\n");
  const auto config = load_ok({
      .environment = {{"KAFKA_RDKAFKA_STATISTICS_INTERVAL_MS", "1000"}, {"KAFKA_RDKAFKA_MESSAGE_MAX_BYTES", "1"}},
      .file = file,
      .flags = {{"queue.buffering.max.messages", "1000"},
                {"debug", "broker,protocol"},
                {"KAFKA_RDKAFKA_FETCH_WAIT_MAX_MS", "50"}},
  });
  const string_map expected{
      {"statistics.interval.ms", "1000"},        // environment
      {"socket.keepalive.enable", "true"},       // file
      {"message.max.bytes", "2000000"},          // file beats environment
      {"queue.buffering.max.messages", "1000"},  // flag with a '.'
      {"debug", "broker,protocol"},              // lower-case flag
      {"fetch.wait.max.ms", "50"},               // flag spelt like the environment
  };
  EXPECT_EQ(config.rdkafka, expected);
}

TEST(config_rdkafka, a_flag_beats_the_file_for_the_same_property) {
  temp_dir dir;
  const auto file = dir.write("h.conf", "KAFKA_RDKAFKA_LINGER_MS=7\n");
  const auto config =
      load_ok({.environment = {{"KAFKA_RDKAFKA_LINGER_MS", "3"}}, .file = file, .flags = {{"linger.ms", "9"}}});
  EXPECT_EQ(config.rdkafka, (string_map{{"linger.ms", "9"}}));
}

TEST(config_rdkafka, overrides_that_would_break_a_guarantee_are_refused_unless_declared_unsafe) {
  EXPECT_EQ(load_error({.flags = {{"acks", "1"}}}),
            "librdkafka property acks=1 (-X or KAFKA_RDKAFKA_*) would break a guarantee: a record is reported "
            "delivered only once every in-sync replica has it (acks=all); drop it, or set "
            "KAFKA_UNSAFE_RDKAFKA_OVERRIDES=true to give the guarantee up");
  EXPECT_NE(
      load_error({.environment = {{"KAFKA_RDKAFKA_ENABLE_IDEMPOTENCE", "false"}}}).find("enable.idempotence=false"),
      std::string::npos);
  EXPECT_NE(load_error({.flags = {{"enable.auto.offset.store", "true"}}}).find("enable.auto.offset.store"),
            std::string::npos);
  EXPECT_NE(load_error({.flags = {{"request.required.acks", "0"}}}).find("request.required.acks=0"), std::string::npos);
  // Horizons' own values are harmless, in any case; anything goes once declared unsafe.
  EXPECT_EQ(load_ok({.flags = {{"acks", "ALL"}, {"enable.idempotence", "true"}}}).rdkafka.at("acks"), "ALL");
  EXPECT_EQ(load_ok({.flags = {{"acks", "-1"}, {"enable.auto.offset.store", "false"}}}).rdkafka.size(), 2u);
  const auto unsafe = load_ok({.environment = {{"KAFKA_UNSAFE_RDKAFKA_OVERRIDES", "true"}}, .flags = {{"acks", "1"}}});
  EXPECT_TRUE(unsafe.unsafe_rdkafka_overrides);
  EXPECT_EQ(unsafe.rdkafka.at("acks"), "1");
}

TEST(config_rdkafka, a_bare_prefix_and_an_unknown_upper_case_flag_are_refused) {
  EXPECT_EQ(load_error({.environment = {{"KAFKA_RDKAFKA_", "x"}}}),
            "KAFKA_RDKAFKA_ (from environment): expected a librdkafka property after KAFKA_RDKAFKA_, e.g. "
            "KAFKA_RDKAFKA_STATISTICS_INTERVAL_MS");
  EXPECT_EQ(load_error({.flags = {{"KAFKA_LINGER", "5"}}, .flag_names = {{"KAFKA_LINGER", "--linger"}}}),
            "KAFKA_LINGER (from --linger): unknown setting; expected a name listed by --help or "
            "KAFKA_RDKAFKA_<property>");
}

// ------------------------------------------------------------- cross-check

TEST(config_sasl, a_sasl_protocol_needs_username_and_password) {
  EXPECT_EQ(load_error({.environment = {{"KAFKA_SECURITY_PROTOCOL", "sasl_ssl"}}}),
            "KAFKA_SASL_USERNAME: required when KAFKA_SECURITY_PROTOCOL is sasl_ssl");
  EXPECT_EQ(load_error({.environment = {{"KAFKA_SECURITY_PROTOCOL", "SASL_PLAINTEXT"}, {"KAFKA_SASL_USERNAME", "u"}}}),
            "KAFKA_SASL_PASSWORD: required when KAFKA_SECURITY_PROTOCOL is sasl_plaintext");
  // Plaintext and ssl need neither.
  EXPECT_TRUE(load_config({.environment = {{"KAFKA_SECURITY_PROTOCOL", "ssl"}}}));
  EXPECT_TRUE(load_config({.environment = {{"KAFKA_SECURITY_PROTOCOL", "plaintext"}}}));
}

TEST(config_sasl, credentials_may_come_from_other_sources_than_the_protocol) {
  temp_dir dir;
  const auto file = dir.write("h.conf", "KAFKA_SASL_PASSWORD=from-file\n");
  const auto config = load_ok({.environment = {{"KAFKA_SASL_USERNAME", "alice"}},
                               .file = file,
                               .flags = {{"KAFKA_SECURITY_PROTOCOL", "sasl_ssl"}, {"KAFKA_SASL_MECHANISM", "PLAIN"}}});
  EXPECT_EQ(config.security, security_protocol::sasl_ssl);
  EXPECT_EQ(config.mechanism, sasl_mechanism::plain);
  EXPECT_EQ(config.sasl_username, "alice");
  EXPECT_EQ(config.sasl_password, "from-file");
}

TEST(config_tls, a_client_certificate_needs_its_key_and_a_tls_protocol) {
  temp_dir dir;
  const auto cert = dir.write("client.pem", "-----BEGIN CERTIFICATE-----\n").string();
  const auto key = dir.write("client.key", "-----BEGIN PRIVATE KEY-----\n").string();
  EXPECT_EQ(load_error({.environment = {{"KAFKA_SECURITY_PROTOCOL", "ssl"}, {"KAFKA_SSL_CERTIFICATE_LOCATION", cert}}}),
            "KAFKA_SSL_KEY_LOCATION: required with KAFKA_SSL_CERTIFICATE_LOCATION (a client certificate needs its "
            "private key, and the reverse)");
  EXPECT_EQ(load_error({.environment = {{"KAFKA_SECURITY_PROTOCOL", "ssl"}, {"KAFKA_SSL_KEY_LOCATION", key}}}),
            "KAFKA_SSL_CERTIFICATE_LOCATION: required with KAFKA_SSL_KEY_LOCATION (a client certificate needs its "
            "private key, and the reverse)");
  EXPECT_EQ(load_error({.environment = {{"KAFKA_SSL_CERTIFICATE_LOCATION", cert}, {"KAFKA_SSL_KEY_LOCATION", key}}}),
            "KAFKA_SSL_CERTIFICATE_LOCATION: used only when KAFKA_SECURITY_PROTOCOL is ssl or sasl_ssl, which is "
            "plaintext");
  EXPECT_EQ(load_error({.environment = {{"KAFKA_SECURITY_PROTOCOL", "sasl_ssl"},
                                        {"KAFKA_SASL_USERNAME", "u"},
                                        {"KAFKA_SASL_PASSWORD", "p"},
                                        {"KAFKA_SSL_KEY_PASSWORD", "secret-key-pw"}}}),
            "KAFKA_SSL_KEY_PASSWORD: given without KAFKA_SSL_KEY_LOCATION");
  // The pair from two sources, with sasl_ssl.
  const auto config = load_ok({.environment = {{"KAFKA_SSL_CERTIFICATE_LOCATION", cert}},
                               .flags = {{"KAFKA_SECURITY_PROTOCOL", "sasl_ssl"},
                                         {"KAFKA_SASL_USERNAME", "u"},
                                         {"KAFKA_SASL_PASSWORD", "p"},
                                         {"KAFKA_SSL_KEY_LOCATION", key}}});
  EXPECT_EQ(config.ssl_certificate_location, cert);
  EXPECT_EQ(config.ssl_key_location, key);
  // A CA alone is fine with plaintext: it is often set machine-wide.
  EXPECT_TRUE(load_config({.environment = {{"KAFKA_SSL_CA_LOCATION", cert}}}));
}

TEST(config_tls, a_missing_key_file_is_named) {
  EXPECT_EQ(load_error({.environment = {{"KAFKA_SECURITY_PROTOCOL", "ssl"},
                                        {"KAFKA_SSL_KEY_LOCATION", "/nonexistent/client.key"}}}),
            "KAFKA_SSL_KEY_LOCATION (from environment): expected the path of an existing, readable PEM file, or "
            "empty, got '/nonexistent/client.key'");
}

TEST(config_group_protocol, the_session_timeout_belongs_to_the_broker_under_kip_848) {
  EXPECT_EQ(load_error({.environment = {{"KAFKA_SESSION_TIMEOUT_MS", "6000"}},
                        .flags = {{"KAFKA_GROUP_PROTOCOL", "consumer"}}}),
            "KAFKA_SESSION_TIMEOUT_MS: not used when KAFKA_GROUP_PROTOCOL is consumer (the broker's "
            "group.consumer.session.timeout.ms decides); drop one of the two");
  EXPECT_EQ(load_ok({.flags = {{"KAFKA_GROUP_PROTOCOL", "consumer"}}}).group_protocol, group_protocol::consumer);
  EXPECT_EQ(
      load_ok({.flags = {{"KAFKA_GROUP_PROTOCOL", "classic"}, {"KAFKA_SESSION_TIMEOUT_MS", "6000"}}}).session_timeout,
      6000ms);
  EXPECT_EQ(load_ok({}).group_protocol, group_protocol::classic);
}

// ------------------------------------------------------ librdkafka properties

TEST(config_rdkafka_properties, map_each_setting_to_its_property_for_the_role) {
  temp_dir dir;
  const auto cert = dir.write("client.pem", "-----BEGIN CERTIFICATE-----\n").string();
  const auto key = dir.write("client.key", "-----BEGIN PRIVATE KEY-----\n").string();
  using properties = std::map<std::string, std::string>;
  auto as_map = [](const client_config& c, client_role role) {
    const auto list = rdkafka_properties(c, role);
    return properties(list.begin(), list.end());
  };

  const auto plain = load_ok({.flags = {{"KAFKA_BROKERS", "a:1"}, {"KAFKA_CLIENT_ID", "svc"}}});
  EXPECT_EQ(as_map(plain, client_role::producer), (properties{{"bootstrap.servers", "a:1"},
                                                              {"client.id", "svc"},
                                                              {"socket.connection.setup.timeout.ms", "10000"},
                                                              {"security.protocol", "plaintext"}}));
  EXPECT_EQ(as_map(plain, client_role::admin), as_map(plain, client_role::producer));
  const auto consumer = as_map(plain, client_role::consumer);
  EXPECT_EQ(consumer.at("group.protocol"), "classic");
  EXPECT_EQ(consumer.at("session.timeout.ms"), "45000");
  EXPECT_EQ(consumer.at("fetch.wait.max.ms"), "500");
  EXPECT_EQ(consumer.at("fetch.queue.backoff.ms"), "10");

  // KIP-848: no client-side session timeout.
  const auto kip848 = as_map(load_ok({.flags = {{"KAFKA_GROUP_PROTOCOL", "consumer"}}}), client_role::consumer);
  EXPECT_EQ(kip848.at("group.protocol"), "consumer");
  EXPECT_FALSE(kip848.contains("session.timeout.ms"));

  // SASL and TLS: only what is set; pass-through properties are the caller's to apply last.
  const auto secured = as_map(load_ok({.environment = {{"KAFKA_SECURITY_PROTOCOL", "sasl_ssl"},
                                                       {"KAFKA_SASL_USERNAME", "u"},
                                                       {"KAFKA_SASL_PASSWORD", "p"},
                                                       {"KAFKA_SSL_CERTIFICATE_LOCATION", cert},
                                                       {"KAFKA_SSL_KEY_LOCATION", key},
                                                       {"KAFKA_SSL_KEY_PASSWORD", "kp"},
                                                       {"KAFKA_RDKAFKA_LINGER_MS", "7"}}}),
                              client_role::producer);
  EXPECT_EQ(secured.at("security.protocol"), "sasl_ssl");
  EXPECT_EQ(secured.at("sasl.mechanisms"), "SCRAM-SHA-512");
  EXPECT_EQ(secured.at("sasl.username"), "u");
  EXPECT_EQ(secured.at("sasl.password"), "p");
  EXPECT_EQ(secured.at("ssl.certificate.location"), cert);
  EXPECT_EQ(secured.at("ssl.key.location"), key);
  EXPECT_EQ(secured.at("ssl.key.password"), "kp");
  EXPECT_FALSE(secured.contains("ssl.ca.location"));
  EXPECT_FALSE(secured.contains("linger.ms"));
  EXPECT_FALSE(as_map(plain, client_role::producer).contains("sasl.username"));
}

TEST(config_client_properties, the_shared_list_then_the_roles_own_then_pass_through_last) {
  using list = std::vector<std::pair<std::string, std::string>>;
  auto config = load_ok({.flags = {{"KAFKA_BROKERS", "a:1"}, {"KAFKA_PRODUCER_LINGER_MS", "7"}}});
  config.rdkafka = {{"linger.ms", "9"}, {"statistics.interval.ms", "1000"}};
  auto index_of = [](const list& l, std::string_view name) {
    auto it = std::ranges::find(l, name, [](const auto& p) { return std::string_view(p.first); });
    return it == l.end() ? -1 : static_cast<int>(it - l.begin());
  };
  auto value_of = [](const list& l, std::string_view name) {
    std::string value;  // the last one set wins in librdkafka
    for (const auto& [n, v] : l) {
      if (n == name) value = v;
    }
    return value;
  };

  const auto producer = client_properties(config, client_role::producer, {.max_queued_messages = 1234});
  const auto shared = rdkafka_properties(config, client_role::producer);
  ASSERT_GE(producer.size(), shared.size());
  EXPECT_TRUE(std::equal(shared.begin(), shared.end(), producer.begin()));
  auto expect_values = [&](const list& l, const list& expected) {
    for (const auto& [name, value] : expected) EXPECT_EQ(value_of(l, name), value) << name;
  };
  expect_values(producer, {{"enable.idempotence", "true"},
                           {"acks", "all"},
                           {"batch.size", "1000000"},
                           {"delivery.timeout.ms", "120000"},
                           {"queue.buffering.max.messages", "1234"},
                           {"partitioner", "murmur2_random"},
                           {"linger.ms", "9"}});  // the pass-through property wins over the setting (7)
  EXPECT_LT(index_of(producer, "linger.ms"), index_of(producer, "statistics.interval.ms"));
  EXPECT_EQ(producer.back(), (std::pair<std::string, std::string>{"statistics.interval.ms", "1000"}));
  EXPECT_EQ(index_of(producer, "group.id"), -1);

  const auto consumer = client_properties(config, client_role::consumer, {.group = "g", .start = offset_reset::latest});
  expect_values(consumer, {{"group.id", "g"},
                           {"enable.auto.commit", "true"},
                           {"auto.commit.interval.ms", "1000"},
                           {"enable.auto.offset.store", "false"},
                           {"auto.offset.reset", "latest"},
                           {"fetch.wait.max.ms", "500"}});
  EXPECT_EQ(index_of(consumer, "enable.idempotence"), -1);
  EXPECT_EQ(value_of(client_properties(config, client_role::consumer, {.group = "g"}), "auto.offset.reset"),
            "earliest");
  EXPECT_EQ(index_of(client_properties(config, client_role::consumer), "group.id"), -1);

  // An admin client: the shared list and the pass-through properties, nothing of a producer or consumer.
  auto admin = rdkafka_properties(config, client_role::admin);
  admin.insert(admin.end(), config.rdkafka.begin(), config.rdkafka.end());
  EXPECT_EQ(client_properties(config, client_role::admin), admin);
}

TEST(config_topic_properties, compression_from_the_catalogue_unless_overridden) {
  using list = std::vector<std::pair<std::string, std::string>>;
  const auto plain = load_ok({});
  EXPECT_EQ(topic_properties(plain, topic_id::job_lifecycle), (list{{"compression.codec", "snappy"}}));
  EXPECT_EQ(topic_properties(plain, topic_id::notifications), (list{{"compression.codec", "lz4"}}));
  const auto zstd = load_ok({.flags = {{"KAFKA_COMPRESSION_TYPE", "zstd"}}});
  EXPECT_EQ(topic_properties(zstd, topic_id::job_lifecycle), (list{{"compression.codec", "zstd"}}));
}

// ----------------------------------------------------------- public pieces

TEST(config_settings_table, names_flags_and_help_are_complete_and_unique) {
  std::set<std::string_view> names, flags;
  for (const auto& s : config_settings()) {
    SCOPED_TRACE(s.name);
    EXPECT_TRUE(s.name.starts_with("KAFKA_") || s.name.starts_with("SCHEMA_REGISTRY_"));
    EXPECT_FALSE(s.name.starts_with("KAFKA_RDKAFKA_"));
    EXPECT_TRUE(names.insert(s.name).second) << "duplicate name";
    EXPECT_FALSE(s.help.empty());
    if (s.name == "KAFKA_SASL_PASSWORD" || s.name == "KAFKA_SSL_KEY_PASSWORD" ||
        s.name == "SCHEMA_REGISTRY_BASIC_AUTH_USER_INFO") {
      EXPECT_EQ(s.flag, "") << "a password on the command line is visible to every local user";
    } else {
      EXPECT_FALSE(s.flag.empty());
      EXPECT_FALSE(s.flag.starts_with("-"));
      EXPECT_TRUE(flags.insert(s.flag).second) << "duplicate flag";
    }
  }
  EXPECT_EQ(names.size(), 26u);
  EXPECT_TRUE(names.contains("KAFKA_SESSION_TIMEOUT_MS"));
  EXPECT_TRUE(flags.contains("session-timeout-ms"));
}

TEST(config_to_string, spells_like_librdkafka) {
  EXPECT_EQ(to_string(security_protocol::plaintext), "plaintext");
  EXPECT_EQ(to_string(security_protocol::ssl), "ssl");
  EXPECT_EQ(to_string(security_protocol::sasl_plaintext), "sasl_plaintext");
  EXPECT_EQ(to_string(security_protocol::sasl_ssl), "sasl_ssl");
  EXPECT_EQ(to_string(sasl_mechanism::plain), "PLAIN");
  EXPECT_EQ(to_string(sasl_mechanism::scram_sha_256), "SCRAM-SHA-256");
  EXPECT_EQ(to_string(sasl_mechanism::scram_sha_512), "SCRAM-SHA-512");
  EXPECT_EQ(to_string(group_protocol::classic), "classic");
  EXPECT_EQ(to_string(group_protocol::consumer), "consumer");
}

TEST(config_environment, process_environment_reads_only_kafka_names) {
  const std::string name = fmt::format("KAFKA_HORIZONS_TEST_{}", ::getpid());
  ASSERT_EQ(::setenv(name.c_str(), "a=b", 1), 0);
  ASSERT_EQ(::setenv("HORIZONS_NOT_KAFKA", "x", 1), 0);
  const auto variables = process_environment();
  ::unsetenv(name.c_str());
  ::unsetenv("HORIZONS_NOT_KAFKA");
  ASSERT_TRUE(variables.contains(name));
  EXPECT_EQ(variables.at(name), "a=b");
  EXPECT_FALSE(variables.contains("HORIZONS_NOT_KAFKA"));
  for (const auto& [key, value] : variables) EXPECT_TRUE(key.starts_with("KAFKA_")) << key;
}

}  // namespace
}  // namespace horizons
