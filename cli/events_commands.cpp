// horizons events sample | encode | decode | types | tour
#include "commands.hpp"

#include <horizons/catalogue.hpp>
#include <horizons/codec.hpp>
#include <horizons/json.hpp>
#include <horizons/sample.hpp>
#include <horizons/validate.hpp>

#include <cstdio>
#include <iostream>
#include <random>

#include <fmt/format.h>

namespace horizons::cli {

namespace {

// A length-prefixed record stream: each record is a 4-byte big-endian length, then the framed bytes.
constexpr std::size_t length_prefix_size = 4;
constexpr std::int64_t default_max_record_bytes = 16 * 1024 * 1024;

void write_length_prefixed(std::span<const std::byte> record) {
  auto n = static_cast<std::uint32_t>(record.size());
  const unsigned char prefix[4] = {static_cast<unsigned char>(n >> 24), static_cast<unsigned char>(n >> 16),
                                   static_cast<unsigned char>(n >> 8), static_cast<unsigned char>(n)};
  std::fwrite(prefix, 1, sizeof prefix, stdout);
  std::fwrite(record.data(), 1, record.size(), stdout);
}

std::string to_hex(std::span<const std::byte> bytes) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (auto b : bytes) {
    out += digits[static_cast<unsigned>(b) >> 4];
    out += digits[static_cast<unsigned>(b) & 0xf];
  }
  return out;
}

std::optional<std::string> from_hex(std::string_view text) {
  auto value = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  if (text.size() % 2 != 0) return std::nullopt;
  std::string out(text.size() / 2, '\0');
  for (std::size_t i = 0; i < out.size(); ++i) {
    int high = value(text[2 * i]), low = value(text[2 * i + 1]);
    if (high < 0 || low < 0) return std::nullopt;
    out[i] = static_cast<char>(high << 4 | low);
  }
  return out;
}

std::string_view trim(std::string_view line) {
  while (!line.empty() && (line.back() == '\r' || line.back() == ' ' || line.back() == '\t')) line.remove_suffix(1);
  while (!line.empty() && (line.front() == ' ' || line.front() == '\t')) line.remove_prefix(1);
  return line;
}

struct sample_options {
  std::string type;
  std::int64_t count = 1;
  std::optional<std::uint64_t> seed;
  std::string range = "valid";
};

int run_sample(const sample_options& options) {
  if (options.count < 0) {
    fmt::print(stderr, "horizons events sample: --count must not be negative (got {})\n", options.count);
    return exit_usage;
  }
  if (!options.type.empty() && !topic_of_event_type(options.type)) {
    fmt::print(stderr, "horizons events sample: unknown event type '{}' (see `horizons events types`)\n", options.type);
    return exit_usage;
  }
  auto seed = options.seed.value_or(std::random_device{}());
  event_sampler sampler(seed, options.range == "extreme" ? sample_range::extreme : sample_range::valid);
  for (std::int64_t i = 0; i < options.count; ++i) {
    // Without --type, cycle through every event type.
    auto type = options.type.empty() ? all_event_types[static_cast<std::size_t>(i) % all_event_types.size()]
                                     : std::string_view(options.type);
    fmt::print("{}\n", to_json(*sampler.next(type)));
  }
  return exit_ok;
}

struct encode_options {
  bool hex = false;
  bool skip_validation = false;
};

int run_encode(const encode_options& options) {
  std::string line;
  byte_buffer buffer;
  std::size_t line_number = 0, refused = 0;
  while (std::getline(std::cin, line)) {
    ++line_number;
    auto text = trim(line);
    if (text.empty()) continue;
    auto parsed = any_event_from_json(text);
    if (!parsed) {
      fmt::print(stderr, "horizons events encode: line {}: {}\n", line_number, parsed.error().message);
      ++refused;
      continue;
    }
    if (!options.skip_validation) {
      if (auto ok = validate(*parsed); !ok) {
        fmt::print(stderr, "horizons events encode: line {}: invalid event: {}\n", line_number, ok.error().message);
        ++refused;
        continue;
      }
    }
    buffer.clear();
    encode_framed(*parsed, buffer);
    if (options.hex) {
      fmt::print("{}\n", to_hex(buffer.bytes()));
    } else {
      write_length_prefixed(buffer.bytes());
    }
  }
  std::fflush(stdout);
  return refused == 0 ? exit_ok : exit_bad_input;
}

struct decode_options {
  bool hex = false;
  std::int64_t max_record_bytes = default_max_record_bytes;
};

// Decodes one framed record and prints it; false (and a message) when refused.
bool decode_one(std::span<const std::byte> record, std::size_t number, std::string_view unit) {
  auto decoded = decode_framed(record);
  if (!decoded) {
    fmt::print(stderr, "horizons events decode: {} {}: {}\n", unit, number, decoded.error().message);
    return false;
  }
  fmt::print("{}\n", to_json(*decoded));
  return true;
}

int run_decode_hex() {
  std::string line;
  std::size_t line_number = 0, refused = 0;
  while (std::getline(std::cin, line)) {
    ++line_number;
    auto text = trim(line);
    if (text.empty()) continue;
    auto bytes = from_hex(text);
    if (!bytes) {
      fmt::print(stderr, "horizons events decode: line {}: not an even-length hex string\n", line_number);
      ++refused;
      continue;
    }
    refused += decode_one(as_bytes(*bytes), line_number, "line") ? 0 : 1;
  }
  return refused == 0 ? exit_ok : exit_bad_input;
}

int run_decode_stream(std::int64_t max_record_bytes) {
  std::string record;
  std::size_t number = 0, refused = 0;
  for (;;) {
    unsigned char prefix[length_prefix_size];
    auto got = std::fread(prefix, 1, length_prefix_size, stdin);
    if (got == 0) break;
    ++number;
    if (got < length_prefix_size) {
      fmt::print(stderr, "horizons events decode: record {}: truncated length prefix ({} of 4 bytes)\n", number, got);
      return exit_bad_input;
    }
    // The prefix is read as a signed 32-bit length so that a negative one is named as such.
    auto length = static_cast<std::int32_t>(std::uint32_t{prefix[0]} << 24 | std::uint32_t{prefix[1]} << 16 |
                                            std::uint32_t{prefix[2]} << 8 | std::uint32_t{prefix[3]});
    if (length < 0) {
      fmt::print(stderr, "horizons events decode: record {}: negative length {}\n", number, length);
      return exit_bad_input;
    }
    if (length > max_record_bytes) {
      fmt::print(stderr, "horizons events decode: record {}: length {} exceeds --max-record-bytes {}\n", number, length,
                 max_record_bytes);
      return exit_bad_input;
    }
    record.resize(static_cast<std::size_t>(length));
    auto read = std::fread(record.data(), 1, record.size(), stdin);
    if (read < record.size()) {
      fmt::print(stderr, "horizons events decode: record {}: truncated: {} of {} bytes\n", number, read, length);
      return exit_bad_input;
    }
    refused += decode_one(as_bytes(record), number, "record") ? 0 : 1;
  }
  return refused == 0 ? exit_ok : exit_bad_input;
}

// The contract at work: one sample of every event type, encoded, decoded and compared.
int run_tour(std::uint64_t seed) {
  event_sampler sampler(seed);
  byte_buffer buffer;
  std::size_t failures = 0;
  fmt::print("{:<28} {:<14} {:<24} {:>6} {:>6}  {}\n", "EVENT TYPE", "TOPIC", "KEY", "AVRO", "JSON", "ROUND TRIP");
  for (auto type : all_event_types) {
    auto e = *sampler.next(type);
    buffer.clear();
    encode_framed(e, buffer);
    auto decoded = decode_framed(buffer.bytes());
    auto json = to_json(e);
    bool same = decoded && *decoded == e && validate(e).has_value();
    failures += same ? 0 : 1;
    auto key = std::visit([](const auto& te) { return partition_key(te); }, e);
    fmt::print("{:<28} {:<14} {:<24} {:>6} {:>6}  {}\n", type, topic_name(topic_of(e)),
               key ? std::string(*key) : std::string("(none)"), buffer.size(), json.size(), same ? "ok" : "FAILED");
  }
  auto example = *sampler.next("job.submitted");
  buffer.clear();
  encode_framed(example, buffer);
  fmt::print(
      "\nA job.submitted as JSON:\n{}\n\nThe same event on the wire ({} bytes: 0x00, schema id, Avro body):\n{}\n",
      to_json(example), buffer.size(), to_hex(buffer.bytes()));
  fmt::print("\n{} event types, {} round-tripped exactly.\n", all_event_types.size(),
             all_event_types.size() - failures);
  return failures == 0 ? exit_ok : exit_bad_input;
}

}  // namespace

