// Linked into forward_profile only (not forward_bench): interposes cblas_sgemm, forwards every
// call to OpenBLAS's own (dlsym RTLD_NEXT) and adds up the wall time of each call by kind, so a
// run of mha_forward splits into projection GEMMs, per-head GEMMs and everything else
// (softmax/mask loop, copies, zero-fills, head averaging). At exit it prints one JSON line to
// stderr. The per-head GEMMs run on the worker threads, so their sum is thread time; divide it
// by the number of workers for its share of the wall time.
#include <dlfcn.h>

#include <atomic>
#include <chrono>
#include <cstdio>

#include <cblas.h>

namespace {

using Sgemm = void (*)(OPENBLAS_CONST enum CBLAS_ORDER, OPENBLAS_CONST enum CBLAS_TRANSPOSE,
                       OPENBLAS_CONST enum CBLAS_TRANSPOSE, OPENBLAS_CONST blasint, OPENBLAS_CONST blasint,
                       OPENBLAS_CONST blasint, OPENBLAS_CONST float, OPENBLAS_CONST float*, OPENBLAS_CONST blasint,
                       OPENBLAS_CONST float*, OPENBLAS_CONST blasint, OPENBLAS_CONST float, float*,
                       OPENBLAS_CONST blasint);

std::atomic<long long> projection_ns{0}, scores_ns{0}, context_ns{0};
std::atomic<long long> projection_calls{0}, head_calls{0};

struct Report {
  ~Report() {
    std::fprintf(stderr,
                 "{\"gemm_projection_ms\": %.1f, \"gemm_projection_calls\": %lld, \"gemm_qk_thread_ms\": %.1f, "
                 "\"gemm_pv_thread_ms\": %.1f, \"gemm_head_calls\": %lld}\n",
                 projection_ns.load() / 1e6, projection_calls.load(), scores_ns.load() / 1e6, context_ns.load() / 1e6,
                 head_calls.load());
  }
} report;

}  // namespace

extern "C" void cblas_sgemm(OPENBLAS_CONST enum CBLAS_ORDER order, OPENBLAS_CONST enum CBLAS_TRANSPOSE trans_a,
                            OPENBLAS_CONST enum CBLAS_TRANSPOSE trans_b, OPENBLAS_CONST blasint m,
                            OPENBLAS_CONST blasint n, OPENBLAS_CONST blasint k, OPENBLAS_CONST float alpha,
                            OPENBLAS_CONST float* a, OPENBLAS_CONST blasint lda, OPENBLAS_CONST float* b,
                            OPENBLAS_CONST blasint ldb, OPENBLAS_CONST float beta, float* c,
                            OPENBLAS_CONST blasint ldc) {
  static Sgemm real = reinterpret_cast<Sgemm>(dlsym(RTLD_NEXT, "cblas_sgemm"));
  auto start = std::chrono::steady_clock::now();
  real(order, trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
  long long ns = std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - start).count();
  // mha_forward's shapes: projections are (rows x E) = (rows x E)(E x E)^T with lda == k;
  // per-head scores (L x S) = (L x hd)(S x hd)^T and context (L x hd) = (L x S)(S x hd), both
  // reading the (., E) projected rows with a stride wider than the head.
  if (trans_b == CblasTrans && lda == k) {
    projection_ns += ns;
    ++projection_calls;
  } else if (trans_b == CblasTrans) {
    scores_ns += ns;
    ++head_calls;
  } else {
    context_ns += ns;
    ++head_calls;
  }
}
