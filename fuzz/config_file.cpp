// The config file parser (--config FILE: NAME=value lines). The input is the file's text, held in
// memory (memfd) and read through the same path as a file on disk.
// Properties: a refusal is one line (what it quotes of the file is made printable); an accepted
// file gives a configuration that turns into librdkafka properties.
#include <sys/mman.h>
#include <unistd.h>

#include <string>

#include <horizons/config.hpp>

#include "fuzz/fuzz_support.hpp"

using namespace horizons;

namespace {

// One memory file for the whole run, rewritten for each input.
int memory_file() {
  static const int fd = memfd_create("horizons-config", 0);
  fuzz::expect(fd >= 0, "memfd_create works");
  return fd;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const int fd = memory_file();
  fuzz::expect(ftruncate(fd, 0) == 0 && pwrite(fd, data, size, 0) == static_cast<ssize_t>(size), "memfd is written");
  const std::string path = "/proc/self/fd/" + std::to_string(fd);
  auto config = load_config({.file = path});
  if (!config) {
    const auto& message = config.error().message;
    fuzz::expect(!message.empty() && message.find('\n') == std::string::npos, "a refusal is one line");
    return 0;
  }
  for (auto role : {client_role::producer, client_role::consumer, client_role::admin}) {
    auto properties = rdkafka_properties(*config, role);
    fuzz::expect(!properties.empty(), "an accepted configuration has librdkafka properties");
  }
  return 0;
}
