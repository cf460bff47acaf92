// Runs a checked spec: resolves each call's tensors to arrays (files, earlier outputs, or seeded
// random data), loads or initialises each module's parameters, and calls the forward pass.
// Which tensors a call takes, their shapes, dtypes and sources (an earlier output, a declared or
// inline tensor and its file, a causal mask) come from the check's report (CallReport::arguments),
// never from the spec's references again. The spec is read for what only it holds: the modules'
// options and weights files, and each call's plain arguments, which the forward passes read.
#include "mhacheck/run.hpp"

#include <algorithm>
#include <limits>
#include <map>
#include <new>
#include <set>
#include <thread>

#include <fmt/format.h>

#include "call_context.hpp"
#include "core/memory_room.hpp"
#include "forward/blas.hpp"
#include "fixes.hpp"
#include "mhacheck/report_filter.hpp"
#include "operators.hpp"
#include "python_lines.hpp"
#include "value_checks.hpp"
#include "work_estimate.hpp"

namespace mhacheck {
namespace {

std::string torch_size(const std::vector<std::int64_t>& shape) {
  std::string text;
  for (std::size_t i = 0; i < shape.size(); ++i) text += (i ? ", " : "") + std::to_string(shape[i]);
  return fmt::format("torch.Size([{}])", text);
}

// A problem found while running; the run stops after the call that found it.
class RunStop : public std::exception {};

// The argument of a call's report so named; null when it is not given.
const ResolvedArgument* given(const CallReport& call, const std::string& name) {
  for (const ResolvedArgument& argument : call.arguments) {
    if (argument.name == name) return &argument;
  }
  return nullptr;
}

class Runner {
 public:
  Runner(const Spec& spec, const RunOptions& options, RunResult& result)
      : spec_(spec), options_(options), result_(result), random_(options.seed) {}

  void run() {
    bound_work();
    bound_memory();
    for (std::size_t i = 0; i < spec_.calls.size(); ++i) run_call(spec_.calls[i], result_.report.calls[i]);
    if (!options_.plot || plot_settled_) return;
    if (options_.plot_call.empty()) {
      result_.plot_problem = "--plot: no call computes attention (nn.MultiheadAttention, F.scaled_dot_product_attention and the Transformer modules do)";
      return;
    }
    std::string ids;
    for (const CallReport& call : result_.report.calls) ids += fmt::format("{}\"{}\"", ids.empty() ? "" : ", ", call.id);
    result_.plot_problem = fmt::format("--plot-call {}: the spec has no call of that id; its calls: {}", options_.plot_call, ids);
  }

 private:
  Diagnostic& report(DiagId id, std::string message, const std::string& call, Location location) {
    Diagnostic& diagnostic = result_.report.diagnostics.emplace_back();
    diagnostic.id = id;
    diagnostic.message = std::move(message);
    diagnostic.call = call;
    diagnostic.location = std::move(location);
    return diagnostic;
  }

  Location weights_location(const ModuleDecl& module) const {
    return spec_.document.values.find(module.weights.empty() ? module.pointer : child_pointer(module.pointer, "weights"));
  }

  // Before the first call runs, every call within the bounds that do not need its data: its
  // module's parameters within --max-elements, its estimated work within --max-flops (a run
  // too long is refused whole, not cut off after minutes).
  void bound_work() const {
    for (std::size_t i = 0; i < spec_.calls.size(); ++i) {
      const CallDecl& call = spec_.calls[i];
      const ModuleDecl* module = call.module.empty() ? nullptr : spec_.find_module(call.module);
      // A module's parameters count as one tensor for --max-elements, initialised or loaded: the
      // state_dict is allocated whole, and a stack of many small layers is as large as one big weight.
      if (std::int64_t elements = module != nullptr ? parameter_elements(*module) : 0; elements > options_.max_elements) {
        std::string count = elements == std::numeric_limits<std::int64_t>::max() ? "more elements than an int64 can count"
                                                                                  : fmt::format("{} elements", elements);
        throw InputError(weights_location(*module), fmt::format("the parameters of module \"{}\" (nn.{}) would have {}, more than {} (--max-elements)",
                                                                module->name, module->type, count, options_.max_elements));
      }
      double flops = estimated_flops(spec_, call, result_.report.calls[i], result_.report.symbols);
      if (flops <= options_.max_flops) continue;
      throw InputError(module != nullptr ? spec_.document.values.find(module->pointer) : spec_.document.values.find(child_pointer(call.pointer, "op")),
                       fmt::format("call \"{}\" ({}) would take about {:.2g} floating-point operations, more than {:.2g} (--max-flops)", call.id,
                                   result_.report.calls[i].module_text.empty() ? call.op : result_.report.calls[i].module_text, flops,
                                   options_.max_flops),
                       fmt::format("run it on smaller inputs, or raise --max-flops (default {:.0e}) to wait for it", kDefaultMaxFlops));
    }
  }

