// Avro binary encoding of the generated types (private to the codec).
//
// One template per Avro type class, walking the traits the generator wrote;
// the compiler turns each record into straight-line code. The reader keeps
// the first error and the field it happened in, so the hot path carries no
// error plumbing: callers check `reader.failed()` once at the end.
#pragma once

#include <array>
#include <bit>
#include <concepts>
#include <cstring>
#include <limits>

#include <horizons/codec.hpp>

namespace horizons::detail {

// ---------------------------------------------------------------- writing
//
// The encoding templates are generic over a sink and walk a value twice: once
// with avro_size_bound to reserve room for all of it, then with avro_raw_writer
// to write it with no capacity check per field, through a cursor the compiler
// can keep in a register. avro_writer does both, appending to a byte_buffer.

/// Adds up an upper bound of the encoded size; a varint counts as its 10-byte maximum.
class avro_size_bound {
 public:
  static constexpr std::size_t max_varint_size = 10;

  void write_long(std::int64_t) { size_ += max_varint_size; }
  void write_double(double) { size_ += 8; }
  void write_float(float) { size_ += 4; }
  void write_byte(std::uint8_t) { size_ += 1; }
  void write_string(std::string_view text) { size_ += max_varint_size + text.size(); }
  void write_uuid(const uuid&) { size_ += 1 + uuid::text_size; }
  [[nodiscard]] std::size_t size() const { return size_; }

 private:
  std::size_t size_ = 0;
};

/// Writes into room the caller reserved with avro_size_bound; checks nothing.
class avro_raw_writer {
 public:
  explicit avro_raw_writer(std::byte* at) : cur_(reinterpret_cast<std::uint8_t*>(at)) {}

  [[gnu::always_inline]] void write_long(std::int64_t value) {
    auto n = (static_cast<std::uint64_t>(value) << 1) ^ static_cast<std::uint64_t>(value >> 63);
    // Most longs (lengths, counts, branches, enums) fit one byte and skip the loop.
    while (n >= 0x80) [[unlikely]] {
        *cur_++ = static_cast<std::uint8_t>(n | 0x80);
        n >>= 7;
      }
    *cur_++ = static_cast<std::uint8_t>(n);
  }
  [[gnu::always_inline]] void write_double(double value) {
    static_assert(std::endian::native == std::endian::little, "Avro doubles are little-endian");
    write_fixed(value);
  }
  [[gnu::always_inline]] void write_float(float value) { write_fixed(value); }
  [[gnu::always_inline]] void write_byte(std::uint8_t value) { *cur_++ = value; }
  [[gnu::always_inline]] void write_string(std::string_view text) {
    write_long(static_cast<std::int64_t>(text.size()));
    std::memcpy(cur_, text.data(), text.size());
    cur_ += text.size();
  }
  [[gnu::always_inline]] void write_uuid(const uuid& id) {
    write_byte(uuid::text_size * 2);  // zig-zag varint of 36 is one byte
    id.format_to(reinterpret_cast<char*>(cur_));
    cur_ += uuid::text_size;
  }
  [[nodiscard]] std::size_t written_since(const std::byte* start) const {
    return static_cast<std::size_t>(cur_ - reinterpret_cast<const std::uint8_t*>(start));
  }

 private:
  template <class T>
  void write_fixed(T value) {
    std::memcpy(cur_, &value, sizeof(T));
    cur_ += sizeof(T);
  }

  std::uint8_t* cur_;
};

/// Appends to a byte_buffer, reserving once per call what the encoding can take at most.
class avro_writer {
 public:
  explicit avro_writer(byte_buffer& out) : out_(out) {}

  /// Calls encode(sink) twice: to bound the size, then to write.
  template <class Encode>
  void append(const Encode& encode) {
    avro_size_bound bound;
    encode(bound);
    auto* start = out_.prepare(bound.size());
    avro_raw_writer raw(start);
    encode(raw);
    out_.commit(raw.written_since(start));
  }
  void write_long(std::int64_t value) {
    append([&](auto& sink) { sink.write_long(value); });
  }
  void write_byte(std::uint8_t value) {
    append([&](auto& sink) { sink.write_byte(value); });
  }

