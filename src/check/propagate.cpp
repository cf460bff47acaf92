// The propagation pass: binds the spec's dims, resolves each call's arguments (named tensors,
// outputs of earlier calls, inline tensors) with their provenance, runs the operator's rules,
// and hands the outputs on to later calls.
#include <algorithm>
#include <limits>
#include <map>
#include <iterator>
#include <memory>
#include <optional>
#include <set>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <fmt/format.h>

#include "call_context.hpp"
#include "fixes.hpp"
#include "python_lines.hpp"
#include "mhacheck/check.hpp"
#include "mhacheck/json_source.hpp"
#include "mhacheck/module_schema.hpp"
#include "mhacheck/npy.hpp"
#include "mhacheck/python_text.hpp"
#include "mhacheck/report_filter.hpp"
#include "mhacheck/suggest.hpp"
#include "operators.hpp"
#include "roles.hpp"

namespace mhacheck {
namespace {

// A value a call argument can name: a declared tensor or an earlier call's output.
struct NamedValue {
  ArgValue value;            // argument-independent parts filled
  std::optional<DType> dtype;  // absent: decided by the argument's role
  std::string failed_call;   // set when produced by a call that failed
  ArgumentSource source;
  std::size_t uses_left = 0; // call arguments still to name it: the last one takes `value`
};

// A name of the pass's one namespace: counted before the calls run, defined by a tensor or an
// output. The value lives only while arguments are still to name it, so that a long chain
// holds the few values still to be used rather than a NamedValue shell (hundreds of bytes)
// per name it ever defined.
struct NameSlot {
  std::size_t uses = 0;               // call arguments that name it, in the whole spec
  bool defined = false;
  std::unique_ptr<NamedValue> value;  // null once the last argument naming it took it
};

// The source of a tensor written in the spec: declared under "tensors", inline or a causal mask.
ArgumentSource written_source(const Spec& spec, const TensorDecl& tensor, ArgumentSource::Kind kind) {
  auto written = std::make_shared<WrittenTensor>();
  if (kind != ArgumentSource::Kind::Declared) written->pointer = tensor.pointer;
  written->dtype = tensor.dtype;
  written->file = tensor.file;
  written->file_member = tensor.file_member;
  written->declared_at = spec.document.values.find(tensor.pointer);
  if (!tensor.file.empty()) written->file_at = spec.document.values.find(child_pointer(tensor.pointer, "file"));
  ArgumentSource source;
  source.kind = kind;
  source.name = tensor.name;
  source.written = std::move(written);
  return source;
}

// A merged dim's name in the order the spec writes its factors ("B*H": B outer, as the code that
// made it merged them; "B*8": each batch entry's 8 frames next to each other), which the parsed
// monomial, sorted, has lost: read back from the text. "" when the text is not the dim's factors
// (its symbols, its integer counts multiplying to the coefficient) joined by '*'. A count written
// first ("7*h", "8*B") is how sizes are written (and the tracer writes them) whatever the memory
// order, so it says nothing; a count written after a symbol says it is inner, in a traced spec
// too. Products of symbols alone carry their order unless the spec is traced (`written_order`).
std::string merged_name_as_written(const DimExpr& dim, const Location& at, bool written_order) {
  if (!at.known()) return "";
  std::string_view line = at.source->line_text(at.line);
  std::size_t start = static_cast<std::size_t>(at.column - 1);
  if (start >= line.size()) return "";
  std::string text;
  for (char c : line.substr(start, static_cast<std::size_t>(at.length))) {
    if (c != '"' && c != ' ') text += c;
  }
  std::vector<std::string> written = written_factors(text);
  if (written.empty()) written = name_factors(text);
  std::vector<std::string> symbols, counts, factors = dim.factors();
  std::int64_t count = 1;
  for (const std::string& factor : written) {
    if (is_identifier(factor)) {
      symbols.push_back(factor);
    } else {
      counts.push_back(factor);
      count *= std::stoll(factor);
    }
  }
  std::vector<std::string> sorted = symbols;
  std::sort(sorted.begin(), sorted.end());
  std::sort(factors.begin(), factors.end());
  if (written.empty() || sorted != factors || count != dim.coeff) return "";
  if (!counts.empty()) return is_identifier(written.front()) ? text : "";
  return written_order ? text : "";
}

// `written_order`: a merged dim's factors are written in memory order, as a person writes
// x.view(B*H, T, D); not in a traced spec, whose products are in the order of the tracer's probes.
ArgValue value_from_decl(const Spec& spec, const TensorDecl& tensor, const std::string& origin, bool written_order) {
  ArgValue value;
  value.written = tensor.shape;
  value.dim_names = written_names(tensor.shape);
  value.origin = origin;
  if (!tensor.file.empty()) {
    // The shape and dtype are the file's: point at the file name, offer no patch.
    Location file = spec.document.values.find(child_pointer(tensor.pointer, "file"));
    value.dim_locations.assign(tensor.shape.size(), file);
    value.origin += " (from " + tensor.file + ")";
    return value;
  }
  value.shape_pointer = tensor.shape_pointer;
  value.dtype_pointer = tensor.shape_pointer == tensor.pointer ? tensor.pointer : child_pointer(tensor.pointer, "dtype");
  for (std::size_t i = 0; i < tensor.shape.size(); ++i) {
    value.dim_locations.push_back(spec.document.values.find(child_pointer(tensor.shape_pointer, i)));
    const DimExpr& dim = tensor.shape[i];
    if (dim.coeff >= 1 && dim.offset == 0 && (dim.is_monomial() || dim.coeff > 1)) {
      value.dim_names[i] = merged_name_as_written(dim, value.dim_locations[i], written_order);
    }
  }
  return value;
}

class Pass {
 public:
  Pass(const Spec& spec, Report& report) : spec_(spec), report_(report) {}