  // Before the first call runs, the memory the whole run needs: OpenBLAS's buffers, allocated
  // now (it would retry a failed allocation of one forever), then room for the run's estimated
  // peak. A run that does not fit is refused whole, at once, not after minutes or by an abort.
  void bound_memory() const {
    std::uint64_t limit = address_space_limit();
    std::string limited = limit == 0 ? "" : fmt::format(" (its address space is limited to {}: ulimit -v)", mebibytes(static_cast<double>(limit)));
    try {
      blas::reserve(threads());
    } catch (const std::bad_alloc&) {
      throw InputError(Location{}, fmt::format("out of memory: OpenBLAS's buffers for {} threads do not fit in this process{}", threads(), limited),
                       "run with fewer --threads, or with more memory");
    }
    double bytes = estimated_run_bytes(spec_, result_.report, options_.max_elements);
    if (bytes < static_cast<double>(std::numeric_limits<std::int64_t>::max()) && memory_room(static_cast<std::uint64_t>(bytes))) return;
    throw InputError(Location{}, fmt::format("out of memory: the run would hold about {} (its tensors' data, parameters and outputs, and its largest call's "
                                             "working buffers), more than this process can allocate{}",
                                             mebibytes(bytes), limited),
                     "run it on smaller inputs, or with more memory");
  }

  static std::string mebibytes(double bytes) { return fmt::format("{:.0f} MiB", bytes / (1024.0 * 1024.0)); }

  const StateDict& parameters(const ModuleDecl& module, const CallDecl& call) {
    auto cached = parameters_.find(module.name);
    if (cached != parameters_.end()) return cached->second;
    std::string file = module.weights.empty() ? options_.weights : module.weights;
    Location where = weights_location(module);
    if (file.empty()) return parameters_.emplace(module.name, initial_module_parameters(module, random_)).first->second;

    StateDict loaded;
    std::vector<std::string> members;
    try {
      members = list_npz(file);
    } catch (const InputError& error) {
      throw InputError(where, error.what(), error.help(), error.kind());
    }
    std::vector<ExpectedParameter> expected = module_parameters(module);
    std::vector<std::string> missing, mismatched;
    std::string mismatches;  // PyTorch's lines
    for (const ExpectedParameter& parameter : expected) {
      std::string name = module.prefix + parameter.name;
      if (std::find(members.begin(), members.end(), name) == members.end()) {
        missing.push_back(name);
        continue;
      }
      NpyHeader header = read_npz_header(file, name);
      if (header.shape != parameter.shape) {
        mismatches += fmt::format("\n\tsize mismatch for {}: copying a param with shape {} from checkpoint, the shape in current model is {}.",
                                  parameter.name, torch_size(header.shape), torch_size(parameter.shape));
        mismatched.push_back(fmt::format("{} is {} (the module's: {})", name, torch_size(header.shape), torch_size(parameter.shape)));
        continue;
      }
      try {
        loaded.emplace(parameter.name, read_npz(file, name, options_.max_elements));
      } catch (const InputError& error) {
        throw InputError(where, error.what(), error.help(), error.kind());
      }
    }
    if (!mismatched.empty()) {
      // load_state_dict lists every size mismatch in one error.
      std::string list;
      for (const std::string& item : mismatched) list += (list.empty() ? "" : "; ") + item;
      Diagnostic& diagnostic = report(DiagId::WeightsShape, fmt::format("in {}, {}", file, list), call.id, where);
      diagnostic.argument = "module.weights";
      diagnostic.pytorch_error = load_error("RuntimeError", fmt::format("Error(s) in loading state_dict for {}:{}", module.type, mismatches));
      diagnostic.notes.push_back(checkpoint_reading(file, module.prefix));
      add_checkpoint_options_fix(diagnostic, module, call, file, members);
    }
    if (!missing.empty()) {
      std::string names;
      for (const std::string& name : missing) names += (names.empty() ? "" : ", ") + fmt::format("\"{}\"", name);
      Diagnostic& diagnostic = report(DiagId::WeightsMissing, fmt::format("{} has no {}", file, names), call.id, where);
      diagnostic.argument = "module.weights";
      diagnostic.pytorch_error = load_error(
          "RuntimeError", fmt::format("Error(s) in loading state_dict for {}:\n\tMissing key(s) in state_dict: {}. ", module.type, names));
      diagnostic.notes.push_back(checkpoint_reading(file, module.prefix));
      note_bias_left_at_default(diagnostic, module, missing);
    }
    // A file may hold more than this module's state_dict (inputs, other modules), so only
    // names that some module of this type has count as unexpected, as load_state_dict would
    // see them: a checkpoint of a module built with other arguments.
    std::vector<std::string> unexpected;
    for (const std::string& member : members) {
      if (member.compare(0, module.prefix.size(), module.prefix) != 0) continue;
      std::string local = member.substr(module.prefix.size());
      bool possible = possible_parameter(module.type, local);
      bool known = std::any_of(expected.begin(), expected.end(), [&](const ExpectedParameter& p) { return p.name == local; });
      if (possible && !known) unexpected.push_back(fmt::format("\"{}\"", member));
    }
    if (!unexpected.empty()) {
      std::string names;
      for (const std::string& name : unexpected) names += (names.empty() ? "" : ", ") + name;
      Diagnostic& diagnostic = report(DiagId::WeightsUnexpected, fmt::format("{} has {}, which {} does not have", file, names, module.name),
                                      call.id, where);
      diagnostic.argument = "module.weights";
      diagnostic.pytorch_error = load_error(
          "RuntimeError", fmt::format("Error(s) in loading state_dict for {}:\n\tUnexpected key(s) in state_dict: {}. ", module.type, names));
      diagnostic.notes.push_back(checkpoint_reading(file, module.prefix));
    }
    if (!missing.empty() || !mismatched.empty() || !unexpected.empty()) throw RunStop();
    // PyTorch copies a checkpoint into the module's parameters, in the module's dtype.
    DType dtype = parameter_dtype(module);
    for (auto& [name, array] : loaded) {
      if (array.dtype == dtype) continue;
      Array converted = make_array(dtype, array.shape);
      std::vector<double> values = array.to_double();
      for (std::size_t i = 0; i < values.size(); ++i) {
        if (dtype == DType::Float64) converted.data<double>()[i] = values[i];
        else converted.data<float>()[i] = static_cast<float>(values[i]);
      }
      array = std::move(converted);
    }
    return parameters_.emplace(module.name, std::move(loaded)).first->second;
  }

