// JSON document -> Spec. Every rejection names the element (file, line, column, pointer) and
// what was expected there.
#include <algorithm>
#include <cctype>
#include <filesystem>

#include <fmt/format.h>

#include "mhacheck/diagnostic.hpp"
#include "mhacheck/module_schema.hpp"
#include "mhacheck/npy.hpp"
#include "mhacheck/python_text.hpp"
#include "mhacheck/spec.hpp"
#include "mhacheck/suggest.hpp"

namespace mhacheck {
namespace {

using nlohmann::json;

const std::vector<std::string> kCallArguments = {"query", "key", "value", "key_padding_mask", "attn_mask"};
const std::vector<std::string> kCallFlags = {"need_weights", "average_attn_weights", "is_causal"};

std::string type_name(const json& value) {
  switch (value.type()) {
    case json::value_t::null: return "null";
    case json::value_t::boolean: return value.get<bool>() ? "true" : "false";
    case json::value_t::string: return "a string";
    case json::value_t::number_integer:
    case json::value_t::number_unsigned: return "an integer";
    case json::value_t::number_float: return "a number with a fraction";
    case json::value_t::array: return "an array";
    case json::value_t::object: return "an object";
    default: return "a value";
  }
}

bool is_identifier(const std::string& text) {
  if (text.empty() || std::isdigit(static_cast<unsigned char>(text[0]))) return false;
  return std::all_of(text.begin(), text.end(),
                     [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; });
}

class SpecReader {
 public:
  explicit SpecReader(Spec& spec) : spec_(spec), document_(spec.document) {}

  void read() {
    const json& root = document_.value;
    if (!root.is_object()) fail("", "expected a JSON object at the top level of a spec", type_name(root));
    spec_.flat = !root.contains("calls") && !root.contains("modules");
    std::vector<std::string> allowed = {"version", "dims", "tensors", "mhacheck"};
    if (spec_.flat) {
      for (const char* key : {"module", "id", "outputs"}) allowed.push_back(key);
      allowed.insert(allowed.end(), kCallArguments.begin(), kCallArguments.end());
      allowed.insert(allowed.end(), kCallFlags.begin(), kCallFlags.end());
    } else {
      for (const char* key : {"modules", "calls"}) allowed.push_back(key);
    }
    check_keys(root, "", allowed);
    if (root.contains("version")) {
      const json& version = root["version"];
      if (!version.is_number_integer() || version.get<std::int64_t>() != 1) {
        fail("/version", "unsupported spec version " + version.dump(), {}, "this mhacheck reads version 1");
      }
    }
    if (root.contains("mhacheck")) read_settings(root["mhacheck"]);
    if (root.contains("dims")) read_dims(root["dims"]);
    if (root.contains("tensors")) read_tensors(root["tensors"]);
    if (spec_.flat) {
      read_flat_call(root);
    } else {
      if (!root.contains("modules")) fail("", "missing \"modules\"", "a spec with \"calls\" declares its modules under \"modules\"");
      if (!root.contains("calls")) fail("", "missing \"calls\"", "a spec with \"modules\" lists the calls under \"calls\"");
      read_modules(root["modules"]);
      read_calls(root["calls"]);
    }
  }

 private:
  [[noreturn]] void fail(const std::string& pointer, const std::string& message, const std::string& found = {},
                         const std::string& help = {}) {
    std::string text = found.empty() ? message : fmt::format("{}, found {}", message, found);
    throw InputError(document_.values.find(pointer), text, help);
  }

  void check_keys(const json& object, const std::string& pointer, const std::vector<std::string>& allowed) {
    for (auto it = object.begin(); it != object.end(); ++it) {
      if (std::find(allowed.begin(), allowed.end(), it.key()) != allowed.end()) continue;
      std::string member = child_pointer(pointer, it.key());
      std::string allowed_list;
      for (const std::string& name : allowed) allowed_list += (allowed_list.empty() ? "" : ", ") + name;
      throw InputError(document_.keys.find(member),
                       fmt::format("unknown key \"{}\"{}", it.key(), did_you_mean(it.key(), allowed)),
                       "expected one of: " + allowed_list);
    }
  }

