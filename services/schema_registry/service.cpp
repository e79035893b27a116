#include "services/schema_registry/service.hpp"

#include <condition_variable>
#include <mutex>

#include <fmt/format.h>
#include <httplib.h>
#include <spdlog/spdlog.h>

#include "services/schema_registry/http_routes.hpp"
#include "services/schema_registry/registry_api.hpp"
#include "services/common/http_listener.hpp"

namespace horizons::schema_registry_service {

struct server::impl {
  std::unique_ptr<services::http_listener> http;
  std::string url;
  std::unique_ptr<topic_store> store;
  std::unique_ptr<registry_api> api;

  void stop() {
    if (http) http->stop();
    if (store) store->close();
  }
};

std::expected<std::unique_ptr<server>, std::string> server::start(const options& opts) {
  auto state = std::make_unique<impl>();
  // Bound first, so that a busy port fails before anything else is done.
  auto http = services::http_listener::bind(opts.listen);
  if (!http) return std::unexpected(http.error());
  state->http = std::move(*http);
  state->url = !opts.advertised_url.empty() ? opts.advertised_url : state->http->url();
  auto store = topic_store::open({.config = opts.config,
                                  .topic = opts.topic,
                                  .url = state->url,
                                  .lease = opts.writer_lease,
                                  .write_timeout = opts.write_timeout});
  if (!store) return std::unexpected(store.error());
  state->store = std::move(*store);
  state->api = std::make_unique<registry_api>(*state->store);
  add_routes(state->http->server(), {.api = *state->api,
                                     .store = *state->store,
                                     .own_url = state->url,
                                     .forward_timeout = opts.write_timeout + std::chrono::seconds(5)});
  state->http->serve();
  spdlog::info("schema registry: answering at {} (topic {})", state->url, opts.topic);
  return std::unique_ptr<server>(new server(std::move(state)));
}

server::server(std::unique_ptr<impl> state) : impl_(std::move(state)) {}
server::~server() { stop(); }

const std::string& server::url() const { return impl_->url; }
store_status server::status() const { return impl_->store->status(); }
services::http_listener& server::listener() { return *impl_->http; }
void server::stop() { impl_->stop(); }

std::expected<void, std::string> run(const options& opts, std::stop_token stop,
                                     const std::function<void(const std::string& url)>& on_ready) {
  auto registry = server::start(opts);
  if (!registry) return std::unexpected(registry.error());
  if (on_ready) on_ready((*registry)->url());
  std::mutex mutex;
  std::condition_variable_any stopped;
  std::unique_lock lock(mutex);
  stopped.wait(lock, stop, [] { return false; });
  (*registry)->stop();
  return {};
}

}  // namespace horizons::schema_registry_service
