#include "services/compliance_auditor/signed_heads.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/sha.h>

#include <horizons/topic_reader.hpp>

namespace horizons::compliance {

struct head_signer::key {
  EVP_PKEY* pkey = nullptr;
  ~key() { EVP_PKEY_free(pkey); }
};

namespace {

constexpr std::size_t signature_bytes = 64;

std::optional<std::vector<unsigned char>> unhex(std::string_view text) {
  if (text.size() % 2 != 0) return std::nullopt;
  std::vector<unsigned char> out(text.size() / 2);
  for (std::size_t i = 0; i < out.size(); ++i) {
    auto digit = [](char c) -> int {
      if (c >= '0' && c <= '9') return c - '0';
      if (c >= 'a' && c <= 'f') return c - 'a' + 10;
      return -1;
    };
    const int high = digit(text[2 * i]), low = digit(text[2 * i + 1]);
    if (high < 0 || low < 0) return std::nullopt;
    out[i] = static_cast<unsigned char>(high * 16 + low);
  }
  return out;
}

// What the signature covers: every field but the key id, in a form that has one spelling.
std::string signed_text(const chain_position& head, timestamp at) {
  return fmt::format("horizons-audit-head/1 seq={} hash={} at={}", head.seq, to_hex(head.hash),
                     at.time_since_epoch().count());
}

std::expected<std::shared_ptr<head_signer::key>, std::string> read_ed25519(const std::filesystem::path& path,
                                                                           bool private_key) {
  std::ifstream file(path);
  if (!file) return std::unexpected(fmt::format("cannot read {}: {}", path.string(), std::strerror(errno)));
  std::stringstream text;
  text << file.rdbuf();
  const std::string pem = text.str();
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())), &BIO_free);
  auto k = std::make_shared<head_signer::key>();
  k->pkey = private_key ? PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr)
                        : PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr);
  const char* what = private_key ? "private" : "public";
  if (!k->pkey) return std::unexpected(fmt::format("{} holds no PEM {} key", path.string(), what));
  if (EVP_PKEY_id(k->pkey) != EVP_PKEY_ED25519) {
    return std::unexpected(
        fmt::format("{} holds a {} key that is not Ed25519 (openssl genpkey -algorithm ed25519)", path.string(), what));
  }
  return k;
}

std::string key_id_of(EVP_PKEY* pkey) {
  std::array<unsigned char, 32> raw{};
  std::size_t length = raw.size();
  EVP_PKEY_get_raw_public_key(pkey, raw.data(), &length);
  std::array<unsigned char, SHA256_DIGEST_LENGTH> sha{};
  SHA256(raw.data(), length, sha.data());
  return to_hex(std::as_bytes(std::span(sha).first(8)));
}

std::string when(timestamp t) { return format_rfc3339(t).value_or("?"); }

std::string short_hex(const digest& d) { return to_hex(d).substr(0, 16); }

}  // namespace

std::string signed_head::to_json_line() const {
  return nlohmann::json{{"seq", head.seq},
                        {"hash", to_hex(head.hash)},
                        {"at", format_rfc3339(at).value_or("")},
                        {"key", key_id},
                        {"signature", signature}}
      .dump();
}

std::expected<signed_head, std::string> signed_head::from_json_line(std::string_view line) {
  auto j = nlohmann::json::parse(line, nullptr, false);
  if (!j.is_object()) return std::unexpected("not a JSON object");
  auto text = [&](const char* field) -> std::optional<std::string> {
    auto it = j.find(field);
    if (it == j.end() || !it->is_string()) return std::nullopt;
    return it->get<std::string>();
  };
  const auto seq = j.find("seq");
  if (seq == j.end() || !seq->is_number_integer() || seq->get<std::int64_t>() < 0) {
    return std::unexpected("\"seq\" is not a sequence number");
  }
  auto hash = text("hash").and_then([](const std::string& h) { return unhex(h); });
  if (!hash || hash->size() != 32) return std::unexpected("\"hash\" is not 64 hex digits");
  auto at = text("at").and_then([](const std::string& t) { return parse_rfc3339(t); });
  if (!at) return std::unexpected("\"at\" is not an RFC 3339 time");
  auto key = text("key");
  if (!key || key->size() != 16 || !unhex(*key)) return std::unexpected("\"key\" is not 16 hex digits");
  auto signature = text("signature");
  if (!signature || signature->size() != 2 * signature_bytes || !unhex(*signature)) {
    return std::unexpected("\"signature\" is not 128 hex digits");
  }
  signed_head h{.at = *at, .key_id = *key, .signature = *signature};
  h.head.seq = seq->get<std::int64_t>();
  std::copy(hash->begin(), hash->end(), h.head.hash.begin());
  return h;
}

