#include "services/notification_dispatcher/email_outbox.hpp"

#include <cstdio>
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "services/notification_dispatcher/compose.hpp"
#include "services/notification_dispatcher/paths.hpp"
#include "test_support.hpp"

namespace horizons::notification_dispatcher {
namespace {

namespace fs = std::filesystem;
using testing::source_event;

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

std::vector<std::string> header_lines(const std::string& message) {
  std::vector<std::string> lines;
  auto end = message.find("\r\n\r\n");
  for (std::size_t start = 0; start < end;) {
    auto stop = message.find("\r\n", start);
    lines.push_back(message.substr(start, stop - start));
    start = stop + 2;
  }
  return lines;
}

class notification_dispatcher_email : public ::testing::Test {
 protected:
  notification_sent notification(std::string subject, std::string body) {
    auto source = source_event(job_cancelled{.job_id = "job-5", .cancelled_by = "bob", .reason = "", .refund_usd = 0});
    auto sent = *compose(source, source.payload);
    sent.subject = std::move(subject);
    sent.body = std::move(body);
    return sent;
  }

  // Runs check_email.py on `file`: Python's email package must read back exactly what was sent.
  void expect_python_reads(const fs::path& file, const notification_sent& sent) {
    nlohmann::json expected{{"from", "Cosmic Horizons <noreply@cosmic-horizons.org>"},
                            {"to", sent.recipient_id + "@users.cosmic-horizons.org"},
                            {"subject", sent.subject},
                            {"body", sent.body},
                            {"message_id", "<" + sent.notification_id + "@cosmic-horizons.org>"},
                            {"date_epoch", 1795957397}};
    auto expected_path = dir_.path() / "expected.json";
    std::ofstream(expected_path) << expected.dump();
    auto command =
        fmt::format("/usr/bin/python3 {} '{}' '{}' 2>&1", CHECK_EMAIL_SCRIPT, file.string(), expected_path.string());
    std::string output;
    FILE* pipe = ::popen(command.c_str(), "r");
    ASSERT_NE(pipe, nullptr);
    char buffer[4096];
    for (std::size_t n; (n = std::fread(buffer, 1, sizeof buffer, pipe)) > 0;) output.append(buffer, n);
    EXPECT_EQ(::pclose(pipe), 0) << output;
  }

  testing::temp_dir dir_;
  email_outbox outbox_{outbox_path(dir_.path())};
  timestamp date_ = *parse_rfc3339("2026-11-29T13:03:17.250000Z");
};

TEST_F(notification_dispatcher_email, writes_one_rfc5322_message_named_after_the_notification) {
  auto sent = notification("Job job-5 cancelled", "Your job job-5 was cancelled by bob.\nRefund: $0.00\n");
  auto file = outbox_.write(sent, date_);
  ASSERT_TRUE(file) << file.error();
  EXPECT_EQ(*file, outbox_path(dir_.path()) / (sent.notification_id + ".eml"));
  auto message = read_file(*file);
  auto headers = header_lines(message);
  EXPECT_EQ(headers, (std::vector<std::string>{
                         "From: Cosmic Horizons <noreply@cosmic-horizons.org>",
                         "To: alice@users.cosmic-horizons.org",
                         "Subject: Job job-5 cancelled",
                         "Date: Sun, 29 Nov 2026 13:03:17 +0000",
                         "Message-ID: <" + sent.notification_id + "@cosmic-horizons.org>",
                         "MIME-Version: 1.0",
                         "Content-Type: text/plain; charset=utf-8",
                         "Content-Transfer-Encoding: 8bit",
                     }));
  EXPECT_TRUE(message.ends_with("\r\n\r\nYour job job-5 was cancelled by bob.\r\nRefund: $0.00\r\n"));
  EXPECT_EQ(outbox_.count(), 1u);
  expect_python_reads(*file, sent);
}

TEST_F(notification_dispatcher_email, non_ascii_subject_becomes_encoded_words_and_reads_back) {
  auto sent = notification("Résultat prêt ✓ — l'image de job-5 est disponible, téléchargez-la avant dimanche 🌌",
                           "Données: 1.2 GB\n");
  auto file = outbox_.write(sent, date_);
  ASSERT_TRUE(file) << file.error();
  auto headers = header_lines(read_file(*file));
  ASSERT_GE(headers.size(), 4u);
  EXPECT_TRUE(headers[2].starts_with("Subject: =?utf-8?B?")) << headers[2];
  EXPECT_TRUE(headers[3].starts_with(" =?utf-8?B?")) << "a subject this long spans encoded words: " << headers[3];
  expect_python_reads(*file, sent);
}

TEST_F(notification_dispatcher_email, long_ascii_subject_is_folded_and_unfolds_to_the_same_text) {
  auto sent = notification(
      "[CRITICAL] consumer_lag: job-processor is 120000 messages behind on job-lifecycle partitions 0 to 9 and growing",
      "x\n");
  auto file = outbox_.write(sent, date_);
  ASSERT_TRUE(file) << file.error();
  auto headers = header_lines(read_file(*file));
  EXPECT_TRUE(headers[2].starts_with("Subject: [CRITICAL] consumer_lag")) << headers[2];
  EXPECT_TRUE(headers[3].starts_with(" ")) << headers[3];
  expect_python_reads(*file, sent);
}

TEST_F(notification_dispatcher_email, overlong_body_line_goes_quoted_printable) {
  auto sent = notification("Job job-5 cancelled", "first line\n" + std::string(2000, 'z') + " ü=end \nlast\n");
  auto file = outbox_.write(sent, date_);
  ASSERT_TRUE(file) << file.error();
  auto message = read_file(*file);
  EXPECT_NE(message.find("Content-Transfer-Encoding: quoted-printable\r\n"), std::string::npos);
  expect_python_reads(*file, sent);
}

TEST_F(notification_dispatcher_email, header_values_cannot_inject_headers) {
  auto sent = notification("Job done\r\nBcc: everyone@example.org", "body\n");
  auto file = outbox_.write(sent, date_);
  ASSERT_TRUE(file) << file.error();
  for (const auto& line : header_lines(read_file(*file))) EXPECT_FALSE(line.starts_with("Bcc:")) << line;
}

TEST_F(notification_dispatcher_email, rewriting_a_notification_keeps_one_file_with_the_first_content) {
  auto sent = notification("Job job-5 cancelled", "body\n");
  auto first = outbox_.write(sent, date_);
  ASSERT_TRUE(first) << first.error();
  auto original = read_file(*first);
  auto second = outbox_.write(sent, date_ + std::chrono::hours(5));
  ASSERT_TRUE(second) << second.error();
  EXPECT_EQ(*second, *first);
  EXPECT_EQ(read_file(*second), original);
  EXPECT_EQ(outbox_.count(), 1u);
  std::vector<fs::path> entries(fs::directory_iterator(outbox_.dir()), fs::directory_iterator{});
  EXPECT_EQ(entries.size(), 1u) << "no temporary file left behind";
}

TEST_F(notification_dispatcher_email, refuses_an_id_that_is_not_a_safe_file_name) {
  for (std::string id : {"../escape", "a/b", ".hidden", "", "x y"}) {
    auto sent = notification("s", "b\n");
    sent.notification_id = id;
    auto file = outbox_.write(sent, date_);
    ASSERT_FALSE(file) << id;
    EXPECT_NE(file.error().find("cannot name an outbox file"), std::string::npos) << file.error();
  }
  EXPECT_EQ(outbox_.count(), 0u);
  EXPECT_FALSE(fs::exists(dir_.path() / "escape.eml"));
}

}  // namespace
}  // namespace horizons::notification_dispatcher
