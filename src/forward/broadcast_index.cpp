#include "forward/broadcast_index.hpp"

#include <algorithm>

namespace mhacheck {

std::vector<std::int64_t> batch_offsets(const std::vector<std::int64_t>& operand_batch, const std::vector<std::int64_t>& batch,
                                        std::int64_t matrix_size, std::int64_t group) {
  std::int64_t count = 1;
  for (std::int64_t dim : batch) count *= dim;
  std::vector<std::int64_t> offsets(static_cast<std::size_t>(count));
  std::vector<std::int64_t> index(batch.size(), 0);
  for (std::int64_t flat = 0; flat < count; ++flat) {
    std::int64_t offset = 0, stride = matrix_size;
    for (std::size_t i = 0; i < operand_batch.size(); ++i) {
      std::size_t d = operand_batch.size() - 1 - i;     // operand dim, from the right
      std::size_t b = batch.size() - 1 - i;             // matching batch dim
      std::int64_t at = operand_batch[d] == 1 ? 0 : index[b];
      if (group > 1 && i == 0) at = index[b] / group;   // heads are the last batch dim
      offset += at * stride;
      stride *= operand_batch[d];
    }
    offsets[static_cast<std::size_t>(flat)] = offset;
    for (std::size_t b = batch.size(); b-- > 0;) {
      if (++index[b] < batch[b]) break;
      index[b] = 0;
    }
  }
  return offsets;
}

std::vector<std::int64_t> broadcast_shape(const std::vector<std::int64_t>& a, const std::vector<std::int64_t>& b) {
  std::vector<std::int64_t> result(std::max(a.size(), b.size()), 1);
  for (std::size_t i = 0; i < result.size(); ++i) {
    std::int64_t x = i < a.size() ? a[a.size() - 1 - i] : 1, y = i < b.size() ? b[b.size() - 1 - i] : 1;
    result[result.size() - 1 - i] = x == 1 ? y : x;
  }
  return result;
}

}  // namespace mhacheck