  // A checkpoint that lacks only biases, for a module whose constructor does not write bias:
  // PyTorch's default bias=True is the likely difference from the module that saved it.
  static void note_bias_left_at_default(Diagnostic& diagnostic, const ModuleDecl& module, const std::vector<std::string>& missing) {
    const std::vector<OptionSchema>& options = find_module_schema(module.type)->options;
    bool has_bias = std::any_of(options.begin(), options.end(), [](const OptionSchema& option) { return option.name == "bias"; });
    bool written = std::find(module.given.begin(), module.given.end(), "bias") != module.given.end();
    bool only_biases = std::all_of(missing.begin(), missing.end(), [](const std::string& name) { return name.ends_with("bias"); });
    if (!has_bias || written || !only_biases) return;
    diagnostic.notes.push_back(
        "bias is left out of the constructor, so it is PyTorch's default True; a module built with bias=False saves no biases: "
        "construct with bias=False if the checkpoint's module was");
  }

  // The constructor values the checkpoint was saved with, when changing one integer option (or
  // two) of the module gives every parameter the checkpoint's shape; the candidates are the
  // sizes the checkpoint's arrays have.
  void add_checkpoint_options_fix(Diagnostic& diagnostic, const ModuleDecl& module, const CallDecl& call, const std::string& file,
                                  const std::vector<std::string>& members) {
    std::map<std::string, std::vector<std::int64_t>> saved;
    std::set<std::int64_t> sizes;
    for (const std::string& member : members) {
      if (member.compare(0, module.prefix.size(), module.prefix) != 0) continue;
      std::vector<std::int64_t> shape = read_npz_header(file, member).shape;
      sizes.insert(shape.begin(), shape.end());
      saved.emplace(member.substr(module.prefix.size()), std::move(shape));
    }
    auto matches = [&](const ModuleDecl& candidate) {
      for (const ExpectedParameter& parameter : module_parameters(candidate)) {
        auto it = saved.find(parameter.name);
        if (it == saved.end() || it->second != parameter.shape) return false;
      }
      return true;
    };
    std::vector<std::string> options;
    for (const OptionSchema& option : find_module_schema(module.type)->options) {
      if (option.kind == OptionKind::Int || option.kind == OptionKind::OptionalInt) options.push_back(option.name);
    }
    if (sizes.size() > 16) return;  // a search this wide would be a guess
    auto with = [&](ModuleDecl candidate, const std::string& option, std::int64_t value) {
      candidate.options[option] = value;
      if (candidate.type == "MultiheadAttention") candidate.mha = mha_options(candidate.options);
      return candidate;
    };
    std::vector<std::pair<std::string, nlohmann::json>> found;
    for (std::size_t i = 0; i < options.size() && found.empty(); ++i) {
      for (std::int64_t value : sizes) {
        if (options[i] != "num_heads" && matches(with(module, options[i], value))) {
          found = {{options[i], value}};
          break;
        }
      }
    }
    for (std::size_t i = 0; i < options.size() && found.empty(); ++i) {
      for (std::size_t j = i + 1; j < options.size() && found.empty(); ++j) {
        for (std::int64_t first : sizes) {
          for (std::int64_t second : sizes) {
            if (found.empty() && matches(with(with(module, options[i], first), options[j], second))) {
              found = {{options[i], first}, {options[j], second}};
            }
          }
        }
      }
    }
    if (found.empty()) return;
    std::string values;
    for (const auto& [option, value] : found) values += fmt::format("{}{}={}", values.empty() ? "" : ", ", option, value.dump());
    Symbols symbols;
    CallContext context(spec_, call, &module, symbols);
    std::optional<nlohmann::json> patch = context.option_patch(found);
    if (!patch) return;
    Fix fix;
    fix.description = fmt::format("construct with {}, as the checkpoint's module was", values);
    fix.patch = std::move(*patch);
    verify_fix(spec_, fix, call.id);  // the checkpoint fits (above); this says what the check then finds
    diagnostic.fixes.push_back(std::move(fix));
  }

  // load_state_dict raises one RuntimeError listing every problem; the first diagnostic carries it.
  PytorchError load_error(std::string type, std::string message) {
    PytorchError error{std::move(type), std::move(message), !load_error_raised_};
    load_error_raised_ = true;
    return error;
  }