  void run() {
    for (const CallDecl& call : spec_.calls) {
      for (const auto& [argument, ref] : call.tensors) {
        if (ref.kind == ArgRef::Kind::Named) ++names_[ref.name].uses;
      }
    }
    report_.calls.reserve(spec_.calls.size());
    for (const auto& [symbol, value] : spec_.dims) symbols_.bind(symbol, value);
    traced_ = std::any_of(spec_.calls.begin(), spec_.calls.end(), [](const CallDecl& call) { return call.source.line > 0; });
    for (const TensorDecl& tensor : spec_.tensors) {
      NamedValue named;
      named.value = value_from_decl(spec_, tensor, fmt::format("tensor \"{}\"", tensor.name), !traced_);
      named.value.identity = "tensor:" + tensor.name;
      named.dtype = tensor.dtype;
      named.source = written_source(spec_, tensor, ArgumentSource::Kind::Declared);
      define(tensor.name, std::move(named), [&] { return tensor.pointer; });
      report_.tensors.push_back({tensor.name, tensor.shape, tensor.dtype});
    }
    for (const CallDecl& call : spec_.calls) run_call(call);
    report_.symbols = symbols_;
  }

 private:
  // `name` is the spec's own string (a tensor's or an output's), which outlives the pass.
  // `pointer` makes the JSON pointer of where it is defined, needed only when it is wrong:
  // an output's is made of two child pointers, two allocations for each call.
  template <class Pointer>
  void define(const std::string& name, NamedValue value, const Pointer& pointer) {
    NameSlot& slot = names_[name];
    if (slot.defined) {
      throw InputError(spec_.document.values.find(pointer()), fmt::format("\"{}\" is defined twice", name),
                       "tensor names and call output names share one namespace", InputError::Kind::Reference);
    }
    slot.defined = true;
    value.uses_left = slot.uses;
    if (slot.uses > 0) slot.value = std::make_unique<NamedValue>(std::move(value));
  }

