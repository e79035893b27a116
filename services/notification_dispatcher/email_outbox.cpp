#include "services/notification_dispatcher/email_outbox.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <openssl/evp.h>

namespace horizons::notification_dispatcher {

namespace {

namespace fs = std::filesystem;

constexpr std::size_t max_line_octets = 998;  // RFC 5322 2.1.1, without the CRLF
constexpr std::size_t fold_column = 78;       // RFC 5322 2.1.1's "SHOULD"

// Header values are one line: control characters become spaces, runs of spaces collapse.
std::string header_text(std::string_view value) {
  std::string out;
  for (char c : value) {
    bool space = static_cast<unsigned char>(c) < 0x20 || c == 0x7f || c == ' ';
    if (!space) {
      out += c;
    } else if (!out.empty() && out.back() != ' ') {
      out += ' ';
    }
  }
  if (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

bool is_plain_ascii(std::string_view text) {
  for (char c : text) {
    if (c < 0x20 || c > 0x7e) return false;  // char is signed: non-ASCII bytes are negative
  }
  return true;
}

std::string base64(std::string_view bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3), '\0');
  int written = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(bytes.data()), static_cast<int>(bytes.size()));
  out.resize(static_cast<std::size_t>(written));
  return out;
}

// Length of the UTF-8 sequence that starts with `lead` (1 for a stray byte, so bad input still ends).
std::size_t utf8_length(unsigned char lead) {
  if (lead >= 0xf0 && lead < 0xf8) return 4;
  if (lead >= 0xe0) return lead < 0xf0 ? 3 : 1;
  if (lead >= 0xc0) return 2;
  return 1;
}

// "Subject: value" folded at spaces to 78 columns (unfolding restores the value), or, when the
// value is not plain ASCII, could be mistaken for an encoded word, or holds a word too long to
// fold, RFC 2047 "B" encoded words of whole UTF-8 characters.
std::string unstructured_header(std::string_view name, std::string_view raw_value) {
  auto value = header_text(raw_value);
  std::string out = fmt::format("{}: ", name);
  auto first_line_room = fold_column - out.size();
  bool plain = is_plain_ascii(value) && value.find("=?") == std::string::npos;
  for (std::size_t start = 0; plain && start < value.size();) {
    auto end = std::min(value.find(' ', start), value.size());
    plain = end - start < first_line_room;
    start = end + 1;
  }
  if (plain) {
    std::size_t column = out.size();
    for (std::size_t start = 0; start < value.size();) {
      auto end = std::min(value.find(' ', start + 1), value.size());
      auto piece = std::string_view(value).substr(start, end - start);  // " word", or the first word
      if (start > 0 && column + piece.size() > fold_column) {
        out += "\r\n";  // folding: the piece's leading space begins the continuation line
        column = 0;
      }
      out += piece;
      column += piece.size();
      start = end;
    }
    return out + "\r\n";
  }
  // 39 octets -> 52 base64 chars -> a 64-char encoded word: every line stays under 76 (RFC 2047 2).
  constexpr std::size_t chunk_octets = 39;
  for (std::size_t start = 0; start < value.size();) {
    std::size_t end = start;
    while (end < value.size()) {
      auto next = end + utf8_length(static_cast<unsigned char>(value[end]));
      if (next - start > chunk_octets) break;
      end = std::min(next, value.size());
    }
    if (start > 0) out += "\r\n ";
    out += fmt::format("=?utf-8?B?{}?=", base64(std::string_view(value).substr(start, end - start)));
    start = end;
  }
  return out + "\r\n";
}

bool is_atext(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         std::string_view("!#$%&'*+-/=?^_`{|}~").find(c) != std::string_view::npos;
}

bool is_dot_atom(std::string_view text) {
  if (text.empty() || text.front() == '.' || text.back() == '.' || text.find("..") != std::string_view::npos) {
    return false;
  }
  for (char c : text) {
    if (c != '.' && !is_atext(c)) return false;
  }
  return true;
}

std::string mailbox(std::string_view recipient, std::string_view domain) {
  auto local = header_text(recipient);
  if (is_dot_atom(local)) return fmt::format("{}@{}", local, domain);
  std::string quoted = "\"";
  for (char c : local) {
    if (c == '"' || c == '\\') quoted += '\\';
    quoted += c;
  }
  return fmt::format("{}\"@{}", quoted, domain);
}

// A file name, and the left part of a Message-ID (dot-atom-text) without quoting.
bool is_safe_id(std::string_view id) {
  if (id.empty() || id.size() > 200 || !is_dot_atom(id)) return false;
  for (char c : id) {
    bool ok =
        (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.';
    if (!ok) return false;
  }
  return true;
}

// RFC 5322 3.3 date-time in UTC: "Sun, 29 Nov 2026 13:03:17 +0000".
std::string rfc5322_date(timestamp when) {
  constexpr std::array<std::string_view, 7> days{"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  constexpr std::array<std::string_view, 12> months{"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                    "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  auto seconds = std::chrono::floor<std::chrono::seconds>(when);
  auto day = std::chrono::floor<std::chrono::days>(seconds);
  std::chrono::year_month_day date(day);
  std::chrono::hh_mm_ss time(seconds - day);
  return fmt::format("{}, {:02} {} {:04} {:02}:{:02}:{:02} +0000", days[std::chrono::weekday(day).c_encoding()],
                     static_cast<unsigned>(date.day()), months[static_cast<unsigned>(date.month()) - 1],
                     static_cast<int>(date.year()), time.hours().count(), time.minutes().count(),
                     time.seconds().count());
}

std::vector<std::string_view> body_lines(std::string_view body) {
  std::vector<std::string_view> lines;
  std::size_t start = 0;
  for (std::size_t i = 0; i < body.size(); ++i) {
    if (body[i] != '\r' && body[i] != '\n') continue;
    lines.push_back(body.substr(start, i - start));
    if (body[i] == '\r' && i + 1 < body.size() && body[i + 1] == '\n') ++i;
    start = i + 1;
  }
  if (start < body.size()) lines.push_back(body.substr(start));
  return lines;
}

// RFC 2045 6.7: encoded lines of at most 76 chars, soft breaks "=", trailing blanks encoded.
void append_quoted_printable(std::string& out, std::string_view line) {
  std::size_t column = 0;
  for (std::size_t i = 0; i < line.size(); ++i) {
    auto c = static_cast<unsigned char>(line[i]);
    bool blank = c == ' ' || c == '\t';
    bool literal = (c >= 33 && c <= 126 && c != '=') || (blank && i + 1 < line.size());
    auto token = literal ? std::string(1, static_cast<char>(c)) : fmt::format("={:02X}", c);
    if (column + token.size() > 75) {
      out += "=\r\n";
      column = 0;
    }
    out += token;
    column += token.size();
  }
  out += "\r\n";
}

std::string render(const notification_sent& sent, timestamp date, const email_options& options) {
  auto lines = body_lines(sent.body);
  bool eight_bit = true;
  for (auto line : lines) {
    if (line.size() > max_line_octets || line.find('\0') != std::string_view::npos) eight_bit = false;
  }
  std::string message;
  message += fmt::format("From: {}\r\n", header_text(options.sender));
  message += fmt::format("To: {}\r\n", mailbox(sent.recipient_id, header_text(options.recipient_domain)));
  message += unstructured_header("Subject", sent.subject);
  message += fmt::format("Date: {}\r\n", rfc5322_date(date));
  message += fmt::format("Message-ID: <{}@{}>\r\n", sent.notification_id, header_text(options.message_id_domain));
  message += "MIME-Version: 1.0\r\n";
  message += "Content-Type: text/plain; charset=utf-8\r\n";
  message += fmt::format("Content-Transfer-Encoding: {}\r\n\r\n", eight_bit ? "8bit" : "quoted-printable");
  for (auto line : lines) {
    if (eight_bit) {
      message += line;
      message += "\r\n";
    } else {
      append_quoted_printable(message, line);
    }
  }
  return message;
}

class file_descriptor {
 public:
  explicit file_descriptor(int fd) : fd_(fd) {}
  file_descriptor(const file_descriptor&) = delete;
  file_descriptor& operator=(const file_descriptor&) = delete;
  ~file_descriptor() {
    if (fd_ >= 0) ::close(fd_);
  }
  [[nodiscard]] int get() const { return fd_; }
  // close() reports errors that a destructor would swallow (a full disk may show only here).
  [[nodiscard]] bool close() { return ::close(std::exchange(fd_, -1)) == 0; }

 private:
  int fd_;
};

std::string errno_text(std::string_view doing, const fs::path& path) {
  return fmt::format("{} {}: {}", doing, path.string(), std::strerror(errno));
}

std::expected<void, std::string> write_durably(const fs::path& path, std::string_view text) {
  file_descriptor file(::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
  if (file.get() < 0) return std::unexpected(errno_text("cannot create", path));
  while (!text.empty()) {
    auto n = ::write(file.get(), text.data(), text.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return std::unexpected(errno_text("cannot write", path));
    text.remove_prefix(static_cast<std::size_t>(n));
  }
  if (::fsync(file.get()) != 0) return std::unexpected(errno_text("cannot fsync", path));
  if (!file.close()) return std::unexpected(errno_text("cannot close", path));
  return {};
}

// The rename is durable only once the directory entry is on disk.
std::expected<void, std::string> sync_directory(const fs::path& dir) {
  file_descriptor handle(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (handle.get() < 0 || ::fsync(handle.get()) != 0) return std::unexpected(errno_text("cannot fsync", dir));
  return {};
}

}  // namespace

email_outbox::email_outbox(std::filesystem::path dir, email_options options)
    : dir_(std::move(dir)), options_(std::move(options)) {}

std::expected<std::filesystem::path, std::string> email_outbox::write(const notification_sent& sent,
                                                                      timestamp date) const {
  if (!is_safe_id(sent.notification_id)) {
    return std::unexpected(fmt::format("notification id '{}' cannot name an outbox file", sent.notification_id));
  }
  auto target = dir_ / (sent.notification_id + ".eml");
  std::error_code ec;
  if (fs::exists(target, ec)) return target;
  fs::create_directories(dir_, ec);
  if (ec) return std::unexpected(fmt::format("cannot create outbox {}: {}", dir_.string(), ec.message()));

  static std::atomic<std::uint64_t> writes{0};
  auto temporary = dir_ / fmt::format(".{}.{}.{}.tmp", sent.notification_id, ::getpid(), writes++);
  if (auto written = write_durably(temporary, render(sent, date, options_)); !written) {
    fs::remove(temporary, ec);
    return std::unexpected(written.error());
  }
  if (::rename(temporary.c_str(), target.c_str()) != 0) {
    auto failure = errno_text("cannot rename into", target);
    fs::remove(temporary, ec);
    return std::unexpected(failure);
  }
  if (auto synced = sync_directory(dir_); !synced) return std::unexpected(synced.error());
  return target;
}

std::expected<std::size_t, std::string> email_outbox::count() const {
  std::error_code ec;
  if (!fs::exists(dir_, ec)) return 0;
  std::size_t messages = 0;
  for (fs::directory_iterator it(dir_, ec), end; !ec && it != end; it.increment(ec)) {
    auto name = it->path().filename().string();
    if (it->is_regular_file(ec) && name.ends_with(".eml") && !name.starts_with('.')) ++messages;
  }
  if (ec) return std::unexpected(fmt::format("cannot list outbox {}: {}", dir_.string(), ec.message()));
  return messages;
}

}  // namespace horizons::notification_dispatcher