  // What the checkpoint itself says about the module it came from.
  static std::string checkpoint_reading(const std::string& file, const std::string& prefix) {
    std::vector<std::string> names = list_npz(file);
    std::string found;
    int listed = 0;
    for (const std::string& name : names) {
      if (name.compare(0, prefix.size(), prefix) != 0) continue;
      if (++listed > 12) {
        found += ", ...";
        break;
      }
      found += fmt::format("{}{} {}", found.empty() ? "" : ", ", name.substr(prefix.size()),
                           torch_size(read_npz_header(file, name).shape));
    }
    std::string reading = fmt::format("the checkpoint holds {}", found.empty() ? "nothing under prefix \"" + prefix + "\"" : found);
    for (const std::string& name : names) {
      if (name == prefix + "in_proj_weight") {
        std::vector<std::int64_t> shape = read_npz_header(file, name).shape;
        if (shape.size() == 2) reading += fmt::format(": a module with embed_dim={} and no kdim/vdim", shape[1]);
      } else if (name == prefix + "k_proj_weight") {
        std::vector<std::int64_t> shape = read_npz_header(file, name).shape;
        if (shape.size() == 2) reading += fmt::format(": a module with embed_dim={}, kdim={}", shape[0], shape[1]);
      }
    }
    return reading;
  }

  // A shape's sizes with the check's final bindings, or MHA103 for a dim still symbolic: a
  // DimExpr's offset is its size only once it is constant (of "S-1" or "B*T" it is -1 or 0).
  // `what` names the tensor; `user` says what needs the value.
  std::vector<std::int64_t> concrete_sizes(const Shape& shape, const std::string& what, const std::string& user, const std::string& call,
                                           const Location& where, const std::string& argument) {
    std::vector<std::int64_t> sizes;
    for (const DimExpr& dim : resolved(shape)) {
      if (!dim.is_constant()) {
        Diagnostic& diagnostic =
            report(DiagId::InputDataMissing, fmt::format("{} has the symbolic dim {}: {} needs its value", what, dim.str(), user), call, where);
        diagnostic.argument = argument;
        std::string symbol = dim.factors().front();  // of B*T, binding B is a start
        diagnostic.notes.push_back(
            fmt::format("bind it under \"dims\", e.g. \"dims\": {{\"{}\": 8}} (on the command line: --dim {}=8)", symbol, symbol));
        throw RunStop();
      }
      sizes.push_back(dim.offset);
    }
    return sizes;
  }

  // The data of a declared or inline tensor: from its file, or seeded random values for its shape
  // (with the check's final bindings). Random data for a mask masks nothing: float masks add 0,
  // bool masks hold whichever value lets every key attend (True for `true_attends`).
  Array tensor_data(const ResolvedArgument& argument, bool mask, bool true_attends, const std::string& call) {
    const ArgumentSource& source = argument.source;
    const WrittenTensor& written = *source.written;
    if (source.has_file()) {
      try {
        return written.file_member.empty() ? read_npy(written.file, options_.max_elements)
                                           : read_npz(written.file, written.file_member, options_.max_elements);
      } catch (const InputError& error) {
        throw InputError(written.file_at, error.what(), error.help(), error.kind());
      }
    }
    const Location& where = written.declared_at;
    if (!options_.random_inputs) {
      Diagnostic& diagnostic = report(DiagId::InputDataMissing,
                                      fmt::format("{} has a shape but no data", source.name.empty() ? argument.name : "\"" + source.name + "\""),
                                      call, where);
      diagnostic.argument = argument.name;
      diagnostic.notes.push_back("give it as {\"file\": ...}, or run with --random-inputs for seeded standard-normal data");
      throw RunStop();
    }
    std::vector<std::int64_t> shape = concrete_sizes(argument.written(), argument.name, "random data", call, where, argument.name);
    try {
      bounded_elements(argument.name, shape, options_.max_elements);
    } catch (const InputError& error) {
      throw InputError(where, error.what());
    }
    Array array = make_array(argument.dtype, shape);
    if (mask) {
      if (argument.dtype == DType::Bool && true_attends) std::fill(array.bytes.begin(), array.bytes.end(), 1);
    } else {
      random_.fill_normal(array, 0.0, 1.0);  // float32 and float64; other dtypes stay zero
    }
    return array;
  }