  ArgValue resolve_argument(const CallDecl& call, const ArgRef& ref, const std::string& argument, ArgKind kind,
                            std::string& failed_dependency, CallReport& call_report) {
    ArgValue value;
    Location written_at = spec_.document.values.find(ref.pointer);
    if (ref.kind == ArgRef::Kind::Absent) {
      value.argument = argument;
      value.location = written_at;
      return value;
    }
    std::optional<DType> dtype;
    ArgumentSource source;
    if (ref.kind == ArgRef::Kind::Named) {
      auto it = names_.find(ref.name);
      if (it == names_.end() || !it->second.defined) {
        std::vector<std::string> names;
        for (const auto& [name, slot] : names_) {
          if (slot.defined) names.emplace_back(name);
        }
        std::sort(names.begin(), names.end());  // the suggestion must not depend on hashing
        throw InputError(written_at,
                         fmt::format("call \"{}\": {} names \"{}\", which is not a tensor or an earlier call's output{}",
                                     call.id, argument, ref.name, did_you_mean(ref.name, names)),
                         "declare it under \"tensors\", or name an output of an earlier call",
                         InputError::Kind::Reference);
      }
      // The last argument to name a value takes it: a long chain then holds only the values
      // still to be used, and copies none it will not need again.
      NamedValue& named = *it->second.value;
      dtype = named.dtype;
      if (!named.failed_call.empty()) failed_dependency = named.failed_call;
      if (--named.uses_left > 0) {
        value = named.value;
        source = named.source;
      } else {
        value = std::move(named.value);
        source = std::move(named.source);
        it->second.value.reset();
      }
    } else if (ref.kind == ArgRef::Kind::Causal) {
      TensorDecl shape = *ref.tensor;
      shape.shape_pointer = child_pointer(ref.pointer, "causal");
      value = value_from_decl(spec_, shape, "causal mask", !traced_);
      value.dtype_pointer.clear();  // the generator's dtype is fixed
      value.identity = "causal:" + ref.pointer;
      dtype = ref.tensor->dtype;
      source = written_source(spec_, *ref.tensor, ArgumentSource::Kind::Causal);
    } else {
      value = value_from_decl(spec_, *ref.tensor, "inline", !traced_);
      value.identity = "inline:" + ref.pointer;
      dtype = ref.tensor->dtype;
      source = written_source(spec_, *ref.tensor, ArgumentSource::Kind::Inline);
    }
    value.argument = argument;
    value.present = true;
    value.location = written_at;
    // Unwritten dtypes: masks are bool, indices int64, everything else float32.
    value.dtype = dtype.value_or(kind == ArgKind::Mask ? DType::Bool : kind == ArgKind::Indices ? DType::Int64 : DType::Float32);
    value.shape = symbols_.resolve(value.written);
    // A tensor written in the spec is contiguous unless it says not ("contiguous": false, as the
    // tracer writes for a value it did not record the making of): its strides are then unknown.
    const TensorDecl* written = ref.kind == ArgRef::Kind::Named ? (source.kind == ArgumentSource::Kind::Declared ? spec_.find_tensor(ref.name) : nullptr)
                                                                : ref.tensor.get();
    if (written != nullptr) value.layout = written->contiguous ? Layout::contiguous(value.shape) : Layout::unknown();
    if (!value.layout.fits(value.shape)) value.layout = Layout::unknown();  // a later binding changed its sizes
    check_storage_size(value, written_at);
    Shape rebound_from = value.shape == value.written ? Shape() : value.written;
    call_report.arguments.push_back({argument, value.identity, value.shape, std::move(rebound_from), value.dtype, std::move(source), written_at});
    return value;
  }

  // PyTorch cannot create a tensor whose size in bytes overflows int64 (c10's
  // computeStorageNbytes); such a spec describes no tensor at all.
  static void check_storage_size(const ArgValue& value, const Location& written_at) {
    // As c10 computes it: the element count in uint64 (an overflow sticks, even if a later
    // dim is 0), times the element size, at most int64's maximum.
    std::uint64_t bytes = 1;
    std::string sizes;
    bool overflowed = false;
    for (const DimExpr& dim : value.shape) {
      if (!dim.is_constant()) return;
      overflowed = __builtin_mul_overflow(bytes, static_cast<std::uint64_t>(dim.offset), &bytes) || overflowed;
      sizes += (sizes.empty() ? "" : ", ") + std::to_string(dim.offset);
    }
    overflowed = __builtin_mul_overflow(bytes, dtype_size(value.dtype), &bytes) || overflowed;
    if (!overflowed && bytes <= static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) return;
    throw InputError(written_at,
                     fmt::format("{} ({}) cannot exist: PyTorch raises RuntimeError: Storage size calculation overflowed with sizes=[{}]",
                                 value.argument, value.origin, sizes),
                     fmt::format("a {} {} tensor needs more bytes than int64 counts (2^63 - 1)", tuple_str(value.shape),
                                 dtype_name(value.dtype)));
  }

