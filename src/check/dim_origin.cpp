#include "dim_origin.hpp"

#include <algorithm>

namespace mhacheck {

std::string input_name(const CallDecl& call, const std::string& argument) {
  auto ref = call.tensors.find(argument);
  return ref != call.tensors.end() && ref->second.kind == ArgRef::Kind::Named ? ref->second.name : std::string();
}

namespace {

// A graph has no cycles, but a chain is walked call by call: a bound keeps long chains linear.
constexpr int kMaxSteps = 16;

std::optional<int> wrapped(const nlohmann::json& dim, int rank) {
  if (!dim.is_number_integer()) return std::nullopt;
  auto value = dim.get<std::int64_t>();
  if (value < -rank || value >= rank) return std::nullopt;
  return static_cast<int>(value < 0 ? value + rank : value);
}

// The input dim that `call`, a move of dims, puts at output dim `dim`; nullopt when `call` is no
// such move (or its arguments are not readable).
std::optional<int> moved_from(const CallDecl& call, int dim, int rank) {
  if (call.op == "contiguous" || call.op == "clone") return dim;
  if (call.op == "transpose") {
    if (!call.arguments.contains("dim0") || !call.arguments.contains("dim1")) return std::nullopt;
    std::optional<int> a = wrapped(call.arguments["dim0"], rank), b = wrapped(call.arguments["dim1"], rank);
    if (!a || !b) return std::nullopt;
    return dim == *a ? *b : dim == *b ? *a : dim;
  }
  if (call.op == "permute") {
    const nlohmann::json& dims = call.arguments.contains("dims") ? call.arguments["dims"] : nlohmann::json();
    if (!dims.is_array() || static_cast<int>(dims.size()) != rank) return std::nullopt;
    return wrapped(dims[static_cast<std::size_t>(dim)], rank);
  }
  return std::nullopt;
}

}  // namespace

const CallDecl* producer_of(const Spec& spec, const std::string& name, const CallDecl* before) {
  if (spec.find_tensor(name) != nullptr) return nullptr;
  if (spec.calls.empty() || before < spec.calls.data() || before >= spec.calls.data() + spec.calls.size()) return nullptr;
  for (const CallDecl* call = before; call != spec.calls.data();) {
    --call;
    if (std::find(call->outputs.begin(), call->outputs.end(), name) != call->outputs.end()) return call;
  }
  return nullptr;
}

DimOrigin dim_origin(const Spec& spec, const ArgValue& arg, int dim) {
  DimOrigin origin{arg.producer, tensor_name(arg), dim, arg.rank()};
  for (int step = 0; step < kMaxSteps && origin.call != nullptr; ++step) {
    std::optional<int> from = moved_from(*origin.call, origin.dim, origin.rank);
    std::string input = input_name(*origin.call, "input");
    if (!from || input.empty()) break;
    origin.dim = *from;
    origin.tensor = input;
    origin.call = producer_of(spec, input, origin.call);
  }
  return origin;
}

}  // namespace mhacheck