  // Every operator through its row of the operator table: the dtype check, the module's
  // parameters, the tensor arguments' data, its forward pass, and what running found.
  void run_call(const CallDecl& call, const CallReport& call_report) {
    const OperatorDef& op = known_operator(call.op);
    if (call_report.outputs.empty()) return;  // split_with_sizes(x, [], dim) of an empty dim: nothing to compute
    const NamedOutput& output = call_report.outputs.at(0);
    ForwardCall forward;
    forward.call = &call;
    forward.output_dtype = output.dtype;
    forward.threads = threads();
    forward.max_elements = options_.max_elements;
    forward.symbols = &result_.report.symbols;
    bool plotted = options_.plot && !plot_settled_ && (options_.plot_call.empty() || options_.plot_call == call.id);
    if (plotted) forward.capture_attention = options_.plot_block;
    if (!call.module.empty()) {
      forward.module = spec_.find_module(call.module);
      // The module's dtype, or (a LayerNorm without weights) the input's.
      const std::string& input = op.call.arguments.front().name;
      bool module_dtype = parameter_dtype(*forward.module) == output.dtype;
      Location where = module_dtype ? spec_.document.values.find(forward.module->pointer) : argument_location(call, call_report, input);
      check_run_dtype(call, output.dtype, std::move(where), module_dtype ? "module.dtype" : input);
      forward.parameters = &parameters(*forward.module, call);
    } else {
      // A re-layout moves elements of any dtype, but converting (cat of several dtypes) to a
      // half type computes as an arithmetic operator does; the casts round to it themselves.
      bool converts = std::any_of(call_report.arguments.begin(), call_report.arguments.end(),
                                  [&](const ResolvedArgument& argument) { return argument.dtype != output.dtype; });
      bool half = output.dtype == DType::Float16 || output.dtype == DType::BFloat16;
      if (op.arithmetic || (converts && half && op.forward != forward_to)) {
        check_run_dtype(call, output.dtype, call_report.arguments.at(0).location, "");
      }
    }
    for (const ResolvedArgument& argument : call_report.arguments) forward.tensors[argument.name] = &array_for(op, argument, call.id);
    // A call's output can hold a symbol no input binds (expand's "size": ["S-1", 4]).
    Location call_at = spec_.document.values.find(call.pointer);
    std::vector<std::vector<std::int64_t>> output_sizes;
    for (const NamedOutput& named : call_report.outputs) {
      output_sizes.push_back(concrete_sizes(named.shape, fmt::format("output \"{}\"", named.name), "running", call.id, call_at, ""));
    }
    forward.output_shape = output_sizes.front();
    bool masks_everything = runs_attention(op, forward) && check_attention_values(call, call_report, op, forward);
    ForwardResult result;
    try {
      // Every output within --max-elements before a kernel allocates it: attention weights
      // (N, L, S) of a long sequence, the outer product of a matmul.
      for (std::size_t i = 0; i < output_sizes.size(); ++i) bounded_elements(call_report.outputs[i].name, output_sizes[i], options_.max_elements);
      result = op.forward(forward);
    } catch (const IndexOutOfRange& error) {
      report_index_out_of_range(call, call_report, error);
      throw RunStop();
    } catch (const InputError& error) {
      // A kernel's refusal (--max-elements, a size the check could not judge) is about the call;
      // a missing library (MHA106) is not.
      if (error.kind() == InputError::Kind::Environment) throw;
      throw InputError(spec_.document.values.find(call.pointer), fmt::format("call \"{}\": {}", call.id, error.what()), error.help(), error.kind());
    }
    if (!result.fully_masked_rows.empty() && !masks_everything) {
      if (forward.module != nullptr) report_masked_rows(call, call_report, result.fully_masked_rows);
      else report_masked_query_rows(call, call_report, result.fully_masked_rows.size());
    }
    if (!result.fully_masked_blocks.empty() && !masks_everything) report_masked_blocks(call, call_report, result.fully_masked_blocks);
    if (plotted) settle_plot(call, op, result);
    bool known = from_known_data(call_report, forward.module);
    for (std::size_t i = 0; i < result.outputs.size() && i < call_report.outputs.size(); ++i) {
      const std::string& name = call_report.outputs[i].name;
      outputs_[name] = result_.outputs.size();
      if (known) known_outputs_.insert(name);
      result_.outputs.push_back({call.id, name, std::move(result.outputs[i])});
    }
  }

  // The plotted call's probabilities, or why it has none. Without --plot-call, a call that
  // computes no attention leaves the choice to the next one.
  void settle_plot(const CallDecl& call, const OperatorDef& op, ForwardResult& result) {
    const std::string& block = options_.plot_block;
    if (result.attention && (block.empty() || !result.attention->block.empty())) {
      CapturedAttention& captured = *result.attention;
      result_.plotted = PlottedAttention{call.id, std::move(captured.block), std::move(captured.probabilities), captured.batched};
    } else if (result.attention) {
      result_.plot_problem = fmt::format("--plot-block {}: call \"{}\" is a {} call, which has no blocks (a Transformer module's has)", block,
                                         call.id, op.display);
    } else if (!result.attention_blocks.empty()) {
      std::string blocks;
      for (const std::string& name : result.attention_blocks) blocks += (blocks.empty() ? "" : ", ") + name;
      result_.plot_problem = fmt::format("--plot-block {}: call \"{}\" ({}) has no such attention block; its blocks: {}", block, call.id,
                                         op.display, blocks);
    } else if (!options_.plot_call.empty()) {
      result_.plot_problem = fmt::format("--plot-call {}: call \"{}\" is a {} call, which computes no attention", call.id, call.id, op.display);
    } else {
      return;
    }
    plot_settled_ = true;
  }

  // The forward passes compute in float32 and float64 only.
  void check_run_dtype(const CallDecl& call, DType dtype, Location where, const std::string& argument) {
    if (dtype == DType::Float32 || dtype == DType::Float64) return;
    Diagnostic& diagnostic = report(
        DiagId::RunDType, fmt::format("call \"{}\" computes in {}; the forward pass runs float32 and float64", call.id, dtype_name(dtype)),
        call.id, std::move(where));
    diagnostic.argument = argument;
    throw RunStop();
  }

  const Array& output(const std::string& name) const { return result_.outputs.at(outputs_.at(name)).array; }

  int threads() const {
    return options_.threads > 0 ? options_.threads : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  }

