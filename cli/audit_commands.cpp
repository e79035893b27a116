// horizons audit verify | query | prune: the compliance auditor's hash-chained ledger.
#include "commands.hpp"
#include "kafka_options.hpp"

#include "services/compliance_auditor/ledger.hpp"
#include "services/compliance_auditor/signed_heads.hpp"
#include "state_option.hpp"

#include <horizons/timestamp.hpp>

#include <charconv>
#include <filesystem>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace horizons::cli {

namespace {

using compliance::ledger;
using ordered_json = nlohmann::ordered_json;

struct ledger_location {
  std::string data_dir = "horizons-data";
  std::string file;
  std::string state;  // --state: a state root URL
};

void add_location_options(CLI::App* command, const std::shared_ptr<ledger_location>& where) {
  auto* dir = command
                  ->add_option("--data-dir", where->data_dir,
                               "Service state directory; the ledger is DIR/compliance-auditor/ledger.db")
                  ->capture_default_str();
  auto* file = command->add_option("--ledger", where->file, "The ledger file itself, instead of --data-dir");
  auto* state = add_state_option(command, where->state);
  dir->excludes(file);
  state->excludes(file);
}

std::expected<ledger, int> open_ledger(std::string_view command, const ledger_location& where) {
  auto root = state_root(where.state);
  if (!root) return std::unexpected(fail(command, root.error(), exit_usage));
  auto at = !where.file.empty() ? sql::location(std::filesystem::path(where.file))
                                : ledger::location_in(root->value_or(sql::location(where.data_dir)));
  auto opened = ledger::open_existing(at);
  if (!opened) return std::unexpected(fail(command, opened.error().message, exit_usage));
  return std::move(*opened);
}

// "2026-11-29T13:03:17Z", or an age before `now`: 45s, 30m, 24h, 7d, 2w.
std::optional<timestamp> parse_time(std::string_view text, timestamp now) {
  if (auto exact = parse_rfc3339(text)) return exact;
  if (text.size() < 2) return std::nullopt;
  std::int64_t count = 0;
  auto digits = text.substr(0, text.size() - 1);
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), count);
  if (ec != std::errc{} || end != digits.data() + digits.size() || count < 0) return std::nullopt;
  std::int64_t unit_seconds = 0;
  switch (text.back()) {
    case 's': unit_seconds = 1; break;
    case 'm': unit_seconds = 60; break;
    case 'h': unit_seconds = 3600; break;
    case 'd': unit_seconds = 86'400; break;
    case 'w': unit_seconds = 7 * 86'400; break;
    default: return std::nullopt;
  }
  // Ages beyond ten thousand years are typos, and would overflow the microsecond clock.
  if (count > 10'000LL * 366 * 86'400 / unit_seconds) return std::nullopt;
  return now - std::chrono::seconds{count * unit_seconds};
}

std::optional<timestamp> time_option(std::string_view command, std::string_view flag, const std::string& text,
                                     timestamp now, int& error) {
  if (text.empty() || error != exit_ok) return std::nullopt;
  auto parsed = parse_time(text, now);
  if (!parsed) {
    error = fail(command, fmt::format("{}: '{}' is neither an RFC 3339 time nor an age like 24h or 90d", flag, text),
                 exit_usage);
  }
  return parsed;
}

std::string when(timestamp t) { return format_rfc3339(t).value_or(fmt::format("{}us", t.time_since_epoch().count())); }

ordered_json checkpoint_json(const std::optional<compliance::checkpoint>& cp) {
  if (!cp) return nullptr;
  return {{"seq", cp->seq},
          {"hash", compliance::to_hex(cp->hash)},
          {"pruned_total", cp->pruned_total},
          {"pruned_at", when(cp->pruned_at)}};
}

struct verify_options {
  bool json = false;
  std::string checkpoints;                                                   // signed heads file
  std::string checkpoints_topic;                                             // or the topic they are in
  std::string checkpoint_key;                                                // Ed25519 public key (PEM)
  std::shared_ptr<kafka_options> kafka = std::make_shared<kafka_options>();  // where that topic is
};