  void run_call(const CallDecl& call) {
    const ModuleDecl* module = call.module.empty() ? nullptr : spec_.find_module(call.module);
    const OperatorDef& op = known_operator(call.op);
    const OperatorSchema& schema = op.call;
    CallContext ctx(spec_, call, module, symbols_);
    ctx.checked_calls = &report_.calls;
    CallReport call_report;
    call_report.arguments.reserve(std::count_if(call.tensors.begin(), call.tensors.end(),
                                                [](const auto& entry) { return entry.second.kind != ArgRef::Kind::Absent; }));
    std::string failed_dependency;
    for (const ArgSchema& argument : schema.arguments) {
      std::size_t elements = argument.kind == ArgKind::TensorList ? call.list_size(argument.name) : 0;
      for (std::size_t i = 0; i < elements; ++i) {
        std::string element = list_element(argument.name, i);
        ctx.args[element] = resolve_argument(call, call.tensor(element), element, ArgKind::Tensor, failed_dependency, call_report);
      }
      if (!schema.is_tensor(argument)) continue;
      ctx.args[argument.name] =
          resolve_argument(call, call.tensor(argument.name), argument.name, argument.kind, failed_dependency, call_report);
    }
    call_report.id = call.id;
    call_report.module = module != nullptr ? module->name : call.op;
    call_report.module_text = module != nullptr ? module->text : op.display;
    if (!failed_dependency.empty()) {
      call_report.skipped_because = failed_dependency;
    } else {
      if (module != nullptr) note_assumptions(ctx, *module);
      op.infer(ctx);
      ctx.fold_role_diagnostics();
      call_report.ok = !ctx.has_errors();
      if (call_report.ok) call_report.outputs = ctx.outputs;
    }
    for (Diagnostic& diagnostic : ctx.diagnostics) report_.diagnostics.push_back(std::move(diagnostic));
    std::vector<std::string> schema_output_names;  // the rule's names, before the spec's replace them
    for (const NamedOutput& output : call_report.outputs) schema_output_names.push_back(output.name);
    // Unnamed outputs of a multi-call spec are known by call: "dec.attn_output".
    for (std::size_t i = call.outputs.size(); i < call_report.outputs.size(); ++i) {
      call_report.outputs[i].name = call.id + "." + call_report.outputs[i].name;
    }
    std::optional<OutputTracing> tracing;  // made at the first named output of a valid call
    for (std::size_t i = 0; i < call.outputs.size(); ++i) {
      NamedValue named;
      named.value.identity = "output:" + call.outputs[i];
      named.value.producer = &call;
      named.value.origin = fmt::format("output {} of call \"{}\" ({})", i, call.id, call_report.module_text);
      named.source.kind = ArgumentSource::Kind::Output;
      named.source.name = call.outputs[i];
      named.source.call = call.id;
      named.source.failed = !call_report.ok;
      if (call_report.ok && i >= call_report.outputs.size()) {
        throw InputError(spec_.document.values.find(child_pointer(child_pointer(call.pointer, "outputs"), i)),
                         fmt::format("call \"{}\" returns no output {} (\"{}\"): PyTorch returns None for it here",
                                     call.id, i, call.outputs[i]),
                         "attn_output_weights is None when need_weights is false", InputError::Kind::Reference);
      }
      if (call_report.ok) {
        named.value.written = call_report.outputs[i].shape;
        if (!tracing) tracing = OutputTracing(ctx);
        named.value.dim_sources = dim_sources(ctx, *tracing, call_report.outputs[i].shape);
        named.value.dim_names = dim_names(ctx, call_report.outputs[i]);
        auto layout = ctx.output_layouts.find(schema_output_names[i]);
        if (layout != ctx.output_layouts.end()) named.value.layout = std::move(layout->second);
        // The first non-contiguous layout in a chain of views names its call (MHA370 cites it).
        Layout& made = named.value.layout;
        if (made.known() && !made.is_contiguous() && made.made_by.empty()) made.made_by = call.id;
        named.dtype = call_report.outputs[i].dtype;
        call_report.outputs[i].name = call.outputs[i];
      } else {
        named.failed_call = call.id;
      }
      define(call.outputs[i], std::move(named), [&] { return child_pointer(child_pointer(call.pointer, "outputs"), i); });
    }
    report_.calls.push_back(std::move(call_report));
  }

  // What checking a module assumes of its unbound options (MHA004), said at its first call.
  void note_assumptions(CallContext& ctx, const ModuleDecl& module) {
    if (!noted_modules_.insert(&module).second) return;
    for (const std::string& text : module.assumptions) {
      Diagnostic& diagnostic = ctx.diagnostics.emplace_back();
      diagnostic.id = DiagId::Assumption;
      diagnostic.message = text;
      diagnostic.call = ctx.call.id;
      diagnostic.argument = "module";
      diagnostic.location = spec_.document.values.find(module.pointer);
    }
    for (const ModuleDecl& nested : module.submodules) note_assumptions(ctx, nested);
  }