  // The array a tensor argument holds: an earlier call's output, a generated causal mask, or a
  // declared or inline tensor's data, each loaded or drawn once (by the argument's identity).
  const Array& array_for(const OperatorDef& op, const ResolvedArgument& argument, const std::string& call) {
    if (argument.source.kind == ArgumentSource::Kind::Output) return output(argument.source.name);
    auto it = arrays_.find(argument.identity);
    if (it != arrays_.end()) return it->second;
    if (argument.source.kind == ArgumentSource::Kind::Causal) return arrays_.emplace(argument.identity, causal_mask(argument)).first->second;
    const ArgSchema* schema = op.call.argument(argument.name);  // none for a list's element
    bool mask = schema != nullptr && schema->kind == ArgKind::Mask;
    return arrays_.emplace(argument.identity, tensor_data(argument, mask, op.mask_true_attends, call)).first->second;
  }

  // generate_square_subsequent_mask: 0 on and below the diagonal, -inf above, float32.
  Array causal_mask(const ResolvedArgument& argument) {
    std::vector<std::int64_t> shape = concrete_sizes(argument.written(), "the causal mask", "running", "", argument.location, "");
    Array mask = make_array(DType::Float32, shape);
    for (std::int64_t l = 0; l < shape[0]; ++l) {
      for (std::int64_t s = l + 1; s < shape[1]; ++s) mask.data<float>()[l * shape[1] + s] = -std::numeric_limits<float>::infinity();
    }
    return mask;
  }

  // Where argument `name` is written in the call. One not given is not in the report: the spec
  // says where it would be written (the nearest element, the call).
  Location argument_location(const CallDecl& call, const CallReport& call_report, const std::string& name) const {
    const ResolvedArgument* argument = given(call_report, name);
    return argument != nullptr ? argument->location : spec_.document.values.find(call.tensor(name).pointer);
  }

  // F.scaled_dot_product_attention's rows with every key masked.
  void report_masked_query_rows(const CallDecl& call, const CallReport& call_report, std::size_t rows) {
    Diagnostic& diagnostic = report(
        DiagId::FullyMaskedRows,
        fmt::format("every key position is masked for {} query row{}, so the output is 0 there (PyTorch 2.5+; earlier releases gave NaN)", rows,
                    rows == 1 ? "" : "s"),
        call.id, argument_location(call, call_report, "attn_mask"));
    diagnostic.argument = "attn_mask";
    diagnostic.notes.push_back("F.scaled_dot_product_attention's bool masks mark the positions that take part: True attends");
  }

  // Whether an argument's data is the user's: a declared or inline tensor read from a file, or
  // an earlier call's output computed from such data alone (`~mask` is a bitwise_not call whose
  // output reaches the attention). Random data and generated causal masks are not.
  bool known_data(const ResolvedArgument& argument) const {
    if (argument.source.kind == ArgumentSource::Kind::Output) return known_outputs_.contains(argument.source.name);
    return argument.source.has_file();
  }

  // Whether a call computes from the user's data alone: every tensor argument known (plain
  // numbers are), and a module's parameters loaded from a state_dict, not initialised at random.
  bool from_known_data(const CallReport& call_report, const ModuleDecl* module) const {
    bool loaded = module == nullptr || !module->weights.empty() || !options_.weights.empty() || module_parameters(*module).empty();
    return loaded && std::all_of(call_report.arguments.begin(), call_report.arguments.end(),
                                 [&](const ResolvedArgument& argument) { return known_data(argument); });
  }

  // The data the value checks read: the user's (known_data), never random data, whose findings
  // would be meaningless.
  const Array* checked_data(const ResolvedArgument* argument) const {
    if (argument == nullptr || !known_data(*argument)) return nullptr;
    if (argument->source.kind == ArgumentSource::Kind::Output) return &output(argument->source.name);
    auto it = arrays_.find(argument->identity);
    return it == arrays_.end() ? nullptr : &it->second;
  }

  // Calls whose forward attends with masks: nn.MultiheadAttention, F.scaled_dot_product_attention
  // and the Transformer modules (not masked_fill, whose mask is no attention mask).
  static bool runs_attention(const OperatorDef& op, const ForwardCall& forward) {
    bool has_mask = std::any_of(op.call.arguments.begin(), op.call.arguments.end(),
                                [](const ArgSchema& argument) { return argument.kind == ArgKind::Mask; });
    return has_mask && (forward.module != nullptr || op.call.argument("query"));
  }

  // Whether the call says its mask `argument` is causal: is_causal for attn_mask (and a layer's
  // src_mask, a stack's mask), tgt_is_causal for tgt_mask, src_is_causal and memory_is_causal
  // likewise. A padding mask never is; an unset flag (None) says nothing.
  static bool flagged_causal(const CallDecl& call, const std::string& argument) {
    if (argument.find("key_padding") != std::string::npos) return false;
    std::string prefix = argument.substr(0, argument.rfind("_mask"));
    for (const std::string& flag : {prefix + "_is_causal", std::string("is_causal")}) {
      if (!call.arguments.contains(flag)) continue;
      const nlohmann::json& value = call.arguments.at(flag);
      return value.is_boolean() && value.get<bool>();
    }
    return false;
  }