std::expected<head_signer, std::string> head_signer::from_pem_file(const std::filesystem::path& path) {
  auto k = read_ed25519(path, true);
  if (!k) return std::unexpected(k.error());
  auto id = key_id_of((*k)->pkey);
  return head_signer(std::move(*k), std::move(id));
}

signed_head head_signer::sign(const chain_position& head, timestamp at) const {
  const auto text = signed_text(head, at);
  std::array<unsigned char, signature_bytes> signature{};
  std::size_t length = signature.size();
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), &EVP_MD_CTX_free);
  // Ed25519 signs the message itself (no digest): cannot fail with a valid key and this buffer.
  if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, nullptr, nullptr, key_->pkey) != 1 ||
      EVP_DigestSign(ctx.get(), signature.data(), &length, reinterpret_cast<const unsigned char*>(text.data()),
                     text.size()) != 1) {
    throw std::runtime_error("Ed25519 signing failed");
  }
  return signed_head{
      .head = head, .at = at, .key_id = key_id_, .signature = to_hex(std::as_bytes(std::span(signature)))};
}

std::expected<head_verifier, std::string> head_verifier::from_pem_file(const std::filesystem::path& path) {
  auto k = read_ed25519(path, false);
  if (!k) return std::unexpected(k.error());
  auto id = key_id_of((*k)->pkey);
  return head_verifier(std::move(*k), std::move(id));
}

bool head_verifier::verify(const signed_head& h) const {
  auto signature = unhex(h.signature);
  if (!signature || signature->size() != signature_bytes) return false;
  const auto text = signed_text(h.head, h.at);
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), &EVP_MD_CTX_free);
  return ctx && EVP_DigestVerifyInit(ctx.get(), nullptr, nullptr, nullptr, key_->pkey) == 1 &&
         EVP_DigestVerify(ctx.get(), signature->data(), signature->size(),
                          reinterpret_cast<const unsigned char*>(text.data()), text.size()) == 1;
}