  const json& object_at(const json& value, const std::string& pointer, const std::string& what) {
    if (!value.is_object()) fail(pointer, "expected " + what + " (an object)", type_name(value));
    return value;
  }

  // "mhacheck": {"ignore": ["MHA081", ...]}: warnings and notes the spec's authors accept.
  void read_settings(const json& settings) {
    object_at(settings, "/mhacheck", "mhacheck's settings for this spec");
    check_keys(settings, "/mhacheck", {"ignore"});
    if (!settings.contains("ignore")) return;
    const json& ignore = settings["ignore"];
    if (!ignore.is_array()) fail("/mhacheck/ignore", "expected a list of diagnostic codes", type_name(ignore));
    for (std::size_t i = 0; i < ignore.size(); ++i) {
      std::string pointer = child_pointer("/mhacheck/ignore", i);
      if (!ignore[i].is_string()) fail(pointer, "expected a diagnostic code such as \"MHA081\"", type_name(ignore[i]));
      const DiagInfo* info = find_diag_info(ignore[i].get<std::string>());
      if (info == nullptr) fail(pointer, fmt::format("unknown diagnostic code \"{}\"", ignore[i].get<std::string>()), {}, "see docs/diagnostics.md");
      if (info->severity == Severity::Error) {
        fail(pointer, fmt::format("{} is an error: a spec can accept warnings and notes only", info->code), {},
             "an error means PyTorch refuses the call; --ignore on the command line can still hide it");
      }
      spec_.ignored_codes.push_back(info->code);
    }
  }

  void read_dims(const json& dims) {
    object_at(dims, "/dims", "symbol bindings such as {\"B\": 32}");
    for (auto it = dims.begin(); it != dims.end(); ++it) {
      std::string pointer = child_pointer("/dims", it.key());
      if (!is_identifier(it.key())) {
        throw InputError(document_.keys.find(pointer), fmt::format("\"{}\" is not a symbol name", it.key()),
                         "symbols are identifiers such as B, seq_len");
      }
      spec_.dims.emplace_back(it.key(), dim_value(it.value(), pointer));
    }
  }

  std::int64_t dim_value(const json& value, const std::string& pointer) {
    if (!value.is_number_integer()) {
      fail(pointer, "expected a dim size (a non-negative integer)",
           value.is_number_float() ? value.dump() : type_name(value));
    }
    if (value.is_number_unsigned() ? value.get<std::uint64_t>() > static_cast<std::uint64_t>(kMaxDim)
                                   : value.get<std::int64_t>() > kMaxDim) {
      fail(pointer, fmt::format("dim {} is larger than the limit of {}", value.dump(), kMaxDim));
    }
    std::int64_t dim = value.get<std::int64_t>();
    if (dim < 0) fail(pointer, fmt::format("dim {} is negative", dim), {}, "sizes are non-negative integers");
    return dim;
  }

  Shape shape_value(const json& value, const std::string& pointer) {
    if (!value.is_array()) fail(pointer, "expected a shape (an array of integers and symbol names)", type_name(value));
    Shape shape;
    for (std::size_t i = 0; i < value.size(); ++i) {
      std::string dim_pointer = child_pointer(pointer, i);
      const json& dim = value[i];
      if (dim.is_string()) {
        std::string symbol = dim.get<std::string>();
        if (!is_identifier(symbol)) {
          fail(dim_pointer, fmt::format("\"{}\" is not a symbol name", symbol), {},
               "a dim is an integer or an identifier such as \"B\" or \"seq_len\"");
        }
        shape.push_back(DimExpr::named(symbol));
      } else {
        shape.push_back(DimExpr::constant(dim_value(dim, dim_pointer)));
      }
    }
    if (shape.size() > 8) fail(pointer, fmt::format("rank {} is above the limit of 8", shape.size()));
    return shape;
  }

