// Bearer tokens (JWT) for the services' HTTP APIs: who calls, proven by a signature.
//
//   auto keys = horizons::services::token_keys::for_checking();   // HORIZONS_JWT_SECRET or _PUBLIC_KEY
//   if (!keys) fail(keys.error());            // "HORIZONS_JWT_SECRET: 9 bytes; HS256 needs at least 32"
//   if (!*keys) fail("set a key");           // nothing configured
//   auto caller = horizons::services::check_bearer(**keys, request.get_header_value("Authorization"), now);
//   if (!caller) return reply(401, caller.error());   // "the token expired at 2026-12-07T10:00:00Z"
//   if (caller->subject != owner && !caller->admin) return reply(403, ...);
//
//   auto signing = horizons::services::token_keys::for_signing();  // HORIZONS_JWT_SECRET or _PRIVATE_KEY
//   auto token = horizons::services::issue_token(**signing, {.subject = "alice", .ttl = std::chrono::hours(1)}, now);
//
// What a token must be to pass: a compact JWS whose header names exactly the configured algorithm
// (HS256 under the shared secret, or RS256 under the private key matching the public key). A token
// naming any other algorithm, "none" included, is refused, so an RS256 public key can never serve as
// an HMAC secret. Claims: `sub` a non-empty string; `exp` required and `nbf` optional, each compared
// with `leeway` of clock skew; `iss` equal to the configured issuer; `aud` equal to the configured
// audience or an array holding it; `roles` an optional array of strings, where "admin" makes an admin.
// Signatures are made and checked by libjwt; this file checks the algorithm and the claims.
//
// Settings (environment): HORIZONS_JWT_SECRET (HS256, at least 32 bytes) or HORIZONS_JWT_PUBLIC_KEY
// (RS256, a PEM file) for checking, HORIZONS_JWT_PRIVATE_KEY (a PEM file) for issuing RS256 tokens;
// HORIZONS_JWT_ISSUER (default "horizons"), HORIZONS_JWT_AUDIENCE (default "horizons-job-api").
//
// Threads: any; every function depends only on its arguments (and the environment, for the settings).
#pragma once

#include <chrono>
#include <cstdint>
#include <expected>
#include <optional>
#include <string>
#include <string_view>

#include <horizons/timestamp.hpp>

namespace horizons::services {

enum class token_algorithm : std::uint8_t { hs256, rs256 };

/// A key and the claims a token must carry. `key` is the HS256 secret, or an RS256 key in PEM (the
/// public key for checking, the private key for signing).
struct token_keys {
  token_algorithm algorithm = token_algorithm::hs256;
  std::string key{};
  std::string issuer = "horizons";
  std::string audience = "horizons-job-api";
  std::chrono::seconds leeway{30};

  /// From the environment (above). nullopt when no key is set; an error naming the variable when a
  /// key is unusable (a short secret, an unreadable or malformed PEM file, both kinds set at once).
  [[nodiscard]] static std::expected<std::optional<token_keys>, std::string> for_checking();
  [[nodiscard]] static std::expected<std::optional<token_keys>, std::string> for_signing();
};

/// Who a token speaks for.
struct caller {
  std::string subject;
  bool admin = false;
};

/// The caller behind an `Authorization: Bearer <jwt>` header value at `now`, or why not (a sentence
/// to show the caller: missing header, malformed token, wrong algorithm, bad signature, expired, ...).
[[nodiscard]] std::expected<caller, std::string> check_bearer(const token_keys& keys, std::string_view authorization,
                                                              timestamp now);

struct token_claims {
  std::string subject{};
  bool admin = false;
  std::chrono::seconds ttl{3600};
};

/// A signed token for `claims`, issued at `now`, with the keys' issuer and audience. Errors: an empty
/// subject, a ttl that is not positive, a key libjwt cannot sign with.
[[nodiscard]] std::expected<std::string, std::string> issue_token(const token_keys& keys, const token_claims& claims,
                                                                  timestamp now);

}  // namespace horizons::services