void add_events_commands(CLI::App& app, int& result) {
  auto* events = app.add_subcommand("events", "Sample, encode and decode events of the contract");
  events->require_subcommand(1);

  auto sample = std::make_shared<sample_options>();
  auto* sample_cmd = events->add_subcommand("sample", "Print random valid events as JSON lines");
  sample_cmd->add_option("--type", sample->type, "Dotted event type (default: every type in turn)");
  sample_cmd->add_option("--count,-n", sample->count, "How many events")->capture_default_str();
  sample_cmd->add_option("--seed", sample->seed, "Seed for reproducible output (default: random)");
  sample_cmd->add_option("--range", sample->range, "valid, or extreme to exercise codec corners")
      ->check(CLI::IsMember({"valid", "extreme"}))
      ->capture_default_str();
  sample_cmd->footer(
      "Examples:\n"
      "  horizons events sample --type job.submitted --count 3 --seed 7\n"
      "  horizons events sample --count 100 | horizons events encode > events.bin");
  sample_cmd->callback([&result, sample] { result = run_sample(*sample); });

  auto encode = std::make_shared<encode_options>();
  auto* encode_cmd = events->add_subcommand(
      "encode", "Read JSON lines on stdin, write framed Avro records (4-byte big-endian length + bytes)");
  encode_cmd->add_flag("--hex", encode->hex, "Write one hex-encoded record per line instead");
  encode_cmd->add_flag("--skip-validation", encode->skip_validation,
                       "Encode events that break the contract's rules (for test data)");
  encode_cmd->footer(
      "Each bad line is reported on stderr as 'line N: <problem>' and skipped; the exit code is 1 if any was.\n"
      "Examples:\n"
      "  horizons events sample -n 10 | horizons events encode --hex\n"
      "  horizons events encode < events.jsonl > events.bin");
  encode_cmd->callback([&result, encode] { result = run_encode(*encode); });

  auto decode = std::make_shared<decode_options>();
  auto* decode_cmd = events->add_subcommand("decode", "Read framed Avro records on stdin, write JSON lines");
  decode_cmd->add_flag("--hex", decode->hex, "Read one hex-encoded record per line");
  decode_cmd->add_option("--max-record-bytes", decode->max_record_bytes, "Refuse longer records")
      ->check(CLI::Range(std::int64_t{1}, std::int64_t{INT32_MAX}))
      ->capture_default_str();
  decode_cmd->footer(
      "A record that does not decode is reported as 'record N: <problem>' and skipped; a broken length\n"
      "prefix ends the stream. The exit code is 1 if anything was refused.\n"
      "Examples:\n"
      "  horizons events decode < events.bin\n"
      "  horizons events sample -n 3 | horizons events encode --hex | horizons events decode --hex");
  decode_cmd->callback(
      [&result, decode] { result = decode->hex ? run_decode_hex() : run_decode_stream(decode->max_record_bytes); });

  auto* types_cmd = events->add_subcommand("types", "List every event type, one per line");
  types_cmd->footer("Example:\n  horizons events types | grep ^job");
  types_cmd->callback([&result] {
    for (auto type : all_event_types) fmt::print("{}\n", type);
    result = exit_ok;
  });

  auto tour_seed = std::make_shared<std::uint64_t>(2026);
  auto* tour_cmd = events->add_subcommand(
      "tour", "Show the contract at work: every event type sampled, encoded, decoded, with sizes");
  tour_cmd->add_option("--seed", *tour_seed, "Seed of the samples")->capture_default_str();
  tour_cmd->callback([&result, tour_seed] { result = run_tour(*tour_seed); });
}

}  // namespace horizons::cli