  TensorDecl tensor_value(const json& value, const std::string& pointer, const std::string& name) {
    TensorDecl tensor;
    tensor.name = name;
    tensor.pointer = pointer;
    if (value.is_array()) {
      tensor.shape_pointer = pointer;
      tensor.shape = shape_value(value, pointer);
      return tensor;
    }
    if (!value.is_object()) {
      fail(pointer, "expected a tensor: a shape array, {\"shape\": [...], \"dtype\": \"...\"} or {\"file\": \"...\"}",
           type_name(value));
    }
    if (value.contains("file")) return file_tensor(value, pointer, name);
    check_keys(value, pointer, {"shape", "dtype"});
    if (!value.contains("shape")) fail(pointer, "tensor has no \"shape\"");
    tensor.shape_pointer = child_pointer(pointer, "shape");
    tensor.shape = shape_value(value["shape"], tensor.shape_pointer);
    if (value.contains("dtype")) {
      std::string dtype_pointer = child_pointer(pointer, "dtype");
      const json& dtype = value["dtype"];
      if (!dtype.is_string()) fail(dtype_pointer, "expected a dtype name", type_name(dtype));
      tensor.dtype = parse_dtype(dtype.get<std::string>());
      if (!tensor.dtype) {
        fail(dtype_pointer, fmt::format("unknown dtype \"{}\"", dtype.get<std::string>()), {},
             "expected one of " + dtype_names_list());
      }
    }
    return tensor;
  }

  std::string path_value(const json& value, const std::string& pointer, const char* what) {
    if (!value.is_string() || value.get<std::string>().empty()) fail(pointer, std::string("expected ") + what, type_name(value));
    std::filesystem::path path(value.get<std::string>());
    return path.is_absolute() ? path.string() : (std::filesystem::path(spec_folder(document_)) / path).string();
  }

  // {"file": "q.npy"} or {"file": "inputs.npz", "key": "query"}: shape and dtype from the header.
  TensorDecl file_tensor(const json& value, const std::string& pointer, const std::string& name) {
    check_keys(value, pointer, {"file", "key"});
    TensorDecl tensor;
    tensor.name = name;
    tensor.pointer = pointer;
    std::string file_pointer = child_pointer(pointer, "file");
    tensor.file = path_value(value["file"], file_pointer, "a file name (.npy or .npz)");
    bool archive = tensor.file.size() >= 4 && tensor.file.compare(tensor.file.size() - 4, 4, ".npz") == 0;
    if (archive != value.contains("key")) {
      fail(archive ? pointer : child_pointer(pointer, "key"),
           archive ? "an .npz file needs \"key\": the name of the array in it" : "\"key\" goes with an .npz file only");
    }
    if (archive) {
      if (!value["key"].is_string()) fail(child_pointer(pointer, "key"), "expected the array's name in the .npz", type_name(value["key"]));
      tensor.file_member = value["key"].get<std::string>();
    }
    NpyHeader header;
    try {
      header = archive ? read_npz_header(tensor.file, tensor.file_member) : read_npy_header(tensor.file);
    } catch (const InputError& error) {
      throw InputError(document_.values.find(file_pointer), error.what(), error.help(), error.kind());
    }
    if (header.shape.size() > 8) fail(file_pointer, fmt::format("the array's rank {} is above the limit of 8", header.shape.size()));
    for (std::int64_t dim : header.shape) {
      if (dim > kMaxDim) fail(file_pointer, fmt::format("the array's dim {} is larger than the limit of {}", dim, kMaxDim));
      tensor.shape.push_back(DimExpr::constant(dim));
    }
    tensor.dtype = header.dtype;
    return tensor;
  }

