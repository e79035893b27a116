// Zero-copy views of events: the generated `*_view` types and their ranges.
//
// For every Avro record the generator also writes a view (`job_submitted_view`,
// `envelope_view`, ...) with the same fields, where a string is a
// std::string_view into the record's bytes, an optional string a
// std::optional<std::string_view>, an array an array_view<T> and a map a
// map_view<V>; uuids, timestamps, enums and numbers are held by value.
//
//   auto view = horizons::decode_view<horizons::job_submitted>(body);   // codec.hpp
//   if (!view) return log(view.error().message);
//   for (auto [key, value] : view->tags) use(key, value);                // decoded one entry at a time
//   horizons::event<horizons::job_submitted> kept = view->to_owned();   // copies, when it must outlive the bytes
//
// A view points into the bytes it was decoded from: it is valid only while
// they are. A consumer's view handler gets views of the record librdkafka
// holds, valid only during the handler call (call `.to_owned()` to keep one).
// Decoding a view validates all of it once (the same checks and errors as
// decoding into an owning type), so iterating an array_view or a map_view
// cannot fail. Views allocate nothing. Thread-compatible: a view is a value.
#pragma once

#include <cassert>
#include <cstring>
#include <iterator>
#include <limits>
#include <utility>

#include <horizons/reflection.hpp>

namespace horizons {

/// The generator specialises this for every record: `using type = <record>_view;`.
template <class Record>
struct view_traits;

template <class T>
class array_view;
template <class V>
class map_view;

namespace detail {
template <class T>
struct view_type {
  using type = T;
};
template <>
struct view_type<std::string> {
  using type = std::string_view;
};
template <class T>
struct view_type<std::optional<T>> {
  using type = std::optional<typename view_type<T>::type>;
};
template <class T>
struct view_type<std::vector<T>> {
  using type = array_view<typename view_type<T>::type>;
};
template <class T>
struct view_type<std::map<std::string, T>> {
  using type = map_view<typename view_type<T>::type>;
};
template <class... T>
struct view_type<std::variant<T...>> {
  using type = std::variant<typename view_type<T>::type...>;
};
template <class T>
requires requires { typename view_traits<T>::type; }
struct view_type<T> {
  using type = typename view_traits<T>::type;
};
}  // namespace detail

/// The view type of an owning type: view_of<job_submitted> is job_submitted_view,
/// view_of<std::string> is std::string_view; numbers, enums, uuids and timestamps are themselves.
template <class T>
using view_of = typename detail::view_type<T>::type;

namespace detail {

/// Reads bytes a checked decode has already accepted: no bounds or range checks (private to views).
class trusted_reader {
 public:
  explicit trusted_reader(const std::uint8_t* at) : cur_(at) {}

  std::int64_t read_long() {
    std::uint64_t n = 0;
    for (int shift = 0;; shift += 7) {
      std::uint8_t b = *cur_++;
      n |= static_cast<std::uint64_t>(b & 0x7f) << shift;
      if ((b & 0x80) == 0) break;
    }
    return static_cast<std::int64_t>((n >> 1) ^ (~(n & 1) + 1));
  }
  std::int32_t read_int() { return static_cast<std::int32_t>(read_long()); }
  template <class T>
  T read_fixed() {
    T value;
    std::memcpy(&value, cur_, sizeof(T));
    cur_ += sizeof(T);
    return value;
  }
  bool read_bool() { return *cur_++ == 1; }
  std::string_view read_string_view() {
    auto n = static_cast<std::size_t>(read_long());
    std::string_view text(reinterpret_cast<const char*>(cur_), n);
    cur_ += n;
    return text;
  }
  std::size_t read_block_count(std::size_t) {
    auto n = read_long();
    if (n < 0) {
      n = -n;
      (void)read_long();  // the block's size in bytes
    }
    return static_cast<std::size_t>(n);
  }
  [[nodiscard]] static constexpr bool failed() { return false; }
  // Never called: a view's bytes were validated when it was decoded.
  void fail_bad_uuid(std::string_view) { assert(false); }
  void fail_bad_enum_index(std::int64_t, std::size_t) { assert(false); }
  void fail_bad_union_index(std::int64_t, std::size_t) { assert(false); }
  void set_field(std::string_view) {}
  [[nodiscard]] const std::uint8_t* position() const { return cur_; }

 private:
  const std::uint8_t* cur_;
};

template <class Reader, class T>
void decode_view_value(Reader& r, T& value);

/// The items of an Avro array or map in bytes a checked decode accepted: an input range that
/// decodes one item per step with ReadItem (how an array item or a map entry is read).
template <class Item, std::size_t MinBytesEach, class ReadItem>
class block_range {
 public:
  using value_type = Item;

  block_range() = default;
  /// `at`: the first block count; `size`: how many items the blocks hold.
  block_range(const std::uint8_t* at, std::size_t size) : at_(at), size_(size) {}

