// One evolution matrix through two registries: Horizons' own (on the embedded cluster) and Apicurio
// (tools/registry, a CTest fixture). For each pair of schemas in tests/support/evolution_matrix.hpp
// and each of BACKWARD, FORWARD and FULL, both registries are asked whether the second schema may
// follow the first in a subject at that level. They must agree with each other, and with Horizons'
// library check (check_compatibility), which `horizons schemas check` uses.
#include <horizons/schema_evolution.hpp>
#include <horizons/schema_registry.hpp>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <unistd.h>

#include <string>
#include <vector>

#include "evolution_matrix.hpp"
#include "registry_fixture.hpp"
#include "registry_tool.hpp"

namespace {

using horizons::avro_schema;
using horizons::compatibility_level;
using horizons::schema_registry;

struct schema_change {
  std::string name;
  std::string before, after;
};

// Every pair of the matrix: the compatible evolutions, then the changes a reader cannot read.
std::vector<schema_change> matrix() {
  std::vector<schema_change> changes;
  for (const auto& e : testing_support::evolutions()) changes.push_back({e.rule, e.writer, e.reader});
  int n = 0;
  for (const auto& b : testing_support::breaking_changes())
    changes.push_back({fmt::format("reader problem {}", ++n), b.writer, b.reader});
  return changes;
}

// Whether `registry` lets `after` follow `before` in a fresh subject at `level`.
bool registry_allows(schema_registry& registry, const std::string& subject, compatibility_level level,
                     const schema_change& change) {
  auto first = registry.register_schema(subject, change.before);
  EXPECT_TRUE(first) << first.error().message;
  auto set = registry.set_compatibility(level, subject);
  EXPECT_TRUE(set) << set.error().message;
  auto verdict = registry.test_compatibility(subject, change.after);
  EXPECT_TRUE(verdict) << verdict.error().message;
  return verdict && verdict->compatible;
}

bool library_allows(compatibility_level level, const schema_change& change) {
  const auto before = avro_schema::parse(change.before);
  const auto after = avro_schema::parse(change.after);
  EXPECT_TRUE(before && after) << change.name;
  return before && after && horizons::check_compatibility(level, *after, std::span(&*before, 1)).empty();
}

class two_registries : public horizons::schema_registry_service::testing::registry_fixture {};

TEST_F(two_registries, give_the_same_verdicts_on_the_evolution_matrix) {
  auto server = start();
  ASSERT_TRUE(server);
  auto horizons = client_of(*server);
  const auto apicurio_url = testing_support::registry_url();
  ASSERT_FALSE(apicurio_url.empty()) << "tools/registry/registry.sh url printed nothing";
  auto apicurio = client_of(apicurio_url);
  ASSERT_TRUE(horizons && apicurio);

  using enum compatibility_level;
  int compared = 0, allowed = 0;
  const auto changes = matrix();
  for (std::size_t i = 0; i < changes.size(); ++i) {
    for (const auto level : {backward, forward, full}) {
      const auto& change = changes[i];
      SCOPED_TRACE(fmt::format("{} at {}", change.name, to_string(level)));
      const auto subject = fmt::format("matrix-{}-{}-{}-value", ::getpid(), i, to_string(level));
      const bool ours = registry_allows(*horizons, subject, level, change);
      const bool theirs = registry_allows(*apicurio, subject, level, change);
      EXPECT_EQ(ours, theirs) << "Horizons' registry and Apicurio disagree";
      EXPECT_EQ(ours, library_allows(level, change)) << "Horizons' registry and its library disagree";
      ++compared;
      allowed += ours ? 1 : 0;
    }
  }
  // Both verdicts occur, so agreement is not agreement on a constant.
  EXPECT_GE(compared, 90);
  EXPECT_GE(allowed, 30);
  EXPECT_GE(compared - allowed, 20);
  fmt::print("{} verdicts compared, {} compatible, {} not\n", compared, allowed, compared - allowed);
}

}  // namespace
