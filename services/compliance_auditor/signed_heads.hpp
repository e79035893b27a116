// Signed heads of the audit ledger ("checkpoints"): now and then the auditor signs the chain's head
// (sequence number, hash, time) with an Ed25519 key and writes it to a compacted Kafka topic
// (`audit-checkpoints`, keyed by the sequence number) and/or appends it to a file kept outside the
// data directory. Whoever can write the ledger's database cannot forge them, so a ledger checked against
// them shows a deleted tail, a database replaced by an older copy, or a chain rewritten with
// recomputed hashes, which the chain alone cannot (ledger.hpp).
//
//   // openssl genpkey -algorithm ed25519 -out audit.key && openssl pkey -in audit.key -pubout -out audit.pub
//   auto signer = horizons::compliance::head_signer::from_pem_file("audit.key");
//   auto head = signer->sign(*book.head(), horizons::now());
//   append_signed_head("/var/log/horizons/audit-heads.jsonl", head);   // one JSON line each
//
//   auto heads = read_signed_heads("/var/log/horizons/audit-heads.jsonl");   // or (config, "audit-checkpoints")
//   auto key = horizons::compliance::head_verifier::from_pem_file("audit.pub");
//   auto report = check_against_heads(book, *book.verify(), *heads, *key);
//   if (report->bad) fail(report->bad->explanation);   // names the first entry that fails and the proof
//
// A line: {"seq": 42, "hash": "<64 hex>", "at": "2026-12-07T17:00:00.000000Z", "key": "<16 hex>",
// "signature": "<128 hex>"}; the signature covers "horizons-audit-head/1 seq=<seq> hash=<hash>
// at=<microseconds>". `key` names the signing key (the first 8 bytes of SHA-256 of its raw public key).
//
// What it cannot catch: entries appended after the last signed head and then deleted, and heads whose
// own tail was deleted by someone who can write them too (keep them where the database's writers
// cannot: a topic they have no ACL to write, another host, append-only storage).
//
// Threads: signers and verifiers are immutable after creation; any thread. The file functions do I/O.
#pragma once

#include <cstdint>
#include <expected>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include <horizons/config.hpp>
#include <horizons/record_writer.hpp>
#include <horizons/timestamp.hpp>

#include "services/compliance_auditor/ledger.hpp"

namespace horizons::compliance {

struct signed_head {
  chain_position head{};
  timestamp at{};
  std::string key_id{};     // 16 hex digits
  std::string signature{};  // 128 hex digits (Ed25519)
  [[nodiscard]] std::string to_json_line() const;
  /// Errors name what is malformed.
  [[nodiscard]] static std::expected<signed_head, std::string> from_json_line(std::string_view line);
};

class head_signer {
 public:
  /// An Ed25519 private key in PEM; errors name the file and what is wrong with it.
  [[nodiscard]] static std::expected<head_signer, std::string> from_pem_file(const std::filesystem::path& path);
  [[nodiscard]] signed_head sign(const chain_position& head, timestamp at) const;
  [[nodiscard]] const std::string& key_id() const { return key_id_; }

  struct key;  // OpenSSL's EVP_PKEY, shared between copies

 private:
  head_signer(std::shared_ptr<key> k, std::string id) : key_(std::move(k)), key_id_(std::move(id)) {}
  std::shared_ptr<key> key_;
  std::string key_id_;
};

class head_verifier {
 public:
  /// An Ed25519 public key in PEM; errors name the file and what is wrong with it.
  [[nodiscard]] static std::expected<head_verifier, std::string> from_pem_file(const std::filesystem::path& path);
  /// True when `h` was signed by this key's private half.
  [[nodiscard]] bool verify(const signed_head& h) const;
  [[nodiscard]] const std::string& key_id() const { return key_id_; }

 private:
  head_verifier(std::shared_ptr<head_signer::key> k, std::string id) : key_(std::move(k)), key_id_(std::move(id)) {}
  std::shared_ptr<head_signer::key> key_;
  std::string key_id_;
};

/// Appends one line to `file` (created if needed) and flushes it to disk before returning.
[[nodiscard]] std::expected<void, std::string> append_signed_head(const std::filesystem::path& file,
                                                                  const signed_head& head);
/// Every line of `file`, in order; an error names the first malformed line.
[[nodiscard]] std::expected<std::vector<signed_head>, std::string> read_signed_heads(const std::filesystem::path& file);
/// The record written for `head` to a heads topic: key the sequence number (compaction keeps one head
/// per entry), value its JSON line.
[[nodiscard]] keyed_record head_record(const signed_head& head);
/// Every head in `topic`, read from its beginning to its end, in sequence order (tombstones
/// skipped); an error names the malformed record, or what Kafka said.
[[nodiscard]] std::expected<std::vector<signed_head>, std::string> read_signed_heads(const client_config& config,
                                                                                     const std::string& topic);

struct heads_finding {
  std::int64_t seq = 0;       // the first entry that fails against the heads
  std::string explanation{};  // one line: what is wrong, and the signed head that proves it
};

struct heads_report {
  std::size_t heads = 0;              // signed heads read and verified
  std::size_t checked = 0;            // of them, heads matched against the ledger
  std::size_t before_prune = 0;       // of them, heads of entries pruned since (not checkable)
  std::int64_t anchored_through = 0;  // the last entry a matching signed head vouches for
  std::optional<heads_finding> bad{};
  [[nodiscard]] bool ok() const { return !bad; }
};

/// Checks a ledger whose chain verified (`chain`, from ledger::verify()) against signed heads. A head
/// that is not signed by `key` is a finding (forged, or signed with another key); so is a head past
/// the ledger's end (a deleted tail, an older copy of the database) or a head whose entry's hash
/// differs (a rewritten chain: named from the last matching head on). An error only when the ledger
/// cannot be read.
[[nodiscard]] std::expected<heads_report, ledger_error> check_against_heads(ledger& book, const verify_report& chain,
                                                                            std::span<const signed_head> heads,
                                                                            const head_verifier& key);

}  // namespace horizons::compliance
