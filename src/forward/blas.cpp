#include "forward/blas.hpp"

#include <algorithm>
#include <cstdint>
#include <mutex>
#include <new>
#include <thread>
#include <vector>

#include <cblas.h>
#include <dlfcn.h>

#include <fmt/format.h>

#include "core/memory_room.hpp"
#include "core/runtime_library.hpp"

namespace mhacheck::blas {
namespace {

// The library's name as libopenblas0 installs it (Debian's alternatives choose the variant).
constexpr const char* kLibrary = "libopenblas.so.0";

struct Functions {
  decltype(&cblas_sgemm) sgemm = nullptr;
  decltype(&cblas_dgemm) dgemm = nullptr;
  decltype(&openblas_set_num_threads) set_num_threads = nullptr;
  // OpenBLAS's buffer pool (exported, not in cblas.h): a buffer taken, and given back.
  void* (*memory_alloc)(int) = nullptr;
  void (*memory_free)(void*) = nullptr;
};

// One OpenBLAS buffer as x86-64 builds allocate it: BUFFER_SIZE (32 << 22) and a guard page.
constexpr std::uint64_t kBufferBytes = (std::uint64_t{32} << 22) + 4096;

const Functions& functions() {
  static Functions loaded;
  static std::once_flag once;
  static std::string problem;
  std::call_once(once, [] {
    // RTLD_GLOBAL and lookups in the global scope: a program that defines cblas_sgemm itself
    // (bench/forward's GEMM profiler) is called first and can forward with RTLD_NEXT.
    void* library = dlopen(kLibrary, RTLD_NOW | RTLD_GLOBAL);
    if (library == nullptr) {
      const char* reason = dlerror();
      problem = reason != nullptr ? reason : "not found";
      return;
    }
    loaded.sgemm = reinterpret_cast<decltype(loaded.sgemm)>(dlsym(RTLD_DEFAULT, "cblas_sgemm"));
    loaded.dgemm = reinterpret_cast<decltype(loaded.dgemm)>(dlsym(RTLD_DEFAULT, "cblas_dgemm"));
    loaded.set_num_threads = reinterpret_cast<decltype(loaded.set_num_threads)>(dlsym(RTLD_DEFAULT, "openblas_set_num_threads"));
    loaded.memory_alloc = reinterpret_cast<decltype(loaded.memory_alloc)>(dlsym(library, "blas_memory_alloc"));
    loaded.memory_free = reinterpret_cast<decltype(loaded.memory_free)>(dlsym(library, "blas_memory_free"));
    if (loaded.sgemm == nullptr || loaded.dgemm == nullptr || loaded.set_num_threads == nullptr) problem = "missing CBLAS symbols";
  });
  if (!problem.empty()) {
    throw runtime_library_missing(fmt::format("OpenBLAS ({})", kLibrary), problem,
                                  "the forward pass needs it: apt-get install libopenblas0");
  }
  return loaded;
}

CBLAS_TRANSPOSE transposition(bool transpose) { return transpose ? CblasTrans : CblasNoTrans; }

}  // namespace

void gemm(bool transpose_b, int m, int n, int k, float alpha, const float* a, int lda, const float* b, int ldb, float* c, int ldc) {
  functions().sgemm(CblasRowMajor, CblasNoTrans, transposition(transpose_b), m, n, k, alpha, a, lda, b, ldb, 0.0f, c, ldc);
}

void gemm(bool transpose_b, int m, int n, int k, double alpha, const double* a, int lda, const double* b, int ldb, double* c, int ldc) {
  functions().dgemm(CblasRowMajor, CblasNoTrans, transposition(transpose_b), m, n, k, alpha, a, lda, b, ldb, 0.0, c, ldc);
}

void set_threads(int threads) { functions().set_num_threads(threads); }

void reserve(int threads) {
  static std::mutex mutex;
  static int reserved = 0;
  std::lock_guard<std::mutex> lock(mutex);
  if (threads <= reserved) return;
  // Its threads (as many as the cores when it loads, or `threads`), each holding a buffer from its
  // start, and `threads` callers' buffers, held by nobody between GEMMs. Before loading, room for
  // every one of them; once loaded, some exist already, which costs address space only.
  const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  const int pool = std::max(threads, cores);
  if (!memory_room(kBufferBytes, static_cast<std::uint64_t>(pool + threads))) throw std::bad_alloc();
  const Functions& blas = functions();
  // A GEMM large enough for OpenBLAS to split over all its threads waits for each of them, which
  // takes its buffer when it starts: one started later would take a buffer released in the pool
  // and leave a caller to allocate one anew.
  blas.set_num_threads(pool);
  constexpr int kSize = 256;
  std::vector<float> a(kSize * kSize, 1.0f), c(kSize * kSize);
  blas.sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, kSize, kSize, kSize, 1.0f, a.data(), kSize, a.data(), kSize, 0.0f, c.data(), kSize);
  blas.set_num_threads(threads);
  if (blas.memory_alloc != nullptr && blas.memory_free != nullptr) {
    // Held together, `threads` buffers are each allocated (released, they stay in the pool).
    std::vector<void*> held;
    for (int i = 0; i < threads; ++i) held.push_back(blas.memory_alloc(0));
    for (void* buffer : held) {
      if (buffer != nullptr) blas.memory_free(buffer);
    }
  }
  reserved = threads;
}

}  // namespace mhacheck::blas
