// The GEMMs of the forward passes, through OpenBLAS loaded on first use (dlopen). Linking it
// would make every process pay for it at start-up — its thread pool and relocations cost `check`
// about 3 ms of a 5 ms budget — while only `run` multiplies matrices.
#pragma once

namespace mhacheck::blas {

// c (m x n) = alpha * a (m x k) * b (k x n), or b^T when `transpose_b` (b then n x k); row-major.
// Throws InputError when OpenBLAS cannot be loaded.
void gemm(bool transpose_b, int m, int n, int k, float alpha, const float* a, int lda, const float* b, int ldb, float* c, int ldc);
void gemm(bool transpose_b, int m, int n, int k, double alpha, const double* a, int lda, const double* b, int ldb, double* c, int ldc);

// OpenBLAS's own threads for the GEMMs that follow.
void set_threads(int threads);

// Makes OpenBLAS allocate, now, the buffers of `threads` of its own threads and of `threads`
// callers multiplying at once, which it keeps for later GEMMs: it retries a failed allocation of a
// buffer forever (blas_memory_alloc, 0.3.21), so one first needed when memory has run out would
// hang the run. Throws std::bad_alloc, having allocated nothing, when there is no room for them,
// and InputError when OpenBLAS cannot be loaded.
void reserve(int threads);

}  // namespace mhacheck::blas
