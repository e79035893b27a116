// The email channel: an outbox directory holding one RFC 5322 message per
// notification, `<notification_id>.eml`, for a mail transfer agent (or a
// person) to pick up. The dispatcher never speaks SMTP itself, so a mail
// server being down never holds up the stream of events.
//
//   email_outbox outbox(outbox_path(data_dir));          // paths.hpp
//   auto file = outbox.write(sent, horizons::now());     // std::expected<path, std::string>
//   outbox.count();                                      // messages waiting
//
// A message: From (options.sender), To (<recipient_id>@options.recipient_domain,
// the local part quoted when it is not a dot-atom), Subject (RFC 2047
// encoded words when it is not plain ASCII, folded to 78 columns), Date
// (RFC 5322, UTC, from `date`), Message-ID (<notification_id@options.message_id_domain>),
// MIME-Version, Content-Type text/plain; charset=utf-8, and the body as 8bit,
// or quoted-printable when a line would exceed 998 octets or holds a NUL.
// CRLF line ends throughout. Control characters in header values become
// spaces, so no value can start a header of its own.
//
// write() is atomic and idempotent: the message goes to a hidden temporary
// file in the same directory, is fsynced and renamed into place, then the
// directory is fsynced; a file already in place is left as it is, so writing
// one notification again (after a crash, a redelivery) yields the same single
// file with its first Date. The notification id must be a safe file name and
// dot-atom: letters, digits, '-', '_' and inner single dots.
//
// Threads: write() and count() are const and may run concurrently, also
// from several processes sharing the directory (temporary names are unique
// per process and call).
#pragma once

#include <cstddef>
#include <expected>
#include <filesystem>
#include <string>

#include <horizons/events.hpp>

namespace horizons::notification_dispatcher {

struct email_options {
  std::string sender{"Cosmic Horizons <noreply@cosmic-horizons.org>"};
  std::string recipient_domain{"users.cosmic-horizons.org"};
  std::string message_id_domain{"cosmic-horizons.org"};
};

class email_outbox {
 public:
  /// The directory is created by the first write().
  explicit email_outbox(std::filesystem::path dir, email_options options = {});

  /// Writes the message of `sent` unless its file exists; returns the file's path.
  [[nodiscard]] std::expected<std::filesystem::path, std::string> write(const notification_sent& sent,
                                                                        timestamp date) const;
  /// Messages in the outbox (`*.eml`; temporary files are not counted). 0 when there is no directory yet.
  [[nodiscard]] std::expected<std::size_t, std::string> count() const;

  [[nodiscard]] const std::filesystem::path& dir() const { return dir_; }

 private:
  std::filesystem::path dir_;
  email_options options_;
};

}  // namespace horizons::notification_dispatcher