 private:
  byte_buffer& out_;
};

template <class Sink>
concept avro_sink = std::same_as<Sink, avro_size_bound> || std::same_as<Sink, avro_raw_writer>;

template <avro_sink Sink, class T>
void encode_value(Sink& w, const T& value);

template <avro_sink Sink, avro_record Record>
void encode_record(Sink& w, const Record& record) {
  for_each_field(record, [&](std::string_view, const auto& field) { encode_value(w, field); });
}

template <avro_sink Sink, class T>
void encode_value(Sink& w, const T& value) {
  if constexpr (std::is_same_v<T, bool>) {
    w.write_byte(value ? 1 : 0);
  } else if constexpr (std::is_same_v<T, std::int32_t> || std::is_same_v<T, std::int64_t>) {
    w.write_long(value);
  } else if constexpr (std::is_same_v<T, double>) {
    w.write_double(value);
  } else if constexpr (std::is_same_v<T, float>) {
    w.write_float(value);
  } else if constexpr (std::is_same_v<T, std::string>) {
    w.write_string(value);
  } else if constexpr (std::is_same_v<T, uuid>) {
    w.write_uuid(value);
  } else if constexpr (std::is_same_v<T, timestamp>) {
    w.write_long(value.time_since_epoch().count());
  } else if constexpr (avro_enum<T>) {
    w.write_long(static_cast<std::int64_t>(value));
  } else if constexpr (is_optional<T>::value) {
    // Unions are ["null", T]: branch 0 is null.
    if (value) {
      w.write_long(1);
      encode_value(w, *value);
    } else {
      w.write_long(0);
    }
  } else if constexpr (is_vector<T>::value) {
    if (!value.empty()) {
      w.write_long(static_cast<std::int64_t>(value.size()));
      for (const auto& item : value) encode_value(w, item);
    }
    w.write_long(0);
  } else if constexpr (is_string_map<T>::value) {
    if (!value.empty()) {
      w.write_long(static_cast<std::int64_t>(value.size()));
      for (const auto& [key, item] : value) {
        w.write_string(key);
        encode_value(w, item);
      }
    }
    w.write_long(0);
  } else if constexpr (is_variant<T>::value) {
    w.write_long(static_cast<std::int64_t>(value.index()));
    std::visit([&](const auto& branch) { encode_record(w, branch); }, value);
  } else {
    static_assert(avro_record<T>, "type has no Avro encoding");
    encode_record(w, value);
  }
}

/// Appends the encoding of one value (tests build records field by field with it).
template <class T>
void encode_value(avro_writer& w, const T& value) {
  w.append([&](auto& sink) { encode_value(sink, value); });
}

/// The envelope, then the payload as a branch of the topic's union.
/// event_type is written from the payload, so it can never disagree with it.
template <avro_sink Sink, class Payload>
void encode_event(Sink& w, const event<Payload>& e) {
  for_each_field(static_cast<const envelope&>(e), [&](std::string_view name, const auto& field) {
    if constexpr (std::is_same_v<std::decay_t<decltype(field)>, std::string>) {
      if (name == "event_type") {
        w.write_string(event_type_of(e.payload));
        return;
      }
    }
    encode_value(w, field);
  });
  if constexpr (is_variant<Payload>::value) {
    encode_value(w, e.payload);
  } else {
    w.write_long(static_cast<std::int64_t>(payload_traits<Payload>::union_index));
    encode_record(w, e.payload);
  }
}

// ---------------------------------------------------------------- reading

class avro_reader {
 public:
  // Longer than any record Horizons accepts: such a length is corruption, not a cut-off record.
  static constexpr std::int64_t max_plausible_length = 16 * 1024 * 1024;

  explicit avro_reader(std::span<const std::byte> bytes, std::size_t start = 0)
      : begin_(reinterpret_cast<const std::uint8_t*>(bytes.data())),
        cur_(begin_ + start),
        end_(begin_ + bytes.size()) {}

  [[nodiscard]] bool failed() const { return failed_; }
  [[nodiscard]] codec_errc error() const { return error_; }
  [[nodiscard]] std::size_t offset() const { return static_cast<std::size_t>(error_at_ - begin_); }
  [[nodiscard]] std::string_view field() const { return field_; }
  [[nodiscard]] std::size_t remaining() const { return static_cast<std::size_t>(end_ - cur_); }
  [[nodiscard]] const std::string& detail() const { return detail_; }
  void set_field(std::string_view name) {
    if (!failed_) field_ = name;
  }

  /// Where the next read starts (the end once failed).
  [[nodiscard]] const std::uint8_t* position() const { return cur_; }
  [[nodiscard]] std::size_t consumed() const { return static_cast<std::size_t>(cur_ - begin_); }