  // Value checks (src/run/value_checks.hpp) of an attention call's data, before its forward pass:
  // the data tensors (query, key and value; src, tgt and memory), and every mask argument, read
  // as the operator reads a bool mask. An (N*num_heads, L, S) attn_mask's layout is the
  // operator's (OperatorDef::attn_mask_layout). Returns whether a mask masks every position
  // (then every row is fully masked: one cause, reported once, not again as MHA110).
  bool check_attention_values(const CallDecl& call, const CallReport& call_report, const OperatorDef& op, const ForwardCall& forward) {
    AttnMaskLayout layout = op.attn_mask_layout != nullptr ? op.attn_mask_layout(forward) : AttnMaskLayout{};
    MaskReading reading = op.mask_true_attends ? MaskReading::TrueKeeps : MaskReading::TrueIgnores;
    std::vector<std::string> masks, data_tensors;
    bool masks_everything = false;
    for (const ArgSchema& argument : op.call.arguments) {
      if (argument.kind == ArgKind::Mask) masks.push_back(argument.name);
      if (argument.kind == ArgKind::Tensor) data_tensors.push_back(argument.name);
    }
    for (const std::string& argument : data_tensors) {
      const ResolvedArgument* tensor = given(call_report, argument);
      const Array* data = checked_data(tensor);
      std::int64_t bad = data ? non_finite_count(*data) : 0;
      if (bad == 0) continue;
      Diagnostic& diagnostic = report(DiagId::NonFiniteInput,
                                      fmt::format("{} holds {} NaN or infinite value{}", argument, bad, bad == 1 ? "" : "s"), call.id,
                                      tensor->location);
      diagnostic.argument = argument;
      diagnostic.notes.push_back("one NaN in a key or value spreads to every query that attends to it");
    }
    for (const std::string& argument : masks) {
      const ResolvedArgument* tensor = given(call_report, argument);
      const Array* data = checked_data(tensor);
      if (!data) continue;
      const std::string& name = tensor->source.name;  // "" for an inline tensor
      bool meant_causal = flagged_causal(call, argument) || name.find("causal") != std::string::npos;
      std::optional<MaskFinding> extent = bool_mask_extent(*data, reading, argument);
      // A mask the model computes from its batch (an earlier call's output, or any value of a
      // traced model: its data are what the model made for the traced batch) masks nothing when
      // the batch has no padding, which is no finding; one given as data in a written spec is.
      bool computed_from_batch = tensor->source.kind == ArgumentSource::Kind::Output || call.source.line > 0;
      if (extent && extent->kind == MaskFinding::Kind::MasksNothing && computed_from_batch) extent.reset();
      std::vector<std::pair<DiagId, std::optional<MaskFinding>>> findings = {
          {DiagId::FloatBinaryMask, float_binary_mask(*data)},
          {DiagId::MaskRepeatLayout, argument == "attn_mask" ? repeated_not_interleaved(*data, layout.batch, layout.heads) : std::nullopt},
          {DiagId::CausalMaskFuture, meant_causal ? causal_sees_future(*data, reading) : std::nullopt},
          {extent && extent->kind == MaskFinding::Kind::MasksNothing ? DiagId::BoolMaskNothing : DiagId::BoolMaskEverything, extent}};
      for (auto& [id, finding] : findings) {
        if (!finding) continue;
        if (finding->kind == MaskFinding::Kind::MasksEverything) masks_everything = true;
        Diagnostic& diagnostic = report(id, fmt::format("{}: {}", argument, finding->message), call.id, tensor->location);
        diagnostic.argument = argument;
        diagnostic.notes.push_back(finding->note);
        diagnostic.notes.push_back("PyTorch raises nothing");
      }
    }
    return masks_everything;
  }

  void report_masked_rows(const CallDecl& call, const CallReport& call_report, const std::vector<FullyMaskedRow>& rows) {
    std::string listed;
    for (std::size_t i = 0; i < rows.size() && i < 8; ++i) {
      listed += fmt::format("{}(batch {}, head {}, row {})", i ? ", " : "", rows[i].batch, rows[i].head, rows[i].row);
    }
    if (rows.size() > 8) listed += fmt::format(" and {} more", rows.size() - 8);
    std::string mask = given(call_report, "key_padding_mask") != nullptr ? "key_padding_mask"
                       : given(call_report, "attn_mask") != nullptr   ? "attn_mask"
                                                                      : "";
    Diagnostic& diagnostic = report(
        DiagId::FullyMaskedRows,
        fmt::format("every key position is masked for {} (batch entry, head, query row) triple{}, so the output is {} there: {}",
                    rows.size(), rows.size() == 1 ? "" : "s", call.flag("need_weights") ? "NaN" : "out_proj's bias alone", listed),
        call.id, argument_location(call, call_report, mask.empty() ? "attn_mask" : mask));
    diagnostic.argument = mask;
    diagnostic.notes.push_back(call.flag("need_weights")
                                   ? "PyTorch's softmax over nothing but -inf is NaN, and out_proj spreads it to the whole output token"
                                   : "with need_weights=False PyTorch 2.5+ gives the row no attention (earlier releases gave NaN)");
  }

