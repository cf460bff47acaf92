// libzip, loaded when an .npz is first read or written rather than at start-up: libzip pulls in
// libcrypto, and loading the two costs every mhacheck process about 1.4 ms, more than a whole
// `check` of a spec (bench/README.md). The functions src/input/npz.cpp calls are defined here with
// zip.h's exact signatures (the compiler checks them against its declarations) and forward to
// the library's own, looked up in it with dlsym.
#include <dlfcn.h>
#include <zip.h>

#include <mutex>
#include <string>

#include <fmt/format.h>

#include "core/runtime_library.hpp"

namespace mhacheck {
namespace {

// The library's name as libzip4 installs it.
constexpr const char* kLibrary = "libzip.so.4";

void* library() {
  static void* handle = nullptr;
  static std::string problem;
  static std::once_flag once;
  std::call_once(once, [] {
    handle = dlopen(kLibrary, RTLD_NOW | RTLD_LOCAL);
    if (handle == nullptr) {
      const char* reason = dlerror();
      problem = reason != nullptr ? reason : "not found";
    }
  });
  if (handle == nullptr) {
    throw runtime_library_missing(fmt::format("libzip ({})", kLibrary), problem,
                                  "reading and writing .npz files needs it: apt-get install libzip4");
  }
  return handle;
}

template <class Function>
Function resolve(const char* name) {
  void* symbol = dlsym(library(), name);
  if (symbol == nullptr) {
    throw runtime_library_missing(fmt::format("libzip ({})", kLibrary), fmt::format("no function {}", name),
                                  "install Debian 12's libzip4 (1.7 or later)");
  }
  return reinterpret_cast<Function>(symbol);
}

}  // namespace
}  // namespace mhacheck

// Each definition looks its function up once, at its first call.
#define MHACHECK_ZIP_FORWARD(result, name, parameters, arguments)                                    \
  extern "C" result name parameters {                                                               \
    static const auto function = mhacheck::resolve<decltype(&name)>(#name);                         \
    return function arguments;                                                                      \
  }

MHACHECK_ZIP_FORWARD(int, zip_close, (zip_t* archive), (archive))
MHACHECK_ZIP_FORWARD(void, zip_discard, (zip_t* archive), (archive))
MHACHECK_ZIP_FORWARD(void, zip_error_fini, (zip_error_t* error), (error))
MHACHECK_ZIP_FORWARD(void, zip_error_init, (zip_error_t* error), (error))
MHACHECK_ZIP_FORWARD(void, zip_error_init_with_code, (zip_error_t* error, int code), (error, code))
MHACHECK_ZIP_FORWARD(const char*, zip_error_strerror, (zip_error_t* error), (error))
MHACHECK_ZIP_FORWARD(int, zip_fclose, (zip_file_t* file), (file))
MHACHECK_ZIP_FORWARD(zip_t*, zip_fdopen, (int fd, int flags, int* error), (fd, flags, error))
MHACHECK_ZIP_FORWARD(zip_int64_t, zip_file_add, (zip_t* archive, const char* name, zip_source_t* source, zip_flags_t flags),
                     (archive, name, source, flags))
MHACHECK_ZIP_FORWARD(const char*, zip_file_strerror, (zip_file_t* file), (file))
MHACHECK_ZIP_FORWARD(zip_file_t*, zip_fopen_index, (zip_t* archive, zip_uint64_t index, zip_flags_t flags), (archive, index, flags))
MHACHECK_ZIP_FORWARD(zip_int64_t, zip_fread, (zip_file_t* file, void* buffer, zip_uint64_t size), (file, buffer, size))
MHACHECK_ZIP_FORWARD(const char*, zip_get_name, (zip_t* archive, zip_uint64_t index, zip_flags_t flags), (archive, index, flags))
MHACHECK_ZIP_FORWARD(zip_int64_t, zip_get_num_entries, (zip_t* archive, zip_flags_t flags), (archive, flags))
MHACHECK_ZIP_FORWARD(zip_t*, zip_open_from_source, (zip_source_t* source, int flags, zip_error_t* error), (source, flags, error))
MHACHECK_ZIP_FORWARD(int, zip_set_file_compression, (zip_t* archive, zip_uint64_t index, zip_int32_t method, zip_uint32_t level),
                     (archive, index, method, level))
MHACHECK_ZIP_FORWARD(zip_source_t*, zip_source_buffer, (zip_t* archive, const void* data, zip_uint64_t size, int free_data),
                     (archive, data, size, free_data))
MHACHECK_ZIP_FORWARD(zip_source_t*, zip_source_buffer_create, (const void* data, zip_uint64_t size, int free_data, zip_error_t* error),
                     (data, size, free_data, error))
MHACHECK_ZIP_FORWARD(int, zip_source_close, (zip_source_t* source), (source))
MHACHECK_ZIP_FORWARD(void, zip_source_free, (zip_source_t* source), (source))
MHACHECK_ZIP_FORWARD(void, zip_source_keep, (zip_source_t* source), (source))
MHACHECK_ZIP_FORWARD(int, zip_source_open, (zip_source_t* source), (source))
MHACHECK_ZIP_FORWARD(zip_int64_t, zip_source_read, (zip_source_t* source, void* buffer, zip_uint64_t size), (source, buffer, size))
MHACHECK_ZIP_FORWARD(int, zip_source_stat, (zip_source_t* source, zip_stat_t* stat), (source, stat))
MHACHECK_ZIP_FORWARD(int, zip_stat_index, (zip_t* archive, zip_uint64_t index, zip_flags_t flags, zip_stat_t* stat), (archive, index, flags, stat))
MHACHECK_ZIP_FORWARD(void, zip_stat_init, (zip_stat_t* stat), (stat))
MHACHECK_ZIP_FORWARD(const char*, zip_strerror, (zip_t* archive), (archive))
