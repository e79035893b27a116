// The registry's HTTP routes: Confluent's REST paths mapped onto registry_api, its answers and
// errors written as Confluent writes them (content type application/vnd.schemaregistry.v1+json,
// errors as {"error_code": 40401, "message": "..."} with the code's HTTP status), and writes that
// reach an instance which is not the writer forwarded to the one that is.
//
//   httplib::Server server;
//   add_routes(server, {.api = api, .store = store, .own_url = "http://127.0.0.1:8081",
//                       .forward_timeout = std::chrono::seconds(15)});
//
// Forwarding: a write answered with not_the_writer is sent on, once, to the writer's URL (from
// its claim), marked with the header X-Horizons-Forwarded-By so that it is never sent on again;
// the writer's answer is passed back as it is. The writer names the offset its write landed at
// (header X-Horizons-Schemas-Offset); the forwarding instance waits (up to forward_timeout) until
// it has read that far, so that a client reading right after its write through the same instance
// sees it. When no writer is known, the writer is this instance, or the request was forwarded
// already, the not_the_writer error (50004) is the answer; a writer that cannot be reached gives
// 50003 naming its URL.
// Besides Confluent's routes: GET /horizons/status, this instance's view of the writer role.
// Threads: handlers run on httplib's threads; everything they use is thread-safe.
#pragma once

#include <chrono>
#include <string>

#include <httplib.h>

#include "services/schema_registry/registry_api.hpp"
#include "services/schema_registry/topic_store.hpp"

namespace horizons::schema_registry_service {

struct route_context {
  registry_api& api;
  topic_store& store;
  std::string own_url;
  std::chrono::milliseconds forward_timeout{15'000};
};

/// Adds every route to `server`; the api and store `context` refers to must outlive it.
void add_routes(httplib::Server& server, const route_context& context);

}  // namespace horizons::schema_registry_service