  // Embedding's indices are data, so only running finds one outside the table.
  void report_index_out_of_range(const CallDecl& call, const CallReport& call_report, const IndexOutOfRange& error) {
    std::string position;
    for (std::int64_t index : error.position) position += (position.empty() ? "" : ", ") + std::to_string(index);
    Diagnostic& diagnostic = report(
        DiagId::IndexOutOfRange,
        fmt::format("input{} is {}, outside the embedding's {} rows (indices 0 to {})", error.position.empty() ? "" : "[" + position + "]",
                    error.value, error.num_embeddings, error.num_embeddings - 1),
        call.id, argument_location(call, call_report, "input"));
    diagnostic.argument = "input";
    diagnostic.pytorch_error = PytorchError{"IndexError", error.pytorch_message, true};
    diagnostic.notes.push_back(error.value < 0 ? "a negative index does not count from the end here, as it would in Python"
                                               : "a token id from a larger vocabulary than num_embeddings, or an id reserved for padding, is the usual cause");
  }

  // Fully masked rows inside a module's attention blocks (need_weights=False there).
  void report_masked_blocks(const CallDecl& call, const CallReport& call_report, const std::vector<MaskedBlock>& blocks) {
    std::string listed;
    for (std::size_t i = 0; i < blocks.size() && i < 4; ++i) {
      listed += fmt::format("{}{} ({})", i ? ", " : "", blocks[i].block, blocks[i].rows.size());
    }
    if (blocks.size() > 4) listed += fmt::format(" and {} more blocks", blocks.size() - 4);
    const MaskedBlock& first = blocks.front();
    const std::string& argument = first.padding_argument.empty() ? first.mask_argument : first.padding_argument;
    Location where = argument.empty() ? spec_.document.values.find(spec_.find_module(call.module)->pointer)
                                      : argument_location(call, call_report, argument);
    Diagnostic& diagnostic = report(
        DiagId::FullyMaskedRows,
        fmt::format("every key position is masked for some (batch entry, head, query row) triples, so the attention's output is "
                    "out_proj's bias alone there; triples per block: {}",
                    listed),
        call.id, std::move(where));
    diagnostic.argument = argument;
    diagnostic.notes.push_back("the layers call nn.MultiheadAttention with need_weights=False: PyTorch 2.5+ gives such a row no attention "
                               "(earlier releases gave NaN)");
  }

  // With the check's final bindings, so that running agrees with what the check said.
  Shape resolved(const Shape& shape) const { return result_.report.symbols.resolve(shape); }

  const Spec& spec_;
  const RunOptions& options_;
  RunResult& result_;
  Random random_;
  std::map<std::string, StateDict> parameters_;
  std::map<std::string, Array> arrays_;   // declared and inline tensors' data and causal masks, by identity
  // Earlier calls' outputs by name: where each is in result_.outputs (held once, not copied).
  std::map<std::string, std::size_t> outputs_;
  // Those computed from the user's data alone (known_data). Never erased: a name is bound once,
  // the check refuses a second definition ("is defined twice"), so no entry goes stale.
  std::set<std::string> known_outputs_;
  bool load_error_raised_ = false;
  bool plot_settled_ = false;  // --plot's call is found (or known to be wrong)
};

}  // namespace

RunResult run_spec(const Spec& spec, const RunOptions& options) {
  RunResult result;
  for (const ModuleDecl& module : spec.modules) {
    if (options.weights.empty() || module.weights.empty()) continue;
    throw InputError(spec.document.values.find(child_pointer(module.pointer, "weights")),
                     fmt::format("--weights {} and this spec's \"weights\" both name the state_dict of module \"{}\"", options.weights, module.name),
                     "drop --weights to load the spec's file, or the spec's \"weights\" to load --weights");
  }
  result.report = check_spec(spec);
  if (!result.report.ok() || result.report.input_error) {
    result.stopped_by = "the check found errors";
    return result;
  }
  std::size_t checked = result.report.diagnostics.size();
  if (!options.weights.empty() && spec.modules.size() != 1) {
    throw InputError(Location{}, fmt::format("--weights names one state_dict, but the spec has {} modules", spec.modules.size()),
                     spec.modules.empty() ? "function calls have no weights" : "give each module its own \"weights\" (and \"prefix\") in the spec");
  }
  try {
    Runner(spec, options, result).run();
    result.executed = true;
  } catch (const RunStop&) {
    result.outputs.clear();
    // The error that stopped it is the last one reported (a run stops at its first).
    auto stop = std::find_if(result.report.diagnostics.rbegin(), result.report.diagnostics.rend(),
                             [](const Diagnostic& diagnostic) { return diagnostic.severity() == Severity::Error; });
    result.stopped_by = stop == result.report.diagnostics.rend() ? "the run's checks found errors"
                                                                 : fmt::format("{} in call \"{}\"", stop->info().code, stop->call);
  } catch (const std::bad_alloc&) {
    // Past the estimate that let the run start (bound_memory): kernel temporaries it does not
    // count, threads' stacks and malloc arenas, memory taken meanwhile by others.
    throw InputError(Location{}, "out of memory: an allocation failed during the run, though its estimated peak fit when it started",
                     "run it on smaller inputs, with fewer --threads, or with more memory");
  }
  apply_filter(result.report, DiagnosticFilter{spec.ignored_codes, {}});
  locate_at_python_lines(spec, result.report, std::min(checked, result.report.diagnostics.size()));
  return result;
}

}  // namespace mhacheck