  // What dim_sources reads of a call's inputs, gathered once per call rather than per output
  // dim: the present tensor arguments in the schema's order, and the constant sizes among all
  // present arguments' dims, sorted, so that a constant's count is a binary search.
  struct OutputTracing {
    std::vector<const ArgValue*> inputs;
    std::vector<std::int64_t> constants;

    explicit OutputTracing(const CallContext& ctx) {
      for (const ArgSchema& parameter : known_operator(ctx.call.op).call.arguments) {
        auto it = ctx.args.find(parameter.name);
        if (it != ctx.args.end() && it->second.present) inputs.push_back(&it->second);
      }
      for (const auto& [name, arg] : ctx.args) {
        if (!arg.present) continue;
        for (const DimExpr& dim : arg.shape) {
          if (dim.is_constant()) constants.push_back(dim.offset);
        }
      }
      std::sort(constants.begin(), constants.end());
    }
    bool unique_constant(std::int64_t value) const {
      auto [first, last] = std::equal_range(constants.begin(), constants.end(), value);
      return last - first == 1;
    }
  };

  // Where each dim of an output entered the graph: the input dim it equals (a symbol, or a
  // constant that no other input dim of the call has, so that the match is not a guess), and
  // that dim's own source when it is an earlier call's output. One hop deep in text, however
  // long the chain, so that a 10,000-call graph stays linear.
  std::vector<RelatedLocation> dim_sources(const CallContext& ctx, const OutputTracing& tracing, const Shape& output) {
    std::vector<RelatedLocation> sources(output.size());
    for (std::size_t d = 0; d < output.size(); ++d) {
      const DimExpr size = symbols_.resolve(output[d]);
      if (size.is_constant() && !tracing.unique_constant(size.offset)) continue;
      bool found = false;
      for (const ArgValue* input : tracing.inputs) {
        const ArgValue& arg = *input;
        for (int j = 0; j < arg.rank() && !found; ++j) {
          if (!(arg.shape[j] == size)) continue;
          found = true;
          if (j < static_cast<int>(arg.dim_sources.size()) && arg.dim_sources[j].location.known()) {
            sources[d] = arg.dim_sources[j];
          } else if (j < static_cast<int>(arg.dim_locations.size()) && arg.dim_locations[j].known()) {
            sources[d] = {fmt::format("{} dim {} ({}) of call \"{}\"", arg.argument, j, arg.written[j].str(), ctx.call.id),
                          arg.dim_locations[j]};
          }
        }
        if (found) break;
      }
    }
    return sources;
  }

  // What each dim of an output stands for: the rule's names when it gave them, else the name of
  // the input dim it equals, preferring the same position in an input of the same rank (a
  // Linear's or an attention's output keeps its input's layout), then the only name among the
  // input dims of that size.
  std::vector<std::string> dim_names(const CallContext& ctx, const NamedOutput& output) {
    if (!output.dim_names.empty()) return output.dim_names;
    std::vector<std::string> names(output.shape.size());
    const OperatorSchema& schema = *find_operator_schema(ctx.call.op);
    std::vector<const ArgValue*> inputs;
    for (const ArgSchema& parameter : schema.arguments) {
      auto it = ctx.args.find(parameter.name);
      if (it != ctx.args.end() && it->second.present) inputs.push_back(&it->second);
      for (std::size_t i = 0; parameter.kind == ArgKind::TensorList && i < ctx.call.list_size(parameter.name); ++i) {
        auto element = ctx.args.find(list_element(parameter.name, i));
        if (element != ctx.args.end() && element->second.present) inputs.push_back(&element->second);
      }
    }
    for (std::size_t d = 0; d < output.shape.size(); ++d) {
      const DimExpr size = symbols_.resolve(output.shape[d]);
      int dim = static_cast<int>(d);
      // The dim an input of the same rank has at this position with this size is this dim, even
      // unnamed: another input dim of that size (T == C) is not.
      auto kept = std::find_if(inputs.begin(), inputs.end(), [&](const ArgValue* input) {
        return input->shape.size() == output.shape.size() && input->shape[d] == size;
      });
      auto named = std::find_if(kept, inputs.end(), [&](const ArgValue* input) {
        return input->shape.size() == output.shape.size() && input->shape[d] == size && !input->dim_name(dim).empty();
      });
      if (named != inputs.end()) {
        names[d] = (*named)->dim_name(dim);
        continue;
      }
      if (kept != inputs.end()) continue;
      // An unnamed input dim of that size is a candidate too: with T bound to 64, the literal 64
      // of a (B, T, 64) table that unsqueeze or cat carries into the output is not T.
      std::string only;
      bool ambiguous = false;
      for (const ArgValue* input : inputs) {
        for (int j = 0; j < input->rank(); ++j) {
          if (!(input->shape[j] == size)) continue;
          if (input->dim_name(j).empty() || (!only.empty() && only != input->dim_name(j))) ambiguous = true;
          only = input->dim_name(j);
        }
      }
      if (!ambiguous) names[d] = only;
      if (names[d].empty() && size.is_plain_symbol()) names[d] = size.symbol;
    }
    return names;
  }

