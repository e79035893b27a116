// The schema registry's REST API on the embedded cluster, one registry instance: every endpoint
// through Horizons' client (and plain HTTP where the client does not reach), Confluent's error
// code for each bad input, global ids, the compatibility levels, the soft and hard delete rules,
// and a Kafka write that fails.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <algorithm>

#include "registry_fixture.hpp"

namespace horizons::schema_registry_service::testing {
namespace {

class registry_api_test : public registry_fixture {
 protected:
  void SetUp() override {
    registry_fixture::SetUp();
    if (HasFatalFailure()) return;
    registry_ = start();
    ASSERT_TRUE(registry_);
    client_ = client_of(*registry_);
    ASSERT_TRUE(client_);
  }
  void TearDown() override {
    client_.reset();
    registry_.reset();
    registry_fixture::TearDown();
  }
  [[nodiscard]] schema_registry& client() { return *client_; }
  [[nodiscard]] const std::string& url() const { return registry_->url(); }
  // A request without retries: its status and error code.
  [[nodiscard]] std::pair<int, int> refusal(const std::string& method, const std::string& path,
                                            const std::string& body = {}) const {
    auto answer = call(url(), method, path, body);
    return {answer.status, answer.body.is_object() ? answer.body.value("error_code", 0) : 0};
  }

