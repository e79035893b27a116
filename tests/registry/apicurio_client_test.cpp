// Horizons' registry client against an independent registry: Apicurio Registry's
// Confluent-compatible API, started by tools/registry (a CTest fixture). Each test uses subjects of
// its own, so the tests do not depend on each other's order.
#include <horizons/schema_registry.hpp>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <memory>
#include <string>

#include "registry_tool.hpp"

namespace {

using horizons::compatibility_level;
using horizons::registry_error;
using horizons::schema_registry;
using json = nlohmann::json;
using testing_support::registry_url;

std::string unique_subject(std::string_view name) {
  static int counter = 0;
  return fmt::format("{}-{}-{}-value", name, ::getpid(), ++counter);
}

// Version 1 of a small record, and two possible version 2s.
const std::string v1 = R"({"type":"record","name":"Job","namespace":"t","fields":[{"name":"id","type":"string"}]})";
const std::string v2_with_default =
    R"({"type":"record","name":"Job","namespace":"t","fields":[{"name":"id","type":"string"},)"
    R"({"name":"band","type":["null","string"],"default":null}]})";
const std::string v2_without_default =
    R"({"type":"record","name":"Job","namespace":"t","fields":[{"name":"id","type":"string"},)"
    R"({"name":"nodes","type":"int"}]})";

class apicurio : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto url = registry_url();
    ASSERT_FALSE(url.empty()) << "tools/registry/registry.sh url printed nothing";
    auto created = schema_registry::create({.url = url});
    ASSERT_TRUE(created) << created.error().message;
    registry_ = std::make_unique<schema_registry>(std::move(*created));
  }
  schema_registry& registry() { return *registry_; }

 private:
  std::unique_ptr<schema_registry> registry_;
};

TEST_F(apicurio, a_registered_schema_is_found_by_subject_by_id_and_in_the_listings) {
  const auto subject = unique_subject("register");
  auto id = registry().register_schema(subject, v1);
  ASSERT_TRUE(id) << id.error().message;
  auto again = registry().register_schema(subject, v1);
  ASSERT_TRUE(again) << again.error().message;
  EXPECT_EQ(*again, *id);

  auto found = registry().lookup(subject, v1);
  ASSERT_TRUE(found) << found.error().message;
  EXPECT_EQ(found->id, *id);
  EXPECT_EQ(found->version, 1);
  EXPECT_EQ(found->subject, subject);
  EXPECT_EQ(found->schema_type, "AVRO");

  auto text = registry().schema_by_id(*id);
  ASSERT_TRUE(text) << text.error().message;
  EXPECT_EQ(json::parse(*text), json::parse(v1));

  auto subjects = registry().subjects();
  ASSERT_TRUE(subjects) << subjects.error().message;
  EXPECT_NE(std::ranges::find(*subjects, subject), subjects->end());
  auto versions = registry().versions(subject);
  ASSERT_TRUE(versions) << versions.error().message;
  EXPECT_EQ(*versions, std::vector<int>{1});
  auto latest = registry().version(subject);
  ASSERT_TRUE(latest) << latest.error().message;
  EXPECT_EQ(latest->id, *id);
  EXPECT_EQ(json::parse(latest->schema), json::parse(v1));
}

TEST_F(apicurio, backward_compatibility_accepts_a_field_with_a_default_and_refuses_one_without) {
  const auto subject = unique_subject("compat");
  ASSERT_TRUE(registry().register_schema(subject, v1));
  ASSERT_TRUE(registry().set_compatibility(compatibility_level::backward, subject));
  auto level = registry().compatibility(subject);
  ASSERT_TRUE(level) << level.error().message;
  EXPECT_EQ(*level, compatibility_level::backward);

  auto good = registry().test_compatibility(subject, v2_with_default);
  ASSERT_TRUE(good) << good.error().message;
  EXPECT_TRUE(good->compatible);
  auto bad = registry().test_compatibility(subject, v2_without_default);
  ASSERT_TRUE(bad) << bad.error().message;
  EXPECT_FALSE(bad->compatible);

  auto refused = registry().register_schema(subject, v2_without_default);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().what, registry_error::kind::rejected);
  EXPECT_EQ(refused.error().http_status, 409);
  EXPECT_NE(refused.error().message.find(subject), std::string::npos) << refused.error().message;

  auto accepted = registry().register_schema(subject, v2_with_default);
  ASSERT_TRUE(accepted) << accepted.error().message;
  auto versions = registry().versions(subject);
  ASSERT_TRUE(versions);
  EXPECT_EQ(*versions, (std::vector<int>{1, 2}));
}

TEST_F(apicurio, an_unknown_subject_is_refused_with_the_registrys_code_and_the_subject) {
  const auto subject = unique_subject("absent");
  auto versions = registry().versions(subject);
  ASSERT_FALSE(versions);
  EXPECT_EQ(versions.error().what, registry_error::kind::rejected);
  EXPECT_EQ(versions.error().http_status, 404);
  EXPECT_EQ(versions.error().error_code, 40401);
  EXPECT_TRUE(versions.error().message.starts_with("subject " + subject + ": registry error 40401: "))
      << versions.error().message;
}

TEST_F(apicurio, an_unknown_id_is_refused_with_the_id) {
  auto text = registry().schema_by_id(987'654);
  ASSERT_FALSE(text);
  EXPECT_EQ(text.error().http_status, 404);
  EXPECT_EQ(text.error().error_code, 40403);
  EXPECT_TRUE(text.error().message.starts_with("schema id 987654: registry error 40403: ")) << text.error().message;
}

TEST_F(apicurio, a_malformed_schema_is_refused) {
  auto id =
      registry().register_schema(unique_subject("malformed"), R"({"type":"record","name":"X","fields":[{"name":)");
  ASSERT_FALSE(id);
  EXPECT_EQ(id.error().what, registry_error::kind::rejected);
  EXPECT_GE(id.error().http_status, 400);
  EXPECT_LT(id.error().http_status, 500);
}

TEST_F(apicurio, a_soft_deleted_subject_leaves_the_listing) {
  const auto subject = unique_subject("deleted");
  ASSERT_TRUE(registry().register_schema(subject, v1));
  auto deleted = registry().delete_subject(subject);
  ASSERT_TRUE(deleted) << deleted.error().message;
  EXPECT_EQ(*deleted, std::vector<int>{1});
  auto subjects = registry().subjects();
  ASSERT_TRUE(subjects);
  EXPECT_EQ(std::ranges::find(*subjects, subject), subjects->end());
}

}  // namespace
