#include "call_context.hpp"

#include <algorithm>
#include <set>

#include <fmt/format.h>

#include "mhacheck/python_text.hpp"
#include "mhacheck/check.hpp"
#include "core/shape_json.hpp"
#include "core/size_one.hpp"
#include "checked_call.hpp"
#include "condition_advice.hpp"
#include "fix_search.hpp"
#include "roles.hpp"

namespace mhacheck {

std::string tensor_name(const ArgValue& arg) {
  for (const char* kind : {"tensor:", "output:"}) {
    if (arg.identity.rfind(kind, 0) == 0) return arg.identity.substr(std::string(kind).size());
  }
  return {};
}

std::string shown_name(const ArgValue& arg, const std::string& unnamed) {
  std::string name = tensor_name(arg);
  return name.empty() ? unnamed : name;
}

std::string shown_name(const ArgValue& arg) { return shown_name(arg, arg.argument); }

const std::string& ArgValue::dim_name(int dim) const {
  static const std::string none;
  return dim >= 0 && dim < static_cast<int>(dim_names.size()) ? dim_names[dim] : none;
}

bool CallContext::misaligned_batch(const Shape& a, const Shape& b, std::size_t offset, const ArgValue* where, const std::string& what) {
  // Only where the dims after it line up as written (T with T, D with D): a mismatch there
  // already says the operands are misaligned in another way, a condition of its own.
  // Elementwise arithmetic between operands of two ranks only: the lower-rank one (a table, a
  // gathered cos) lacks a dim; other operators have their own layout rules.
  static const std::set<std::string, std::less<>> arithmetic = {"add", "sub", "mul", "div"};
  if (arithmetic.count(call.op) == 0 || a.size() == b.size() || offset >= std::min(a.size(), b.size())) return false;
  const DimExpr one = DimExpr::constant(1);
  for (std::size_t after = 0; after < offset; ++after) {
    const DimExpr &x = a[a.size() - 1 - after], &y = b[b.size() - 1 - after];
    if (!(x == y) && !(x == one) && !(y == one)) return false;
  }
  for (const auto& [own, other] : {std::pair{&a, &b}, std::pair{&b, &a}}) {
    DimExpr batch = symbols.resolve((*own)[own->size() - 1 - offset]);
    DimExpr met = symbols.resolve((*other)[other->size() - 1 - offset]);
    if (!batch.is_plain_symbol() || role_of_name(batch.symbol) != DimRole::Batch ||
        symbols.compare(batch, met) == Symbols::Verdict::Equal) {
      continue;
    }
    for (std::size_t at = 0; at < other->size(); ++at) {
      if (other->size() - 1 - at == offset || !(symbols.resolve((*other)[at]) == batch)) continue;
      Diagnostic& diagnostic = report(DiagId::RoleCondition,
                                      fmt::format("valid only if {} == {} ({}), but {} is the batch size, which the other operand holds in its dim {}: "
                                                  "aligned from the right, the batch meets another dim",
                                                  batch.str(), met.str(), what, batch.symbol, at),
                                      where);
      diagnostic.notes.push_back(fmt::format("PyTorch fails whenever {} != {}, and when they happen to be equal each batch entry is applied to "
                                             "another dim's entries: the operand of lower rank lacks a dim of 1 (unsqueeze)",
                                             batch.symbol, met.str()));
      return true;
    }
  }
  return false;
}

std::optional<Shape> CallContext::broadcast(const Shape& a, const Shape& b, const ArgValue* where, const std::string& what,
                                            BroadcastFailure& failing) {
  std::size_t rank = std::max(a.size(), b.size());
  Shape result(rank);
  const DimExpr one = DimExpr::constant(1);
  // infer_size walks from the last dim; the first mismatch it meets is the one it reports.
  for (std::size_t i = rank; i-- > 0;) {
    std::size_t offset = rank - 1 - i;
    bool has_a = offset < a.size(), has_b = offset < b.size();
    DimExpr size_a = has_a ? symbols.resolve(a[a.size() - 1 - offset]) : one;
    DimExpr size_b = has_b ? symbols.resolve(b[b.size() - 1 - offset]) : one;
    if (size_a == one) {
      result[i] = size_b;
    } else if (size_b == one) {
      result[i] = size_a;
    } else if (symbols.compare(size_a, size_b) != Symbols::Verdict::Unequal) {
      if (!misaligned_batch(a, b, offset, where, what)) same(size_a, size_b, where, std::nullopt, what);
      result[i] = symbols.resolve(size_a);
    } else if (may_be_one(size_a) || may_be_one(size_b)) {
      // S-1 against S: they differ, but S-1 is 1 at S == 2 and then broadcasts.
      std::string condition;
      for (const DimExpr* size : {&size_a, &size_b}) {
        if (may_be_one(*size)) condition += fmt::format("{}{} == 1", condition.empty() ? "" : " or ", size->str());
      }
      report(DiagId::SymbolConstraint, fmt::format("valid only if {} ({}: the sizes differ; only a size of 1 broadcasts)", condition, what),
             where);
      result[i] = may_be_one(size_a) && !may_be_one(size_b) ? size_b : size_a;  // the size that need not be 1
    } else {
      failing = {static_cast<int>(i), size_a, size_b};
      return std::nullopt;
    }
  }
  return result;
}

Location CallContext::dim_location(const ArgValue& arg, int dim) const {
  if (dim >= 0 && dim < static_cast<int>(arg.dim_locations.size()) && arg.dim_locations[dim].known()) {
    return arg.dim_locations[dim];
  }
  return arg.location;
}

namespace {

const RelatedLocation* dim_source(const ArgValue& arg, int dim) {
  if (dim < 0 || dim >= static_cast<int>(arg.dim_sources.size()) || !arg.dim_sources[dim].location.known()) return nullptr;
  return &arg.dim_sources[dim];
}

// The batch symbol that a == b holds only at 1 for: B against 1, and as well a multiple of it
// against that multiple (a feature size 128*B against 128: queries tiled with repeat(1, 1, B)).
std::optional<std::string> batch_forced_to_one(const DimExpr& a, const DimExpr& b) {
  for (const auto& [symbolic, constant] : {std::pair{&a, &b}, std::pair{&b, &a}}) {
    if (!constant->is_constant() || symbolic->is_constant() || symbolic->is_monomial()) continue;
    if (role_of_name(symbolic->symbol) != DimRole::Batch) continue;
    if (symbolic->coeff + symbolic->offset == constant->offset) return symbolic->symbol;
  }
  // Two counts of one batch that grow at different rates hold together only at 1: latents doubled
  // for classifier-free guidance (2*B) against a context of one shared row joined to the B text
  // rows (B+1). One side's batch is not the other's, whatever B is.
  if (!a.is_constant() && !b.is_constant() && !a.is_monomial() && a.symbol == b.symbol && a.coeff != b.coeff &&
      role_of_name(a.symbol) == DimRole::Batch && a.coeff + a.offset == b.coeff + b.offset) {
    return a.symbol;
  }
  return std::nullopt;
}

// A plain symbol named as a sequence length that must equal a literal 1.
std::optional<std::string> sequence_forced_to_one(const DimExpr& a, const DimExpr& b) {
  for (const auto& [symbolic, constant] : {std::pair{&a, &b}, std::pair{&b, &a}}) {
    if (!constant->is_constant() || constant->offset != 1 || !symbolic->is_plain_symbol()) continue;
    if (role_of_name(symbolic->symbol) == DimRole::Sequence) return symbolic->symbol;
  }
  return std::nullopt;
}

// Whether the 1 a sequence length meets was written in a declared tensor among the call's
// arguments: at `where`'s dim `dim` when that is the 1, else anywhere in another argument.
bool declared_one(const std::map<std::string, ArgValue>& args, const ArgValue* where, std::optional<int> dim) {
  auto declared = [](const ArgValue& arg) { return arg.present && arg.producer == nullptr && arg.origin.rfind("tensor ", 0) == 0; };
  auto one = [](const DimExpr& size) { return size.is_constant() && size.offset == 1; };
  if (where != nullptr && dim && *dim >= 0 && *dim < static_cast<int>(where->written.size()) && one(where->written[*dim]))
    return declared(*where);
  for (const auto& entry : args) {
    const ArgValue& arg = entry.second;
    if (&arg != where && declared(arg) && std::any_of(arg.written.begin(), arg.written.end(), one)) return true;
  }
  return false;
}

}  // namespace

RelatedLocation CallContext::related(const ArgValue& arg, int dim, std::string message) const {
  if (const RelatedLocation* source = dim_source(arg, dim)) message += fmt::format(", from {}", source->message);
  return RelatedLocation{std::move(message), dim_location(arg, dim)};
}

Diagnostic& CallContext::report(DiagId id, std::string message, const ArgValue* arg, std::optional<int> dim) {
  Diagnostic& diagnostic = diagnostics.emplace_back();
  diagnostic.id = id;
  diagnostic.message = std::move(message);
  diagnostic.call = call.id;
  if (arg != nullptr) {
    diagnostic.argument = arg->argument;
    diagnostic.dim = dim;
    diagnostic.location = dim ? dim_location(*arg, *dim) : arg->location;
    // An output of an earlier call: show where the offending size entered the graph.
    if (const RelatedLocation* source = dim ? dim_source(*arg, *dim) : nullptr) {
      diagnostic.related.push_back({fmt::format("{} is {}; its dim {} ({}) is {}", arg->argument, arg->origin, *dim,
                                                arg->shape[*dim].str(), source->message),
                                    source->location});
    }
  } else {
    diagnostic.location = spec.document.values.find(call.pointer);
  }
  if (diagnostic.severity() == Severity::Error) ++errors_;
  return diagnostic;
}

std::optional<std::string> CallContext::written_option(const std::string& option) const {
  if (option_names.empty()) return option;
  auto it = option_names.find(option);
  if (it == option_names.end()) return std::nullopt;
  return it->second;
}

Location CallContext::option_location(const std::string& option) const {
  std::optional<std::string> written = written_option(option);
  if (!written || module->written_as_call) return spec.document.values.find(module->pointer);
  Location location = spec.document.values.find(child_pointer(module->pointer, *written));
  return location.known() ? location : spec.document.values.find(module->pointer);
}

std::optional<std::string> CallContext::argument_pointer(const std::string& argument) const {
  if (argument_names.empty()) return child_pointer(call.pointer, argument);
  auto it = argument_names.find(argument);
  if (it == argument_names.end()) return std::nullopt;
  return child_pointer(call.pointer, it->second);
}

Diagnostic& CallContext::report_option(DiagId id, std::string message, const std::string& option) {
  Diagnostic& diagnostic = diagnostics.emplace_back();
  diagnostic.id = id;
  diagnostic.message = std::move(message);
  diagnostic.call = call.id;
  std::string written = written_option(option).value_or(option);
  diagnostic.argument = "module." + written;
  std::string pointer = child_pointer(module->pointer, written);
  diagnostic.location = spec.document.values.find(module->written_as_call || !written_option(option) ? module->pointer : pointer);
  if (diagnostic.severity() == Severity::Error) ++errors_;
  return diagnostic;
}

CallContext CallContext::inner(const CallDecl& inner_call, const ModuleDecl* inner_module) const {
  CallContext context(spec, inner_call, inner_module, symbols);
  context.raised_ = raised_;
  context.checked_calls = checked_calls;
  return context;
}

void CallContext::absorb(CallContext& inner_context) {
  for (Diagnostic& diagnostic : inner_context.diagnostics) {
    if (!inner_context.scope_note.empty()) diagnostic.notes.push_back(inner_context.scope_note);
    diagnostics.push_back(std::move(diagnostic));
  }
  inner_context.diagnostics.clear();
  errors_ += inner_context.errors_;
  raised_ = raised_ || inner_context.raised_;
}

void CallContext::pytorch_raises(Diagnostic& diagnostic, std::string type, std::string message) {
  diagnostic.pytorch_error = PytorchError{std::move(type), std::move(message), !raised_};
  raised_ = true;
}

bool CallContext::same(const DimExpr& a, const DimExpr& b, const ArgValue* where, std::optional<int> dim,
                       const std::string& what) {
  Symbols::Verdict verdict = symbols.compare(symbols.resolve(a), symbols.resolve(b));
  if (verdict == Symbols::Verdict::Equal) return true;
  if (verdict == Symbols::Verdict::Unequal) return false;
  DimRole role_a = a.is_plain_symbol() ? role_of_name(a.symbol) : DimRole::Unknown;
  DimRole role_b = b.is_plain_symbol() ? role_of_name(b.symbol) : DimRole::Unknown;
  // Two names of distinct roles among batch, sequence and heads (B == T, B == H, H == T): equal
  // by accident at best, so a layout or patched graph needing it is an error, not a condition.
  // Not recorded as a substitution: later calls would read B == H as a fact and report their
  // own (B, T, S) masks as warnings, and a fix of this call would then seem to add their errors.
  auto layout_role = [](DimRole role) { return role == DimRole::Batch || role == DimRole::Sequence || role == DimRole::Heads; };
  if (layout_role(role_a) && layout_role(role_b) && role_a != role_b) {
    Diagnostic& diagnostic = report(DiagId::RoleCondition,
                                    fmt::format("valid only if {} == {} ({}), but {} is a {} and {} a {}", symbols.resolve(a).str(),
                                                symbols.resolve(b).str(), what, a.symbol, role_name(role_a), b.symbol, role_name(role_b)),
                                    where, dim);
    diagnostic.notes.push_back(fmt::format("PyTorch fails whenever {} != {}, and when they happen to be equal it mixes a {} "
                                           "with a {}",
                                           a.symbol, b.symbol, role_name(role_a), role_name(role_b)));
    return true;
  }
  std::optional<std::string> batch = batch_forced_to_one(symbols.resolve(a), symbols.resolve(b));
  std::optional<std::string> sequence = sequence_forced_to_one(symbols.resolve(a), symbols.resolve(b));
  const bool against_constant = symbols.resolve(a).is_constant() || symbols.resolve(b).is_constant();
  Symbols::Equality equality = symbols.require_equal(a, b);
  // A sequence length that must be 1: the call holds for one position only. A 1 written in a
  // declared tensor (a decode step's mask row (1, S), a query (B, 1, E)) says the call is one
  // step: that stays a condition (MHA080). (attention-pooling
  // weights (B, T, 1) multiplied into (B, T, E) without the transpose, which contracts their 1
  // with the T instances). PyTorch fails for every longer sequence.
  if (sequence && !declared_one(args, where, dim)) {
    Diagnostic& diagnostic = report(DiagId::RoleCondition,
                                    fmt::format("valid only if {} ({}), but {} is a sequence length: the other side holds one position",
                                                equality.condition, what, *sequence),
                                    where, dim);
    diagnostic.notes.push_back(fmt::format("PyTorch fails for every {} but 1: a dim of 1 meeting a sequence usually is a per-sequence "
                                           "value (a pooling weight, a score) laid out in the wrong dim; if this is one decoding step, "
                                           "bind {} to 1 (\"dims\": {{\"{}\": 1}})",
                                           *sequence, *sequence, *sequence));
    return true;
  }
  // A batch size that must be 1: the call fails for every batch but one (DETR's queries tiled
  // with repeat(B, 1, 1) into the query count, leaving a batch of 1 against the memory's B).
  if (batch) {
    Diagnostic& diagnostic = report(
        DiagId::RoleCondition,
        fmt::format("valid only if {} ({}), but {} is a batch size: {}", equality.condition, what, *batch,
                    against_constant ? "1 on the other side is no batch" : "the two sides count the batch differently"),
        where, dim);
    diagnostic.notes.push_back(fmt::format("PyTorch fails for every {} but 1: a batch dim of 1 usually means the batch went into another "
                                           "dim (repeat's counts, a missing unsqueeze) or the tensor is shared by the batch and needs "
                                           "expanding",
                                           *batch));
    return true;
  }
  report(DiagId::SymbolConstraint, fmt::format("valid only if {} ({})", equality.condition, what), where, dim)
      .notes.emplace_back(kBindSymbolsNote);
  return true;
}

std::optional<nlohmann::json> CallContext::option_patch(
    const std::vector<std::pair<std::string, nlohmann::json>>& options) const {
  nlohmann::json patch = nlohmann::json::array();
  std::vector<std::pair<std::string, nlohmann::json>> written;
  for (const auto& [name, value] : options) {
    std::optional<std::string> option = written_option(name);
    if (!option) return std::nullopt;
    written.emplace_back(*option, value);
  }
  if (module->written_as_call) {
    // The module is (in) a constructor string: replace the string with the edited call.
    nlohmann::json object = parse_module_call(spec.value().at(nlohmann::json::json_pointer(module->pointer)).get<std::string>(),
                                              Location{});
    nlohmann::json& edited = object[nlohmann::json::json_pointer(module->path_in_call)];
    for (const auto& [name, value] : written) edited[name] = value;
    patch.push_back({{"op", "replace"}, {"path", module->pointer}, {"value", module_call_text(object)}});
    return patch;
  }
  for (const auto& [name, value] : written) {
    patch.push_back({{"op", "add"}, {"path", child_pointer(module->pointer, name)}, {"value", value}});
  }
  return patch;
}

std::optional<nlohmann::json> CallContext::shape_patch(const ArgValue& arg, const Shape& shape) const {
  if (arg.shape_pointer.empty()) return std::nullopt;
  return nlohmann::json::array({{{"op", "replace"}, {"path", arg.shape_pointer}, {"value", shape_json(shape)}}});
}

void CallContext::add_patch_fix(Diagnostic& diagnostic, std::string description, nlohmann::json patch) {
  Fix fix;
  fix.description = std::move(description);
  fix.patch = std::move(patch);
  diagnostic.fixes.push_back(std::move(fix));
}

void CallContext::label_last_fix(Diagnostic& diagnostic, FixSemantics semantics, std::string note) {
  if (diagnostic.fixes.empty()) return;
  diagnostic.fixes.back().semantics = semantics;
  diagnostic.fixes.back().semantics_note = std::move(note);
}

void CallContext::fold_role_diagnostics() {
  auto is_role = [](DiagId id) { return id == DiagId::RoleCondition || id == DiagId::SymbolNameRole || id == DiagId::SymbolRoleConflict; };
  Diagnostic* primary = nullptr;
  for (DiagId id : {DiagId::RoleCondition, DiagId::SymbolRoleConflict, DiagId::SymbolNameRole}) {
    for (Diagnostic& diagnostic : diagnostics) {
      if (diagnostic.id == id && !primary) primary = &diagnostic;
    }
  }
  if (!primary) return;
  std::deque<Diagnostic> kept;
  Diagnostic* kept_primary = nullptr;
  std::vector<Diagnostic> folded;
  for (Diagnostic& diagnostic : diagnostics) {
    if (&diagnostic == primary) {
      kept_primary = &kept.emplace_back(std::move(diagnostic));
    } else if (is_role(diagnostic.id) || diagnostic.id == DiagId::Interpretation) {
      folded.push_back(std::move(diagnostic));
    } else {
      kept.push_back(std::move(diagnostic));
    }
  }
  for (Diagnostic& diagnostic : folded) {
    if (diagnostic.id != DiagId::Interpretation) {
      kept_primary->notes.push_back(fmt::format("same cause: {} {}", diagnostic.info().code, diagnostic.message));
    }
    for (Fix& fix : diagnostic.fixes) {
      bool known = std::any_of(kept_primary->fixes.begin(), kept_primary->fixes.end(),
                               [&](const Fix& other) { return other.patch == fix.patch; });
      if (!known) kept_primary->fixes.push_back(std::move(fix));
    }
  }
  diagnostics = std::move(kept);
}

bool CallContext::add_argument_fix(Diagnostic& diagnostic, std::string description, const std::string& argument,
                                   nlohmann::json value) {
  std::optional<std::string> pointer = argument_pointer(argument);
  if (!pointer) return false;
  add_patch_fix(diagnostic, std::move(description), nlohmann::json::array({{{"op", "add"}, {"path", *pointer}, {"value", std::move(value)}}}));
  return true;
}

std::optional<std::size_t> CallContext::index_in_calls() const { return index_in_calls(call); }

std::optional<std::size_t> CallContext::index_in_calls(const CallDecl& call) {
  const std::string_view prefix = "/calls/";
  if (call.pointer.rfind(prefix, 0) != 0) return std::nullopt;
  return std::stoul(call.pointer.substr(prefix.size()));
}

std::string CallContext::calls_entry_pointer(std::size_t index) { return child_pointer("/calls", index); }

bool CallContext::is_calls_entry_pointer(std::string_view pointer) {
  const std::string_view prefix = "/calls/";
  return pointer.substr(0, prefix.size()) == prefix && pointer.find('/', prefix.size()) == std::string_view::npos;
}

bool CallContext::is_calls_entry(const CallDecl& call, std::size_t index) { return call.pointer == calls_entry_pointer(index); }

bool CallContext::written_inside(const CallDecl& call, std::string_view pointer) {
  return pointer.size() > call.pointer.size() && pointer.starts_with(call.pointer) && pointer[call.pointer.size()] == '/';
}

// The inserted calls read the argument by name (a declared tensor or an earlier call's output):
// the values stay connected, and `run` computes them. Each call reads the one before it.
bool CallContext::add_inserted_calls_fix(Diagnostic& diagnostic, const ArgValue& argument, std::string description,
                                         const std::vector<std::pair<std::string, nlohmann::json>>& made) {
  auto ref = call.tensors.find(argument.argument);
  std::optional<std::size_t> index = index_in_calls();
  if (made.empty() || ref == call.tensors.end() || ref->second.kind != ArgRef::Kind::Named || !index ||
      !written_inside(call, ref->second.pointer)) {
    return false;
  }
  nlohmann::json patch = nlohmann::json::array();
  std::string input = ref->second.name;
  for (std::size_t i = 0; i < made.size(); ++i) {
    const auto& [op, given] = made[i];
    nlohmann::json arguments = given;
    // The last output is named after the argument (src_key_padding_mask = ~attention_mask): the
    // new name says what the values now mean, where the old one said the opposite.
    std::string output = fresh_name(spec, i + 1 == made.size() ? argument.argument : fmt::format("{}_{}", ref->second.name, op));
    arguments["id"] = fresh_name(spec, fmt::format("{}_of_{}", op, input));
    arguments["op"] = op;
    arguments["input"] = input;
    arguments["outputs"] = {output};
    patch.push_back({{"op", "add"}, {"path", calls_entry_pointer(*index + i)}, {"value", std::move(arguments)}});
    input = output;
  }
  std::string argument_path = ref->second.pointer.substr(call.pointer.size());
  patch.push_back({{"op", "replace"}, {"path", calls_entry_pointer(*index + made.size()) + argument_path}, {"value", input}});
  add_patch_fix(diagnostic, std::move(description), std::move(patch));
  return true;
}

bool CallContext::add_inserted_call_fix(Diagnostic& diagnostic, const ArgValue& argument, std::string description, const std::string& op,
                                        nlohmann::json arguments) {
  return add_inserted_calls_fix(diagnostic, argument, std::move(description), {{op, std::move(arguments)}});
}

bool CallContext::add_option_fix(Diagnostic& diagnostic, std::string description,
                                 const std::vector<std::pair<std::string, nlohmann::json>>& options) {
  std::optional<nlohmann::json> patch = option_patch(options);
  if (!patch) return false;
  add_patch_fix(diagnostic, std::move(description), std::move(*patch));
  return true;
}

bool CallContext::add_shape_fix(Diagnostic& diagnostic, std::string description,
                                const std::vector<std::pair<const ArgValue*, Shape>>& shapes) {
  nlohmann::json patch = nlohmann::json::array();
  std::vector<std::string> pointers;
  for (const auto& [arg, shape] : shapes) {
    std::optional<nlohmann::json> part = shape_patch(*arg, shape);
    if (!part) return false;
    // The same tensor passed as several arguments is patched once.
    if (std::find(pointers.begin(), pointers.end(), arg->shape_pointer) != pointers.end()) continue;
    pointers.push_back(arg->shape_pointer);
    for (auto& op : *part) patch.push_back(op);
  }
  add_patch_fix(diagnostic, std::move(description), std::move(patch));
  return true;
}

namespace {

// The patch operation that gives `arg` the dtype `dtype`; `arg` has a dtype pointer.
void append_dtype_patch(nlohmann::json& patch, const ArgValue& arg, DType dtype) {
  if (arg.dtype_pointer == arg.shape_pointer) {
    // A bare shape array: rewrite it as {"shape": [...], "dtype": ...}.
    patch.push_back({{"op", "replace"}, {"path", arg.shape_pointer},
                     {"value", {{"shape", shape_json(arg.written)}, {"dtype", dtype_name(dtype)}}}});
  } else {
    patch.push_back({{"op", "add"}, {"path", arg.dtype_pointer}, {"value", dtype_name(dtype)}});
  }
}

}  // namespace

std::optional<nlohmann::json> insert_after_producer(const CallContext& ctx, const CallDecl& producer, nlohmann::json inserted) {
  const std::size_t at = CallContext::index_in_calls(producer).value_or(ctx.spec.calls.size());
  if (at >= ctx.spec.calls.size() || producer.outputs.empty() ||
      !ctx.spec.value().contains(nlohmann::json::json_pointer(producer.pointer + "/outputs"))) {
    return std::nullopt;
  }
  const std::string& made = producer.outputs.front();
  const std::string op = inserted["op"].get<std::string>();
  std::string before = fresh_name(ctx.spec, made + "_before_" + op);
  inserted["id"] = fresh_name(ctx.spec, op + "_" + made);
  inserted["input"] = before;
  inserted["outputs"] = {made};
  return nlohmann::json::array({{{"op", "replace"}, {"path", producer.pointer + "/outputs/0"}, {"value", before}},
                                {{"op", "add"}, {"path", CallContext::calls_entry_pointer(at + 1)}, {"value", std::move(inserted)}}});
}


namespace {

// The call upstream of `from` (itself included) where a tensor of dtype `lower` met one of
// dtype `promoted` and type promotion made the result `promoted` (bfloat16 weight times float32
// normalised states: float32), followed back through the calls whose arguments have the
// promoted dtype; null when the chain reaches an explicit cast (x.float(): the user chose the
// dtype there) or leaves the checked calls.
const CallDecl* promoting_call(const CallContext& ctx, const CallDecl& from, DType promoted, DType lower) {
  const CallDecl* call = &from;
  for (int depth = 0; depth < 16 && call != nullptr; ++depth) {
    const CallReport* checked = checked_call(ctx, *call);
    if (checked == nullptr) return nullptr;
    bool meets_lower = false;
    const ResolvedArgument* follow = nullptr;
    for (const ResolvedArgument& argument : checked->arguments) {
      if (argument.dtype == lower) meets_lower = true;
      if (argument.dtype == promoted && follow == nullptr) follow = &argument;
    }
    if (follow == nullptr) return nullptr;
    if (meets_lower) return call;
    if (follow->source.kind != ArgumentSource::Kind::Output) return nullptr;
    auto producer = std::find_if(ctx.spec.calls.begin(), ctx.spec.calls.end(), [&](const CallDecl& c) { return c.id == follow->source.call; });
    call = producer == ctx.spec.calls.end() ? nullptr : &*producer;
  }
  return nullptr;
}

}  // namespace

void CallContext::add_input_dtype_fixes(Diagnostic& diagnostic, const ArgValue& input, DType parameters) {
  // Every data input of that dtype is cast (query, key and value made by numpy are all float64),
  // masks aside: they follow their own dtype rules.
  // An output that type promotion made wider than the module's parameters (a float32 RMSNorm
  // times its bfloat16 weight, without the cast back to the input's dtype) is cast back where it
  // was promoted: the model's precision is the parameters'.
  if (input.producer != nullptr && checked_calls != nullptr && is_floating(input.dtype) && is_floating(parameters)) {
    const CallDecl* promoting = promoting_call(*this, *input.producer, input.dtype, parameters);
    std::optional<nlohmann::json> patch;
    if (promoting != nullptr) patch = insert_after_producer(*this, *promoting, {{"op", "to"}, {"dtype", dtype_name(parameters)}});
    if (patch) {
      const std::string& made = promoting->outputs.front();
      add_patch_fix(diagnostic,
                    fmt::format("cast {0} back to {1} where call \"{2}\" promotes it from {1} to {3}: {0} = {0}.to(torch.{1})", made,
                                dtype_name(parameters), promoting->id, dtype_name(input.dtype)),
                    std::move(*patch));
      label_last_fix(diagnostic, FixSemantics::Consistent, "the tensor keeps the dtype of the parameters it was computed with");
    }
  }
  std::vector<const ArgValue*> cast = {&input};
  for (const auto& [name, arg] : args) {
    if (&arg != &input && arg.present && arg.dtype == input.dtype && name.find("mask") == std::string::npos) cast.push_back(&arg);
  }
  nlohmann::json patch = nlohmann::json::array();
  std::vector<std::string> pointers, names, expressions;
  for (const ArgValue* arg : cast) {
    if (arg->dtype_pointer.empty()) return;
    names.push_back(arg->argument);
    expressions.push_back(fmt::format("{}.to(torch.{})", arg->argument, dtype_name(parameters)));
    if (std::find(pointers.begin(), pointers.end(), arg->dtype_pointer) != pointers.end()) continue;
    pointers.push_back(arg->dtype_pointer);
    append_dtype_patch(patch, *arg, parameters);
  }
  add_patch_fix(diagnostic, fmt::format("pass {} as {} ({})", fmt::join(names, ", "), dtype_name(parameters), fmt::join(expressions, ", ")),
                std::move(patch));
  // The module's dtype is the other way, unless the user chose it (dtype=, .half()) or the input
  // is float64, numpy's default rather than a precision anyone asks a model for.
  if (!is_floating(input.dtype) || input.dtype == DType::Float64) return;
  if (module != nullptr && std::find(module->given.begin(), module->given.end(), "dtype") != module->given.end()) return;
  if (auto patch = option_patch({{"dtype", dtype_name(input.dtype)}})) {
    add_patch_fix(diagnostic, fmt::format("construct the module with dtype=torch.{}", dtype_name(input.dtype)), *patch);
  }
}

bool CallContext::add_dtype_fix(Diagnostic& diagnostic, std::string description, const ArgValue& arg, DType dtype) {
  if (arg.dtype_pointer.empty()) return false;
  nlohmann::json patch = nlohmann::json::array();
  append_dtype_patch(patch, arg, dtype);
  add_patch_fix(diagnostic, std::move(description), std::move(patch));
  return true;
}

}  // namespace mhacheck
