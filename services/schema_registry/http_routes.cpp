#include "services/schema_registry/http_routes.hpp"

#include <algorithm>
#include <charconv>
#include <functional>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace horizons::schema_registry_service {

namespace {

using json = nlohmann::json;
using handler = std::function<void(const httplib::Request&, httplib::Response&)>;

constexpr const char* content_type = "application/vnd.schemaregistry.v1+json";
constexpr const char* forwarded_by_header = "X-Horizons-Forwarded-By";
constexpr const char* offset_header = "X-Horizons-Schemas-Offset";

void send_error(httplib::Response& res, const api_error& error) {
  res.status = error.http_status();
  res.set_content(json{{"error_code", static_cast<int>(error.code)}, {"message", error.message}}.dump(
                      -1, ' ', false, json::error_handler_t::replace),
                  content_type);
}

void send(httplib::Response& res, const api_result& result) {
  if (!result) {
    send_error(res, result.error());
    return;
  }
  res.status = 200;
  res.set_content(result->body, content_type);
  if (result->written_up_to) res.set_header(offset_header, std::to_string(*result->written_up_to));
}

// No exception leaves a handler: httplib would answer a bare 500.
// UTF-8 without control characters: what a subject name (or any path segment) may be. A fuzz target
// found names that are not UTF-8 reaching the store, which cannot write them as JSON (500).
bool is_text(const std::string& segment) {
  if (std::ranges::any_of(segment, [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7f; })) {
    return false;
  }
  try {
    (void)json(segment).dump();  // nlohmann checks the UTF-8 as it writes
    return true;
  } catch (const json::type_error&) {
    return false;
  }
}

handler guarded(handler inner) {
  return [inner = std::move(inner)](const httplib::Request& req, httplib::Response& res) noexcept {
    try {
      for (std::size_t i = 1; i < req.matches.size(); ++i) {
        if (!is_text(req.matches[i].str())) {
          return send_error(res, api_error::make(error_code::bad_request,
                                                 "a path segment must be UTF-8 text without control characters"));
        }
      }
      inner(req, res);
    } catch (const std::exception& e) {
      try {
        send_error(res, api_error::make(error_code::store_error, fmt::format("Internal error: {}", e.what())));
      } catch (...) {
        res.status = 500;
      }
    }
  };
}

deleted_versions deleted_of(const httplib::Request& req) {
  return req.get_param_value("deleted") == "true" ? deleted_versions::included : deleted_versions::hidden;
}

deletion_mode mode_of(const httplib::Request& req) {
  return req.get_param_value("permanent") == "true" ? deletion_mode::permanent : deletion_mode::soft;
}

std::string subject_of(const httplib::Request& req) { return req.matches[1].str(); }

// Sends a write on to the writer; false when it is not to be forwarded (see the header).
bool forward(const route_context& context, const httplib::Request& req, httplib::Response& res) {
  const auto status = context.store.status();
  const auto& writer = status.writer;
  if (req.has_header(forwarded_by_header) || writer.epoch == 0 || writer.resigned || writer.url.empty() ||
      writer.url == context.own_url) {
    return false;
  }
  httplib::Client client(writer.url);
  const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(context.forward_timeout);
  const auto micros = std::chrono::duration_cast<std::chrono::microseconds>(context.forward_timeout - seconds);
  client.set_connection_timeout(seconds.count(), micros.count());
  client.set_read_timeout(seconds.count(), micros.count());
  client.set_write_timeout(seconds.count(), micros.count());
  const httplib::Headers headers{{forwarded_by_header, status.instance}, {"Accept", content_type}};
  const auto body_type = req.has_header("Content-Type") ? req.get_header_value("Content-Type") : content_type;
  httplib::Result answer = req.method == "PUT"      ? client.Put(req.target, headers, req.body, body_type)
                           : req.method == "DELETE" ? client.Delete(req.target, headers, req.body, body_type)
                                                    : client.Post(req.target, headers, req.body, body_type);
  if (!answer) {
    send_error(res, api_error::make(error_code::forwarding_error,
                                    fmt::format("Error while forwarding the request to the writer at {}: {}",
                                                writer.url, httplib::to_string(answer.error()))));
    return true;
  }
  if (answer->has_header(offset_header)) {
    const auto text = answer->get_header_value(offset_header);
    std::int64_t offset = -1;
    std::from_chars(text.data(), text.data() + text.size(), offset);
    if (!context.store.wait_applied(offset, context.forward_timeout)) {
      send_error(res, api_error::make(error_code::operation_timeout,
                                      fmt::format("The writer at {} wrote at offset {}, but this instance has not "
                                                  "read that far within {} ms",
                                                  writer.url, offset, context.forward_timeout.count())));
      return true;
    }
    res.set_header(offset_header, text);
  }
  res.status = answer->status;
  res.set_content(answer->body,
                  answer->has_header("Content-Type") ? answer->get_header_value("Content-Type").c_str() : content_type);
  return true;
}

// A route that writes: on an instance that is not the writer, forwarded.
handler writing(const route_context& context, std::function<api_result(const httplib::Request&)> call) {
  return guarded([context, call = std::move(call)](const httplib::Request& req, httplib::Response& res) {
    auto result = call(req);
    if (!result && result.error().code == error_code::not_the_writer && forward(context, req, res)) return;
    send(res, result);
  });
}

handler reading(std::function<api_result(const httplib::Request&)> call) {
  return guarded(
      [call = std::move(call)](const httplib::Request& req, httplib::Response& res) { send(res, call(req)); });
}

std::string status_body(const route_context& context) {
  const auto status = context.store.status();
  return json{{"instance", status.instance},
              {"url", context.own_url},
              {"writer",
               {{"epoch", status.writer.epoch},
                {"url", status.writer.url},
                {"instance", status.writer.instance},
                {"resigned", status.writer.resigned}}},
              {"this_instance_writes", status.this_instance_writes},
              {"applied_offset", status.applied_offset}}
      .dump();
}

}  // namespace