  void read_tensors(const json& tensors) {
    object_at(tensors, "/tensors", "named tensors");
    for (auto it = tensors.begin(); it != tensors.end(); ++it) {
      std::string pointer = child_pointer("/tensors", it.key());
      if (it.key().empty()) throw InputError(document_.keys.find(pointer), "a tensor name must not be empty");
      spec_.tensors.push_back(tensor_value(it.value(), pointer, it.key()));
    }
  }

  ModuleDecl module_value(const json& value, const std::string& pointer, const std::string& name) {
    ModuleDecl module;
    module.name = name;
    module.pointer = pointer;
    json object = value;
    if (value.is_string()) {
      Location origin = document_.values.find(pointer);
      origin.column += 1;  // past the opening quote
      object = parse_module_call(value.get<std::string>(), origin);
      module.written_as_call = true;
    } else if (!value.is_object()) {
      fail(pointer, "expected a module: an object with \"type\", or a constructor call string", type_name(value));
    }
    if (!object.contains("type")) fail(pointer, "module has no \"type\"", {}, "e.g. \"type\": \"MultiheadAttention\"");
    std::string type_pointer = child_pointer(pointer, "type");
    if (!object["type"].is_string()) fail(type_pointer, "expected a module type name", type_name(object["type"]));
    std::optional<std::string> type = canonical_module_type(object["type"].get<std::string>());
    if (!type) {
      fail(type_pointer,
           fmt::format("unknown module type \"{}\"{}", object["type"].get<std::string>(),
                       did_you_mean(object["type"].get<std::string>(), module_type_names())),
           {}, "supported: MultiheadAttention");
    }
    module.type = *type;
    const ModuleSchema& schema = *find_module_schema(*type);
    std::vector<std::string> allowed = {"type", "weights", "prefix"};
    for (const OptionSchema& option : schema.options) allowed.push_back(option.name);
    check_keys(object, pointer, allowed);
    if (object.contains("weights")) {
      module.weights = path_value(object["weights"], child_pointer(pointer, "weights"), "the .npz file of the module's state_dict");
    }
    if (object.contains("prefix")) {
      if (!object["prefix"].is_string()) fail(child_pointer(pointer, "prefix"), "expected a state_dict prefix (a string)", type_name(object["prefix"]));
      module.prefix = object["prefix"].get<std::string>();
    }
    for (const OptionSchema& option : schema.options) {
      std::string option_pointer = child_pointer(pointer, option.name);
      if (!object.contains(option.name)) {
        if (option.required) fail(pointer, fmt::format("module has no \"{}\"", option.name), {}, "it is a required argument");
        continue;
      }
      read_option(module.mha, option, object[option.name], option_pointer);
    }
    return module;
  }

  void read_option(MhaOptions& options, const OptionSchema& option, const json& value, const std::string& pointer) {
    auto wrong = [&]() { fail(pointer, fmt::format("\"{}\" must be {}", option.name, option_kind_text(option.kind)), type_name(value)); };
    auto integer = [&]() -> std::int64_t {
      if (!value.is_number_integer()) wrong();
      if (value.is_number_unsigned() && value.get<std::uint64_t>() > static_cast<std::uint64_t>(kMaxDim)) wrong();
      std::int64_t number = value.get<std::int64_t>();
      if (number > kMaxDim || number < -kMaxDim) fail(pointer, fmt::format("{} is out of range", number));
      return number;
    };
    const std::string& name = option.name;
    switch (option.kind) {
      case OptionKind::Int:
        (name == "embed_dim" ? options.embed_dim : options.num_heads) = integer();
        break;
      case OptionKind::OptionalInt:
        (name == "kdim" ? options.kdim : options.vdim) = value.is_null() ? std::nullopt : std::optional(integer());
        break;
      case OptionKind::Float:
        if (!value.is_number()) wrong();
        options.dropout = value.get<double>();
        break;
      case OptionKind::Bool:
        if (!value.is_boolean()) wrong();
        if (name == "bias") options.bias = value.get<bool>();
        else if (name == "add_bias_kv") options.add_bias_kv = value.get<bool>();
        else if (name == "add_zero_attn") options.add_zero_attn = value.get<bool>();
        else options.batch_first = value.get<bool>();
        break;
      case OptionKind::DType:
        if (value.is_null()) break;
        if (!value.is_string() || !parse_dtype(value.get<std::string>())) wrong();
        options.dtype = *parse_dtype(value.get<std::string>());
        if (!is_floating(options.dtype)) {
          fail(pointer, fmt::format("module dtype must be a floating type, found \"{}\"", value.get<std::string>()));
        }
        break;
      case OptionKind::Device:
        if (!value.is_null() && !value.is_string()) wrong();
        break;
    }
  }

