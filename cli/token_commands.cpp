// horizons token issue: mint a bearer token for the orchestrator's job API (development and tests).
#include <charconv>
#include <chrono>
#include <optional>
#include <memory>
#include <string>

#include <fmt/format.h>

#include "commands.hpp"
#include "services/common/bearer_tokens.hpp"

namespace horizons::cli {
namespace {

// "90s", "30m", "1h", "7d" → seconds; nullopt for anything else.
std::optional<std::chrono::seconds> parse_ttl(const std::string& text) {
  if (text.size() < 2) return std::nullopt;
  std::int64_t count = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size() - 1, count);
  if (ec != std::errc() || end != text.data() + text.size() - 1 || count <= 0) return std::nullopt;
  switch (text.back()) {
    case 's': return std::chrono::seconds(count);
    case 'm': return std::chrono::minutes(count);
    case 'h': return std::chrono::hours(count);
    case 'd': return std::chrono::days(count);
    default: return std::nullopt;
  }
}

}  // namespace

void add_token_commands(CLI::App& app, int& result) {
  auto* token = app.add_subcommand("token", "Bearer tokens (JWT) for the orchestrator's job API");
  token->require_subcommand(1);
  auto* issue = token->add_subcommand("issue",
                                      "Print a signed token for a subject (HORIZONS_JWT_SECRET or "
                                      "HORIZONS_JWT_PRIVATE_KEY)");
  auto subject = std::make_shared<std::string>();
  auto ttl = std::make_shared<std::string>("1h");
  auto role = std::make_shared<std::string>();
  issue->add_option("--sub", *subject, "Who the token speaks for (the submitter of the jobs it submits)")->required();
  issue->add_option("--role", *role, "\"admin\": may see and cancel every job")->check(CLI::IsMember({"admin"}));
  issue->add_option("--ttl", *ttl, "Lifetime: 90s, 30m, 1h, 7d")->capture_default_str();
  issue->footer(
      "Examples:\n"
      "  export HORIZONS_JWT_SECRET=$(openssl rand -hex 32)   # the orchestrator needs the same secret\n"
      "  export HORIZONS_TOKEN=$(horizons token issue --sub alice)\n"
      "  horizons submit --via http://127.0.0.1:8070 --name m87-cal\n"
      "  HORIZONS_JWT_PRIVATE_KEY=key.pem horizons token issue --sub ops --role admin --ttl 30m   # RS256\n"
      "Issuer and audience: HORIZONS_JWT_ISSUER (default horizons), HORIZONS_JWT_AUDIENCE (default "
      "horizons-job-api).");
  issue->callback([&result, subject, ttl, role] {
    auto lifetime = parse_ttl(*ttl);
    if (!lifetime) {
      result = fail("token issue", fmt::format("--ttl: expected a count and s, m, h or d (e.g. 1h), got '{}'", *ttl),
                    exit_usage);
      return;
    }
    auto keys = services::token_keys::for_signing();
    if (!keys) {
      result = fail("token issue", keys.error(), exit_usage);
      return;
    }
    if (!*keys) {
      result = fail("token issue",
                    "no key: set HORIZONS_JWT_SECRET (HS256, 32 bytes or more) or HORIZONS_JWT_PRIVATE_KEY (RS256, "
                    "a PEM file)",
                    exit_usage);
      return;
    }
    auto signed_token = services::issue_token(
        **keys, {.subject = *subject, .admin = *role == "admin", .ttl = *lifetime}, horizons::now());
    if (!signed_token) {
      result = fail("token issue", signed_token.error());
      return;
    }
    fmt::print("{}\n", *signed_token);
    result = exit_ok;
  });
}

}  // namespace horizons::cli
