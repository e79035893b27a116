// The platform's services as their descriptors say: one name each, what
// `horizons serve` finds by it, an explicit group (or none) that keeps the
// names on the wire, handlers only for events of the topics they read, and
// the groups the health monitor and the run's lag report watch.
#include <gtest/gtest.h>

#include <set>
#include <string>

#include <horizons/catalogue.hpp>

#include "services/descriptors.hpp"
#include "services/platform/registry.hpp"

namespace horizons::platform {
namespace {

using services::platform_services;

TEST(platform_registry, every_service_is_found_by_its_name_and_names_are_unique) {
  std::set<std::string_view> names;
  for (const auto* service : platform_services) {
    EXPECT_TRUE(names.insert(service->name).second) << service->name;
    EXPECT_EQ(find_service(service->name), service);
    EXPECT_NE(service_names().find(service->name), std::string::npos);
  }
  EXPECT_EQ(find_service("no-such-service"), nullptr);
  EXPECT_EQ(find_service(""), nullptr);
}

TEST(platform_registry, the_groups_are_those_the_services_have_always_used) {
  // Changing one moves the service to a new group that starts from the earliest offset: a wire change.
  EXPECT_EQ(orchestrator::descriptor.group, "job-processor");
  EXPECT_EQ(metrics_aggregator::descriptor.group, "metrics-aggregator");
  EXPECT_EQ(notification_dispatcher::descriptor.group, "notification-dispatcher");
  EXPECT_EQ(compliance::descriptor.group, "compliance-auditor");
  EXPECT_EQ(health_monitor::descriptor.group, "") << "the monitor reads without a group";
  // The catalogue's default group of each topic is the group of a service reading it, except system-health's.
  for (const auto& topic : catalogue) {
    if (topic.id == topic_id::system_health) continue;
    bool read_in_its_group = false;
    for (const auto* service : platform_services) {
      if (service->group == topic.consumer_group &&
          std::ranges::find(service->topics, topic.id) != service->topics.end()) {
        read_in_its_group = true;
      }
    }
    EXPECT_TRUE(read_in_its_group) << topic.name();
  }
}

TEST(platform_registry, each_handled_event_type_is_on_a_topic_the_service_reads) {
  for (const auto* service : platform_services) {
    EXPECT_FALSE(service->topics.empty()) << service->name;
    for (auto type : service->handles) {
      auto topic = topic_of_event_type(type);
      ASSERT_TRUE(topic) << service->name << " handles " << type << ", not an event type";
      EXPECT_NE(std::ranges::find(service->topics, *topic), service->topics.end())
          << service->name << " handles " << type << " but does not read " << topic_name(*topic);
    }
    for (const auto& route : service->routes) {
      EXPECT_TRUE(route.method == "GET" || route.method == "POST") << service->name << " " << route.path;
      EXPECT_TRUE(route.path.starts_with("/")) << service->name << " " << route.path;
    }
  }
}

TEST(platform_registry, the_watched_groups_are_the_services_groups_on_their_topics) {
  auto watched = health_monitor::platform_groups();
  ASSERT_EQ(watched.size(), 4u) << "every service but the group-less monitor";
  EXPECT_EQ(watched[0].group, "job-processor");
  EXPECT_EQ(watched[0].topics, (std::vector<std::string>{"job-lifecycle"}));
  EXPECT_EQ(watched[2].group, "notification-dispatcher");
  EXPECT_EQ(watched[2].topics, (std::vector<std::string>{"job-lifecycle", "notifications"}));
  services::service_descriptor group_less{.name = "reader", .group = "", .topics = {}};
  const services::service_descriptor* only[]{&group_less};
  EXPECT_TRUE(health_monitor::groups_of(only).empty());
}

TEST(platform_registry, horizons_serve_also_finds_the_standalone_services_which_horizons_run_does_not) {
  EXPECT_EQ(find_served_service("schema-registry"), &schema_registry_service::descriptor);
  EXPECT_EQ(find_service("schema-registry"), nullptr) << "horizons run must not start it";
  EXPECT_EQ(find_served_service("orchestrator"), &orchestrator::descriptor);
  EXPECT_EQ(find_served_service("no-such-service"), nullptr);
  EXPECT_NE(served_service_names().find("schema-registry"), std::string::npos);
  EXPECT_EQ(service_names().find("schema-registry"), std::string::npos);
}

TEST(platform_registry, serving_a_service_that_is_not_of_the_platform_is_an_error) {
  services::service_descriptor stranger{.name = "stranger", .group = "stranger"};
  std::stop_source stop;
  auto served = serve(stranger, {}, stop.get_token());
  ASSERT_FALSE(served);
  EXPECT_EQ(served.error(), "stranger is not a service of the platform");
}

}  // namespace
}  // namespace horizons::platform
