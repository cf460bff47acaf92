#include "forward/blas.hpp"

#include <mutex>

#include <cblas.h>
#include <dlfcn.h>

#include <fmt/format.h>

#include "core/runtime_library.hpp"

namespace mhacheck::blas {
namespace {

// The library's name as libopenblas0 installs it (Debian's alternatives choose the variant).
constexpr const char* kLibrary = "libopenblas.so.0";

struct Functions {
  decltype(&cblas_sgemm) sgemm = nullptr;
  decltype(&cblas_dgemm) dgemm = nullptr;
  decltype(&openblas_set_num_threads) set_num_threads = nullptr;
};

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

}  // namespace mhacheck::blas
