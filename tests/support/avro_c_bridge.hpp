// avro-c (the Apache reference C implementation) as an independent oracle
// for Horizons' codec: RAII owners for the avro-c handles, a topic's schema
// loaded from horizons::schema_json, and conversions between avro-c generic
// values and Horizons' JSON convention (json.hpp).
//
//   auto topic = horizons::avro_c::topic_schema::load(horizons::topic_id::job_lifecycle);
//   auto value = horizons::avro_c::generic_value::create(topic->iface());
//   horizons::avro_c::memory_reader reader;
//   if (auto ok = reader.read(body, value->get()); !ok) fail(ok.error());
//   auto converted = horizons::avro_c::to_json(*topic, value->get());
//   converted->json;            // == nlohmann::ordered_json::parse(horizons::to_json(event))
//   converted->payload_record;  // "JobSubmitted", the payload branch avro-c read
//
// avro-c 1.11 ignores logicalType, so the parsed schema JSON is kept next to
// the avro-c schema: it says which strings are uuids and which longs are
// timestamp-micros. avro_value_read accepts enum indexes past the last symbol
// and boolean bytes other than 0/1: to_json reports both as errors, so the
// oracle is as strict as Avro. Use one set of objects per thread (the handles
// are not shared; avro-c's error text is per thread). Errors are values.
#pragma once

#include <cstddef>
#include <expected>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include <avro.h>
#include <nlohmann/json.hpp>

#include <horizons/events.hpp>

namespace horizons::avro_c {

using json = nlohmann::ordered_json;

namespace detail {
struct schema_release {
  void operator()(avro_obj_t* schema) const { avro_schema_decref(schema); }
};
struct iface_release {
  void operator()(avro_value_iface_t* iface) const { avro_value_iface_decref(iface); }
};
struct reader_release {
  void operator()(avro_reader_t reader) const { avro_reader_free(reader); }
};
struct writer_release {
  void operator()(avro_writer_t writer) const { avro_writer_free(writer); }
};
}  // namespace detail

/// Owns one reference to an avro-c schema.
using schema_ptr = std::unique_ptr<avro_obj_t, detail::schema_release>;
/// Owns one reference to an avro-c value class (here always a generic class).
using iface_ptr = std::unique_ptr<avro_value_iface_t, detail::iface_release>;
/// Owns an avro-c reader / writer; the memory ones never own their buffer.
using reader_ptr = std::unique_ptr<std::remove_pointer_t<avro_reader_t>, detail::reader_release>;
using writer_ptr = std::unique_ptr<std::remove_pointer_t<avro_writer_t>, detail::writer_release>;

/// The text of the last avro-c error on this thread, prefixed by `what`.
[[nodiscard]] std::string avro_error(std::string_view what);

/// An avro-c generic value (avro_generic_value_new); move-only, released on destruction.
class generic_value {
 public:
  [[nodiscard]] static std::expected<generic_value, std::string> create(avro_value_iface_t* iface);

  generic_value(generic_value&& other) noexcept : value_(other.value_) { other.value_ = {}; }
  generic_value& operator=(generic_value&& other) noexcept;
  generic_value(const generic_value&) = delete;
  generic_value& operator=(const generic_value&) = delete;
  ~generic_value();

  [[nodiscard]] avro_value_t& get() { return value_; }
  [[nodiscard]] const avro_value_t& get() const { return value_; }

 private:
  explicit generic_value(avro_value_t value) : value_(value) {}
  avro_value_t value_{};
};

/// One topic's schema: the avro-c schema, its generic value class and the
/// parsed JSON with every named type indexed (for logical types and enum symbols).
class topic_schema {
 public:
  [[nodiscard]] static std::expected<topic_schema, std::string> load(topic_id topic);

  [[nodiscard]] topic_id topic() const { return topic_; }
  [[nodiscard]] avro_schema_t schema() const { return schema_.get(); }
  [[nodiscard]] avro_value_iface_t* iface() const { return iface_.get(); }
  [[nodiscard]] const json& schema_json() const { return json_; }
  /// The definition of a named type ("JobStatus"), by short or full name; null if unknown.
  [[nodiscard]] const json* named_type(const std::string& name) const;

 private:
  topic_id topic_{};
  schema_ptr schema_;
  iface_ptr iface_;
  json json_;
  std::map<std::string, json> named_;
};

/// A memory reader over bytes the caller keeps alive during read().
class memory_reader {
 public:
  memory_reader();
  /// avro_value_read of exactly `bytes` into `into`: an error if avro-c
  /// fails or if bytes are left after the value.
  [[nodiscard]] std::expected<void, std::string> read(std::span<const std::byte> bytes, avro_value_t& into);
  [[nodiscard]] avro_reader_t get() const { return reader_.get(); }

 private:
  reader_ptr reader_;
};

/// A memory writer with its own growable buffer.
class memory_writer {
 public:
  memory_writer();
  /// avro_value_write of `value`; the bytes stay valid until the next write.
  [[nodiscard]] std::expected<std::span<const std::byte>, std::string> write(avro_value_t& value);
  /// For callers that drive avro-c directly (benchmarks): grows the buffer to
  /// `capacity` bytes and points the writer at it, written count reset.
  void reserve(std::size_t capacity);
  [[nodiscard]] avro_writer_t get() const { return writer_.get(); }
  [[nodiscard]] std::span<const std::byte> written() const;

 private:
  std::vector<std::byte> buffer_;
  writer_ptr writer_;
};

struct converted_event {
  nlohmann::ordered_json json;  // Horizons' convention, fields in schema order
  std::string payload_record;   // record name of the payload branch, as avro-c's schema names it
};

/// (a) An avro-c value of the topic's record -> JSON exactly as horizons::to_json writes it.
[[nodiscard]] std::expected<converted_event, std::string> to_json(const topic_schema& topic, const avro_value_t& value);

/// (b) JSON in Horizons' convention -> the avro-c value (reset first). The
/// payload branch is the record that event_type names; fields missing from
/// the JSON are allowed only for null unions and maps, as in json.hpp.
[[nodiscard]] std::expected<void, std::string> from_json(const topic_schema& topic, const json& event,
                                                         avro_value_t& into);

/// The schema record name of a dotted event type ("job.submitted" -> "JobSubmitted").
[[nodiscard]] std::optional<std::string_view> payload_record_name(std::string_view event_type);

}  // namespace horizons::avro_c