  void read_modules(const json& modules) {
    object_at(modules, "/modules", "named modules");
    for (auto it = modules.begin(); it != modules.end(); ++it) {
      spec_.modules.push_back(module_value(it.value(), child_pointer("/modules", it.key()), it.key()));
    }
  }

  ArgRef argument(const json& call, const std::string& call_pointer, const std::string& name) {
    ArgRef arg;
    arg.pointer = child_pointer(call_pointer, name);
    if (!call.contains(name) || call[name].is_null()) return arg;
    const json& value = call[name];
    if (value.is_string()) {
      arg.kind = ArgRef::Kind::Named;
      arg.name = value.get<std::string>();
      return arg;
    }
    arg.kind = ArgRef::Kind::Inline;
    arg.tensor = tensor_value(value, arg.pointer, "");
    return arg;
  }

  CallDecl call_value(const json& call, const std::string& pointer, const std::string& default_id) {
    CallDecl decl;
    decl.pointer = pointer;
    decl.id = default_id;
    if (call.contains("id")) {
      if (!call["id"].is_string()) fail(child_pointer(pointer, "id"), "expected the call's id (a string)", type_name(call["id"]));
      decl.id = call["id"].get<std::string>();
    }
    decl.query = argument(call, pointer, "query");
    decl.key = argument(call, pointer, "key");
    decl.value = argument(call, pointer, "value");
    decl.key_padding_mask = argument(call, pointer, "key_padding_mask");
    decl.attn_mask = argument(call, pointer, "attn_mask");
    for (const ArgRef* required : {&decl.query, &decl.key, &decl.value}) {
      if (required->kind == ArgRef::Kind::Absent) {
        std::string arg_name = required->pointer.substr(required->pointer.rfind('/') + 1);
        fail(pointer, fmt::format("call has no \"{}\"", arg_name), {}, "query, key and value are required");
      }
    }
    for (const std::string& flag : kCallFlags) {
      if (!call.contains(flag)) continue;
      const json& value = call[flag];
      if (!value.is_boolean()) fail(child_pointer(pointer, flag), fmt::format("\"{}\" must be true or false", flag), type_name(value));
      (flag == "need_weights" ? decl.need_weights : flag == "is_causal" ? decl.is_causal : decl.average_attn_weights) = value.get<bool>();
    }
    if (call.contains("outputs")) {
      std::string outputs_pointer = child_pointer(pointer, "outputs");
      const json& outputs = call["outputs"];
      if (!outputs.is_array() || outputs.size() > 2) {
        fail(outputs_pointer, "expected \"outputs\": up to two names, for attn_output and attn_output_weights", type_name(outputs));
      }
      for (std::size_t i = 0; i < outputs.size(); ++i) {
        if (!outputs[i].is_string() || outputs[i].get<std::string>().empty()) {
          fail(child_pointer(outputs_pointer, i), "expected an output name (a non-empty string)", type_name(outputs[i]));
        }
        decl.outputs.push_back(outputs[i].get<std::string>());
      }
    } else if (spec_.flat) {
      decl.outputs = {"attn_output"};
      if (decl.need_weights) decl.outputs.push_back("attn_output_weights");
    }
    return decl;
  }