void add_routes(httplib::Server& server, const route_context& context) {
  auto& api = context.api;
  const std::string subject = "/subjects/([^/]+)";
  const std::string version = subject + "/versions/([^/]+)";

  server.Get("/", reading([](const httplib::Request&) { return api_result(api_answer{.body = "{}"}); }));
  server.Get("/horizons/status", guarded([context](const httplib::Request&, httplib::Response& res) {
               res.set_content(status_body(context), "application/json");
             }));
  server.Get("/schemas/types", reading([](const httplib::Request&) { return registry_api::schema_types(); }));
  server.Get("/schemas/ids/([^/]+)",
             reading([&api](const httplib::Request& req) { return api.schema_by_id(req.matches[1].str()); }));
  server.Get("/subjects", reading([&api](const httplib::Request& req) { return api.subjects(deleted_of(req)); }));

  server.Get(subject + "/versions",
             reading([&api](const httplib::Request& req) { return api.versions(subject_of(req), deleted_of(req)); }));
  server.Post(subject + "/versions", writing(context, [&api](const httplib::Request& req) {
                return api.register_schema(subject_of(req), req.body);
              }));
  server.Get(version, reading([&api](const httplib::Request& req) {
               return api.version(subject_of(req), req.matches[2].str(), deleted_of(req));
             }));
  server.Get(version + "/schema", reading([&api](const httplib::Request& req) {
               return api.version_schema(subject_of(req), req.matches[2].str(), deleted_of(req));
             }));
  server.Delete(version, writing(context, [&api](const httplib::Request& req) {
                  return api.delete_version(subject_of(req), req.matches[2].str(), mode_of(req));
                }));
  server.Post(subject, reading([&api](const httplib::Request& req) {
                return api.lookup(subject_of(req), req.body, deleted_of(req));
              }));
  server.Delete(subject, writing(context, [&api](const httplib::Request& req) {
                  return api.delete_subject(subject_of(req), mode_of(req));
                }));

  server.Post("/compatibility" + version, reading([&api](const httplib::Request& req) {
                const auto verbose =
                    req.get_param_value("verbose") == "true" ? verbosity::with_messages : verbosity::verdict_only;
                return api.test_compatibility(subject_of(req), req.matches[2].str(), req.body, verbose);
              }));

  server.Get("/config", reading([&api](const httplib::Request&) { return api.config("", level_fallback::global); }));
  server.Put("/config", writing(context, [&api](const httplib::Request& req) { return api.set_config("", req.body); }));
  server.Get("/config/([^/]+)", reading([&api](const httplib::Request& req) {
               const auto fallback =
                   req.get_param_value("defaultToGlobal") == "true" ? level_fallback::global : level_fallback::none;
               return api.config(req.matches[1].str(), fallback);
             }));
  server.Put("/config/([^/]+)", writing(context, [&api](const httplib::Request& req) {
               return api.set_config(req.matches[1].str(), req.body);
             }));
  server.Delete("/config/([^/]+)", writing(context, [&api](const httplib::Request& req) {
                  return api.delete_config(req.matches[1].str());
                }));

  // Unknown routes answer in the API's error shape too.
  server.set_error_handler([](const httplib::Request& req, httplib::Response& res) {
    if (!res.body.empty()) return;
    res.set_content(
        json{{"error_code", res.status}, {"message", fmt::format("HTTP {} {} {}", res.status, req.method, req.path)}}
            .dump(-1, ' ', false, json::error_handler_t::replace),
        content_type);
  });
}

}  // namespace horizons::schema_registry_service