// The signed heads from the file or the topic the options name.
std::expected<std::vector<compliance::signed_head>, int> read_heads(const verify_options& options) {
  if (options.checkpoints_topic.empty()) {
    auto heads = compliance::read_signed_heads(options.checkpoints);
    if (!heads)
      return std::unexpected(fail("audit verify", fmt::format("--checkpoints: {}", heads.error()), exit_usage));
    return *heads;
  }
  auto config = resolve_config(*options.kafka, true);
  if (!config) return std::unexpected(fail("audit verify", config.error(), exit_usage));
  auto heads = compliance::read_signed_heads(*config, options.checkpoints_topic);
  if (!heads) return std::unexpected(fail("audit verify", fmt::format("--checkpoints-topic: {}", heads.error())));
  return *heads;
}

// The ledger checked against its signed heads; exit_usage (already reported) when they cannot be read.
std::expected<compliance::heads_report, int> check_heads(ledger& book, const compliance::verify_report& chain,
                                                         const verify_options& options) {
  auto heads = read_heads(options);
  if (!heads) return std::unexpected(heads.error());
  auto key = compliance::head_verifier::from_pem_file(options.checkpoint_key);
  if (!key) return std::unexpected(fail("audit verify", fmt::format("--checkpoint-key: {}", key.error()), exit_usage));
  auto checked = compliance::check_against_heads(book, chain, *heads, *key);
  if (!checked) return std::unexpected(fail("audit verify", checked.error().message));
  return *checked;
}

int run_verify(const ledger_location& where, const verify_options& options) {
  auto opened = open_ledger("audit verify", where);
  if (!opened) return opened.error();
  auto report = opened->verify();
  if (!report) return fail("audit verify", report.error().message);
  const auto& r = *report;
  std::optional<compliance::heads_report> heads;
  if (r.ok() && !options.checkpoint_key.empty()) {
    auto checked = check_heads(*opened, r, options);
    if (!checked) return checked.error();
    heads = *checked;
  }
  const bool ok = r.ok() && (!heads || heads->ok());
  if (options.json) {
    ordered_json out{{"ledger", opened->where().to_string()},
                     {"ok", ok},
                     {"entries_checked", r.entries_checked},
                     {"first_seq", r.first_seq},
                     {"last_seq", r.last_seq},
                     {"checkpoint", checkpoint_json(r.checkpoint)},
                     {"head_hash", r.ok() ? ordered_json(compliance::to_hex(r.head_hash)) : ordered_json(nullptr)},
                     {"bad_entry", nullptr}};
    if (r.bad) {
      out["bad_entry"] = {
          {"seq", r.bad->seq}, {"kind", compliance::to_string(r.bad->kind)}, {"explanation", r.bad->explanation}};
    }
    if (heads) {
      out["signed_heads"] = {{"read", heads->heads},
                             {"matched", heads->checked},
                             {"before_prune", heads->before_prune},
                             {"anchored_through", heads->anchored_through}};
      if (heads->bad)
        out["bad_entry"] = {
            {"seq", heads->bad->seq}, {"kind", "signed-head"}, {"explanation", heads->bad->explanation}};
    }
    fmt::print("{}\n", out.dump(2));
  } else {
    fmt::print("ledger      {}\n", opened->where().to_string());
    fmt::print("entries     {} checked{}\n", r.entries_checked,
               r.entries_checked ? fmt::format(" (seq {}..{})", r.first_seq, r.last_seq) : "");
    if (r.checkpoint) {
      fmt::print("checkpoint  entry {}, hash {} ({} pruned, last at {})\n", r.checkpoint->seq,
                 compliance::to_hex(r.checkpoint->hash), r.checkpoint->pruned_total, when(r.checkpoint->pruned_at));
    }
    if (heads && heads->ok()) {
      fmt::print("signed      {} heads, {} matched ({} of pruned entries); entries through {} vouched for\n",
                 heads->heads, heads->checked, heads->before_prune, heads->anchored_through);
    }
    if (ok) fmt::print("head        {}\nledger verified\n", compliance::to_hex(r.head_hash));
  }
  if (r.bad) {
    return fail("audit verify", fmt::format("first bad entry {} ({}): {}", r.bad->seq,
                                            compliance::to_string(r.bad->kind), r.bad->explanation));
  }
  if (heads && heads->bad) {
    return fail("audit verify", fmt::format("first bad entry {} (against the signed heads): {}", heads->bad->seq,
                                            heads->bad->explanation));
  }
  return exit_ok;
}

