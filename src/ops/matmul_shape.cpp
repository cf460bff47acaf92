#include "ops/matmul_shape.hpp"

#include <fmt/format.h>

namespace mhacheck {
namespace {

Shape drop_last(const Shape& shape, std::size_t count) {
  return Shape(shape.begin(), shape.end() - static_cast<std::ptrdiff_t>(std::min(count, shape.size())));
}

// The kernels' messages. mv's is 2.x's wording (1.13 said "size mismatch, got 2, 2x3,4").
std::string dot_message(const DimExpr& a, const DimExpr& b) {
  return fmt::format("inconsistent tensor size, expected tensor [{}] and src [{}] to have the same number of elements, but got {} and {} "
                     "elements respectively",
                     a.str(), b.str(), a.str(), b.str());
}
std::string mv_message(const std::string& rows, const DimExpr& columns, const DimExpr& vector) {
  return fmt::format("size mismatch, got input ({}), mat ({}x{}), vec ({})", rows, rows, columns.str(), vector.str());
}
std::string mm_message(const std::string& rows, const DimExpr& inner_a, const DimExpr& inner_b, const DimExpr& columns) {
  return fmt::format("mat1 and mat2 shapes cannot be multiplied ({}x{} and {}x{})", rows, inner_a.str(), inner_b.str(), columns.str());
}
std::string bmm_message(const Shape& batch, const DimExpr& inner_a, const DimExpr& inner_b) {
  std::string count = numel_str(batch);
  return fmt::format("Expected size for first two dimensions of batch2 tensor to be: [{}, {}] but got: [{}, {}].", count, inner_a.str(),
                     count, inner_b.str());
}

}  // namespace

std::string broadcast_message(const CallContext::BroadcastFailure& failing) {
  return fmt::format("The size of tensor a ({}) must match the size of tensor b ({}) at non-singleton dimension {}", failing.a.str(),
                     failing.b.str(), failing.dim);
}

Diagnostic& report_broadcast_failure(CallContext& ctx, DiagId id, const std::string& message, const ArgValue& blamed, const ArgValue& other,
                                     const DimExpr& other_size, const CallContext::BroadcastFailure& failing) {
  // failing.dim counts in the broadcast shape; each operand's own dim is right-aligned to it.
  int rank = std::max(blamed.rank(), other.rank());
  Diagnostic& diagnostic = ctx.report(id, message, &blamed, failing.dim - (rank - blamed.rank()));
  diagnostic.related.push_back(
      ctx.related(other, failing.dim - (rank - other.rank()), fmt::format("{} has {} here", other.argument, other_size.str())));
  ctx.pytorch_raises(diagnostic, "RuntimeError", broadcast_message(failing));
  return diagnostic;
}

std::optional<Shape> matmul_shape(CallContext& ctx, const Shape& a, const Shape& b, const ArgValue* where,
                                  std::optional<int> where_dim, const std::string& what, MatmulFailure& failure) {
  std::size_t rank_a = a.size(), rank_b = b.size();
  if (rank_a == 0 || rank_b == 0) {
    failure.kind = MatmulFailure::Kind::Rank;
    failure.message = fmt::format("both arguments to matmul need to be at least 1D, but they are {}D and {}D", rank_a, rank_b);
    return std::nullopt;
  }
  const DimExpr one = DimExpr::constant(1);
  // 1-D @ N-D folds into mv over b transposed only when b's rows are 1 (2.x's should_fold
  // wants b.mT's batch dims contiguous); otherwise it takes the bmm route.
  bool vector_fold = rank_a == 1 && rank_b >= 3 && ctx.symbols.resolve(b[rank_b - 2]) == one;
  bool bmm = rank_b >= 3 && !vector_fold;
  Shape batch;
  if (bmm) {
    std::optional<Shape> broadcast = ctx.broadcast(drop_last(a, 2), drop_last(b, 2), where, what + " batch dims", failure.broadcast);
    if (!broadcast) {
      failure.kind = MatmulFailure::Kind::Batch;
      failure.message = broadcast_message(failure.broadcast);
      return std::nullopt;
    }
    batch = *broadcast;
  }
  // Folded 1-D @ N-D contracts b's rows (size 1) with a.
  failure.inner_a = vector_fold ? b[rank_b - 2] : a.back();
  failure.inner_b = vector_fold ? a[0] : (rank_b == 1 ? b[0] : b[rank_b - 2]);
  if (ctx.same(failure.inner_a, failure.inner_b, where, where_dim, what)) {
    Shape result = bmm ? batch : (vector_fold ? drop_last(b, 2) : drop_last(a, 1));
    if (bmm && rank_a >= 2) result.push_back(a[rank_a - 2]);
    if (rank_b >= 2) result.push_back(b.back());
    return ctx.symbols.resolve(result);
  }
  failure.kind = MatmulFailure::Kind::Contraction;
  if (rank_a == 1 && rank_b == 1) {
    failure.message = dot_message(a[0], b[0]);
  } else if (vector_fold) {
    Shape rows = drop_last(b, 2);
    rows.push_back(b.back());
    failure.message = mv_message(numel_str(rows), b[rank_b - 2], a[0]);
  } else if (rank_b == 1) {
    failure.message = mv_message(numel_str(drop_last(a, 1)), a.back(), b[0]);
  } else if (!bmm) {
    failure.message = mm_message(rank_a == 1 ? "1" : numel_str(drop_last(a, 1)), a.back(), b[0], b[1]);
  } else {
    failure.message = bmm_message(batch, a.back(), b[rank_b - 2]);
  }
  return std::nullopt;
}

}  // namespace mhacheck
