#include <horizons/catalogue.hpp>
#include <horizons/schema_registry.hpp>

#include <fmt/format.h>

#include "wire_schemas.hpp"

namespace horizons {

std::expected<record_decoder, std::string> record_decoder::create(const client_config& config) {
  auto wire = detail::wire_schemas::of(config);
  if (!wire) return std::unexpected(wire.error());
  return record_decoder(std::move(*wire));
}

std::expected<any_event, codec_error> record_decoder::decode(topic_id topic, std::span<const std::byte> record) {
  auto framed = parse_frame(record);
  if (!framed) return std::unexpected(std::move(framed.error()));
  if (!wire_) {
    if (framed->schema_id != spec(topic).schema_id) {
      return std::unexpected(codec_error{codec_errc::unknown_schema_id,
                                         fmt::format("unknown schema id {} for topic {} (its schema is {})",
                                                     framed->schema_id, topic_name(topic), spec(topic).schema_id)});
    }
    return decode_topic_body(topic, framed->body);
  }
  auto plan = wire_->plan(topic, framed->schema_id);
  if (!plan) return std::unexpected(std::move(plan.error()));
  auto body = detail::in_compiled_schema(**plan, framed->body, translated_);
  if (!body) return std::unexpected(std::move(body.error()));
  return decode_topic_body(topic, *body);
}

std::expected<any_event, codec_error> record_decoder::decode(std::string_view topic,
                                                             std::span<const std::byte> record) {
  const auto id = topic_from_name(topic);
  if (!id) {
    return std::unexpected(
        codec_error{codec_errc::unknown_schema_id, fmt::format("topic {} is not in the catalogue", topic)});
  }
  return decode(*id, record);
}

}  // namespace horizons