struct query_options {
  std::string job;
  std::string user;
  std::string since;
  std::string until;
  std::size_t limit = 0;
  bool json = false;
};

int run_query(const ledger_location& where, const query_options& options) {
  int error = exit_ok;
  auto now = horizons::now();
  compliance::query_filter filter{
      .job_id = options.job.empty() ? std::nullopt : std::optional(options.job),
      .user_id = options.user.empty() ? std::nullopt : std::optional(options.user),
      .since = time_option("audit query", "--since", options.since, now, error),
      .until = time_option("audit query", "--until", options.until, now, error),
      .limit = options.limit ? std::optional(options.limit) : std::nullopt,
  };
  if (error != exit_ok) return error;
  auto opened = open_ledger("audit query", where);
  if (!opened) return opened.error();
  auto entries = opened->query(filter);
  if (!entries) return fail("audit query", entries.error().message);
  if (!options.json) {
    fmt::print("{:>8}  {:<27}  {:<22}  {:<20}  {}\n", "SEQ", "OCCURRED_AT", "EVENT_TYPE", "JOB", "USER");
  }
  for (const auto& e : *entries) {
    if (options.json) {
      fmt::print("{{\"seq\":{},\"hash\":\"{}\",\"event\":{}}}\n", e.seq, e.hash, e.event_json);
    } else {
      fmt::print("{:>8}  {:<27}  {:<22}  {:<20}  {}\n", e.seq, when(e.occurred_at), e.event_type,
                 e.job_id.value_or("-"), e.user_id.value_or("-"));
    }
  }
  if (!options.json) fmt::print("{} entries\n", entries->size());
  return exit_ok;
}

int run_prune(const ledger_location& where, const std::string& older_than) {
  int error = exit_ok;
  auto cutoff = time_option("audit prune", "--older-than", older_than, horizons::now(), error);
  if (error != exit_ok) return error;
  auto opened = open_ledger("audit prune", where);
  if (!opened) return opened.error();
  auto pruned = opened->prune(*cutoff);
  if (!pruned) return fail("audit prune", pruned.error().message);
  fmt::print("pruned {} entries that occurred before {}\n", pruned->pruned, when(*cutoff));
  if (pruned->checkpoint) {
    fmt::print("checkpoint  entry {}, hash {} ({} pruned in all)\n", pruned->checkpoint->seq,
               compliance::to_hex(pruned->checkpoint->hash), pruned->checkpoint->pruned_total);
  }
  return exit_ok;
}

}  // namespace

