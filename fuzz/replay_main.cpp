// Runs a fuzz target once over every file in the folders (or files) named on the command line:
// the committed corpus and regressions, without libFuzzer, under any compiler and sanitizer.
// Exit 0 when every input ran; a broken property aborts as under libFuzzer.
//
//   fuzz_replay_avro_framed fuzz/corpus/avro_framed fuzz/regressions/avro_framed
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <vector>

#include <fmt/core.h>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);
extern "C" int LLVMFuzzerInitialize(int* argc, char*** argv) __attribute__((weak));

int main(int argc, char** argv) {
  if (LLVMFuzzerInitialize) LLVMFuzzerInitialize(&argc, &argv);
  std::vector<std::filesystem::path> inputs;
  for (int i = 1; i < argc; ++i) {
    const std::filesystem::path path = argv[i];
    if (std::filesystem::is_directory(path)) {
      for (const auto& entry : std::filesystem::directory_iterator(path))
        if (entry.is_regular_file()) inputs.push_back(entry.path());
    } else if (std::filesystem::is_regular_file(path)) {
      inputs.push_back(path);
    } else if (!std::filesystem::exists(path)) {
      fmt::print(stderr, "{}: no such file or folder\n", path.string());
      return 2;
    }
  }
  std::ranges::sort(inputs);
  for (const auto& input : inputs) {
    std::ifstream in(input, std::ios::binary);
    std::vector<char> bytes{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
    if (!in.eof() && in.fail()) {
      fmt::print(stderr, "{}: cannot read\n", input.string());
      return 2;
    }
    LLVMFuzzerTestOneInput(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size());
  }
  if (inputs.empty()) {
    fmt::print(stderr, "no inputs: name the corpus and regressions folders\n");
    return 2;
  }
  fmt::print("{} inputs ran\n", inputs.size());
  return 0;
}