  void read_flat_call(const json& root) {
    if (!root.contains("module")) fail("", "missing \"module\"", {}, "a single-call spec names its module under \"module\"");
    spec_.modules.push_back(module_value(root["module"], "/module", "module"));
    CallDecl call = call_value(root, "", "call");
    call.module = "module";
    spec_.calls.push_back(std::move(call));
  }

  void read_calls(const json& calls) {
    if (!calls.is_array()) fail("/calls", "expected \"calls\" to be an array of calls", type_name(calls));
    if (calls.size() > kMaxCalls) {
      fail("/calls", fmt::format("{} calls is above the limit of {}", calls.size(), kMaxCalls), {}, "split the spec into several files");
    }
    for (std::size_t i = 0; i < calls.size(); ++i) {
      std::string pointer = child_pointer("/calls", i);
      const json& call = calls[i];
      object_at(call, pointer, "a call");
      std::vector<std::string> allowed = {"id", "module", "outputs"};
      allowed.insert(allowed.end(), kCallArguments.begin(), kCallArguments.end());
      allowed.insert(allowed.end(), kCallFlags.begin(), kCallFlags.end());
      check_keys(call, pointer, allowed);
      if (!call.contains("module") || !call["module"].is_string()) {
        fail(call.contains("module") ? child_pointer(pointer, "module") : pointer,
             "expected \"module\": the name of a module declared under \"modules\"");
      }
      CallDecl decl = call_value(call, pointer, fmt::format("call{}", i));
      for (const CallDecl& earlier : spec_.calls) {
        if (earlier.id == decl.id) fail(child_pointer(pointer, "id"), fmt::format("call id \"{}\" is used twice", decl.id));
      }
      decl.module = call["module"].get<std::string>();
      if (spec_.find_module(decl.module) == nullptr) {
        std::vector<std::string> names;
        for (const ModuleDecl& module : spec_.modules) names.push_back(module.name);
        fail(child_pointer(pointer, "module"),
             fmt::format("no module named \"{}\"{}", decl.module, did_you_mean(decl.module, names)));
      }
      spec_.calls.push_back(std::move(decl));
    }
  }

  Spec& spec_;
  const JsonDocument& document_;
};

}  // namespace

std::string spec_folder(const JsonDocument& document) {
  std::string name = document.source ? document.source->name : std::string();
  if (name.empty() || name == "-" || name.front() == '<') return ".";
  std::filesystem::path folder = std::filesystem::path(name).parent_path();
  return folder.empty() ? "." : folder.string();
}

nlohmann::json shape_json(const Shape& shape) {
  nlohmann::json array = nlohmann::json::array();
  for (const DimExpr& dim : shape) {
    if (dim.is_constant()) array.push_back(dim.offset);
    else array.push_back(dim.str());
  }
  return array;
}

std::optional<std::string> canonical_module_type(const std::string& type) {
  std::string bare = type;
  for (const char* prefix : {"torch.nn.", "nn."}) {
    if (bare.rfind(prefix, 0) == 0) {
      bare = bare.substr(std::string(prefix).size());
      break;
    }
  }
  if (find_module_schema(bare) != nullptr) return bare;
  return std::nullopt;
}

const ModuleDecl* Spec::find_module(const std::string& name) const {
  for (const ModuleDecl& module : modules) {
    if (module.name == name) return &module;
  }
  return nullptr;
}

const TensorDecl* Spec::find_tensor(const std::string& name) const {
  for (const TensorDecl& tensor : tensors) {
    if (tensor.name == name) return &tensor;
  }
  return nullptr;
}

Spec parse_spec(JsonDocument document) {
  Spec spec;
  spec.document = std::move(document);
  SpecReader(spec).read();
  return spec;
}

}  // namespace mhacheck