  class iterator {
   public:
    using value_type = Item;
    using difference_type = std::ptrdiff_t;
    iterator() = default;
    iterator(const std::uint8_t* at, std::size_t left) : reader_(at), left_(left) { ++*this; }
    const Item& operator*() const { return current_; }
    const Item* operator->() const { return &current_; }
    iterator& operator++() {
      if (left_ == 0) {
        done_ = true;
        return *this;
      }
      if (block_left_ == 0) block_left_ = reader_.read_block_count(MinBytesEach);
      ReadItem{}(reader_, current_);
      --block_left_;
      --left_;
      return *this;
    }
    void operator++(int) { ++*this; }
    friend bool operator==(const iterator& it, std::default_sentinel_t) { return it.done_; }

   private:
    trusted_reader reader_{nullptr};
    std::size_t left_ = 0;
    std::size_t block_left_ = 0;
    bool done_ = false;
    Item current_{};
  };

  [[nodiscard]] iterator begin() const { return iterator(at_, size_); }
  [[nodiscard]] std::default_sentinel_t end() const { return {}; }
  /// Items on the wire.
  [[nodiscard]] std::size_t size() const { return size_; }
  [[nodiscard]] bool empty() const { return size_ == 0; }

 private:
  const std::uint8_t* at_ = nullptr;
  std::size_t size_ = 0;
};

struct read_array_item {
  template <class T>
  void operator()(trusted_reader& r, T& item) const {
    decode_view_value(r, item);
  }
};

struct read_map_entry {
  template <class V>
  void operator()(trusted_reader& r, std::pair<std::string_view, V>& entry) const {
    entry.first = r.read_string_view();
    decode_view_value(r, entry.second);
  }
};

}  // namespace detail

/// The items of an Avro array, decoded one at a time while iterating (an input range).
template <class T>
class array_view : public detail::block_range<T, 1, detail::read_array_item> {
 public:
  using detail::block_range<T, 1, detail::read_array_item>::block_range;
};

/// The entries of an Avro map as (key, value) pairs in wire order, decoded one at a time while
/// iterating (an input range). A key repeated on the wire is seen each time; find() and
/// to_owned() keep its last value, as the owning decode does.
template <class V>
class map_view : public detail::block_range<std::pair<std::string_view, V>, 2, detail::read_map_entry> {
 public:
  using detail::block_range<std::pair<std::string_view, V>, 2, detail::read_map_entry>::block_range;