  // The value checks every decoder makes, named once so that owning and view decodes say the same.
  void fail_bad_uuid(std::string_view text) {
    // Built by appends: g++ 12 misreports operator+ chains here (-Wrestrict).
    std::string quoted(1, '\'');
    quoted.append(text.substr(0, 40)).push_back('\'');
    fail(codec_errc::bad_uuid, std::move(quoted));
  }
  void fail_bad_enum_index(std::int64_t index, std::size_t symbols) {
    fail(codec_errc::bad_enum_index, "index " + std::to_string(index) + " of " + std::to_string(symbols) + " symbols");
  }
  void fail_bad_union_index(std::int64_t branch, std::size_t branches) {
    fail(codec_errc::bad_union_index, "branch " + std::to_string(branch) + " of " + std::to_string(branches));
  }

  /// Records the first error and stops all further reading.
  void fail(codec_errc code, std::string detail = {}) {
    if (failed_) return;
    failed_ = true;
    error_ = code;
    error_at_ = cur_;
    detail_ = std::move(detail);
    cur_ = end_;
  }

  [[gnu::always_inline]] std::int64_t read_long() {
    // Most longs (lengths, counts, branches, enums) fit one byte.
    if (cur_ != end_ && *cur_ < 0x80) [[likely]]
      return zigzag_decode(*cur_++);
    return read_long_slow();
  }
  [[gnu::always_inline]] std::int32_t read_int() {
    auto v = read_long();
    if (v < std::numeric_limits<std::int32_t>::min() || v > std::numeric_limits<std::int32_t>::max()) {
      fail(codec_errc::bad_varint, "int out of 32-bit range");
      return 0;
    }
    return static_cast<std::int32_t>(v);
  }
  /// A length or count: refused when negative or when it cannot fit in what is left.
  [[gnu::always_inline]] std::size_t read_length(std::size_t min_bytes_each) {
    // Most lengths fit one byte and the bytes left: inline, with no call for the checks below.
    if (cur_ != end_ && *cur_ < 0x80) [[likely]] {
      auto n = zigzag_decode(*cur_);
      if (n >= 0 && static_cast<std::size_t>(n) <= static_cast<std::size_t>(end_ - cur_ - 1) / min_bytes_each) {
        ++cur_;
        return static_cast<std::size_t>(n);
      }
    }
    return read_length_checked(min_bytes_each);
  }
  std::size_t read_length_checked(std::size_t min_bytes_each) {
    auto n = read_long();
    if (failed_) return 0;
    if (n < 0) {
      fail(codec_errc::bad_length, "negative length " + std::to_string(n));
      return 0;
    }
    if (static_cast<std::uint64_t>(n) > remaining() / min_bytes_each) {
      fail_past_end(n, "length");
      return 0;
    }
    return static_cast<std::size_t>(n);
  }
  /// A length that runs past the end: a cut record if plausible, a corrupt one otherwise.
  void fail_past_end(std::int64_t n, std::string_view what) {
    auto detail =
        std::string(what) + " " + std::to_string(n) + " runs past the " + std::to_string(remaining()) + " bytes left";
    fail(n <= max_plausible_length ? codec_errc::truncated : codec_errc::bad_length, std::move(detail));
  }
  template <class T>
  T read_fixed() {
    T value{};
    if (remaining() < sizeof(T)) {
      fail(codec_errc::truncated);
      return value;
    }
    std::memcpy(&value, cur_, sizeof(T));
    cur_ += sizeof(T);
    return value;
  }
  bool read_bool() {
    if (cur_ == end_) {
      fail(codec_errc::truncated);
      return false;
    }
    auto b = *cur_++;
    if (b > 1) fail(codec_errc::bad_boolean, "byte " + std::to_string(b));
    return b == 1;
  }
  void read_string(std::string& out) {
    auto n = read_length(1);
    out.assign(reinterpret_cast<const char*>(cur_), n);
    cur_ += n;
  }
  [[gnu::always_inline]] std::string_view read_string_view() {
    auto n = read_length(1);
    std::string_view text(reinterpret_cast<const char*>(cur_), n);
    cur_ += n;
    return text;
  }
  /// Reads an array or map block count; a negative count is followed by the block's byte size.
  std::size_t read_block_count(std::size_t min_bytes_each) {
    auto n = read_long();
    if (failed_) return 0;
    if (n < 0) {
      if (n == std::numeric_limits<std::int64_t>::min()) {
        fail(codec_errc::bad_length, "block count out of range");
        return 0;
      }
      n = -n;
      (void)read_long();  // block size in bytes, only useful for skipping
      if (failed_) return 0;
    }
    if (static_cast<std::uint64_t>(n) > remaining() / min_bytes_each) {
      fail_past_end(n, "block of items");
      return 0;
    }
    return static_cast<std::size_t>(n);
  }

