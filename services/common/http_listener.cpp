#include "services/common/http_listener.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <string_view>

#include <fmt/format.h>

#include <horizons/metrics.hpp>

#include "services/common/listen_address.hpp"

namespace horizons::services {

bool is_loopback_host(const std::string& host) {
  if (host == "localhost") return true;
  in_addr v4{};
  if (inet_pton(AF_INET, host.c_str(), &v4) == 1) return (ntohl(v4.s_addr) >> 24) == 127;
  in6_addr v6{};
  return inet_pton(AF_INET6, host.c_str(), &v6) == 1 && IN6_IS_ADDR_LOOPBACK(&v6);
}

std::expected<std::optional<tls_files>, std::string> tls_files::from_environment() {
  const char* certificate = std::getenv("HORIZONS_HTTP_TLS_CERT");
  const char* key = std::getenv("HORIZONS_HTTP_TLS_KEY");
  const bool has_certificate = certificate && *certificate, has_key = key && *key;
  if (!has_certificate && !has_key) return std::nullopt;
  if (has_certificate != has_key) {
    return std::unexpected(fmt::format("{} is set without {}: HTTPS needs both the certificate and its key",
                                       has_certificate ? "HORIZONS_HTTP_TLS_CERT" : "HORIZONS_HTTP_TLS_KEY",
                                       has_certificate ? "HORIZONS_HTTP_TLS_KEY" : "HORIZONS_HTTP_TLS_CERT"));
  }
  for (auto [name, path] :
       {std::pair{"HORIZONS_HTTP_TLS_CERT", certificate}, std::pair{"HORIZONS_HTTP_TLS_KEY", key}}) {
    std::error_code ec;
    if (!std::filesystem::is_regular_file(path, ec)) return std::unexpected(fmt::format("{}: no file {}", name, path));
  }
  return tls_files{.certificate = certificate, .key = key};
}

template <class Server>
class http_listener::exposed final : public Server {
 public:
  using Server::Server;
  void process(httplib::Stream& stream) {
    bool closed = false;
    (void)Server::process_request(stream, true, closed, nullptr);
  }
};

std::expected<std::unique_ptr<http_listener>, std::string> http_listener::bind(const std::string& listen,
                                                                               http_reach reach,
                                                                               const std::optional<tls_files>& tls) {
  auto parsed = parse_listen(listen);
  if (!parsed) return std::unexpected(parsed.error());
  const char* allow = std::getenv("HORIZONS_HTTP_ALLOW_NETWORK");
  if (reach == http_reach::this_host && !is_loopback_host(parsed->host) && !(allow && std::string_view(allow) == "1")) {
    return std::unexpected(fmt::format(
        "cannot listen on {}: these routes have no authentication, so they listen on loopback addresses only "
        "(127.0.0.1, ::1); set HORIZONS_HTTP_ALLOW_NETWORK=1 to serve them to the network anyway",
        listen));
  }
  std::unique_ptr<http_listener> listener(new http_listener());
  if (tls) {
    auto https = std::make_unique<exposed<httplib::SSLServer>>(tls->certificate.c_str(), tls->key.c_str());
    if (!https->is_valid()) {
      return std::unexpected(fmt::format(
          "cannot serve HTTPS on {}: OpenSSL could not load the certificate {} and the key {} (PEM files, the key "
          "unencrypted and the certificate's own)",
          listen, tls->certificate.string(), tls->key.string()));
    }
    listener->process_ = [raw = https.get()](httplib::Stream& stream) { raw->process(stream); };
    listener->server_ = std::move(https);
    listener->tls_ = true;
  } else {
    auto http = std::make_unique<exposed<httplib::Server>>();
    listener->process_ = [raw = http.get()](httplib::Stream& stream) { raw->process(stream); };
    listener->server_ = std::move(http);
  }
  auto& server = *listener->server_;
  socket_t listening = INVALID_SOCKET;
  server.set_socket_options([&listening](socket_t sock) {
    int yes = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
    listening = sock;
  });
  int port = parsed->port;
  if (port == 0) {
    port = server.bind_to_any_port(parsed->host);
  } else if (!server.bind_to_port(parsed->host, port)) {
    port = -1;
  }
  if (port < 0) {
    return std::unexpected(fmt::format("cannot listen on {}: the address is not local or the port is in use", listen));
  }
  // Debian's httplib listens with a backlog of 5: under 200 clients at once, connections beyond it
  // went unanswered (a test found 32 to 151 of 1,000). Listening again on the same socket raises it.
  if (listening != INVALID_SOCKET) ::listen(listening, SOMAXCONN);
  server.set_socket_options([](socket_t sock) {
    int yes = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
  });
  listener->address_ = parsed->host.find(':') == std::string::npos ? fmt::format("{}:{}", parsed->host, port)
                                                                   : fmt::format("[{}]:{}", parsed->host, port);
  return listener;
}

http_listener::~http_listener() { stop(); }

void http_listener::serve() {
  add_metrics_route(*server_);
  thread_ = std::thread([this] {
    server_->listen_after_bind();
    ended_ = true;
  });
}

void http_listener::stop() {
  if (!thread_.joinable()) return;
  // httplib's stop() does nothing until the listening loop has started: repeat until it ended.
  while (!ended_) {
    server_->stop();
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  thread_.join();
}

namespace {

// A connection held in memory: reads `request`, keeps what is written, and takes two writes (the
// response head and one body write) before it reports the client gone.
class memory_stream final : public httplib::Stream {
 public:
  explicit memory_stream(std::string_view request) : unread_(request) {}
  bool is_readable() const override { return true; }
  bool is_writable() const override { return writes_ < 2; }
  ssize_t read(char* ptr, size_t size) override {
    const auto n = std::min(size, unread_.size());
    std::copy_n(unread_.data(), n, ptr);
    unread_.remove_prefix(n);
    return static_cast<ssize_t>(n);
  }
  ssize_t write(const char* ptr, size_t size) override {
    if (!is_writable()) return -1;
    ++writes_;
    written_.append(ptr, size);
    return static_cast<ssize_t>(size);
  }
  void get_remote_ip_and_port(std::string& ip, int& port) const override {
    ip = "127.0.0.1";
    port = 0;
  }
  void get_local_ip_and_port(std::string& ip, int& port) const override {
    ip = "127.0.0.1";
    port = 0;
  }
  socket_t socket() const override { return INVALID_SOCKET; }
  [[nodiscard]] std::string written() && { return std::move(written_); }

 private:
  std::string_view unread_;
  std::string written_;
  int writes_ = 0;
};

}  // namespace

std::string http_listener::answer(std::string_view request) {
  memory_stream stream(request);
  process_(stream);
  return std::move(stream).written();
}

void add_metrics_route(httplib::Server& server) {
  server.Get("/metrics", [](const httplib::Request&, httplib::Response& response) {
    response.set_content(metrics::exposition(), std::string(metrics::content_type));
  });
}

}  // namespace horizons::services
