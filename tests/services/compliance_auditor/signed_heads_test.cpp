// Signed heads catch what the chain alone cannot: a deleted tail (one entry, half, all of them), a
// database replaced by an older copy, and a chain rewritten from an entry on with recomputed hashes.
// Each is found, naming the first entry that fails and the signed head that proves it. Heads that are
// forged, edited or signed with another key are refused.
#include "services/compliance_auditor/signed_heads.hpp"

#include <unistd.h>

#include <fstream>
#include <memory>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <horizons/catalogue.hpp>
#include <horizons/sample.hpp>

#include "services/common/sql/sql.hpp"

namespace {

using namespace horizons;
using namespace horizons::compliance;
using namespace std::chrono_literals;

class signed_heads_test : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* test = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = std::filesystem::path(::testing::TempDir()) / fmt::format("heads-{}-{}", test->name(), ::getpid());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    write_key_pair("audit");
    write_key_pair("other");
    events_ = sample(20, 1);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  void write_key_pair(const std::string& name) {
    std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key(EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519"),
                                                            &EVP_PKEY_free);
    ASSERT_TRUE(key);
    auto write = [&](const std::string& file, bool pub) {
      std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new_file((dir_ / file).c_str(), "w"), &BIO_free);
      ASSERT_TRUE(bio);
      ASSERT_EQ(pub ? PEM_write_bio_PUBKEY(bio.get(), key.get())
                    : PEM_write_bio_PrivateKey(bio.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr),
                1);
    };
    write(name + ".key", false);
    write(name + ".pub", true);
  }

  std::vector<audit_event> sample(int n, std::uint64_t seed) {
    std::vector<std::string_view> types;
    for (auto type : all_event_types) {
      if (topic_of_event_type(type) == topic_id::audit_trail) types.push_back(type);
    }
    event_sampler sampler(seed);
    std::vector<audit_event> out;
    for (int i = 0; i < n; ++i) {
      auto e = std::get<audit_event>(*sampler.next(types[static_cast<std::size_t>(i) % types.size()]));
      e.occurred_at = now() - 24h + std::chrono::minutes(i);
      out.push_back(std::move(e));
    }
    return out;
  }

  // A ledger in `name` holding `events`, with a head signed after every `every` entries.
  ledger build(const std::string& name, std::span<const audit_event> events, std::vector<signed_head>* heads = nullptr,
               std::size_t every = 5) {
    auto book = ledger::open(dir_ / name / "ledger.db");
    EXPECT_TRUE(book) << book.error().message;
    auto signer = head_signer::from_pem_file(dir_ / "audit.key");
    EXPECT_TRUE(signer) << signer.error();
    for (std::size_t i = 0; i < events.size(); ++i) {
      EXPECT_TRUE(book->append(events[i]));
      if (heads && (i + 1) % every == 0) heads->push_back(signer->sign(*book->head(), now()));
    }
    return std::move(*book);
  }

  heads_report check(ledger& book, std::span<const signed_head> heads, const std::string& key = "audit.pub") {
    auto chain = book.verify();
    EXPECT_TRUE(chain && chain->ok()) << "the chain itself verifies: only the heads can tell";
    auto verifier = head_verifier::from_pem_file(dir_ / key);
    EXPECT_TRUE(verifier) << verifier.error();
    auto report = check_against_heads(book, *chain, heads, *verifier);
    EXPECT_TRUE(report) << report.error().message;
    return *report;
  }

  void tamper(ledger& book, std::string_view statement) {
    auto db = sql::database::open(book.where());
    ASSERT_TRUE(db) << db.error().message;
    ASSERT_TRUE(db->exec(statement));
  }

  std::filesystem::path dir_;
  std::vector<audit_event> events_;
};

TEST_F(signed_heads_test, an_intact_ledger_matches_every_head_and_lines_round_trip) {
  std::vector<signed_head> heads;
  auto book = build("intact", events_, &heads);
  ASSERT_EQ(heads.size(), 4u);
  auto report = check(book, heads);
  EXPECT_TRUE(report.ok()) << report.bad->explanation;
  EXPECT_EQ(report.checked, 4u);
  EXPECT_EQ(report.anchored_through, 20);

  for (const auto& h : heads) ASSERT_TRUE(append_signed_head(dir_ / "heads.jsonl", h));
  auto read = read_signed_heads(dir_ / "heads.jsonl");
  ASSERT_TRUE(read) << read.error();
  ASSERT_EQ(read->size(), 4u);
  EXPECT_EQ((*read)[3].head.seq, 20);
  EXPECT_EQ((*read)[3].head.hash, heads[3].head.hash);
  EXPECT_EQ((*read)[3].signature, heads[3].signature);
  EXPECT_TRUE(check(book, *read).ok());

  std::ofstream(dir_ / "heads.jsonl", std::ios::app) << R"({"seq": 21, "hash": "00"})"
                                                     << "\n";
  auto malformed = read_signed_heads(dir_ / "heads.jsonl");
  ASSERT_FALSE(malformed);
  EXPECT_NE(malformed.error().find("line 5"), std::string::npos) << malformed.error();
}

