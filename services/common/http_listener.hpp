// A service's HTTP listener: binds an address, serves on a thread of its own,
// and stops on destruction. Every service that answers HTTP uses one, and
// every one of them serves GET /metrics (the process's Prometheus metrics).
//
//   auto http = horizons::services::http_listener::bind("127.0.0.1:0");   // port 0: any free port
//   if (!http) return std::unexpected(http.error());   // "cannot listen on 127.0.0.1:80: ..."
//   (*http)->server().Get("/jobs", ...);              // the service's routes
//   (*http)->serve();                                  // GET /metrics is added here
//   fmt::print("{}\n", (*http)->url());               // "http://127.0.0.1:40123"
//   auto raw = (*http)->answer("GET /metrics HTTP/1.1\r\n\r\n");   // in memory, no socket (fuzzing)
//
// bind() fails, naming the address, when it is malformed, not local or in use (SO_REUSEADDR
// only: httplib's default SO_REUSEPORT would let a second instance share the port unnoticed).
// Routes without authentication (http_reach::this_host, the default) listen on loopback addresses
// only, unless HORIZONS_HTTP_ALLOW_NETWORK=1 says to serve them to the network anyway; a listener
// whose routes check a bearer token on every request (http_reach::network) may bind any address.
// Threads: bind(), serve() and stop() from the owning thread; routes run on httplib's threads.
#pragma once

#include <atomic>
#include <cstdint>
#include <expected>
#include <memory>
#include <string>
#include <string_view>
#include <thread>

#include <httplib.h>

namespace horizons::services {

/// Who may reach a listener's routes: this host only (routes without authentication), or the network.
enum class http_reach : std::uint8_t { this_host, network };

/// True for 127.0.0.0/8, ::1 and "localhost".
[[nodiscard]] bool is_loopback_host(const std::string& host);

class http_listener {
 public:
  [[nodiscard]] static std::expected<std::unique_ptr<http_listener>, std::string> bind(
      const std::string& listen, http_reach reach = http_reach::this_host);
  ~http_listener();  ///< stop()
  http_listener(const http_listener&) = delete;
  http_listener& operator=(const http_listener&) = delete;

  /// Where routes are added, before or after serve().
  [[nodiscard]] httplib::Server& server() { return server_; }
  /// Adds GET /metrics and starts answering.
  void serve();
  /// Stops answering and joins the thread (waits for requests in hand). Idempotent.
  void stop();

  /// "host:port" ("[v6]:port") with the port actually bound.
  [[nodiscard]] const std::string& address() const { return address_; }
  /// "http://" + address().
  [[nodiscard]] std::string url() const { return "http://" + address_; }

  /// Answers one raw HTTP request in memory through the same routes, on the calling thread, and
  /// returns the raw response: the fuzz targets' way in. The client reads the response head and
  /// one body write, then hangs up (a stream route ends after its first frame).
  [[nodiscard]] std::string answer(std::string_view request);

 private:
  http_listener() = default;
  // httplib::Server with its request processing reachable by answer().
  class server_type : public httplib::Server {
    friend class http_listener;
  };
  server_type server_;
  std::thread thread_;
  std::atomic<bool> ended_{false};
  std::string address_;
};

/// GET /metrics on `server`: horizons::metrics::exposition(), text format 0.0.4.
void add_metrics_route(httplib::Server& server);

}  // namespace horizons::services
