// Building blocks that input/npy.cpp and input/npz.cpp share: the .npy format below the public
// read/write API of include/mhacheck/npy.hpp. Not part of the library's API.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "mhacheck/location.hpp"
#include "mhacheck/npy.hpp"

namespace mhacheck {
namespace npy_detail {

// What an error names: the file, and within an .npz, the member.
struct NpySource {
  std::string path;
  std::string member;  // empty for a .npy file
};

// "q.npy: problem" or "a.npz: member \"q\": problem", located at the file (line 0).
InputError npy_error(const NpySource& source, const std::string& problem, std::string help = {});

// Reads up to `count` bytes into `into` and returns how many it read (fewer only at the end).
using ByteReader = std::function<std::size_t(unsigned char* into, std::size_t count)>;

// Reads magic, version, header length and the header dict; `header_size` receives the offset
// of the data. Reads at most the header's own (limited) length.
NpyHeader read_header(const NpySource& source, const ByteReader& read, std::size_t& header_size);
// element_count * item size; cannot overflow once read_header has accepted the header.
std::int64_t data_bytes(const NpyHeader& header);
void check_element_limit(const NpySource& source, const NpyHeader& header, std::int64_t max_elements);
// Reads exactly data_bytes(header) bytes and converts them to native byte order and C order.
Array read_data(const NpySource& source, const NpyHeader& header, const ByteReader& read);

// The complete .npy file for `array`.
std::vector<unsigned char> encode_npy(const NpySource& source, const Array& array);
// Opens a regular file for reading (O_NONBLOCK, so a FIFO cannot hang the open), or throws.
// Returns the descriptor; `size` receives the file's size.
int open_regular_file(const NpySource& source, std::int64_t& size);

}  // namespace npy_detail
}  // namespace mhacheck
