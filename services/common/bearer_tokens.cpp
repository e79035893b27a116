#include "services/common/bearer_tokens.hpp"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <sstream>

#include <fmt/format.h>
#include <jwt.h>
#include <nlohmann/json.hpp>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

namespace horizons::services {
namespace {

struct jwt_deleter {
  void operator()(jwt_t* j) const { jwt_free(j); }
};
using jwt_ptr = std::unique_ptr<jwt_t, jwt_deleter>;
struct c_string_deleter {
  void operator()(char* s) const { std::free(s); }  // NOLINT: libjwt allocates with malloc
};
using c_string = std::unique_ptr<char, c_string_deleter>;
struct pkey_deleter {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
struct bio_deleter {
  void operator()(BIO* b) const { BIO_free(b); }
};

// HS256 keys shorter than the hash are allowed by libjwt but not by RFC 7518 (section 3.2).
constexpr std::size_t min_secret_bytes = 32;

std::string env(const char* name) {
  const char* value = std::getenv(name);
  return value ? std::string(value) : std::string();
}

enum class pem_kind : std::uint8_t { public_key, private_key };

// The PEM file's text, once OpenSSL has read an RSA key of the expected kind from it.
std::expected<std::string, std::string> read_rsa_pem(const char* variable, const std::string& path, pem_kind kind) {
  std::ifstream file(path);
  if (!file) return std::unexpected(fmt::format("{}: cannot read {}: {}", variable, path, std::strerror(errno)));
  std::stringstream text;
  text << file.rdbuf();
  std::string pem = text.str();
  std::unique_ptr<BIO, bio_deleter> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  std::unique_ptr<EVP_PKEY, pkey_deleter> key(kind == pem_kind::public_key
                                                  ? PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr)
                                                  : PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
  const char* what = kind == pem_kind::public_key ? "public" : "private";
  if (!key) return std::unexpected(fmt::format("{}: {} holds no PEM {} key", variable, path, what));
  if (EVP_PKEY_base_id(key.get()) != EVP_PKEY_RSA) {
    return std::unexpected(
        fmt::format("{}: {} holds a {} key that is not RSA (RS256 needs RSA)", variable, path, what));
  }
  return pem;
}

std::expected<std::optional<token_keys>, std::string> keys_from_environment(const char* pem_variable, pem_kind kind) {
  const auto secret = env("HORIZONS_JWT_SECRET");
  const auto pem_path = env(pem_variable);
  if (secret.empty() && pem_path.empty()) return std::nullopt;
  if (!secret.empty() && !pem_path.empty()) {
    return std::unexpected(fmt::format("set HORIZONS_JWT_SECRET (HS256) or {} (RS256), not both", pem_variable));
  }
  token_keys keys;
  if (!secret.empty()) {
    if (secret.size() < min_secret_bytes) {
      return std::unexpected(
          fmt::format("HORIZONS_JWT_SECRET: {} bytes; HS256 needs at least {}", secret.size(), min_secret_bytes));
    }
    keys.key = secret;
  } else {
    auto pem = read_rsa_pem(pem_variable, pem_path, kind);
    if (!pem) return std::unexpected(pem.error());
    keys.algorithm = token_algorithm::rs256;
    keys.key = std::move(*pem);
  }
  if (auto issuer = env("HORIZONS_JWT_ISSUER"); !issuer.empty()) keys.issuer = issuer;
  if (auto audience = env("HORIZONS_JWT_AUDIENCE"); !audience.empty()) keys.audience = audience;
  return keys;
}

jwt_alg_t libjwt_algorithm(token_algorithm a) { return a == token_algorithm::hs256 ? JWT_ALG_HS256 : JWT_ALG_RS256; }
const char* name_of(token_algorithm a) { return a == token_algorithm::hs256 ? "HS256" : "RS256"; }

std::string when(std::int64_t seconds) {
  auto text = format_rfc3339(timestamp{std::chrono::seconds(seconds)});
  return text ? text->substr(0, 19) + "Z" : fmt::format("{} s after 1970", seconds);
}

// The claims' checks, on the claims as JSON (already signature-checked).
std::expected<caller, std::string> caller_from_claims(const token_keys& keys, const nlohmann::json& claims,
                                                      timestamp now) {
  const auto at = std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count();
  const auto skew = keys.leeway.count();
  const auto sub = claims.find("sub");
  if (sub == claims.end() || !sub->is_string() || sub->get<std::string>().empty()) {
    return std::unexpected("the token has no subject (sub)");
  }
  const auto exp = claims.find("exp");
  if (exp == claims.end() || !exp->is_number()) return std::unexpected("the token has no expiry (exp)");
  const auto expires = static_cast<std::int64_t>(exp->get<double>());
  if (at > expires + skew) return std::unexpected(fmt::format("the token expired at {}", when(expires)));
  if (const auto nbf = claims.find("nbf"); nbf != claims.end()) {
    if (!nbf->is_number()) return std::unexpected("the token's nbf is not a time");
    const auto from = static_cast<std::int64_t>(nbf->get<double>());
    if (at + skew < from) return std::unexpected(fmt::format("the token is not valid before {}", when(from)));
  }
  const auto iss = claims.find("iss");
  if (iss == claims.end() || !iss->is_string() || iss->get<std::string>() != keys.issuer) {
    return std::unexpected(fmt::format("the token's issuer (iss) is not {}", keys.issuer));
  }
  const auto aud = claims.find("aud");
  const bool audience_ok =
      aud != claims.end() && ((aud->is_string() && aud->get<std::string>() == keys.audience) ||
                              (aud->is_array() && std::ranges::any_of(*aud, [&](const nlohmann::json& a) {
                                 return a.is_string() && a.get<std::string>() == keys.audience;
                               })));
  if (!audience_ok)
    return std::unexpected(fmt::format("the token's audience (aud) does not include {}", keys.audience));
  caller who{.subject = sub->get<std::string>()};
  if (const auto roles = claims.find("roles"); roles != claims.end()) {
    if (!roles->is_array()) return std::unexpected("the token's roles are not a list");
    who.admin = std::ranges::any_of(*roles, [](const nlohmann::json& r) { return r.is_string() && r == "admin"; });
  }
  return who;
}

}  // namespace

std::expected<std::optional<token_keys>, std::string> token_keys::for_checking() {
  return keys_from_environment("HORIZONS_JWT_PUBLIC_KEY", pem_kind::public_key);
}

std::expected<std::optional<token_keys>, std::string> token_keys::for_signing() {
  return keys_from_environment("HORIZONS_JWT_PRIVATE_KEY", pem_kind::private_key);
}

std::expected<caller, std::string> check_bearer(const token_keys& keys, std::string_view authorization, timestamp now) {
  constexpr std::string_view scheme = "Bearer ";
  if (authorization.empty()) return std::unexpected("no token: send Authorization: Bearer <token>");
  const auto named = authorization.substr(0, scheme.size());
  const bool bearer = std::ranges::equal(
      named, scheme, [](unsigned char a, unsigned char b) { return std::tolower(a) == std::tolower(b); });
  if (authorization.size() <= scheme.size() || !bearer) {
    return std::unexpected("the Authorization header is not \"Bearer <token>\"");
  }
  const std::string token(authorization.substr(scheme.size()));
  // Read the header without a key first, only to name a wrong algorithm; the signature is checked below.
  jwt_t* raw = nullptr;
  if (jwt_decode(&raw, token.c_str(), nullptr, 0) != 0) return std::unexpected("the token is not a well-formed JWT");
  jwt_ptr unverified(raw);
  const char* alg = jwt_get_header(unverified.get(), "alg");
  if (alg == nullptr || std::string_view(alg) != name_of(keys.algorithm)) {
    return std::unexpected(
        fmt::format("the token is signed with {}, not {}", alg ? alg : "no algorithm", name_of(keys.algorithm)));
  }
  raw = nullptr;
  if (jwt_decode(&raw, token.c_str(), reinterpret_cast<const unsigned char*>(keys.key.data()),
                 static_cast<int>(keys.key.size())) != 0) {
    return std::unexpected("the token's signature does not verify");
  }
  jwt_ptr verified(raw);
  if (jwt_get_alg(verified.get()) != libjwt_algorithm(keys.algorithm)) {  // the same header, but check what passed
    return std::unexpected("the token is not signed with the configured algorithm");
  }
  c_string grants(jwt_get_grants_json(verified.get(), nullptr));
  if (!grants) return std::unexpected("the token has no claims");
  auto claims = nlohmann::json::parse(grants.get(), nullptr, false);
  if (!claims.is_object()) return std::unexpected("the token's claims are not a JSON object");
  return caller_from_claims(keys, claims, now);
}

std::expected<std::string, std::string> issue_token(const token_keys& keys, const token_claims& claims, timestamp now) {
  if (claims.subject.empty()) return std::unexpected("a token needs a subject");
  if (claims.ttl.count() <= 0) return std::unexpected("a token's lifetime must be positive");
  const auto at = std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count();
  nlohmann::json body{
      {"sub", claims.subject},         {"iss", keys.issuer}, {"aud", keys.audience}, {"iat", at}, {"nbf", at},
      {"exp", at + claims.ttl.count()}};
  if (claims.admin) body["roles"] = nlohmann::json::array({"admin"});
  jwt_t* raw = nullptr;
  if (jwt_new(&raw) != 0) return std::unexpected("libjwt: out of memory");
  jwt_ptr token(raw);
  if (jwt_add_grants_json(token.get(), body.dump().c_str()) != 0 ||
      jwt_set_alg(token.get(), libjwt_algorithm(keys.algorithm),
                  reinterpret_cast<const unsigned char*>(keys.key.data()), static_cast<int>(keys.key.size())) != 0) {
    return std::unexpected(fmt::format("libjwt refused the claims or the {} key", name_of(keys.algorithm)));
  }
  c_string encoded(jwt_encode_str(token.get()));
  if (!encoded) return std::unexpected(fmt::format("libjwt could not sign with the {} key", name_of(keys.algorithm)));
  return std::string(encoded.get());
}

}  // namespace horizons::services
