// The dim of a tensor that a later matrix product contracts (see contraction.hpp).
#include "ops/contraction.hpp"

#include <algorithm>
#include <numeric>
#include <vector>

#include "check/dim_origin.hpp"
#include "ops/einsum_equation.hpp"

namespace mhacheck {
namespace {

bool reads(const CallDecl& call, const std::string& argument, const std::string& tensor) {
  auto ref = call.tensors.find(argument);
  return ref != call.tensors.end() && ref->second.kind == ArgRef::Kind::Named && ref->second.name == tensor;
}

std::optional<int> wrapped_dim(const nlohmann::json& value, int rank) {
  if (!value.is_number_integer()) return std::nullopt;
  const std::int64_t at = value.get<std::int64_t>();
  const std::int64_t wrapped = at < 0 ? at + rank : at;
  if (wrapped < 0 || wrapped >= rank) return std::nullopt;
  return static_cast<int>(wrapped);
}

// Calls that keep every element where it was: the tensor they make is the same for contraction.
bool copies_or_scales(const CallDecl& call) {
  if (call.op == "dropout" || call.op == "contiguous" || call.op == "clone") return true;
  return (call.op == "mul" || call.op == "div") && call.arguments.contains("other") && call.arguments.at("other").is_number();
}

bool in_term(const std::vector<int>& term, int label) { return std::find(term.begin(), term.end(), label) != term.end(); }

// The contraction of einsum `call`'s operand `index` (of `rank` dims), by the letters.
std::optional<Contraction> einsum_contraction(const CallDecl& call, std::size_t index, int rank) {
  if (!call.arguments.contains("equation") || !call.arguments.at("equation").is_string()) return std::nullopt;
  EinsumEquation read;
  const std::size_t operands = call.list_size("operands");
  const std::string equation = call.arguments.at("equation").get<std::string>();
  if (read_einsum_terms(equation, operands, read) || read_einsum_output(equation, read) || !read.explicit_output) return std::nullopt;
  for (const std::vector<int>& term : read.terms) {
    if (in_term(term, kEinsumEllipsis)) return std::nullopt;
  }
  const std::vector<int>& own = read.terms[index];
  if (static_cast<int>(own.size()) != rank) return std::nullopt;
  std::optional<int> contracted;
  std::size_t partner = 0;
  for (int d = 0; d < rank; ++d) {
    const int label = own[static_cast<std::size_t>(d)];
    if (in_term(read.output, label)) continue;
    for (std::size_t other = 0; other < read.terms.size(); ++other) {
      if (other == index || !in_term(read.terms[other], label)) continue;
      if (contracted && *contracted != d) return std::nullopt;  // two contracted letters: no one dim
      contracted = d;
      partner = other;
    }
  }
  if (!contracted) return std::nullopt;
  const std::vector<int>& other = read.terms[partner];
  const bool other_last = !other.empty() && other.back() == own[static_cast<std::size_t>(*contracted)];
  return Contraction{&call, *contracted, *contracted != rank - 1 && other_last, input_name(call, list_element("operands", partner))};
}

// The tensor `argument` of `call` names, or the input of the transpose of its last two dims that
// made it (k of k.transpose(-2, -1)), of `rank` dims as the tensor on the product's other side.
std::string before_transpose(const Spec& spec, const CallDecl& call, const std::string& argument, int rank) {
  const std::string name = input_name(call, argument);
  const CallDecl* made = name.empty() ? nullptr : producer_of(spec, name, &call);
  if (made == nullptr || made->op != "transpose") return name;
  std::optional<int> a = wrapped_dim(made->arguments.value("dim0", nlohmann::json()), rank);
  std::optional<int> b = wrapped_dim(made->arguments.value("dim1", nlohmann::json()), rank);
  return a && b && std::min(*a, *b) == rank - 2 && std::max(*a, *b) == rank - 1 ? input_name(*made, "input") : name;
}

}  // namespace

std::optional<Contraction> contraction_of(const Spec& spec, const CallDecl& after, const std::string& name, int rank) {
  // Each name that holds the tensor, with the tensor's dim at each of its dims.
  std::vector<std::pair<std::string, std::vector<int>>> aliases{{name, std::vector<int>(static_cast<std::size_t>(rank))}};
  std::iota(aliases.front().second.begin(), aliases.front().second.end(), 0);
  auto alias_of = [&](const CallDecl& call, const std::string& argument) -> const std::vector<int>* {
    for (const auto& [held, dims] : aliases) {
      if (reads(call, argument, held)) return &dims;
    }
    return nullptr;
  };
  bool past = false;
  for (const CallDecl& call : spec.calls) {
    if (&call == &after || (!after.pointer.empty() && call.pointer == after.pointer)) {
      past = true;
      continue;
    }
    if (!past) continue;
    if (call.op == "einsum") {
      for (std::size_t i = 0; i < call.list_size("operands"); ++i) {
        const std::vector<int>* dims = alias_of(call, list_element("operands", i));
        if (dims == nullptr) continue;
        std::optional<Contraction> found = einsum_contraction(call, i, rank);
        if (!found) return std::nullopt;
        found->dim = (*dims)[static_cast<std::size_t>(found->dim)];
        return found;
      }
      continue;
    }
    if (call.op == "matmul" || call.op == "bmm") {
      const std::string second = call.op == "bmm" ? "mat2" : "other";
      if (const std::vector<int>* dims = alias_of(call, "input")) {
        return Contraction{&call, (*dims)[static_cast<std::size_t>(rank - 1)], false, before_transpose(spec, call, second, rank)};
      }
      if (const std::vector<int>* dims = alias_of(call, second)) {
        // x @ y sums y's rows: a plain y is aggregated; a transposed one (k.transpose(-2, -1)) is
        // compared along its own last dim, as cosine and dot-product attention read their keys.
        const int rows = (*dims)[static_cast<std::size_t>(rank - 2)], columns = (*dims)[static_cast<std::size_t>(rank - 1)];
        return Contraction{&call, rows, rows < columns, input_name(call, "input")};
      }
      continue;
    }
    const std::vector<int>* dims = alias_of(call, "input");
    if (dims == nullptr || call.outputs.empty()) continue;
    std::vector<int> moved = *dims;
    if (call.op == "transpose") {
      std::optional<int> a = wrapped_dim(call.arguments.at("dim0"), rank), b = wrapped_dim(call.arguments.at("dim1"), rank);
      if (!a || !b) continue;
      std::swap(moved[static_cast<std::size_t>(*a)], moved[static_cast<std::size_t>(*b)]);
    } else if (!copies_or_scales(call)) {
      continue;
    }
    aliases.emplace_back(call.outputs.front(), std::move(moved));
  }
  return std::nullopt;
}

}  // namespace mhacheck