  std::unique_ptr<server> registry_;
  std::unique_ptr<schema_registry> client_;
};

TEST_F(registry_api_test, every_endpoint_answers_through_horizons_client) {
  auto id = client().register_schema("jobs-value", job_v1);
  ASSERT_TRUE(id) << id.error().message;
  EXPECT_EQ(*id, 1);
  auto again = client_of(*registry_)->register_schema("jobs-value", job_v1);  // a fresh client: no cache
  ASSERT_TRUE(again) << again.error().message;
  EXPECT_EQ(*again, *id) << "the same schema again: the same id";

  auto found = client().lookup("jobs-value", job_v1_reformatted);
  ASSERT_TRUE(found) << found.error().message;
  EXPECT_EQ(found->subject, "jobs-value");
  EXPECT_EQ(found->version, 1);
  EXPECT_EQ(found->id, *id);
  EXPECT_EQ(found->schema, job_v1) << "the text as first registered";

  auto text = client().schema_by_id(*id);
  ASSERT_TRUE(text) << text.error().message;
  EXPECT_EQ(*text, job_v1);

  auto second = client().register_schema("jobs-value", job_v2_with_default);
  ASSERT_TRUE(second) << second.error().message;
  EXPECT_EQ(*second, 2);
  auto versions = client().versions("jobs-value");
  ASSERT_TRUE(versions) << versions.error().message;
  EXPECT_EQ(*versions, (std::vector<int>{1, 2}));
  auto latest = client().version("jobs-value");
  ASSERT_TRUE(latest) << latest.error().message;
  EXPECT_EQ(latest->version, 2);
  EXPECT_EQ(latest->id, 2);
  EXPECT_EQ(latest->schema, job_v2_with_default);
  auto first = client().version("jobs-value", 1);
  ASSERT_TRUE(first) << first.error().message;
  EXPECT_EQ(first->id, 1);

  ASSERT_TRUE(client().register_schema("audit-value", job_v1));
  auto subjects = client().subjects();
  ASSERT_TRUE(subjects) << subjects.error().message;
  EXPECT_EQ(*subjects, (std::vector<std::string>{"audit-value", "jobs-value"}));

  auto verdict = client().test_compatibility("jobs-value", job_v2_without_default);
  ASSERT_TRUE(verdict) << verdict.error().message;
  EXPECT_FALSE(verdict->compatible);
  ASSERT_FALSE(verdict->messages.empty());
  EXPECT_NE(verdict->messages.front().find("nodes"), std::string::npos) << verdict->messages.front();
  auto against_first = client().test_compatibility("jobs-value", job_v2_with_default, 1);
  ASSERT_TRUE(against_first) << against_first.error().message;
  EXPECT_TRUE(against_first->compatible);
  EXPECT_TRUE(against_first->messages.empty());

  auto global = client().compatibility();
  ASSERT_TRUE(global) << global.error().message;
  EXPECT_EQ(*global, compatibility_level::backward) << "the default";
  ASSERT_TRUE(client().set_compatibility(compatibility_level::full_transitive));
  EXPECT_EQ(client().compatibility().value_or(compatibility_level::none), compatibility_level::full_transitive);
  ASSERT_TRUE(client().set_compatibility(compatibility_level::forward, "jobs-value"));
  EXPECT_EQ(client().compatibility("jobs-value").value_or(compatibility_level::none), compatibility_level::forward);

  auto deleted_version = client().delete_version("jobs-value", 2);
  ASSERT_TRUE(deleted_version) << deleted_version.error().message;
  EXPECT_EQ(client().versions("jobs-value").value_or(std::vector<int>{}), std::vector<int>{1});
  auto deleted = client().delete_subject("jobs-value");
  ASSERT_TRUE(deleted) << deleted.error().message;
  EXPECT_EQ(*deleted, std::vector<int>{1});
  auto permanently = client().delete_subject("jobs-value", deletion::hard);
  ASSERT_TRUE(permanently) << permanently.error().message;
  EXPECT_EQ(*permanently, (std::vector<int>{1, 2}));
  EXPECT_EQ(client().subjects().value_or(std::vector<std::string>{}), std::vector<std::string>{"audit-value"});
}

TEST_F(registry_api_test, endpoints_the_client_does_not_call_answer_as_confluents_do) {
  ASSERT_TRUE(client().register_schema("jobs-value", job_v1));
  ASSERT_TRUE(client().register_schema("jobs-value", job_v2_with_default));

  auto root = call(url(), "GET", "/");
  EXPECT_EQ(root.status, 200);
  EXPECT_EQ(root.body, json::object());
  EXPECT_EQ(root.content_type, "application/vnd.schemaregistry.v1+json");
  EXPECT_EQ(call(url(), "GET", "/schemas/types").body, json::array({"AVRO"}));

  auto raw = call(url(), "GET", "/subjects/jobs-value/versions/1/schema");
  EXPECT_EQ(raw.status, 200);
  EXPECT_EQ(raw.text, job_v1) << "the schema itself, not wrapped";
  EXPECT_EQ(call(url(), "GET", "/subjects/jobs-value/versions/-1").body.value("version", 0), 2) << "-1 is latest";
  auto by_id = call(url(), "GET", "/schemas/ids/2");
  EXPECT_EQ(by_id.body, (json{{"schema", job_v2_with_default}}));

  auto quiet =
      call(url(), "POST", "/compatibility/subjects/jobs-value/versions/latest", schema_body(job_v2_without_default));
  EXPECT_EQ(quiet.status, 200);
  EXPECT_EQ(quiet.body, (json{{"is_compatible", false}})) << "messages only with verbose=true";

  EXPECT_EQ(call(url(), "GET", "/config/jobs-value?defaultToGlobal=true").body,
            (json{{"compatibilityLevel", "BACKWARD"}}));
  auto set = call(url(), "PUT", "/config/jobs-value", R"({"compatibility":"NONE"})");
  EXPECT_EQ(set.status, 200);
  EXPECT_EQ(set.body, (json{{"compatibility", "NONE"}})) << "echoed back";
  auto set_global = call(url(), "PUT", "/config", R"({"compatibility":"FULL"})");
  EXPECT_EQ(set_global.body, (json{{"compatibility", "FULL"}}));
  EXPECT_EQ(call(url(), "GET", "/config").body, (json{{"compatibilityLevel", "FULL"}}));
  EXPECT_EQ(call(url(), "GET", "/config/jobs-value").body, (json{{"compatibilityLevel", "NONE"}}));
  auto removed = call(url(), "DELETE", "/config/jobs-value");
  EXPECT_EQ(removed.status, 200);
  EXPECT_EQ(removed.body, (json{{"compatibilityLevel", "NONE"}}));
  EXPECT_EQ(refusal("GET", "/config/jobs-value"), (std::pair{404, 40408}));
  EXPECT_EQ(call(url(), "GET", "/config/jobs-value?defaultToGlobal=true").body, (json{{"compatibilityLevel", "FULL"}}));

  // Soft-deleted versions with ?deleted=true.
  ASSERT_TRUE(client().delete_version("jobs-value", 1));
  EXPECT_EQ(call(url(), "GET", "/subjects/jobs-value/versions").body, json::array({2}));
  EXPECT_EQ(call(url(), "GET", "/subjects/jobs-value/versions?deleted=true").body, json::array({1, 2}));
  EXPECT_EQ(refusal("GET", "/subjects/jobs-value/versions/1"), (std::pair{404, 40402}));
  EXPECT_EQ(call(url(), "GET", "/subjects/jobs-value/versions/1?deleted=true").body.value("id", 0), 1);
  EXPECT_EQ(refusal("POST", "/subjects/jobs-value", schema_body(job_v1)), (std::pair{404, 40403}));
  EXPECT_EQ(call(url(), "POST", "/subjects/jobs-value?deleted=true", schema_body(job_v1)).body.value("version", 0), 1);
  ASSERT_TRUE(client().delete_subject("jobs-value"));
  EXPECT_EQ(call(url(), "GET", "/subjects").body, json::array());
  EXPECT_EQ(call(url(), "GET", "/subjects?deleted=true").body, json::array({"jobs-value"}));
}

TEST_F(registry_api_test, the_same_schema_has_one_id_under_every_subject_and_another_schema_another) {
  auto jobs = client().register_schema("jobs-value", job_v1);
  auto audit = client().register_schema("audit-value", job_v1_reformatted);
  ASSERT_TRUE(jobs && audit);
  EXPECT_EQ(*audit, *jobs) << "key order and whitespace do not make another schema";
  auto audit_version = client().version("audit-value");
  ASSERT_TRUE(audit_version);
  EXPECT_EQ(audit_version->version, 1);
  EXPECT_EQ(audit_version->schema, job_v1);

  auto with_default = client().register_schema("one-value", job_v2_with_default);
  auto without_default = client().register_schema("two-value", job_v2_band_without_default);
  ASSERT_TRUE(with_default && without_default);
  EXPECT_NE(*with_default, *jobs);
  EXPECT_NE(*without_default, *with_default) << "a field's default makes another schema (it reads differently)";
  EXPECT_EQ(*without_default, 3);

  // Registered again under a subject where it is a version already: that version's id, nothing written.
  const auto before = call(url(), "GET", "/horizons/status").body.value("applied_offset", -1);
  auto repeated = call(url(), "POST", "/subjects/audit-value/versions", schema_body(job_v1));
  EXPECT_EQ(repeated.body, (json{{"id", *jobs}}));
  EXPECT_EQ(call(url(), "GET", "/horizons/status").body.value("applied_offset", -2), before);
}

TEST_F(registry_api_test, each_bad_input_gets_confluents_error_code) {
  ASSERT_TRUE(client().register_schema("jobs-value", job_v1));

  // 40401 subject not found, 40402 version not found, 40403 schema not found.
  for (const auto& [method, path] :
       std::vector<std::pair<std::string, std::string>>{{"GET", "/subjects/nobody/versions"},
                                                        {"GET", "/subjects/nobody/versions/1"},
                                                        {"GET", "/subjects/nobody/versions/latest/schema"},
                                                        {"DELETE", "/subjects/nobody"},
                                                        {"DELETE", "/subjects/nobody/versions/1"}}) {
    EXPECT_EQ(refusal(method, path), (std::pair{404, 40401})) << method << " " << path;
  }
  EXPECT_EQ(refusal("POST", "/subjects/nobody", schema_body(job_v1)), (std::pair{404, 40401}));
  EXPECT_EQ(refusal("POST", "/compatibility/subjects/nobody/versions/latest", schema_body(job_v1)),
            (std::pair{404, 40401}));
  EXPECT_EQ(refusal("GET", "/subjects/jobs-value/versions/7"), (std::pair{404, 40402}));
  EXPECT_EQ(refusal("POST", "/compatibility/subjects/jobs-value/versions/7", schema_body(job_v1)),
            (std::pair{404, 40402}));
  EXPECT_EQ(refusal("GET", "/schemas/ids/987654"), (std::pair{404, 40403}));
  EXPECT_EQ(refusal("GET", "/schemas/ids/x"), (std::pair{404, 40403}));
  EXPECT_EQ(refusal("POST", "/subjects/jobs-value", schema_body(job_v2_with_default)), (std::pair{404, 40403}));
  auto unknown_id = client().schema_by_id(987'654);
  ASSERT_FALSE(unknown_id);
  EXPECT_EQ(unknown_id.error().error_code, 40403);
  EXPECT_EQ(unknown_id.error().http_status, 404);

  // 42201 invalid schema: not JSON, not Avro, not AVRO, references, no schema at all.
  auto malformed = call(url(), "POST", "/subjects/jobs-value/versions", schema_body(R"({"type":"record","name":)"));
  EXPECT_EQ(malformed.status, 422);
  EXPECT_EQ(malformed.body.value("error_code", 0), 42201);
  auto not_avro = call(url(), "POST", "/subjects/jobs-value/versions",
                       schema_body(R"({"type":"record","name":"X","fields":[{"name":"a","type":"strnig"}]})"));
  EXPECT_EQ(not_avro.body.value("error_code", 0), 42201);
  EXPECT_NE(not_avro.body.value("message", "").find("strnig"), std::string::npos) << not_avro.text;
  auto protobuf = call(url(), "POST", "/subjects/jobs-value/versions",
                       json{{"schema", "syntax = \"proto3\";"}, {"schemaType", "PROTOBUF"}}.dump());
  EXPECT_EQ(protobuf.body.value("error_code", 0), 42201);
  EXPECT_NE(protobuf.body.value("message", "").find("AVRO"), std::string::npos) << protobuf.text;
  auto references =
      call(url(), "POST", "/subjects/jobs-value/versions",
           json{{"schema", job_v1}, {"references", json::array({{{"name", "x"}, {"subject", "y"}, {"version", 1}}})}}
               .dump());
  EXPECT_EQ(references.body.value("error_code", 0), 42201);
  EXPECT_EQ(refusal("POST", "/subjects/jobs-value/versions", R"({"schemaType":"AVRO"})"), (std::pair{422, 42201}));
  EXPECT_EQ(refusal("POST", "/subjects/jobs-value", schema_body("not json")), (std::pair{422, 42201}));
  auto client_malformed = client().register_schema("jobs-value", R"({"type":)");
  ASSERT_FALSE(client_malformed);
  EXPECT_EQ(client_malformed.error().error_code, 42201);
  EXPECT_EQ(refusal("POST", "/subjects/jobs-value/versions", "this is not JSON"), (std::pair{400, 400}));

  // 42202 invalid version.
  for (const auto* version : {"seven", "0", "-2", "1.5", "99999999999"}) {
    EXPECT_EQ(refusal("GET", fmt::format("/subjects/jobs-value/versions/{}", version)), (std::pair{422, 42202}))
        << version;
  }
  EXPECT_EQ(refusal("DELETE", "/subjects/jobs-value/versions/zero"), (std::pair{422, 42202}));
  EXPECT_EQ(refusal("POST", "/compatibility/subjects/jobs-value/versions/first", schema_body(job_v1)),
            (std::pair{422, 42202}));

  // 42203 invalid compatibility level.
  EXPECT_EQ(refusal("PUT", "/config", R"({"compatibility":"SOMETIMES"})"), (std::pair{422, 42203}));
  EXPECT_EQ(refusal("PUT", "/config/jobs-value", R"({"compatibility":3})"), (std::pair{422, 42203}));
  EXPECT_EQ(refusal("PUT", "/config/jobs-value", R"({})"), (std::pair{422, 42203}));

  // 40408: no level of its own.
  EXPECT_EQ(refusal("GET", "/config/jobs-value"), (std::pair{404, 40408}));
  EXPECT_EQ(refusal("DELETE", "/config/jobs-value"), (std::pair{404, 40408}));

  // 409 incompatible, naming the subject and check_compatibility's reasons.
  auto incompatible = call(url(), "POST", "/subjects/jobs-value/versions", schema_body(job_v2_without_default));
  EXPECT_EQ(incompatible.status, 409);
  EXPECT_EQ(incompatible.body.value("error_code", 0), 409);
  const auto message = incompatible.body.value("message", "");
  EXPECT_NE(message.find("jobs-value"), std::string::npos) << message;
  EXPECT_NE(message.find("nodes"), std::string::npos) << message;
  EXPECT_NE(message.find("BACKWARD"), std::string::npos) << message;

  // Nothing above wrote anything.
  EXPECT_EQ(client().versions("jobs-value").value_or(std::vector<int>{}), std::vector<int>{1});
  EXPECT_EQ(client().subjects().value_or(std::vector<std::string>{}), std::vector<std::string>{"jobs-value"});
}

TEST_F(registry_api_test, backward_is_the_default_and_accepts_a_field_with_a_default_only) {
  ASSERT_TRUE(client().register_schema("jobs-value", job_v1));
  auto refused = client().register_schema("jobs-value", job_v2_without_default);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().http_status, 409);
  EXPECT_EQ(refused.error().error_code, 409);
  EXPECT_NE(refused.error().message.find("jobs-value"), std::string::npos) << refused.error().message;
  auto accepted = client().register_schema("jobs-value", job_v2_with_default);
  ASSERT_TRUE(accepted) << accepted.error().message;
  EXPECT_EQ(client().versions("jobs-value").value_or(std::vector<int>{}), (std::vector<int>{1, 2}));
}

TEST_F(registry_api_test, each_level_refuses_what_it_should_and_a_subjects_own_level_wins) {
  // FORWARD: the latest must read the new one. A field added without a default passes; a field
  // without a default removed does not.
  const std::string with_nodes = job_v2_without_default;
  ASSERT_TRUE(client().set_compatibility(compatibility_level::forward, "forward-value"));
  ASSERT_TRUE(client().register_schema("forward-value", job_v1));
  EXPECT_TRUE(client().register_schema("forward-value", with_nodes));
  const std::string without_nodes =
      R"({"type":"record","name":"Job","namespace":"t","doc":"nodes removed","fields":[{"name":"id","type":"string"}]})";
  auto removed_field = client().register_schema("forward-value", without_nodes);
  ASSERT_FALSE(removed_field) << "v2's reader cannot read it: nodes has no default";
  EXPECT_EQ(removed_field.error().http_status, 409);

  // FULL: both directions.
  ASSERT_TRUE(client().set_compatibility(compatibility_level::full, "full-value"));
  ASSERT_TRUE(client().register_schema("full-value", job_v1));
  EXPECT_FALSE(client().register_schema("full-value", with_nodes));
  EXPECT_TRUE(client().register_schema("full-value", job_v2_with_default));

  // NONE: anything.
  ASSERT_TRUE(client().set_compatibility(compatibility_level::none, "none-value"));
  ASSERT_TRUE(client().register_schema("none-value", job_v1));
  EXPECT_TRUE(client().register_schema("none-value", R"({"type":"record","name":"Other","fields":[]})"));

  // Transitive: v3 reads v2 but not v1. BACKWARD looks at the latest only; BACKWARD_TRANSITIVE at all.
  const std::string a_with_default =
      R"({"type":"record","name":"Job","namespace":"t","fields":[{"name":"id","type":"string"},)"
      R"({"name":"a","type":"int","default":0}]})";
  const std::string a_without_default =
      R"({"type":"record","name":"Job","namespace":"t","fields":[{"name":"id","type":"string"},)"
      R"({"name":"a","type":"int"}]})";
  for (const auto& [subject, level] : {std::pair{"plain-value", compatibility_level::backward},
                                       std::pair{"transitive-value", compatibility_level::backward_transitive}}) {
    ASSERT_TRUE(client().set_compatibility(level, subject));
    ASSERT_TRUE(client().register_schema(subject, job_v1));
    ASSERT_TRUE(client().register_schema(subject, a_with_default));
  }
  EXPECT_TRUE(client().register_schema("plain-value", a_without_default));
  auto transitive = client().register_schema("transitive-value", a_without_default);
  ASSERT_FALSE(transitive);
  EXPECT_EQ(transitive.error().http_status, 409);
  auto verdict = client().test_compatibility("transitive-value", a_without_default);
  ASSERT_TRUE(verdict);
  EXPECT_FALSE(verdict->compatible);
  auto against_v2 = client().test_compatibility("transitive-value", a_without_default, 2);
  ASSERT_TRUE(against_v2);
  EXPECT_TRUE(against_v2->compatible) << "against version 2 alone it is fine";

  // A subject's own level wins over the global one, both ways.
  ASSERT_TRUE(client().set_compatibility(compatibility_level::none));
  ASSERT_TRUE(client().register_schema("own-value", job_v1));
  EXPECT_TRUE(
      client().test_compatibility("own-value", job_v2_without_default).value_or(compatibility_verdict{}).compatible);
  ASSERT_TRUE(client().set_compatibility(compatibility_level::backward, "own-value"));
  EXPECT_FALSE(client().register_schema("own-value", job_v2_without_default))
      << "its own BACKWARD, not the global NONE";
  ASSERT_TRUE(client().set_compatibility(compatibility_level::full));
  ASSERT_TRUE(client().set_compatibility(compatibility_level::none, "own-value"));
  EXPECT_TRUE(client().register_schema("own-value", job_v2_without_default)) << "its own NONE, not the global FULL";
}

TEST_F(registry_api_test, deletes_are_soft_first_and_permanent_only_after) {
  ASSERT_TRUE(client().register_schema("jobs-value", job_v1));
  ASSERT_TRUE(client().register_schema("jobs-value", job_v2_with_default));
  ASSERT_TRUE(client().set_compatibility(compatibility_level::full, "jobs-value"));

  // A version: permanent before soft is refused; soft twice is refused; then permanent works.
  EXPECT_EQ(refusal("DELETE", "/subjects/jobs-value/versions/1?permanent=true"), (std::pair{404, 40407}));
  EXPECT_EQ(call(url(), "DELETE", "/subjects/jobs-value/versions/1").body, json(1));
  EXPECT_EQ(refusal("DELETE", "/subjects/jobs-value/versions/1"), (std::pair{404, 40406}));
  EXPECT_EQ(call(url(), "GET", "/schemas/ids/1").status, 200) << "a soft-deleted version's schema stays readable";
  EXPECT_EQ(call(url(), "DELETE", "/subjects/jobs-value/versions/1?permanent=true").body, json(1));
  EXPECT_EQ(refusal("DELETE", "/subjects/jobs-value/versions/1?permanent=true"), (std::pair{404, 40402}));
  EXPECT_EQ(refusal("GET", "/schemas/ids/1"), (std::pair{404, 40403})) << "no version has that id any more";
  EXPECT_EQ(call(url(), "GET", "/subjects/jobs-value/versions?deleted=true").body, json::array({2}));

  // The subject: permanent before soft is refused; soft twice is refused; then permanent works.
  EXPECT_EQ(refusal("DELETE", "/subjects/jobs-value?permanent=true"), (std::pair{404, 40405}));
  EXPECT_EQ(call(url(), "DELETE", "/subjects/jobs-value").body, json::array({2}));
  EXPECT_EQ(refusal("DELETE", "/subjects/jobs-value"), (std::pair{404, 40404}));
  EXPECT_EQ(refusal("GET", "/subjects/jobs-value/versions"), (std::pair{404, 40401}));
  EXPECT_EQ(call(url(), "GET", "/schemas/ids/2").status, 200);
  EXPECT_EQ(call(url(), "GET", "/config/jobs-value").body, (json{{"compatibilityLevel", "FULL"}}))
      << "a soft delete keeps the subject's level";
  EXPECT_EQ(call(url(), "DELETE", "/subjects/jobs-value?permanent=true").body, json::array({2}));
  EXPECT_EQ(refusal("DELETE", "/subjects/jobs-value?permanent=true"), (std::pair{404, 40401}));
  EXPECT_EQ(refusal("GET", "/config/jobs-value"), (std::pair{404, 40408})) << "a permanent delete removes its level";
  EXPECT_EQ(call(url(), "GET", "/subjects?deleted=true").body, json::array());

  // Registered again: version 1, and ids never given before.
  auto fresh = client_of(*registry_);
  auto id = fresh->register_schema("jobs-value", job_v1);
  ASSERT_TRUE(id) << id.error().message;
  EXPECT_EQ(*id, 3) << "ids 1 and 2 were given once; removed, they are not given again";
  EXPECT_EQ(fresh->version("jobs-value").value_or(registered_schema{}).version, 1);
}

TEST_F(registry_api_test, a_soft_deleted_schema_registered_again_is_a_new_version_with_its_old_id) {
  ASSERT_TRUE(client().register_schema("jobs-value", job_v1));
  ASSERT_TRUE(client().delete_subject("jobs-value"));
  auto again = client_of(*registry_)->register_schema("jobs-value", job_v1);
  ASSERT_TRUE(again) << again.error().message;
  EXPECT_EQ(*again, 1);
  EXPECT_EQ(client().versions("jobs-value").value_or(std::vector<int>{}), std::vector<int>{2});
}

TEST_F(registry_api_test, a_write_kafka_refuses_is_a_store_error_and_the_next_one_succeeds) {
  constexpr int produce_api = 0;
  constexpr int topic_authorization_failed = 29;
  cluster().inject_request_errors(produce_api, topic_authorization_failed, 100);
  auto refused = call(url(), "POST", "/subjects/jobs-value/versions", schema_body(job_v1));
  EXPECT_EQ(refused.status, 500);
  EXPECT_EQ(refused.body.value("error_code", 0), 50001) << refused.text;
  EXPECT_NE(refused.body.value("message", "").find("_schemas"), std::string::npos) << refused.text;
  cluster().clear_request_errors(produce_api);
  auto id = client_of(*registry_)->register_schema("jobs-value", job_v1);
  ASSERT_TRUE(id) << id.error().message;
  EXPECT_EQ(*id, 1) << "the refused write gave no id away";
  EXPECT_EQ(client().versions("jobs-value").value_or(std::vector<int>{}), std::vector<int>{1});
}

}  // namespace
}  // namespace horizons::schema_registry_service::testing