std::expected<void, std::string> append_signed_head(const std::filesystem::path& file, const signed_head& head) {
  const auto line = head.to_json_line() + "\n";
  const int fd = ::open(file.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return std::unexpected(fmt::format("cannot open {}: {}", file.string(), std::strerror(errno)));
  const auto written = ::write(fd, line.data(), line.size());
  const int write_errno = errno;
  const bool synced = ::fsync(fd) == 0;
  ::close(fd);
  if (written != static_cast<ssize_t>(line.size())) {
    return std::unexpected(fmt::format("cannot write {}: {}", file.string(), std::strerror(write_errno)));
  }
  if (!synced) return std::unexpected(fmt::format("cannot flush {} to disk", file.string()));
  return {};
}

std::expected<std::vector<signed_head>, std::string> read_signed_heads(const std::filesystem::path& file) {
  std::ifstream in(file);
  if (!in) return std::unexpected(fmt::format("cannot read {}: {}", file.string(), std::strerror(errno)));
  std::vector<signed_head> heads;
  std::string line;
  for (int number = 1; std::getline(in, line); ++number) {
    if (line.empty()) continue;
    auto head = signed_head::from_json_line(line);
    if (!head) return std::unexpected(fmt::format("{} line {}: {}", file.string(), number, head.error()));
    heads.push_back(std::move(*head));
  }
  return heads;
}

keyed_record head_record(const signed_head& head) {
  return {.key = std::to_string(head.head.seq), .value = head.to_json_line()};
}

std::expected<std::vector<signed_head>, std::string> read_signed_heads(const client_config& config,
                                                                       const std::string& topic) {
  auto reader = topic_reader::open(config, topic, read_from::beginning, "horizons-audit-verify");
  if (!reader) return std::unexpected(fmt::format("cannot read {}: {}", topic, reader.error().message));
  std::vector<signed_head> heads;
  for (;;) {
    auto record = (*reader)->next(std::chrono::seconds(1));
    if (!record) return std::unexpected(fmt::format("cannot read {}: {}", topic, record.error().message));
    if (!*record) {
      if ((*reader)->at_end()) break;
      continue;
    }
    const auto& r = **record;
    if (r.value.empty()) continue;  // a tombstone
    auto head = signed_head::from_json_line(r.value);
    if (!head) return std::unexpected(fmt::format("{}[{}]@{}: {}", topic, r.partition, r.offset, head.error()));
    heads.push_back(std::move(*head));
  }
  std::ranges::stable_sort(heads, {}, [](const signed_head& h) { return h.head.seq; });
  return heads;
}

std::expected<heads_report, ledger_error> check_against_heads(ledger& book, const verify_report& chain,
                                                              std::span<const signed_head> heads,
                                                              const head_verifier& key) {
  heads_report report{.heads = heads.size()};
  for (const auto& h : heads) {
    if (h.key_id != key.key_id() || !key.verify(h)) {
      report.bad = heads_finding{
          .seq = h.head.seq,
          .explanation = fmt::format("the signed head of entry {} at {} does not verify with key {} (signed by key "
                                     "{}): forged, or signed with another key",
                                     h.head.seq, when(h.at), key.key_id(), h.key_id)};
      return report;
    }
  }
  std::vector<const signed_head*> by_seq;
  for (const auto& h : heads) by_seq.push_back(&h);
  std::ranges::stable_sort(by_seq, {}, [](const signed_head* h) { return h->head.seq; });

  const std::int64_t pruned_through = chain.checkpoint ? chain.checkpoint->seq : 0;
  const std::int64_t last = chain.entries_checked > 0 ? chain.last_seq : pruned_through;
  std::int64_t matched = pruned_through;  // entries through here are vouched for
  for (const auto* h : by_seq) {
    const auto seq = h->head.seq;
    if (seq < pruned_through) {
      ++report.before_prune;
      continue;
    }
    if (seq > last) {
      report.bad = heads_finding{
          .seq = last + 1,
          .explanation = fmt::format(
              "entries {} to {} are missing: the ledger ends at entry {}, but entry {} (hash {}) was signed at {}; "
              "its tail was deleted or the database replaced by an older copy",
              last + 1, seq, last, seq, short_hex(h->head.hash), when(h->at))};
      return report;
    }
    std::optional<digest> stored;
    if (seq == pruned_through) {  // the prune checkpoint's entry, or the genesis (zeros)
      stored = chain.checkpoint ? chain.checkpoint->hash : digest{};
    } else {
      auto found = book.hash_at(seq);
      if (!found) return std::unexpected(found.error());
      stored = *found;
    }
    if (stored != h->head.hash) {
      report.bad = heads_finding{
          .seq = seq,
          .explanation = fmt::format(
              "entry {} has hash {}, but hash {} was signed for it at {}: the chain was rewritten after entry {} "
              "(the first changed entry is between {} and {})",
              seq, stored ? short_hex(*stored) : std::string("(none)"), short_hex(h->head.hash), when(h->at), matched,
              matched + 1, seq)};
      return report;
    }
    ++report.checked;
    matched = std::max(matched, seq);
  }
  report.anchored_through = matched;
  return report;
}

}  // namespace horizons::compliance
