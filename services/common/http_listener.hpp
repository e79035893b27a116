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
// With `tls` (a certificate chain and its key, PEM files) the listener speaks HTTPS only, through
// httplib's OpenSSL server; bind() fails naming the files when OpenSSL cannot load them or they do
// not belong together. answer() goes past TLS: it feeds the routes directly.
// Threads: bind(), serve() and stop() from the owning thread; routes run on httplib's threads.
#pragma once

#include <atomic>
#include <cstdint>
#include <expected>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>

#include <httplib.h>

namespace horizons::services {

/// Who may reach a listener's routes: this host only (routes without authentication), or the network.
enum class http_reach : std::uint8_t { this_host, network };

/// True for 127.0.0.0/8, ::1 and "localhost".
[[nodiscard]] bool is_loopback_host(const std::string& host);

/// A listener's TLS certificate chain and private key (PEM files, the key unencrypted).
struct tls_files {
  std::filesystem::path certificate{};
  std::filesystem::path key{};

  /// HORIZONS_HTTP_TLS_CERT and HORIZONS_HTTP_TLS_KEY: both (files that exist), or neither (nullopt);
  /// one without the other, or a file that is missing, is an error naming the variable.
  [[nodiscard]] static std::expected<std::optional<tls_files>, std::string> from_environment();
};

class http_listener {
 public:
  [[nodiscard]] static std::expected<std::unique_ptr<http_listener>, std::string> bind(
      const std::string& listen, http_reach reach = http_reach::this_host,
      const std::optional<tls_files>& tls = std::nullopt);
  ~http_listener();  ///< stop()
  http_listener(const http_listener&) = delete;
  http_listener& operator=(const http_listener&) = delete;

  /// Where routes are added, before or after serve().
  [[nodiscard]] httplib::Server& server() { return *server_; }
  /// Adds GET /metrics and starts answering.
  void serve();
  /// Stops answering and joins the thread (waits for requests in hand). Idempotent.
  void stop();

  /// "host:port" ("[v6]:port") with the port actually bound.
  [[nodiscard]] const std::string& address() const { return address_; }
  /// "http://" + address(), or "https://" with TLS.
  [[nodiscard]] std::string url() const { return (tls_ ? "https://" : "http://") + address_; }

  /// Answers one raw HTTP request in memory through the same routes, on the calling thread, and
  /// returns the raw response: the fuzz targets' way in. The client reads the response head and
  /// one body write, then hangs up (a stream route ends after its first frame).
  [[nodiscard]] std::string answer(std::string_view request);

 private:
  http_listener() = default;
  // httplib's Server or SSLServer, with its request processing reachable by answer().
  template <class Server>
  class exposed;
  std::unique_ptr<httplib::Server> server_;
  std::function<void(httplib::Stream&)> process_;  // one request from the stream through server_'s routes
  bool tls_ = false;
  std::thread thread_;
  std::atomic<bool> ended_{false};
  std::string address_;
};

/// GET /metrics on `server`: horizons::metrics::exposition(), text format 0.0.4.
void add_metrics_route(httplib::Server& server);

}  // namespace horizons::services
