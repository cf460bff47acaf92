#include "ops/split_sizes.hpp"

#include <algorithm>
#include <stdexcept>

namespace mhacheck {

namespace {

std::int64_t split_count(std::int64_t size, std::int64_t split_size) {
  return split_size == 0 ? 1 : std::max<std::int64_t>((size + split_size - 1) / split_size, 1);
}

}  // namespace

std::vector<std::int64_t> split_pieces(std::int64_t size, std::int64_t split_size) {
  std::int64_t count = split_count(size, split_size);
  std::vector<std::int64_t> pieces(static_cast<std::size_t>(count), split_size);
  pieces.back() = split_size - (split_size * count - size);
  return pieces;
}

std::vector<std::int64_t> chunk_pieces(std::int64_t size, std::int64_t chunks) {
  std::int64_t split_size = (size + chunks - 1) / chunks;
  if (split_size == 0 && size == 0) return std::vector<std::int64_t>(static_cast<std::size_t>(chunks), 0);
  return split_pieces(size, split_size);
}

std::int64_t piece_count(const std::string& op, const nlohmann::json& arguments, std::int64_t size) {
  if (op == "split") return split_count(size, arguments.at("split_size").get<std::int64_t>());
  if (op == "chunk") {
    std::int64_t chunks = arguments.at("chunks").get<std::int64_t>();
    return size == 0 ? chunks : split_count(size, (size + chunks - 1) / chunks);
  }
  return static_cast<std::int64_t>(arguments.at("split_sizes").size());
}

std::vector<std::int64_t> piece_sizes(const std::string& op, const nlohmann::json& arguments, std::int64_t size) {
  if (op == "split") return split_pieces(size, arguments.at("split_size").get<std::int64_t>());
  if (op == "chunk") return chunk_pieces(size, arguments.at("chunks").get<std::int64_t>());
  if (op == "split_with_sizes") return arguments.at("split_sizes").get<std::vector<std::int64_t>>();
  throw std::logic_error("piece_sizes: \"" + op + "\" does not split");
}

}  // namespace mhacheck
