// libFuzzer target: the .npy and .npz readers. The bytes are written to one temporary file per
// process, read as .npy (header, then data with a small element limit) and as .npz (members,
// each member's header and data). Only InputError is an expected outcome.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "mhacheck/location.hpp"
#include "mhacheck/npy.hpp"

namespace {

constexpr std::int64_t kMaxElements = 4096;

const std::string& temp_path() {
  static const std::string path = [] {
    std::error_code error;
    std::filesystem::path folder = std::filesystem::temp_directory_path(error);
    if (error) folder = "/tmp";
    return (folder / ("mhacheck_fuzz_npy_" + std::to_string(::getpid()) + ".bin")).string();
  }();
  return path;
}

void remove_temp() { std::remove(temp_path().c_str()); }

void write_file(const std::uint8_t* data, std::size_t size) {
  static const bool registered = (std::atexit(remove_temp), true);
  (void)registered;
  std::FILE* file = std::fopen(temp_path().c_str(), "wb");
  if (file == nullptr) std::abort();
  if (size > 0 && std::fwrite(data, 1, size, file) != size) std::abort();
  if (std::fclose(file) != 0) std::abort();
}

void use(const mhacheck::Array& array) {
  std::vector<double> values = array.to_double();
  if (static_cast<std::int64_t>(values.size()) != array.size()) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace mhacheck;
  write_file(data, size);
  const std::string& path = temp_path();
  try {
    NpyHeader header = read_npy_header(path);
    (void)header;
    use(read_npy(path, kMaxElements));
  } catch (const InputError&) {
  }
  try {
    for (const std::string& member : list_npz(path)) {
      try {
        NpyHeader header = read_npz_header(path, member);
        (void)header;
        use(read_npz(path, member, kMaxElements));
      } catch (const InputError&) {
      }
    }
  } catch (const InputError&) {
  }
  return 0;
}
