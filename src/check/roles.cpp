#include "roles.hpp"

#include <algorithm>
#include <array>
#include <cctype>

namespace mhacheck {

namespace {

template <std::size_t N>
bool one_of(const std::string& name, const std::array<const char*, N>& names) {
  return std::find(names.begin(), names.end(), name) != names.end();
}

// Where a word naming a graph's links starts in `name` (adj, adjacency, edge, edges,
// connectivity, connected, neighbours), as a whole word between '_' or the name's ends; npos if
// none. Whole words only: "adjusted" or "hedge" name no graph.
std::size_t graph_link_word(const std::string& name) {
  static const std::array<const char*, 13> words = {"adj",       "adjacency", "edge",     "edges",      "connectivity",
                                                    "connected", "connect",   "neighbor", "neighbors",  "neighbour",
                                                    "neighbours", "nbr",      "nbrs"};
  std::size_t start = 0;
  while (start <= name.size()) {
    std::size_t end = name.find('_', start);
    if (end == std::string::npos) end = name.size();
    std::string word = name.substr(start, end - start);
    // A negating prefix glued to the word (nonadj, disconnected, unconnected) is read by negated_before.
    for (const char* prefix : {"", "non", "dis", "un", "no"}) {
      std::string bare = word.substr(0, std::string(prefix).size()) == prefix ? word.substr(std::string(prefix).size()) : std::string();
      if (!bare.empty() && one_of(bare, words)) return start + std::string(prefix).size();
    }
    start = end + 1;
  }
  return std::string::npos;
}

// Whether the word at `at` is negated by what comes right before it: "no", "non", "not", "un" or
// "dis", glued to it (nonadj) or as the word before (no_edge, is_not_adj).
bool negated_before(const std::string& name, std::size_t at) {
  std::string before = name.substr(0, at);
  if (!before.empty() && before.back() == '_') before.pop_back();
  for (const std::string negation : {"no", "non", "not", "un", "dis"}) {
    if (before.size() < negation.size() || before.compare(before.size() - negation.size(), negation.size(), negation) != 0) continue;
    std::size_t word_start = before.size() - negation.size();
    if (word_start == 0 || before[word_start - 1] == '_') return true;
  }
  return false;
}

}  // namespace

DimRole role_of_name(const std::string& written) {
  // A product (B*T, bsz*num_heads) is a merged dim: it plays all its factors' roles at once, so
  // it is neither a plain batch nor a plain sequence dim, and no single-role check applies.
  if (written.empty() || written.find('*') != std::string::npos) return DimRole::Unknown;
  std::string name = lowered(written);
  static const std::array<const char*, 9> batch = {"b", "n", "bs", "bsz", "batch", "batch_size", "nbatch", "n_batch", "num_batch"};
  static const std::array<const char*, 14> sequence = {"l", "s", "t", "seq", "len", "length", "seqlen", "src", "tgt",
                                                        "time", "steps", "tokens", "ctx", "context"};
  static const std::array<const char*, 12> heads = {"h", "nh", "heads", "nhead", "nheads", "n_head", "n_heads", "num_heads",
                                                     "hq", "hkv", "kv_heads", "num_kv_heads"};
  static const std::array<const char*, 7> head_dim = {"d", "dh", "hd", "dk", "d_k", "head_dim", "d_head"};
  bool is_batch = one_of(name, batch) || name.find("batch") != std::string::npos;
  bool is_sequence = one_of(name, sequence) || name.find("seq") != std::string::npos ||
                     name.find("len") != std::string::npos || name.find("token") != std::string::npos;
  if (is_batch != is_sequence) return is_batch ? DimRole::Batch : DimRole::Sequence;
  if (is_batch) return DimRole::Unknown;  // "batch_seq": both
  if (one_of(name, heads)) return DimRole::Heads;
  if (one_of(name, head_dim)) return DimRole::HeadDim;
  return DimRole::Unknown;
}

DimRole role_of_dim(const std::vector<std::string>& names, int dim) {
  if (dim < 0 || dim >= static_cast<int>(names.size())) return DimRole::Unknown;
  auto is_n = [](const std::string& name) { return name == "N" || name == "n"; };
  if (is_n(names[static_cast<std::size_t>(dim)])) {
    for (const std::string& other : names) {
      if (!is_n(other) && role_of_name(other) == DimRole::Batch) return DimRole::Sequence;
    }
  }
  return role_of_name(names[static_cast<std::size_t>(dim)]);
}

DimRole role_of_subscript(char letter) {
  switch (letter) {
    case 'b': return DimRole::Batch;
    case 'h': return DimRole::Heads;
    case 'q': case 'k': case 'l': case 's': case 't': return DimRole::Sequence;
    case 'd': return DimRole::HeadDim;
    default: return DimRole::Unknown;
  }
}

const char* role_name(DimRole role) {
  switch (role) {
    case DimRole::Batch: return "batch size";
    case DimRole::Sequence: return "sequence length";
    case DimRole::Heads: return "head count";
    case DimRole::HeadDim: return "head size";
    case DimRole::Unknown: break;
  }
  return "size";
}

MaskConvention mask_convention_of_name(const std::string& written) {
  std::string name = lowered(written);
  // The negated words first: fairseq's non_pad_mask marks the tokens, an invalid_mask what to drop.
  for (const char* negated : {"non_pad", "nonpad", "not_pad", "unpad"}) {
    if (name.find(negated) != std::string::npos) return MaskConvention::TrueKeeps;
  }
  if (name.find("invalid") != std::string::npos) return MaskConvention::TrueIgnores;
  if (name.find("pad") != std::string::npos) return MaskConvention::TrueIgnores;
  if (name.find("attention_mask") != std::string::npos || name.find("keep") != std::string::npos ||
      name.find("valid") != std::string::npos) {
    return MaskConvention::TrueKeeps;
  }
  // What is there: PyG's to_dense_batch gives True for the real nodes of each padded graph
  // (node_mask, real_nodes), and masks of observed or existing entries mark the ones to use.
  // A negated word (unobserved, nonexistent, not_real) marks the missing entries instead.
  // A region mask thresholded from a predicted mask (Mask2Former's sigmoid(mask) >= 0.5: inside,
  // foreground) marks the pixels inside the region, those the query is meant to attend to.
  for (const char* present : {"node_mask", "real", "exist", "observed", "inside", "foreground"}) {
    const std::size_t at = name.find(present);
    if (at != std::string::npos) return negated_before(name, at) ? MaskConvention::TrueIgnores : MaskConvention::TrueKeeps;
  }
  // A graph's adjacency marks with True the pairs linked by an edge, the pairs attention is meant
  // to keep; a negated word (no_edge, non_adj, disconnected) marks the others.
  // Graph values other than the 0/1 links (Graphormer's edge_bias, edge_attr, edge_index, edge
  // weights or distances) say nothing of a convention.
  static const std::array<const char*, 10> values = {"bias", "weight", "feat", "attr", "emb", "enc", "index", "idx", "type", "dist"};
  const bool holds_values = std::any_of(values.begin(), values.end(), [&](const char* word) { return name.find(word) != std::string::npos; });
  std::size_t at = holds_values ? std::string::npos : graph_link_word(name);
  if (at != std::string::npos) return negated_before(name, at) ? MaskConvention::TrueIgnores : MaskConvention::TrueKeeps;
  return MaskConvention::Unknown;
}

bool explicit_batch_name(const std::string& name) { return role_of_name(name) == DimRole::Batch && lowered(name) != "n"; }

std::vector<std::string> written_names(const Shape& written) {
  std::vector<std::string> names;
  for (const DimExpr& dim : written) names.push_back(dim.is_plain_symbol() ? dim.symbol : std::string());
  return names;
}

std::vector<std::string> name_factors(const std::string& name) {
  std::vector<std::string> factors = split_at(name, '*');
  if (!std::all_of(factors.begin(), factors.end(), [](const std::string& factor) { return is_identifier(factor); })) return {};
  return factors;
}

std::vector<std::string> written_factors(const std::string& name) {
  std::vector<std::string> factors = split_at(name, '*');
  auto is_count = [](const std::string& factor) {
    return !factor.empty() && std::all_of(factor.begin(), factor.end(), [](char c) { return c >= '0' && c <= '9'; });
  };
  if (factors.size() < 2 || !std::all_of(factors.begin(), factors.end(), [&](const std::string& factor) { return is_identifier(factor) || is_count(factor); }) ||
      !is_identifier(factors.front())) {
    return {};
  }
  return factors;
}

bool count_name(const std::string& name) {
  const std::vector<std::string> parts = split_at(name, '*');
  return !name.empty() && std::all_of(parts.begin(), parts.end(), [](const std::string& part) {
    return !part.empty() && std::all_of(part.begin(), part.end(), [](char c) { return c >= '0' && c <= '9'; });
  });
}

std::string merged_name(const std::vector<std::string>& factors) {
  std::string name;
  for (const std::string& factor : factors) name += (name.empty() ? "" : "*") + factor;
  return name;
}

}  // namespace mhacheck
