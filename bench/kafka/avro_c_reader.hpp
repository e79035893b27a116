// avro-c's generic decode of one topic's records: what a user of raw librdkafka would otherwise write
// to read Horizons' events (the `raw+avro-c` side of the consume scenario).
//
//   auto reader = avro_c_reader::create(topic_id::job_lifecycle);
//   if (!reader) return std::unexpected(reader.error());
//   auto frame = parse_frame(record_bytes);                  // the Confluent header, then the body
//   auto occurred_at = (*reader)->occurred_at(frame->body); // decodes the whole record, reads one field
//
// The schema comes from horizons::schema_json(topic), parsed by avro-c; every record is decoded with
// avro_value_read into one reused generic value (strings, maps and arrays allocated by avro-c as it
// reads). One reader per thread: avro-c's values and error text are not shared. Errors are values.
#pragma once

#include <cstddef>
#include <cstdint>
#include <expected>
#include <memory>
#include <span>
#include <string>
#include <type_traits>

#include <avro.h>

#include <horizons/catalogue.hpp>

namespace horizons::kafka_bench {

class avro_c_reader {
 public:
  [[nodiscard]] static std::expected<std::unique_ptr<avro_c_reader>, std::string> create(topic_id topic);
  ~avro_c_reader();
  avro_c_reader(const avro_c_reader&) = delete;
  avro_c_reader& operator=(const avro_c_reader&) = delete;

  /// Decodes one Avro body (no frame header) into the reused generic value; the value stays valid
  /// until the next read.
  [[nodiscard]] std::expected<const avro_value_t*, std::string> read(std::span<const std::byte> body);
  /// read(), then the record's `occurred_at` (microseconds since the epoch), as a handler would use it.
  [[nodiscard]] std::expected<std::int64_t, std::string> occurred_at(std::span<const std::byte> body);

 private:
  struct deleter {
    void operator()(avro_obj_t* schema) const { avro_schema_decref(schema); }
    void operator()(avro_value_iface_t* iface) const { avro_value_iface_decref(iface); }
    void operator()(std::remove_pointer_t<avro_reader_t>* reader) const { avro_reader_free(reader); }
  };
  avro_c_reader() = default;

  std::unique_ptr<avro_obj_t, deleter> schema_;
  std::unique_ptr<avro_value_iface_t, deleter> iface_;
  std::unique_ptr<std::remove_pointer_t<avro_reader_t>, deleter> reader_;
  avro_value_t value_{};  // released in the destructor
  std::size_t occurred_at_index_ = 0;
};

}  // namespace horizons::kafka_bench