TEST_F(signed_heads_test, a_deleted_tail_is_found_for_one_entry_half_and_all) {
  for (int k : {1, 10, 20}) {
    std::vector<signed_head> heads;
    auto book = build(fmt::format("truncated-{}", k), events_, &heads);
    tamper(book, fmt::format("DELETE FROM ledger_entries WHERE seq > {}", 20 - k));
    auto report = check(book, heads);
    ASSERT_FALSE(report.ok()) << "k = " << k;
    EXPECT_EQ(report.bad->seq, 20 - k + 1) << report.bad->explanation;
    EXPECT_NE(report.bad->explanation.find("missing"), std::string::npos) << report.bad->explanation;
    EXPECT_NE(report.bad->explanation.find(fmt::format("the ledger ends at entry {}", 20 - k)), std::string::npos)
        << report.bad->explanation;
  }
}

TEST_F(signed_heads_test, a_database_replaced_by_an_older_copy_is_found) {
  std::vector<signed_head> heads;
  build("live", events_, &heads);
  // The backup: the same first 10 entries, taken before the last 10 were appended.
  auto backup = build("backup", std::span(events_).first(10));
  auto report = check(backup, heads);
  ASSERT_FALSE(report.ok());
  EXPECT_EQ(report.bad->seq, 11) << report.bad->explanation;
  EXPECT_NE(report.bad->explanation.find("entry 15"), std::string::npos) << "the head that proves it";
}

TEST_F(signed_heads_test, a_chain_rewritten_from_an_entry_on_with_recomputed_hashes_is_found) {
  std::vector<signed_head> heads;
  build("live", events_, &heads);
  // Entries 1-11 as appended, 12-20 replaced by other events: a chain that verifies on its own.
  auto rewritten_events = std::vector<audit_event>(events_.begin(), events_.begin() + 11);
  for (auto& e : sample(9, 99)) rewritten_events.push_back(std::move(e));
  auto rewritten = build("rewritten", rewritten_events);
  auto report = check(rewritten, heads);
  ASSERT_FALSE(report.ok());
  EXPECT_EQ(report.bad->seq, 15) << "the first signed entry that differs";
  EXPECT_NE(report.bad->explanation.find("rewritten after entry 10"), std::string::npos) << report.bad->explanation;
  EXPECT_NE(report.bad->explanation.find("between 11 and 15"), std::string::npos) << report.bad->explanation;
}

TEST_F(signed_heads_test, forged_edited_or_foreign_heads_are_refused) {
  std::vector<signed_head> heads;
  auto book = build("intact", events_, &heads);
  auto edited = heads;
  edited[1].head.seq = 9;  // whoever edits the file cannot re-sign it
  auto report = check(book, edited);
  ASSERT_FALSE(report.ok());
  EXPECT_NE(report.bad->explanation.find("does not verify"), std::string::npos) << report.bad->explanation;

  auto foreign = head_signer::from_pem_file(dir_ / "other.key");
  ASSERT_TRUE(foreign);
  std::vector<signed_head> forged{foreign->sign(*book.head(), now())};
  EXPECT_FALSE(check(book, forged).ok()) << "signed with a key that is not the auditor's";
  EXPECT_TRUE(check(book, forged, "other.pub").ok()) << "the same head checks with its own key";

  EXPECT_FALSE(head_signer::from_pem_file(dir_ / "audit.pub")) << "a public key cannot sign";
  EXPECT_FALSE(head_verifier::from_pem_file(dir_ / "missing.pub"));
}

TEST_F(signed_heads_test, heads_of_pruned_entries_are_skipped_and_the_checkpoint_still_matches) {
  std::vector<signed_head> heads;
  auto book = build("pruned", events_, &heads);
  ASSERT_TRUE(book.prune(events_[9].occurred_at + 1s));  // entries 1-10
  auto report = check(book, heads);
  EXPECT_TRUE(report.ok()) << report.bad->explanation;
  EXPECT_EQ(report.before_prune, 1u) << "the head of entry 5";
  EXPECT_EQ(report.checked, 3u) << "10 (the checkpoint), 15 and 20";
}

}  // namespace
