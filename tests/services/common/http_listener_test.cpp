// A service's HTTP listener: binds what it is given (port 0: a free port),
// refuses bad and busy addresses with messages naming them, serves the
// service's routes beside GET /metrics (also in memory, for the fuzz targets),
// takes its TLS files from the environment, and stops.
#include "services/common/http_listener.hpp"

#include <gtest/gtest.h>

#include <horizons/metrics.hpp>

namespace horizons::services {
namespace {

int port_of(const std::string& address) { return std::stoi(address.substr(address.rfind(':') + 1)); }

TEST(http_listener, serves_its_routes_and_the_process_metrics) {
  auto& probe = prometheus::BuildCounter()
                    .Name("horizons_http_listener_test_probes_total")
                    .Help("A counter this test increments.")
                    .Register(metrics::registry())
                    .Add({{"test", "listener"}});
  probe.Increment(3);
  auto http = http_listener::bind("127.0.0.1:0");
  ASSERT_TRUE(http) << http.error();
  (*http)->server().Get("/hello",
                        [](const httplib::Request&, httplib::Response& r) { r.set_content("hi", "text/plain"); });
  (*http)->serve();
  EXPECT_EQ((*http)->url(), "http://" + (*http)->address());

  httplib::Client client("127.0.0.1", port_of((*http)->address()));
  auto hello = client.Get("/hello");
  ASSERT_TRUE(hello);
  EXPECT_EQ(hello->body, "hi");
  auto scraped = client.Get("/metrics");
  ASSERT_TRUE(scraped);
  EXPECT_EQ(scraped->status, 200);
  EXPECT_EQ(scraped->get_header_value("Content-Type"), metrics::content_type);
  EXPECT_NE(scraped->body.find("# TYPE horizons_http_listener_test_probes_total counter\n"), std::string::npos);
  EXPECT_NE(scraped->body.find("horizons_http_listener_test_probes_total{test=\"listener\"} 3\n"), std::string::npos)
      << scraped->body;

  (*http)->stop();
  (*http)->stop();  // idempotent
  EXPECT_FALSE(client.Get("/hello")) << "nothing answers after stop()";
}

TEST(http_listener, refuses_a_malformed_or_busy_address_naming_it) {
  auto malformed = http_listener::bind("9464");
  ASSERT_FALSE(malformed);
  EXPECT_EQ(malformed.error(), "HTTP listen address: expected host:port, got '9464'");

  auto first = http_listener::bind("127.0.0.1:0");
  ASSERT_TRUE(first) << first.error();
  auto busy = http_listener::bind((*first)->address());
  ASSERT_FALSE(busy);
  EXPECT_EQ(busy.error(),
            "cannot listen on " + (*first)->address() + ": the address is not local or the port is in use");
}

TEST(http_listener, routes_without_authentication_listen_on_loopback_only) {
  for (const auto* host : {"127.0.0.1", "127.8.9.10", "::1", "localhost"}) EXPECT_TRUE(is_loopback_host(host)) << host;
  for (const auto* host : {"0.0.0.0", "::", "10.0.0.1", "128.0.0.1", "example.org"}) {
    EXPECT_FALSE(is_loopback_host(host)) << host;
  }
  ::unsetenv("HORIZONS_HTTP_ALLOW_NETWORK");
  auto everywhere = http_listener::bind("0.0.0.0:0");
  ASSERT_FALSE(everywhere);
  EXPECT_NE(everywhere.error().find("loopback addresses only"), std::string::npos) << everywhere.error();
  EXPECT_NE(everywhere.error().find("HORIZONS_HTTP_ALLOW_NETWORK=1"), std::string::npos) << everywhere.error();
  EXPECT_FALSE(http_listener::bind("[::]:0"));
  // A listener whose routes check tokens may; so may one its operator opened on purpose.
  auto api = http_listener::bind("0.0.0.0:0", http_reach::network);
  ASSERT_TRUE(api) << api.error();
  ::setenv("HORIZONS_HTTP_ALLOW_NETWORK", "1", 1);
  auto opened = http_listener::bind("0.0.0.0:0");
  ::unsetenv("HORIZONS_HTTP_ALLOW_NETWORK");
  ASSERT_TRUE(opened) << opened.error();
}

TEST(http_listener, answers_a_request_in_memory_through_its_routes) {
  auto http = http_listener::bind("127.0.0.1:0");
  ASSERT_TRUE(http) << http.error();
  (*http)->server().Get("/hello",
                        [](const httplib::Request&, httplib::Response& r) { r.set_content("hi", "text/plain"); });
  (*http)->serve();
  auto answer = (*http)->answer("GET /hello HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_TRUE(answer.starts_with("HTTP/1.1 200 OK\r\n")) << answer;
  EXPECT_TRUE(answer.ends_with("\r\n\r\nhi")) << answer;
  EXPECT_TRUE((*http)->answer("GET /nowhere HTTP/1.1\r\n\r\n").starts_with("HTTP/1.1 404")) << "an unknown route";
  EXPECT_TRUE((*http)->answer("GET /hel").starts_with("HTTP/1.1 400")) << "a request cut short";
  EXPECT_EQ((*http)->answer(""), "") << "no request, no answer";
}

TEST(http_listener, takes_its_certificate_and_key_from_the_environment_both_or_neither) {
  ::unsetenv("HORIZONS_HTTP_TLS_CERT");
  ::unsetenv("HORIZONS_HTTP_TLS_KEY");
  auto none = tls_files::from_environment();
  ASSERT_TRUE(none) << none.error();
  EXPECT_FALSE(*none) << "plain HTTP when neither is set";
  ::setenv("HORIZONS_HTTP_TLS_CERT", "/etc/hostname", 1);
  auto half = tls_files::from_environment();
  ASSERT_FALSE(half);
  EXPECT_NE(half.error().find("HORIZONS_HTTP_TLS_CERT is set without HORIZONS_HTTP_TLS_KEY"), std::string::npos)
      << half.error();
  ::setenv("HORIZONS_HTTP_TLS_KEY", "/nonexistent/key.pem", 1);
  auto missing = tls_files::from_environment();
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error(), "HORIZONS_HTTP_TLS_KEY: no file /nonexistent/key.pem");
  ::unsetenv("HORIZONS_HTTP_TLS_CERT");
  ::unsetenv("HORIZONS_HTTP_TLS_KEY");
  auto garbage = http_listener::bind("127.0.0.1:0", http_reach::network,
                                     tls_files{.certificate = "/etc/hostname", .key = "/etc/hostname"});
  ASSERT_FALSE(garbage);
  EXPECT_NE(garbage.error().find("cannot serve HTTPS on 127.0.0.1:0"), std::string::npos) << garbage.error();
}

}  // namespace
}  // namespace horizons::services