  /// The last value of `key`, or nullopt; a linear scan.
  [[nodiscard]] std::optional<V> find(std::string_view key) const {
    std::optional<V> found;
    for (const auto& [k, v] : *this) {
      if (k == key) found = v;
    }
    return found;
  }
};

namespace detail {

/// The Avro types a view holds by value, as the owning type does.
template <class T>
concept avro_scalar = std::is_same_v<T, bool> || std::is_same_v<T, std::int32_t> || std::is_same_v<T, std::int64_t> ||
    std::is_same_v<T, double> || std::is_same_v<T, float> || std::is_same_v<T, uuid> || std::is_same_v<T, timestamp> ||
    avro_enum<T>;

/// Decodes a scalar: the one walk the owning decode, the view decode and view iteration share.
template <class Reader, avro_scalar T>
void decode_scalar(Reader& r, T& value) {
  if constexpr (std::is_same_v<T, bool>) {
    value = r.read_bool();
  } else if constexpr (std::is_same_v<T, std::int32_t>) {
    value = r.read_int();
  } else if constexpr (std::is_same_v<T, std::int64_t>) {
    value = r.read_long();
  } else if constexpr (std::is_same_v<T, double> || std::is_same_v<T, float>) {
    value = r.template read_fixed<T>();
  } else if constexpr (std::is_same_v<T, uuid>) {
    auto text = r.read_string_view();
    if (r.failed()) return;
    auto parsed = uuid::parse(text);
    if (!parsed) {
      r.fail_bad_uuid(text);
      return;
    }
    value = *parsed;
  } else if constexpr (std::is_same_v<T, timestamp>) {
    value = timestamp{std::chrono::microseconds{r.read_long()}};
  } else {
    auto index = r.read_long();
    if (index < 0 || static_cast<std::uint64_t>(index) >= enum_traits<T>::symbols.size()) {
      r.fail_bad_enum_index(index, enum_traits<T>::symbols.size());
      return;
    }
    value = static_cast<T>(index);
  }
}

/// Decodes an optional (a ["null", T] union): its branch, then the value with decode_inner(reader, value).
template <class Reader, class Optional, class DecodeInner>
void decode_optional(Reader& r, Optional& value, const DecodeInner& decode_inner) {
  auto branch = r.read_long();
  if (branch == 0) {
    value.reset();
  } else if (branch == 1) {
    if (!value) value.emplace();
    decode_inner(r, *value);
  } else if (!r.failed()) {
    r.fail_bad_union_index(branch, 2);
  }
}

template <class Reader, class Record>
void decode_view_record(Reader& r, Record& record) {
  for_each_field(record, [&](std::string_view name, auto& field) {
    r.set_field(name);
    decode_view_value(r, field);
  });
}

/// Decodes one value of a view. The same walk serves the checked decode (Reader = the codec's
/// avro_reader, which reports the errors the owning decode reports, in the same order) and the
/// iteration of validated bytes (trusted_reader).
template <class Reader, class T>
void decode_view_value(Reader& r, T& value) {
  if constexpr (avro_scalar<T>) {
    decode_scalar(r, value);
  } else if constexpr (std::is_same_v<T, std::string_view>) {
    value = r.read_string_view();
  } else if constexpr (is_optional<T>::value) {
    decode_optional(r, value, [](Reader& reader, auto& inner) { decode_view_value(reader, inner); });
  } else if constexpr (requires {
                         typename T::value_type;
                         requires std::is_same_v<T, array_view<typename T::value_type>>;
                       }) {
    // Walked once here to validate and count; iteration decodes again, one item at a time.
    const auto* start = r.position();
    std::size_t total = 0;
    typename T::value_type item{};
    while (auto count = r.read_block_count(1)) {
      for (std::size_t i = 0; i < count; ++i) decode_view_value(r, item);
      total += count;
    }
    value = r.failed() ? T{} : T(start, total);
  } else if constexpr (requires {
                         typename T::value_type::second_type;
                         requires std::is_same_v<T, map_view<typename T::value_type::second_type>>;
                       }) {
    const auto* start = r.position();
    std::size_t total = 0;
    typename T::value_type::second_type item{};
    while (auto count = r.read_block_count(2)) {
      for (std::size_t i = 0; i < count && !r.failed(); ++i) {
        (void)r.read_string_view();
        decode_view_value(r, item);
      }
      total += count;
    }
    value = r.failed() ? T{} : T(start, total);
  } else if constexpr (is_variant<T>::value) {
    auto index = r.read_long();
    if (index < 0 || static_cast<std::uint64_t>(index) >= std::variant_size_v<T>) {
      r.fail_bad_union_index(index, std::variant_size_v<T>);
      return;
    }
    [&]<std::size_t... I>(std::index_sequence<I...>) {
      ((static_cast<std::size_t>(index) == I ? (value.index() == I ? void() : void(value.template emplace<I>()),
                                                decode_view_record(r, std::get<I>(value)))
                                             : void()),
       ...);
    }
    (std::make_index_sequence<std::variant_size_v<T>>{});
  } else {
    static_assert(avro_record<T>, "type has no Avro view decoding");
    decode_view_record(r, value);
  }
}

/// Copies a view into its owning type, reusing `out`'s storage where it can.
template <class Owned, class View>
void assign_owned(Owned& out, const View& in) {
  if constexpr (std::is_same_v<Owned, std::string>) {
    out.assign(in);
  } else if constexpr (is_optional<Owned>::value) {
    if (!in) {
      out.reset();
      return;
    }
    if (!out) out.emplace();
    assign_owned(*out, *in);
  } else if constexpr (is_vector<Owned>::value) {
    out.clear();
    out.reserve(in.size());
    for (const auto& item : in) assign_owned(out.emplace_back(), item);
  } else if constexpr (is_string_map<Owned>::value) {
    out.clear();
    for (const auto& [key, item] : in) assign_owned(out[std::string(key)], item);
  } else if constexpr (is_variant<Owned>::value) {
    [&]<std::size_t... I>(std::index_sequence<I...>) {
      ((in.index() == I ? (out.index() == I ? void() : void(out.template emplace<I>()),
                           assign_owned(std::get<I>(out), std::get<I>(in)))
                        : void()),
       ...);
    }
    (std::make_index_sequence<std::variant_size_v<Owned>>{});
  } else if constexpr (avro_record<Owned>) {
    constexpr auto& owned_fields = record_traits<Owned>::fields;
    constexpr auto& view_fields = record_traits<View>::fields;
    static_assert(std::tuple_size_v<std::remove_cvref_t<decltype(owned_fields)>> ==
                  std::tuple_size_v<std::remove_cvref_t<decltype(view_fields)>>);
    [&]<std::size_t... I>(std::index_sequence<I...>) {
      (assign_owned(out.*(std::get<I>(owned_fields).member), in.*(std::get<I>(view_fields).member)), ...);
    }
    (std::make_index_sequence<std::tuple_size_v<std::remove_cvref_t<decltype(owned_fields)>>>{});
  } else {
    out = in;
  }
}

}  // namespace detail

}  // namespace horizons
