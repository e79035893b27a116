#!/usr/bin/python3
"""Parses one outbox message with Python's email package (an RFC 5322 reader independent of
Horizons) and compares it with what the C++ test expects.

usage: check_email.py MESSAGE.eml EXPECTED.json
EXPECTED: {"from", "to", "subject", "body", "message_id", "date_epoch"}. Exit 0 when all match,
1 with one line per problem otherwise."""
import email
import email.policy
import email.utils
import json
import sys


def main() -> int:
    raw = open(sys.argv[1], "rb").read()
    expected = json.load(open(sys.argv[2], encoding="utf-8"))
    problems = []

    lines = raw.split(b"\r\n")
    if lines[-1] != b"":
        problems.append("message does not end with CRLF")
    for number, line in enumerate(lines, 1):
        if b"\n" in line or b"\r" in line:
            problems.append(f"line {number}: bare CR or LF")
        if len(line) > 998:
            problems.append(f"line {number}: {len(line)} octets (max 998)")
    header_block = raw.split(b"\r\n\r\n", 1)[0]
    for number, line in enumerate(header_block.split(b"\r\n"), 1):
        if len(line) > 78:
            problems.append(f"header line {number}: {len(line)} chars (should be <= 78)")
        if any(byte > 0x7E for byte in line):
            problems.append(f"header line {number}: not ASCII")

    message = email.message_from_bytes(raw, policy=email.policy.default)
    if message.defects:
        problems.append(f"message defects: {message.defects}")
    for name in ("From", "To", "Subject", "Date", "Message-ID", "MIME-Version", "Content-Type",
                 "Content-Transfer-Encoding"):
        values = message.get_all(name) or []
        if len(values) != 1:
            problems.append(f"{name}: {len(values)} occurrences, expected 1")
            continue
        if values[0].defects:
            problems.append(f"{name}: defects {values[0].defects}")

    def same(what, actual, wanted):
        if actual != wanted:
            problems.append(f"{what}: {actual!r} != expected {wanted!r}")

    same("From", str(message["From"]), expected["from"])
    same("To", str(message["To"]), expected["to"])
    same("Subject", str(message["Subject"]), expected["subject"])
    same("Message-ID", str(message["Message-ID"]), expected["message_id"])
    same("MIME-Version", str(message["MIME-Version"]), "1.0")
    same("content type", message.get_content_type(), "text/plain")
    same("charset", message.get_content_charset(), "utf-8")
    same("Date", int(email.utils.parsedate_to_datetime(str(message["Date"])).timestamp()),
         expected["date_epoch"])
    # CRLF is how the message spells a line break; the notification's body spells it "\n".
    same("body", message.get_content().replace("\r\n", "\n"), expected["body"])

    for problem in problems:
        print(problem)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
