// Bearer tokens: what passes and what does not. Each refusal is a token an attacker could send: forged,
// tampered, expired, early, for another issuer or audience, "none", or HS256 signed with the RS256
// public key (the algorithm-confusion attack). Keys from the environment refuse what cannot be safe.
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <memory>
#include <string>

#include <jwt.h>
#include <nlohmann/json.hpp>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include "scratch.hpp"
#include "services/common/bearer_tokens.hpp"

namespace horizons::services {
namespace {

using namespace std::chrono_literals;
using testing_common::scratch_dir;

const std::string secret(40, 's');
const timestamp at{std::chrono::seconds(1'800'000'000)};

token_keys hs256() { return token_keys{.key = secret}; }

std::string bearer(const std::string& token) { return "Bearer " + token; }

// A token with exactly these claims, signed by libjwt with `alg` and `key` (as anyone holding the key could).
std::string signed_with(const nlohmann::json& claims, jwt_alg_t alg, const std::string& key) {
  jwt_t* raw = nullptr;
  EXPECT_EQ(jwt_new(&raw), 0);
  std::unique_ptr<jwt_t, decltype(&jwt_free)> token(raw, &jwt_free);
  EXPECT_EQ(jwt_add_grants_json(token.get(), claims.dump().c_str()), 0);
  EXPECT_EQ(jwt_set_alg(token.get(), alg, key.empty() ? nullptr : reinterpret_cast<const unsigned char*>(key.data()),
                        static_cast<int>(key.size())),
            0);
  char* encoded = jwt_encode_str(token.get());
  EXPECT_NE(encoded, nullptr);
  std::string text = encoded ? encoded : "";
  std::free(encoded);  // NOLINT: libjwt's malloc
  return text;
}

nlohmann::json good_claims(const std::string& subject = "alice") {
  const auto now = std::chrono::duration_cast<std::chrono::seconds>(at.time_since_epoch()).count();
  return {{"sub", subject}, {"iss", "horizons"}, {"aud", "horizons-job-api"}, {"exp", now + 600}, {"nbf", now - 5}};
}

struct rsa_pair {
  std::string public_pem, private_pem;
};
rsa_pair make_rsa() {
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key(EVP_RSA_gen(2048), &EVP_PKEY_free);
  EXPECT_TRUE(key);
  auto write = [&](bool pub) {
    std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), &BIO_free);
    if (pub) {
      PEM_write_bio_PUBKEY(bio.get(), key.get());
    } else {
      PEM_write_bio_PrivateKey(bio.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr);
    }
    char* data = nullptr;
    const long size = BIO_get_mem_data(bio.get(), &data);
    return std::string(data, static_cast<std::size_t>(size));
  };
  return {write(true), write(false)};
}

TEST(bearer_tokens, a_token_issued_here_names_its_caller_and_the_admin_role) {
  auto token = issue_token(hs256(), {.subject = "alice", .ttl = 1h}, at);
  ASSERT_TRUE(token) << token.error();
  auto who = check_bearer(hs256(), bearer(*token), at + 10min);
  ASSERT_TRUE(who) << who.error();
  EXPECT_EQ(who->subject, "alice");
  EXPECT_FALSE(who->admin);
  auto admin = issue_token(hs256(), {.subject = "ops", .admin = true, .ttl = 1h}, at);
  ASSERT_TRUE(admin);
  auto ops = check_bearer(hs256(), "bearer " + *admin, at);  // the scheme is case-insensitive
  ASSERT_TRUE(ops) << ops.error();
  EXPECT_TRUE(ops->admin);
  EXPECT_FALSE(issue_token(hs256(), {.subject = "", .ttl = 1h}, at));
  EXPECT_FALSE(issue_token(hs256(), {.subject = "alice", .ttl = 0s}, at));
}

TEST(bearer_tokens, time_claims_hold_with_thirty_seconds_of_skew) {
  auto token = issue_token(hs256(), {.subject = "alice", .ttl = 60s}, at);
  ASSERT_TRUE(token);
  EXPECT_TRUE(check_bearer(hs256(), bearer(*token), at + 60s + 30s)) << "within the leeway";
  auto late = check_bearer(hs256(), bearer(*token), at + 60s + 31s);
  ASSERT_FALSE(late);
  EXPECT_NE(late.error().find("expired"), std::string::npos) << late.error();
  EXPECT_TRUE(check_bearer(hs256(), bearer(*token), at - 30s)) << "nbf within the leeway";
  auto early = check_bearer(hs256(), bearer(*token), at - 31s);
  ASSERT_FALSE(early);
  EXPECT_NE(early.error().find("not valid before"), std::string::npos) << early.error();
  auto no_exp = good_claims();
  no_exp.erase("exp");
  EXPECT_FALSE(check_bearer(hs256(), bearer(signed_with(no_exp, JWT_ALG_HS256, secret)), at));
}

TEST(bearer_tokens, issuer_audience_and_subject_must_be_the_configured_ones) {
  EXPECT_TRUE(check_bearer(hs256(), bearer(signed_with(good_claims(), JWT_ALG_HS256, secret)), at));
  auto claims = good_claims();
  claims["iss"] = "someone-else";
  auto refused = check_bearer(hs256(), bearer(signed_with(claims, JWT_ALG_HS256, secret)), at);
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().find("issuer"), std::string::npos) << refused.error();
  claims = good_claims();
  claims["aud"] = "another-api";
  EXPECT_FALSE(check_bearer(hs256(), bearer(signed_with(claims, JWT_ALG_HS256, secret)), at));
  claims["aud"] = nlohmann::json::array({"another-api", "horizons-job-api"});
  EXPECT_TRUE(check_bearer(hs256(), bearer(signed_with(claims, JWT_ALG_HS256, secret)), at)) << "aud as a list";
  claims = good_claims();
  claims.erase("sub");
  EXPECT_FALSE(check_bearer(hs256(), bearer(signed_with(claims, JWT_ALG_HS256, secret)), at));
  claims = good_claims();
  claims["roles"] = "admin";  // not a list
  EXPECT_FALSE(check_bearer(hs256(), bearer(signed_with(claims, JWT_ALG_HS256, secret)), at));
}

TEST(bearer_tokens, forged_tampered_and_unsigned_tokens_are_refused) {
  EXPECT_FALSE(check_bearer(hs256(), "", at));
  EXPECT_FALSE(check_bearer(hs256(), "Basic YWxpY2U6cHc=", at));
  EXPECT_FALSE(check_bearer(hs256(), "Bearer not-a-jwt", at));
  auto forged = check_bearer(hs256(), bearer(signed_with(good_claims(), JWT_ALG_HS256, std::string(40, 'x'))), at);
  ASSERT_FALSE(forged);
  EXPECT_NE(forged.error().find("signature"), std::string::npos) << forged.error();
  // Alice's valid token with its payload swapped for one naming bob, signature kept.
  auto alice = signed_with(good_claims("alice"), JWT_ALG_HS256, secret);
  auto bob = signed_with(good_claims("bob"), JWT_ALG_HS256, std::string(40, 'x'));
  auto first_dot = alice.find('.');
  auto second_dot = alice.find('.', first_dot + 1);
  auto bob_payload = bob.substr(bob.find('.') + 1, bob.rfind('.') - bob.find('.') - 1);
  auto tampered = alice.substr(0, first_dot + 1) + bob_payload + alice.substr(second_dot);
  EXPECT_FALSE(check_bearer(hs256(), bearer(tampered), at));
  auto unsigned_token = check_bearer(hs256(), bearer(signed_with(good_claims(), JWT_ALG_NONE, "")), at);
  ASSERT_FALSE(unsigned_token);
  EXPECT_NE(unsigned_token.error().find("none"), std::string::npos) << unsigned_token.error();
}

TEST(bearer_tokens, rs256_accepts_its_private_keys_tokens_and_not_hs256_signed_with_the_public_key) {
  auto pair = make_rsa();
  token_keys checking{.algorithm = token_algorithm::rs256, .key = pair.public_pem};
  token_keys signing{.algorithm = token_algorithm::rs256, .key = pair.private_pem};
  auto token = issue_token(signing, {.subject = "alice", .ttl = 1h}, at);
  ASSERT_TRUE(token) << token.error();
  auto who = check_bearer(checking, bearer(*token), at);
  ASSERT_TRUE(who) << who.error();
  EXPECT_EQ(who->subject, "alice");
  // Algorithm confusion: the public key is no secret, so an HMAC made with it proves nothing.
  auto confused = check_bearer(checking, bearer(signed_with(good_claims(), JWT_ALG_HS256, pair.public_pem)), at);
  ASSERT_FALSE(confused);
  EXPECT_NE(confused.error().find("HS256"), std::string::npos) << confused.error();
  auto other = make_rsa();
  EXPECT_FALSE(check_bearer(checking, bearer(signed_with(good_claims(), JWT_ALG_RS256, other.private_pem)), at));
}

// The variables for one test, unset again after it.
class environment {
 public:
  ~environment() {
    for (const auto* name : {"HORIZONS_JWT_SECRET", "HORIZONS_JWT_PUBLIC_KEY", "HORIZONS_JWT_PRIVATE_KEY",
                             "HORIZONS_JWT_ISSUER", "HORIZONS_JWT_AUDIENCE"}) {
      ::unsetenv(name);
    }
  }
  void set(const char* name, const std::string& value) { ::setenv(name, value.c_str(), 1); }
};

TEST(bearer_tokens, keys_from_the_environment_refuse_what_cannot_be_safe) {
  environment env;
  auto none = token_keys::for_checking();
  ASSERT_TRUE(none);
  EXPECT_FALSE(*none) << "nothing configured";
  env.set("HORIZONS_JWT_SECRET", "short");
  auto short_secret = token_keys::for_checking();
  ASSERT_FALSE(short_secret);
  EXPECT_NE(short_secret.error().find("at least 32"), std::string::npos) << short_secret.error();
  env.set("HORIZONS_JWT_SECRET", secret);
  env.set("HORIZONS_JWT_AUDIENCE", "jobs-test");
  auto keys = token_keys::for_checking();
  ASSERT_TRUE(keys && *keys);
  EXPECT_EQ((*keys)->algorithm, token_algorithm::hs256);
  EXPECT_EQ((*keys)->audience, "jobs-test");

  scratch_dir dir;
  std::filesystem::create_directories(dir.path());
  auto pair = make_rsa();
  std::ofstream(dir / "public.pem") << pair.public_pem;
  std::ofstream(dir / "private.pem") << pair.private_pem;
  std::ofstream(dir / "garbage.pem") << "not a key";
  env.set("HORIZONS_JWT_PUBLIC_KEY", (dir / "public.pem").string());
  auto both = token_keys::for_checking();
  ASSERT_FALSE(both);
  EXPECT_NE(both.error().find("not both"), std::string::npos) << both.error();
  ::unsetenv("HORIZONS_JWT_SECRET");
  auto rsa = token_keys::for_checking();
  ASSERT_TRUE(rsa && *rsa) << (rsa ? "" : rsa.error());
  EXPECT_EQ((*rsa)->algorithm, token_algorithm::rs256);
  env.set("HORIZONS_JWT_PRIVATE_KEY", (dir / "private.pem").string());
  auto signing = token_keys::for_signing();
  ASSERT_TRUE(signing && *signing) << (signing ? "" : signing.error());
  auto token = issue_token(**signing, {.subject = "alice", .ttl = 1h}, at);
  ASSERT_TRUE(token) << token.error();
  EXPECT_TRUE(check_bearer(**rsa, bearer(*token), at));

  env.set("HORIZONS_JWT_PUBLIC_KEY", (dir / "garbage.pem").string());
  auto garbage = token_keys::for_checking();
  ASSERT_FALSE(garbage);
  EXPECT_NE(garbage.error().find("HORIZONS_JWT_PUBLIC_KEY"), std::string::npos) << garbage.error();
  env.set("HORIZONS_JWT_PUBLIC_KEY", (dir / "missing.pem").string());
  EXPECT_FALSE(token_keys::for_checking());
  env.set("HORIZONS_JWT_PUBLIC_KEY", (dir / "private.pem").string());
  EXPECT_FALSE(token_keys::for_checking()) << "a private key where the public one belongs";
}

}  // namespace
}  // namespace horizons::services
