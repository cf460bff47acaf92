// Reading and writing NumPy's .npy and .npz files: the arrays a user saved with np.save /
// np.savez, so that shapes and values can be checked without Python.
//
// Every malformed or hostile file is an InputError naming the file and the problem, raised
// before any allocation sized by the file's own claims.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "mhacheck/dtype.hpp"
#include "mhacheck/location.hpp"

namespace mhacheck {

// What a .npy header says, before any data is read.
struct NpyHeader {
  DType dtype = DType::Float32;
  std::vector<std::int64_t> shape;  // empty for a 0-d array
  bool fortran_order = false;
  bool big_endian = false;          // of the data in the file; false for one-byte types
  std::int64_t element_count = 1;   // product of shape, checked against int64 overflow
};

// A dense array in native byte order and C (row-major) order.
struct Array {
  DType dtype = DType::Float32;
  std::vector<std::int64_t> shape;
  std::vector<unsigned char> bytes;

  std::int64_t size() const;          // number of elements; 1 for a 0-d array
  std::size_t element_size() const;   // bytes per element
  // The elements as T; the caller checks that T matches dtype.
  template <class T>
  T* data() { return reinterpret_cast<T*>(bytes.data()); }
  template <class T>
  const T* data() const { return reinterpret_cast<const T*>(bytes.data()); }
  // Every element as a double, in C order (bool -> 0/1, float16 and bfloat16 widened exactly).
  std::vector<double> to_double() const;
};

std::size_t dtype_size(DType dtype);
// A zero-filled array; throws std::invalid_argument for negative dims or an overflowing size.
Array make_array(DType dtype, std::vector<std::int64_t> shape);

// .npy (src/input/npy.cpp). Regular files only: directories, FIFOs and devices are refused unread.
NpyHeader read_npy_header(const std::string& path);
// Refuses arrays of more than max_elements elements before allocating them.
Array read_npy(const std::string& path, std::int64_t max_elements);
// Writes format version 1.0 (2.0 if the header needs it), little-endian, C order, through a
// temporary file in the same directory renamed over `path`; on failure `path` is untouched.
// bfloat16 has no .npy dtype and is refused.
void write_npy(const std::string& path, const Array& array);

// .npz (src/input/npz.cpp), as np.savez (stored) and np.savez_compressed (deflate) write them.
// Member "query" is stored as "query.npy". Archives with duplicate member names or member
// names that climb out of a directory ("..", absolute paths) are refused whole.
std::vector<std::string> list_npz(const std::string& path);  // names without ".npy"
NpyHeader read_npz_header(const std::string& path, const std::string& member);
// The member's declared uncompressed size must agree with its .npy header, and no more than
// that is ever inflated: a zip bomb fails on its numbers, not on memory.
Array read_npz(const std::string& path, const std::string& member, std::int64_t max_elements);
void write_npz(const std::string& path, const std::vector<std::pair<std::string, Array>>& members,
               bool compressed);

}  // namespace mhacheck
