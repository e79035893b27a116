// A service's HTTP listen address, "host:port" or "[v6]:port" (port 0: any free port).
//
//   auto address = horizons::services::parse_listen("127.0.0.1:8081");   // {.host, .port}
//   if (!address) fail(address.error());   // "HTTP listen address: expected host:port, got '8081'"
//
// Header only; any thread.
#pragma once

#include <charconv>
#include <expected>
#include <string>
#include <system_error>

#include <fmt/format.h>

namespace horizons::services {

struct listen_address {
  std::string host;
  int port;
};

[[nodiscard]] inline std::expected<listen_address, std::string> parse_listen(const std::string& listen) {
  const auto colon = listen.rfind(':');
  const auto bad = [&] {
    return std::unexpected(fmt::format("HTTP listen address: expected host:port, got '{}'", listen));
  };
  if (colon == std::string::npos || colon == 0) return bad();
  std::string host = listen.substr(0, colon);
  if (host.front() == '[') {
    if (host.size() < 3 || host.back() != ']') return bad();
    host = host.substr(1, host.size() - 2);
  }
  int port = -1;
  const char* first = listen.data() + colon + 1;
  const char* last = listen.data() + listen.size();
  const auto [end, ec] = std::from_chars(first, last, port);
  if (first == last || ec != std::errc() || end != last || port < 0 || port > 65'535) return bad();
  return listen_address{std::move(host), port};
}

}  // namespace horizons::services
