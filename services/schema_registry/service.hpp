// The schema registry service: the Confluent Schema Registry REST API (Avro schemas), served
// over HTTP and stored in a compacted Kafka topic (`_schemas`), so that it survives restarts and
// several instances serve the same data, one of them writing at a time.
//
//   auto registry = horizons::schema_registry_service::server::start(
//       {.config = config, .listen = "127.0.0.1:8081"});
//   if (!registry) return fail(registry.error());    // a busy port, a cluster that cannot be reached, ...
//   auto client = horizons::schema_registry::create({.url = (*registry)->url()});
//   auto id = client->register_schema("jobs-value", R"({"type":"string"})");
//   (*registry)->stop();                              // resigns the writer role, if held
//
// start() binds the address, makes sure the topic exists (1 partition, cleanup.policy=compact,
// replication min(3, brokers); on a cluster that cannot create topics, such as librdkafka's mock,
// create it beforehand), reads it from the beginning to its end, takes the writer role if nobody
// holds it, and then answers. topic_store.hpp tells how the writer role moves between instances
// and why ids are never given twice; registry_api.hpp what each endpoint does; http_routes.hpp how
// a write reaching an instance that is not the writer is forwarded to it.
//
// Threads: start() and stop() (or the destructor) from one thread; start() blocks until the topic
// is read. Requests are answered on httplib's threads; the store follows the topic and keeps the
// writer role on two threads of its own. url() and status() from any thread.
#pragma once

#include <array>
#include <chrono>
#include <expected>
#include <functional>
#include <memory>
#include <stop_token>
#include <string>

#include <horizons/config.hpp>

#include "services/common/http_listener.hpp"
#include "services/common/service_descriptor.hpp"
#include "services/schema_registry/topic_store.hpp"

namespace horizons::schema_registry_service {

namespace detail {
inline constexpr std::array routes{
    services::http_route{.method = "POST", .path = "/subjects/<subject>/versions", .what = "register a schema"},
    services::http_route{.method = "POST", .path = "/subjects/<subject>", .what = "look a schema up in a subject"},
    services::http_route{.method = "GET", .path = "/schemas/ids/<id>", .what = "a schema by its global id"},
    services::http_route{.method = "GET", .path = "/subjects", .what = "the subjects"},
    services::http_route{.method = "GET", .path = "/subjects/<subject>/versions", .what = "a subject's versions"},
    services::http_route{
        .method = "GET", .path = "/subjects/<subject>/versions/<version>", .what = "a version (or latest)"},
    services::http_route{
        .method = "GET", .path = "/subjects/<subject>/versions/<version>/schema", .what = "a version's schema text"},
    services::http_route{.method = "POST",
                         .path = "/compatibility/subjects/<subject>/versions/<version>",
                         .what = "test a schema against a version (?verbose=true: the reasons)"},
    services::http_route{.method = "GET", .path = "/config", .what = "the global compatibility level"},
    services::http_route{.method = "PUT", .path = "/config", .what = "set the global compatibility level"},
    services::http_route{.method = "GET", .path = "/config/<subject>", .what = "a subject's own level"},
    services::http_route{.method = "PUT", .path = "/config/<subject>", .what = "set a subject's own level"},
    services::http_route{.method = "DELETE", .path = "/config/<subject>", .what = "remove a subject's own level"},
    services::http_route{
        .method = "DELETE", .path = "/subjects/<subject>", .what = "delete a subject (?permanent=true: for good)"},
    services::http_route{.method = "DELETE",
                         .path = "/subjects/<subject>/versions/<version>",
                         .what = "delete a version (?permanent=true: for good)"},
    services::http_route{.method = "GET", .path = "/horizons/status", .what = "this instance's view of the writer"},
    services::http_route{
        .method = "GET", .path = "/metrics", .what = "the process's metrics in Prometheus text format"},
};
}  // namespace detail

/// Reads and writes no catalogue topic and joins no group: its topic is its own (`_schemas`).
inline constexpr services::service_descriptor descriptor{
    .name = "schema-registry", .group = "", .topics = {}, .handles = {}, .routes = detail::routes};

struct options {
  client_config config{};
  /// host:port; port 0 picks a free one (url() tells which).
  std::string listen = "127.0.0.1:8081";
  std::string topic = "_schemas";
  /// Where other instances forward writes to this one; empty: http://<listen host>:<port>.
  std::string advertised_url{};
  /// How long the writer may go unheard before another instance takes over (a writer that stops
  /// cleanly hands over at once).
  std::chrono::milliseconds writer_lease{30'000};
  /// Bound on a write's read-back, and (plus 5 s) on a forwarded write.
  std::chrono::milliseconds write_timeout{10'000};
};

class server {
 public:
  /// See the header comment. Errors name the address or the topic and the cause.
  [[nodiscard]] static std::expected<std::unique_ptr<server>, std::string> start(const options& opts);
  /// stop()
  ~server();
  server(const server&) = delete;
  server& operator=(const server&) = delete;

  /// "http://127.0.0.1:8081": where this instance answers.
  [[nodiscard]] const std::string& url() const;
  [[nodiscard]] store_status status() const;
  /// The listener its routes answer on (http_listener::answer serves a request in memory).
  [[nodiscard]] services::http_listener& listener();
  /// Stops answering, resigns the writer role if held, stops following the topic. Idempotent.
  void stop();

  struct impl;

 private:
  explicit server(std::unique_ptr<impl> state);
  std::unique_ptr<impl> impl_;
};

/// Serves until `stop`; `on_ready` gets the URL once the registry answers. `horizons serve
/// schema-registry` runs this.
[[nodiscard]] std::expected<void, std::string> run(const options& opts, std::stop_token stop,
                                                   const std::function<void(const std::string& url)>& on_ready = {});

}  // namespace horizons::schema_registry_service
