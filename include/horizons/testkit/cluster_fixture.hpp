// A GoogleTest fixture with a fresh embedded cluster per test, so tests
// never share topics or offsets.
//
//   class my_test : public horizons::testkit::cluster_fixture {};
//   TEST_F(my_test, publishes) {
//     auto producer = horizons::producer::create({.config = config()});
//     cluster().set_broker_down(2);   // faults: see embedded_cluster.hpp
//   }
#pragma once

#include <gtest/gtest.h>

#include <horizons/config.hpp>
#include <horizons/embedded_cluster.hpp>

namespace horizons::testkit {

class cluster_fixture : public testing::Test {
 protected:
  /// Brokers of the cluster each test gets; override in a derived fixture's constructor.
  int broker_count_ = 3;

  void SetUp() override {
    auto started = embedded_cluster::start({.brokers = broker_count_});
    ASSERT_TRUE(started) << started.error().message;
    cluster_ = std::move(*started);
    config_.brokers = cluster_->bootstrap_servers();
    config_.client_id = testing::UnitTest::GetInstance()->current_test_info()->name();
  }
  void TearDown() override { cluster_.reset(); }

  [[nodiscard]] embedded_cluster& cluster() { return *cluster_; }
  /// A client configuration pointing at this test's cluster.
  [[nodiscard]] const client_config& config() const { return config_; }
  [[nodiscard]] client_config& config() { return config_; }

 private:
  std::unique_ptr<embedded_cluster> cluster_;
  client_config config_;
};

}  // namespace horizons::testkit
