// The pieces torch.split, split_with_sizes and chunk cut a dim into, as PyTorch 2.x computes them
// (split, split_with_sizes and chunk in aten/src/ATen/native/TensorShape.cpp), shared by the
// rule (src/ops/split.cpp) and the forward pass (src/forward/indexing.cpp).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace mhacheck {

// split(split_size): ceil(size / split_size) pieces (at least one), the last one smaller;
// split_size 0 is one piece (the rule has refused it unless size is 0).
std::vector<std::int64_t> split_pieces(std::int64_t size, std::int64_t split_size);
// chunk(chunks): split(ceil(size / chunks)), so fewer than `chunks` pieces when the size does not
// fill them; a dim of size 0 gives `chunks` empty pieces.
std::vector<std::int64_t> chunk_pieces(std::int64_t size, std::int64_t chunks);
// How many pieces piece_sizes would return, computed without them (split(1) of a huge dim).
std::int64_t piece_count(const std::string& op, const nlohmann::json& arguments, std::int64_t size);
// The sizes of call `op` ("split", "split_with_sizes", "chunk") with `arguments` the rule
// accepted, for a dim of `size`.
std::vector<std::int64_t> piece_sizes(const std::string& op, const nlohmann::json& arguments, std::int64_t size);

}  // namespace mhacheck
