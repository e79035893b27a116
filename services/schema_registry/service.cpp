#include "services/schema_registry/service.hpp"

#include <sys/socket.h>

#include <atomic>
#include <charconv>
#include <condition_variable>
#include <mutex>
#include <thread>

#include <fmt/format.h>
#include <httplib.h>
#include <spdlog/spdlog.h>

#include "services/schema_registry/http_routes.hpp"
#include "services/schema_registry/registry_api.hpp"
#include "services/common/listen_address.hpp"

namespace horizons::schema_registry_service {

struct server::impl {
  httplib::Server http;
  std::thread listener;
  std::atomic<bool> listening_ended{false};
  std::string url;
  std::unique_ptr<topic_store> store;
  std::unique_ptr<registry_api> api;

  // Binds, so that a busy port fails before anything else is done; the URL with the actual port.
  std::expected<void, std::string> bind(const options& opts) {
    auto address = services::parse_listen(opts.listen);
    if (!address) return std::unexpected(address.error());
    // httplib's default adds SO_REUSEPORT, which would let a second registry share the port unnoticed.
    http.set_socket_options([](socket_t sock) {
      int yes = 1;
      setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
    });
    int port = address->port;
    if (port == 0) {
      port = http.bind_to_any_port(address->host);
    } else if (!http.bind_to_port(address->host, port)) {
      port = -1;
    }
    if (port < 0) {
      return std::unexpected(
          fmt::format("cannot listen on {}: the address is not local or the port is in use", opts.listen));
    }
    const bool v6 = address->host.find(':') != std::string::npos;
    url = !opts.advertised_url.empty() ? opts.advertised_url
          : v6                         ? fmt::format("http://[{}]:{}", address->host, port)
                                       : fmt::format("http://{}:{}", address->host, port);
    return {};
  }

  void stop() {
    if (listener.joinable()) {
      // httplib's stop() does nothing until the listening loop has started: repeat until it ended.
      while (!listening_ended) {
        http.stop();
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
      }
      listener.join();
    }
    if (store) store->close();
  }
};

std::expected<std::unique_ptr<server>, std::string> server::start(const options& opts) {
  auto state = std::make_unique<impl>();
  if (auto bound = state->bind(opts); !bound) return std::unexpected(bound.error());
  auto store = topic_store::open({.config = opts.config,
                                  .topic = opts.topic,
                                  .url = state->url,
                                  .lease = opts.writer_lease,
                                  .write_timeout = opts.write_timeout});
  if (!store) return std::unexpected(store.error());
  state->store = std::move(*store);
  state->api = std::make_unique<registry_api>(*state->store);
  add_routes(state->http, {.api = *state->api,
                           .store = *state->store,
                           .own_url = state->url,
                           .forward_timeout = opts.write_timeout + std::chrono::seconds(5)});
  state->listener = std::thread([raw = state.get()] {
    raw->http.listen_after_bind();
    raw->listening_ended = true;
  });
  spdlog::info("schema registry: answering at {} (topic {})", state->url, opts.topic);
  return std::unique_ptr<server>(new server(std::move(state)));
}

server::server(std::unique_ptr<impl> state) : impl_(std::move(state)) {}
server::~server() { stop(); }

const std::string& server::url() const { return impl_->url; }
store_status server::status() const { return impl_->store->status(); }
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