 private:
  static std::int64_t zigzag_decode(std::uint64_t n) { return static_cast<std::int64_t>((n >> 1) ^ (~(n & 1) + 1)); }
  std::int64_t read_long_slow() {
    std::uint64_t n = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (cur_ == end_) {
        fail(codec_errc::truncated);
        return 0;
      }
      std::uint8_t b = *cur_++;
      n |= static_cast<std::uint64_t>(b & 0x7f) << shift;
      if ((b & 0x80) == 0) return zigzag_decode(n);
    }
    fail(codec_errc::bad_varint);
    return 0;
  }

  const std::uint8_t* begin_;
  const std::uint8_t* cur_;
  const std::uint8_t* end_;
  const std::uint8_t* error_at_ = nullptr;
  bool failed_ = false;
  codec_errc error_ = codec_errc::truncated;
  std::string_view field_;
  std::string detail_;
};

template <class T>
void decode_value(avro_reader& r, T& value);

template <avro_record Record>
void decode_record(avro_reader& r, Record& record) {
  for_each_field(record, [&](std::string_view name, auto& field) {
    r.set_field(name);
    decode_value(r, field);
  });
}

template <class Variant, std::size_t... I>
void decode_variant_branch(avro_reader& r, Variant& value, std::size_t index, std::index_sequence<I...>) {
  // Reuse the held alternative when the branch is unchanged (keeps string capacity).
  ((index == I ? (value.index() == I ? void() : void(value.template emplace<I>()), decode_record(r, std::get<I>(value)))
               : void()),
   ...);
}

/// Decodes over the entries `map` already holds (the previous event's): while
/// the keys on the wire match them in order, as they do when an encoder wrote
/// the same keys from a std::map, each node and its storage is reused. From the
/// first other key on, the remaining nodes are set aside and re-keyed for the
/// keys that follow (no allocation while they last), and a key repeated on the
/// wire keeps its last value, as with operator[].
template <class Map>
void decode_map(avro_reader& r, Map& map) {
  auto reuse = map.begin();
  std::array<typename Map::node_type, 8> spare;
  std::size_t spares = 0;
  // A map entry is a key (at least its length byte) and a value.
  while (auto count = r.read_block_count(2)) {
    for (std::size_t i = 0; i < count && !r.failed(); ++i) {
      auto key = r.read_string_view();
      if (reuse != map.end() && reuse->first == key) {
        decode_value(r, reuse->second);
        ++reuse;
        continue;
      }
      while (reuse != map.end()) {
        auto next = std::next(reuse);
        if (spares < spare.size()) {
          spare[spares++] = map.extract(reuse);
        } else {
          map.erase(reuse);
        }
        reuse = next;
      }
      if (spares == 0) {
        // Keys on the wire are usually sorted: hint that the entry goes last.
        decode_value(r, map.try_emplace(map.end(), std::string(key))->second);
        continue;
      }
      auto node = std::move(spare[--spares]);
      node.key().assign(key);
      decode_value(r, node.mapped());
      auto at = map.insert(map.end(), std::move(node));
      if (node) {  // the key came earlier on the wire and stays: the last value wins
        at->second = std::move(node.mapped());
        spare[spares++] = std::move(node);
      }
    }
  }
  map.erase(reuse, map.end());
}

template <class T>
void decode_value(avro_reader& r, T& value) {
  if constexpr (avro_scalar<T>) {
    decode_scalar(r, value);
  } else if constexpr (std::is_same_v<T, std::string>) {
    r.read_string(value);
  } else if constexpr (is_optional<T>::value) {
    decode_optional(r, value, [](avro_reader& reader, auto& inner) { decode_value(reader, inner); });
  } else if constexpr (is_vector<T>::value) {
    std::size_t used = 0;
    // Each array item here is a record or string: at least one byte on the wire.
    while (auto count = r.read_block_count(1)) {
      if (value.size() < used + count) value.resize(used + count);
      for (std::size_t i = 0; i < count; ++i) decode_value(r, value[used + i]);
      used += count;
    }
    value.resize(used);
  } else if constexpr (is_string_map<T>::value) {
    decode_map(r, value);
  } else if constexpr (is_variant<T>::value) {
    auto index = r.read_long();
    if (index < 0 || static_cast<std::uint64_t>(index) >= std::variant_size_v<T>) {
      r.fail_bad_union_index(index, std::variant_size_v<T>);
      return;
    }
    decode_variant_branch(r, value, static_cast<std::size_t>(index),
                          std::make_index_sequence<std::variant_size_v<T>>{});
  } else {
    static_assert(avro_record<T>, "type has no Avro decoding");
    decode_record(r, value);
  }
}

}  // namespace horizons::detail
