// Replays inputs through a fuzz target's LLVMFuzzerTestOneInput without libFuzzer, so that the
// seed corpus and every saved crash input (tests/fuzz_regressions/) run in the normal test
// suite (and under ASan/UBSan in the MHACHECK_SANITIZE build).
//
//   fuzz_spec_replay PATH...   each PATH a file, or a folder replayed recursively in name order
//
// Exit status 0 when every input ran; 1 when one threw (the target lets only expected errors
// through, so any exception here is a finding); a crash or sanitizer report ends the process.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);

namespace {

std::vector<std::filesystem::path> inputs_under(const std::filesystem::path& path) {
  std::vector<std::filesystem::path> files;
  if (std::filesystem::is_directory(path)) {
    for (const auto& entry : std::filesystem::recursive_directory_iterator(path)) {
      if (entry.is_regular_file()) files.push_back(entry.path());
    }
    std::sort(files.begin(), files.end());
  } else {
    files.push_back(path);
  }
  return files;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::cerr << "usage: " << argv[0] << " FILE_OR_FOLDER...\n";
    return 2;
  }
  int ran = 0;
  int failed = 0;
  for (int i = 1; i < argc; ++i) {
    std::filesystem::path root = argv[i];
    if (!std::filesystem::exists(root)) continue;  // e.g. no regression inputs saved yet
    for (const auto& file : inputs_under(root)) {
      if (file.filename() == "README.md" || file.filename() == ".gitkeep") continue;
      std::ifstream in(file, std::ios::binary);
      if (!in) {
        std::cerr << file.string() << ": cannot read\n";
        ++failed;
        continue;
      }
      std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      std::cerr << "replay " << file.string() << " (" << bytes.size() << " bytes)\n";
      try {
        LLVMFuzzerTestOneInput(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size());
      } catch (const std::exception& error) {
        std::cerr << file.string() << ": uncaught exception: " << error.what() << "\n";
        ++failed;
      } catch (...) {
        std::cerr << file.string() << ": uncaught exception of unknown type\n";
        ++failed;
      }
      ++ran;
    }
  }
  std::cerr << ran << " inputs replayed, " << failed << " failed\n";
  return failed == 0 ? 0 : 1;
}
