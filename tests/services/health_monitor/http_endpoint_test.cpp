// The HTTP endpoint on loopback: status codes before and after the first
// evaluation, content types, and listen addresses that cannot be used.
#include "services/health_monitor/http_endpoint.hpp"

#include <gtest/gtest.h>
#include <httplib.h>
#include <nlohmann/json.hpp>

namespace horizons::health_monitor {
namespace {

int port_of(const std::string& address) { return std::stoi(address.substr(address.rfind(':') + 1)); }

TEST(http_endpoint, healthz_is_503_until_the_first_evaluation_then_follows_the_status) {
  auto endpoint = http_endpoint::start("127.0.0.1:0");
  ASSERT_TRUE(endpoint) << endpoint.error();
  const auto& address = (*endpoint)->address();
  EXPECT_TRUE(address.starts_with("127.0.0.1:")) << address;
  EXPECT_GT(port_of(address), 0);
  httplib::Client client("127.0.0.1", port_of(address));

  auto before = client.Get("/healthz");
  ASSERT_TRUE(before) << httplib::to_string(before.error());
  EXPECT_EQ(before->status, 503);
  auto body = nlohmann::json::parse(before->body);
  EXPECT_EQ(body["status"], "down");
  EXPECT_EQ(body["reasons"], nlohmann::json::array({"no evaluation yet"}));

  (*endpoint)->publish({.status = overall_status::degraded, .reasons = {"message broker degraded: 2 of 3 brokers up"}});
  auto degraded = client.Get("/healthz");
  ASSERT_TRUE(degraded);
  EXPECT_EQ(degraded->status, 200);
  EXPECT_EQ(degraded->get_header_value("Content-Type"), "application/json");
  EXPECT_EQ(nlohmann::json::parse(degraded->body)["reasons"][0], "message broker degraded: 2 of 3 brokers up");

  (*endpoint)->publish({.status = overall_status::down});
  auto down = client.Get("/healthz");
  ASSERT_TRUE(down);
  EXPECT_EQ(down->status, 503);
}

TEST(http_endpoint, metrics_are_served_as_exposition_format_0_0_4) {
  auto endpoint = http_endpoint::start("127.0.0.1:0");
  ASSERT_TRUE(endpoint) << endpoint.error();
  httplib::Client client("127.0.0.1", port_of((*endpoint)->address()));
  (*endpoint)->publish({.brokers = {.brokers_up = 3, .expected_brokers = 3}, .evaluations = 7});
  auto metrics = client.Get("/metrics");
  ASSERT_TRUE(metrics) << httplib::to_string(metrics.error());
  EXPECT_EQ(metrics->status, 200);
  EXPECT_EQ(metrics->get_header_value("Content-Type"), "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_NE(metrics->body.find("\nhorizons_brokers_up 3\n"), std::string::npos) << metrics->body;
  EXPECT_NE(metrics->body.find("\nhorizons_health_evaluations_total 7\n"), std::string::npos) << metrics->body;

  auto missing = client.Get("/nothing-here");
  ASSERT_TRUE(missing);
  EXPECT_EQ(missing->status, 404);
}

TEST(http_endpoint, a_port_in_use_is_a_clear_error) {
  auto first = http_endpoint::start("127.0.0.1:0");
  ASSERT_TRUE(first) << first.error();
  auto taken = (*first)->address();
  auto second = http_endpoint::start(taken);
  ASSERT_FALSE(second);
  EXPECT_EQ(second.error(), "cannot listen on " + taken + ": the address is not local or the port is in use");
}

TEST(http_endpoint, malformed_listen_addresses_are_refused_by_name) {
  for (std::string bad : {"nonsense", ":9464", "127.0.0.1:", "127.0.0.1:70000", "127.0.0.1:94x4", "[::1:9464"}) {
    auto started = http_endpoint::start(bad);
    ASSERT_FALSE(started) << bad;
    EXPECT_EQ(started.error(), "HTTP listen address: expected host:port, got '" + bad + "'");
  }
}

TEST(http_endpoint, a_non_local_address_cannot_be_bound) {
  auto started = http_endpoint::start("192.0.2.1:0");  // TEST-NET-1: never an address of this host
  ASSERT_FALSE(started);
  EXPECT_TRUE(started.error().starts_with("cannot listen on 192.0.2.1:0")) << started.error();
}

}  // namespace
}  // namespace horizons::health_monitor