  const Spec& spec_;
  Report& report_;
  Symbols symbols_;
  bool traced_ = false;  // the calls carry Python lines: the spec is traced
  std::set<const ModuleDecl*> noted_modules_;
  std::unordered_map<std::string_view, NameSlot> names_;  // keys are views of the spec's strings
};

}  // namespace

int Report::count(Severity severity) const {
  int total = 0;
  for (const Diagnostic& diagnostic : diagnostics) total += diagnostic.severity() == severity ? 1 : 0;
  return total;
}

Report input_error_report(const std::string& file, const InputError& error) {
  Report report;
  report.file = file;
  report.input_error = true;
  Diagnostic diagnostic;
  switch (error.kind()) {
    case InputError::Kind::Syntax: diagnostic.id = DiagId::InputSyntax; break;
    case InputError::Kind::Schema: diagnostic.id = DiagId::InputSchema; break;
    case InputError::Kind::Reference: diagnostic.id = DiagId::InputReference; break;
    case InputError::Kind::Environment: diagnostic.id = DiagId::RuntimeLibraryMissing; break;
  }
  diagnostic.message = error.what();
  diagnostic.location = error.location();
  if (!error.help().empty()) diagnostic.notes.push_back(error.help());
  report.diagnostics.push_back(std::move(diagnostic));
  return report;
}

namespace {

// Every file the spec names: tensor data and weights.
std::vector<std::string> files_named_by(const Spec& spec) {
  std::vector<std::string> files;
  auto add_module = [&files](const ModuleDecl& module, auto& add_nested) -> void {
    if (!module.weights.empty()) files.push_back(module.weights);
    for (const ModuleDecl& nested : module.submodules) add_nested(nested, add_nested);
  };
  for (const ModuleDecl& module : spec.modules) add_module(module, add_module);
  for (const TensorDecl& tensor : spec.tensors) {
    if (!tensor.file.empty()) files.push_back(tensor.file);
  }
  for (const CallDecl& call : spec.calls) {
    for (const auto& [argument, ref] : call.tensors) {
      if (ref.tensor && !ref.tensor->file.empty()) files.push_back(ref.tensor->file);
    }
  }
  return files;
}

constexpr std::size_t kMaxPythonSourceBytes = 16 * 1024 * 1024;

// The argument of `call` that the diagnostic's first fix re-makes (its patch adds a call
// outputting that argument's tensor), else the argument the diagnostic names.
std::string repaired_argument(const CallDecl& call, const Diagnostic& diagnostic) {
  if (!diagnostic.fixes.empty() && diagnostic.fixes.front().valid()) {
    for (const nlohmann::json& operation : diagnostic.fixes.front().patch) {
      if (operation.value("op", "") != "add" || !operation.contains("value") || !operation["value"].is_object()) continue;
      const nlohmann::json& outputs = operation["value"].value("outputs", nlohmann::json::array());
      if (!outputs.is_array() || outputs.size() != 1 || !outputs[0].is_string()) continue;
      for (const auto& [argument, ref] : call.tensors) {
        if (ref.kind == ArgRef::Kind::Named && ref.name == outputs[0].get<std::string>()) return argument;
      }
    }
  }
  return diagnostic.argument;
}

// The name of a call's only named tensor input, or null when it has none or several.
const std::string* single_named_input(const CallDecl& call) {
  const std::string* input = nullptr;
  for (const auto& [argument, ref] : call.tensors) {
    if (ref.kind != ArgRef::Kind::Named) continue;
    if (input) return nullptr;
    input = &ref.name;
  }
  return input;
}

}  // namespace

void locate_at_python_lines(const Spec& spec, Report& report, std::size_t from) {
  std::map<std::string, std::size_t> calls;               // a traced call's position, by id
  std::map<std::string, std::vector<std::size_t>> makers;  // the calls outputting a name, in order
  for (std::size_t i = 0; i < spec.calls.size(); ++i) {
    if (spec.calls[i].source.line > 0) calls.emplace(spec.calls[i].id, i);
    for (const std::string& output : spec.calls[i].outputs) makers[output].push_back(i);
  }
  if (calls.empty()) return;
  std::map<std::string, std::shared_ptr<const SourceText>> files;
  auto python_location = [&files](const SourceLine& source, const std::string& pointer) {
    std::shared_ptr<const SourceText>& text = files[source.file];
    if (!text) {
      try {
        text = read_source_file(source.file, kMaxPythonSourceBytes);
      } catch (const InputError&) {
        text = std::make_shared<const SourceText>(SourceText{source.file, {}});
      }
    }
    std::string_view line = text->line_text(source.line);
    std::size_t first = line.find_first_not_of(" \t");
    return Location{text, source.line, first == std::string::npos ? 1 : static_cast<int>(first) + 1,
                    first == std::string::npos ? 1 : static_cast<int>(line.find_last_not_of(" \t") - first) + 1, pointer};
  };
  for (std::size_t i = from; i < report.diagnostics.size(); ++i) {
    Diagnostic& diagnostic = report.diagnostics[i];
    auto found = calls.find(diagnostic.call);
    if (found == calls.end()) continue;
    const CallDecl& call = spec.calls[found->second];
    diagnostic.related.insert(diagnostic.related.begin(), RelatedLocation{"the call in the spec", diagnostic.location});
    diagnostic.location = python_location(call.source, diagnostic.location.pointer);
    // The bad argument is often made on another line (a mask's .T, a repeat, a view): point there
    // too, by the last call before this one that outputs it. Which argument is bad, the first fix
    // tells when it re-makes one of them (a view missing its transpose: the matmul's error names
    // both operands); a call on the using line with one tensor input (`scaling * q`) is stepped
    // through to the line that made that input.
    std::string bad = repaired_argument(call, diagnostic);
    auto argument = call.tensors.find(bad);
    if (argument == call.tensors.end() || argument->second.kind != ArgRef::Kind::Named) continue;
    auto maker_before = [&makers](const std::string& name, std::size_t position) -> std::optional<std::size_t> {
      auto made = makers.find(name);
      if (made == makers.end()) return std::nullopt;
      auto after = std::lower_bound(made->second.begin(), made->second.end(), position);
      if (after == made->second.begin()) return std::nullopt;
      return *std::prev(after);
    };
    auto on_call_line = [&call](const CallDecl& other) {
      return other.source.line <= 0 || (other.source.file == call.source.file && other.source.line == call.source.line);
    };
    std::optional<std::size_t> maker = maker_before(argument->second.name, found->second);
    while (maker && on_call_line(spec.calls[*maker])) {
      const std::string* input = single_named_input(spec.calls[*maker]);
      maker = input ? maker_before(*input, *maker) : std::nullopt;
    }
    if (!maker) continue;
    diagnostic.related.insert(diagnostic.related.begin() + 1,
                              RelatedLocation{fmt::format("{} is made here (call \"{}\")", bad, spec.calls[*maker].id),
                                              python_location(spec.calls[*maker].source, spec.calls[*maker].pointer)});
  }
}

Report check_spec(const Spec& spec, const CheckOptions& options) {
  Report report;
  report.file = spec.document.source ? spec.document.source->name : "";
  try {
    Pass(spec, report).run();
  } catch (const InputError& error) {
    Report failed = input_error_report(report.file, error);
    failed.input_files = files_named_by(spec);
    return failed;
  }
  report.input_files = files_named_by(spec);
  if (options.verify_fixes) verify_fixes(spec, report);
  apply_filter(report, DiagnosticFilter{spec.ignored_codes, {}});
  locate_at_python_lines(spec, report);
  return report;
}

Report check_document(JsonDocument document, const CheckOptions& options) {
  std::string file = document.source ? document.source->name : "";
  try {
    return check_spec(parse_spec(std::move(document)), options);
  } catch (const InputError& error) {
    return input_error_report(file, error);
  }
}

}  // namespace mhacheck
