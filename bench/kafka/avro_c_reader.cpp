// avro-c generic decode for the raw+avro-c side (see avro_c_reader.hpp).
#include "avro_c_reader.hpp"

#include <string_view>

#include <fmt/format.h>

namespace horizons::kafka_bench {

namespace {

std::string avro_c_error(std::string_view what) {
  const char* text = avro_strerror();
  return fmt::format("avro-c {}: {}", what, text && *text ? text : "(no error text)");
}

}  // namespace

std::expected<std::unique_ptr<avro_c_reader>, std::string> avro_c_reader::create(topic_id topic) {
  std::unique_ptr<avro_c_reader> made(new avro_c_reader);
  auto text = schema_json(topic);
  avro_schema_t schema = nullptr;
  auto failed = avro_schema_from_json_length(text.data(), text.size(), &schema);
  made->schema_.reset(schema);
  if (failed) return std::unexpected(avro_c_error(fmt::format("schema of {}", topic_name(topic))));
  made->iface_.reset(avro_generic_class_from_schema(schema));
  if (!made->iface_) return std::unexpected(avro_c_error("generic class"));
  if (avro_generic_value_new(made->iface_.get(), &made->value_) != 0)
    return std::unexpected(avro_c_error("generic value"));
  made->reader_.reset(avro_reader_memory(nullptr, 0));
  if (!made->reader_) return std::unexpected(avro_c_error("memory reader"));
  auto index = avro_schema_record_field_get_index(schema, "occurred_at");
  if (index < 0) return std::unexpected(fmt::format("schema of {} has no occurred_at", topic_name(topic)));
  made->occurred_at_index_ = static_cast<std::size_t>(index);
  return made;
}

avro_c_reader::~avro_c_reader() {
  if (value_.self != nullptr) avro_value_decref(&value_);
}

std::expected<const avro_value_t*, std::string> avro_c_reader::read(std::span<const std::byte> body) {
  avro_reader_memory_set_source(reader_.get(), reinterpret_cast<const char*>(body.data()),
                                static_cast<std::int64_t>(body.size()));
  if (avro_value_read(reader_.get(), &value_) != 0) return std::unexpected(avro_c_error("read"));
  return &value_;
}

std::expected<std::int64_t, std::string> avro_c_reader::occurred_at(std::span<const std::byte> body) {
  if (auto ok = read(body); !ok) return std::unexpected(ok.error());
  avro_value_t field;
  std::int64_t micros = 0;
  if (avro_value_get_by_index(&value_, occurred_at_index_, &field, nullptr) != 0 ||
      avro_value_get_long(&field, &micros) != 0) {
    return std::unexpected(avro_c_error("occurred_at"));
  }
  return micros;
}

}  // namespace horizons::kafka_bench