void add_audit_commands(CLI::App& app, int& result) {
  auto* audit = app.add_subcommand("audit", "The compliance auditor's hash-chained ledger: verify, query, prune");
  audit->require_subcommand(1);

  auto verify_where = std::make_shared<ledger_location>();
  auto verify_options = std::make_shared<struct verify_options>();
  auto* verify = audit->add_subcommand(
      "verify", "Walk the hash chain; name the first edited, deleted, inserted or reordered entry (exit 1)");
  add_location_options(verify, verify_where);
  verify->add_flag("--json", verify_options->json, "Machine-readable report");
  auto* checkpoints = verify->add_option(
      "--checkpoints", verify_options->checkpoints,
      "The auditor's signed heads (HORIZONS_AUDIT_CHECKPOINTS): also detect a deleted tail, an older copy of "
      "the database and a rewritten chain");
  auto* checkpoints_topic = verify->add_option(
      "--checkpoints-topic", verify_options->checkpoints_topic,
      "Or the topic the auditor writes them to (HORIZONS_AUDIT_CHECKPOINTS_TOPIC, e.g. audit-checkpoints), on "
      "--brokers");
  auto* checkpoint_key = verify->add_option("--checkpoint-key", verify_options->checkpoint_key,
                                            "The Ed25519 public key (PEM) they are "
                                            "signed with");
  add_kafka_options(verify, verify_options->kafka);
  checkpoints->excludes(checkpoints_topic);
  checkpoints->needs(checkpoint_key);
  checkpoints_topic->needs(checkpoint_key);
  verify->footer(
      "Exit: 0 verified, 1 tampered (the first bad entry on stderr), 2 no ledger or bad usage.\n"
      "Examples:\n"
      "  horizons audit verify\n"
      "  horizons audit verify --data-dir /var/lib/horizons\n"
      "  horizons audit verify --ledger backup/ledger.db --json\n"
      "  horizons audit verify --checkpoints /var/log/horizons/audit-heads.jsonl --checkpoint-key audit.pub\n"
      "  horizons audit verify --checkpoints-topic audit-checkpoints --brokers 127.0.0.1:19092 --checkpoint-key "
      "audit.pub");
  verify->callback([&result, verify_where, verify_options] {
    if (!verify_options->checkpoint_key.empty() && verify_options->checkpoints.empty() &&
        verify_options->checkpoints_topic.empty()) {
      result = fail("audit verify", "--checkpoint-key needs the heads: --checkpoints FILE or --checkpoints-topic TOPIC",
                    exit_usage);
      return;
    }
    result = run_verify(*verify_where, *verify_options);
  });

  auto query_where = std::make_shared<ledger_location>();
  auto query = std::make_shared<query_options>();
  auto* query_command = audit->add_subcommand("query", "Ledger entries by job, user and time, in chain order");
  add_location_options(query_command, query_where);
  query_command->add_option("--job", query->job, "Entries about this job");
  query_command->add_option("--user", query->user, "Entries by or for this user");
  query_command->add_option("--since", query->since, "Occurred at or after: RFC 3339 or an age (24h, 7d)");
  query_command->add_option("--until", query->until, "Occurred before: RFC 3339 or an age");
  query_command->add_option("--limit", query->limit, "At most N entries (default: all)");
  query_command->add_flag("--json", query->json, "One JSON object per line: seq, hash and the event");
  query_command->footer(
      "Examples:\n"
      "  horizons audit query --job job-42\n"
      "  horizons audit query --user alice --since 7d\n"
      "  horizons audit query --since 2026-11-01T00:00:00Z --until 2026-12-01T00:00:00Z --json | jq .event");
  query_command->callback([&result, query_where, query] { result = run_query(*query_where, *query); });

  auto prune_where = std::make_shared<ledger_location>();
  auto older_than = std::make_shared<std::string>(fmt::format("{}d", compliance::retention.count()));
  auto* prune = audit->add_subcommand(
      "prune", "Remove entries past retention from the start of the chain; a checkpoint keeps it verifiable");
  add_location_options(prune, prune_where);
  prune->add_option("--older-than", *older_than, "RFC 3339 time or an age")->capture_default_str();
  prune->footer(
      "Only a prefix of the chain is removed, and only if it verifies (exit 1 otherwise).\n"
      "Examples:\n"
      "  horizons audit prune\n"
      "  horizons audit prune --data-dir /var/lib/horizons --older-than 30d");
  prune->callback([&result, prune_where, older_than] { result = run_prune(*prune_where, *older_than); });
}

}  // namespace horizons::cli
