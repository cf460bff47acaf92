// JSON document -> Spec. Every rejection names the element (file, line, column, pointer) and
// what was expected there.
#include <algorithm>
#include <cctype>
#include <cmath>
#include <filesystem>
#include <map>
#include <mutex>
#include <numeric>
#include <set>
#include <unordered_map>

#include <fmt/format.h>

#include <sys/stat.h>

#include "core/text.hpp"
#include "mhacheck/diagnostic.hpp"
#include "mhacheck/module_schema.hpp"
#include "mhacheck/npy.hpp"
#include "mhacheck/python_text.hpp"
#include "mhacheck/spec.hpp"
#include "mhacheck/suggest.hpp"
#include "ops/index_expression.hpp"

namespace mhacheck {
namespace {

// The reader takes only a file's header, and fix verification re-reads the spec once per
// candidate fix: headers are kept per file (and .npz member) while the file's device, inode,
// size and modification time stay the same, so those re-checks open no file.
NpyHeader file_header(const std::string& path, const std::string& member) {
  struct Entry {
    struct stat status;
    NpyHeader header;
  };
  constexpr std::size_t kMaxEntries = 4096;  // a long-lived library user's bound
  static std::mutex mutex;
  static std::map<std::pair<std::string, std::string>, Entry> cache;
  struct stat status {};
  bool regular = ::stat(path.c_str(), &status) == 0 && S_ISREG(status.st_mode);
  auto unchanged = [&status](const struct stat& cached) {
    return cached.st_dev == status.st_dev && cached.st_ino == status.st_ino && cached.st_size == status.st_size &&
           cached.st_mtim.tv_sec == status.st_mtim.tv_sec && cached.st_mtim.tv_nsec == status.st_mtim.tv_nsec;
  };
  if (regular) {
    std::lock_guard<std::mutex> lock(mutex);
    auto found = cache.find({path, member});
    if (found != cache.end() && unchanged(found->second.status)) return found->second.header;
  }
  NpyHeader header = member.empty() ? read_npy_header(path) : read_npz_header(path, member);
  if (regular) {
    std::lock_guard<std::mutex> lock(mutex);
    if (cache.size() >= kMaxEntries) cache.clear();
    cache[{path, member}] = Entry{status, header};
  }
  return header;
}

using nlohmann::json;

// Keys of a call that are not the operator's arguments.
// "source" and "note" are written by the Python tracer (docs/tracing.md): where the call was made,
// and what the tracer wants a reader to know about it.
const std::vector<std::string> kCallKeys = {"id", "module", "op", "outputs", "source", "note"};

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

// A name Python code binds: identifiers joined by dots (config.n_embd). Such a name in "dims"
// binds the module strings' names; only plain identifiers occur in shapes.
bool is_dotted_name(const std::string& text) {
  for (std::size_t start = 0;;) {
    std::size_t dot = text.find('.', start);
    if (!is_identifier(text.substr(start, dot - start))) return false;
    if (dot == std::string::npos) return true;
    start = dot + 1;
  }
}

class SpecReader {
 public:
  explicit SpecReader(Spec& spec) : spec_(spec), document_(spec.document) {}

  void read() {
    const json& root = document_.value;
    if (!root.is_object()) fail("", "expected a JSON object at the top level of a spec", type_name(root));
    spec_.flat = !root.contains("calls") && !root.contains("modules");
    if (!spec_.flat) check_keys(root, "", {"version", "dims", "tensors", "mhacheck", "modules", "calls"});
    if (root.contains("version")) {
      const json& version = root["version"];
      if (!version.is_number_integer() || version.get<std::int64_t>() != 1) {
        fail("/version", "unsupported spec version " + version.dump(), {}, "this mhacheck reads version 1");
      }
    }
    if (root.contains("mhacheck")) read_settings(root["mhacheck"]);
    if (root.contains("dims") && !flat_call_argument(root, "dims")) read_dims(root["dims"]);
    if (root.contains("tensors") && !flat_call_argument(root, "tensors")) read_tensors(root["tensors"]);
    if (spec_.flat) {
      read_flat_call(root);
    } else {
      // A spec whose calls are all functions ({"op": ...}) declares no modules.
      if (!root.contains("calls")) fail("", "missing \"calls\"", {}, "a spec with \"modules\" lists the calls under \"calls\"");
      if (root.contains("modules")) read_modules(root["modules"]);
      read_calls(root["calls"]);
    }
    settle_unbound_sizes();
  }

 private:
  // In the flat form a call's argument can share its name with a top-level key: permute's
  // "dims" (a list) is the argument, "dims" as an object binds symbols; so is cat's "tensors"
  // (a list) against the named tensors (an object).
  bool flat_call_argument(const json& root, const std::string& key) const {
    if (!spec_.flat || !root.contains("op") || !root["op"].is_string() || !root[key].is_array()) return false;
    const OperatorSchema* schema = find_operator_schema(bare_function_name(root["op"].get<std::string>()));
    return schema != nullptr && schema->argument(key) != nullptr;
  }

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
      if (!is_dotted_name(it.key())) {
        throw InputError(document_.keys.find(pointer), fmt::format("\"{}\" is not a symbol name", it.key()),
                         "symbols are identifiers such as B, seq_len (or, for names in module strings, config.n_embd)");
      }
      // A fraction binds a float option of a pasted constructor (dropout, eps), as a line
      // `dropout = 0.1` would, and true or false one of its flags (batch_first), as --dim
      // batch_first=True does; used as a size either is refused (refuse_non_size_dims_in).
      const json& value = it.value();
      if (value.is_boolean() || (value.is_number_float() && std::floor(value.get<double>()) != value.get<double>())) {
        non_size_dims_.emplace(it.key(), pointer);
        continue;
      }
      spec_.dims.emplace_back(it.key(), dim_value(value, pointer));
    }
  }

  // A dim or an integer option written as `text` (a symbol or a symbol expression) that names a
  // fraction or a flag of "dims" is refused at that binding, as the value written there would be.
  void refuse_non_size_dims_in(const std::string& text) {
    if (non_size_dims_.empty()) return;
    for (std::size_t i = 0; i < text.size();) {
      if (!(std::isalpha(static_cast<unsigned char>(text[i])) || text[i] == '_')) {
        ++i;
        continue;
      }
      std::size_t end = i;
      while (end < text.size() && (std::isalnum(static_cast<unsigned char>(text[end])) || text[end] == '_' || text[end] == '.')) ++end;
      if (auto bound = non_size_dims_.find(text.substr(i, end - i)); bound != non_size_dims_.end()) {
        fail(bound->second, "expected a dim size (a non-negative integer)", document_.value.at(json::json_pointer(bound->second)).dump());
      }
      i = end;
    }
  }

  std::int64_t dim_value(const json& value, const std::string& pointer) {
    if (value.is_number_float() && std::floor(value.get<double>()) == value.get<double>() && value.get<double>() > kMaxDim) {
      fail(pointer, fmt::format("dim {} is larger than the limit of {}", value.dump(), kMaxDim));
    }
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

  // A call's "source": "PATH:LINE" of the Python code that made it (the tracer's), the path
  // relative to the spec's folder unless absolute.
  SourceLine source_value(const json& value, const std::string& pointer) {
    std::string expected = "expected \"PATH:LINE\", the Python line that made the call, such as \"model.py:42\"";
    if (!value.is_string()) fail(pointer, expected, type_name(value));
    std::string text = value.get<std::string>();
    std::size_t colon = text.rfind(':');
    std::string digits = colon == std::string::npos ? std::string() : text.substr(colon + 1);
    if (colon == 0 || digits.empty() || digits.size() > 9 ||
        !std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; }) || std::stoi(digits) < 1) {
      fail(pointer, expected, "\"" + text + "\"");
    }
    std::filesystem::path path(text.substr(0, colon));
    if (path.is_relative()) path = std::filesystem::path(spec_folder(document_)) / path;
    return SourceLine{path.lexically_normal().string(), std::stoi(digits)};
  }

  Shape shape_value(const json& value, const std::string& pointer) {
    if (!value.is_array()) fail(pointer, "expected a shape (an array of integers and symbol names)", type_name(value));
    Shape shape;
    for (std::size_t i = 0; i < value.size(); ++i) {
      std::string dim_pointer = child_pointer(pointer, i);
      const json& dim = value[i];
      if (dim.is_string()) {
        std::string text = dim.get<std::string>();
        refuse_non_size_dims_in(text);
        std::optional<DimExpr> parsed = parse_dim_expr(text);
        if (!parsed) {
          fail(dim_pointer, fmt::format("\"{}\" is not a symbol name or a symbol expression", text), {},
               "a dim is an integer, an identifier such as \"B\" or \"seq_len\", or COEFF*SYMBOL*...+OFFSET such as \"8*B\", \"T+1\" or \"B*T\"");
        }
        shape.push_back(*parsed);
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
    check_keys(value, pointer, {"shape", "dtype", "contiguous", "note", "fill"});
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
    read_contiguous(value, pointer, tensor);
    // "fill": the value every element holds (torch.zeros made outside the spec: "fill": 0). The
    // checks read it from the document where a value matters (check/mask_pattern.hpp).
    if (value.contains("fill")) {
      const json& fill = value["fill"];
      const bool named = fill.is_string() && (fill == "-inf" || fill == "inf" || fill == "nan");
      if (!fill.is_number() && !fill.is_boolean() && !named) {
        fail(child_pointer(pointer, "fill"), "expected a number, true/false, \"-inf\", \"inf\" or \"nan\" (the value every element holds)",
             type_name(fill));
      }
    }
    return tensor;
  }

  // "contiguous": false, the tracer's word that a tensor's strides are not the contiguous ones.
  void read_contiguous(const json& value, const std::string& pointer, TensorDecl& tensor) {
    if (!value.contains("contiguous")) return;
    const json& contiguous = value["contiguous"];
    if (!contiguous.is_boolean()) {
      fail(child_pointer(pointer, "contiguous"), "expected true or false (whether the tensor's strides are the contiguous ones)",
           type_name(contiguous));
    }
    tensor.contiguous = contiguous.get<bool>();
  }

  std::string path_value(const json& value, const std::string& pointer, const char* what) {
    if (!value.is_string()) fail(pointer, std::string("expected ") + what, type_name(value));
    if (value.get<std::string>().empty()) fail(pointer, std::string("expected ") + what + ", found an empty string");
    std::filesystem::path path(value.get<std::string>());
    return path.is_absolute() ? path.string() : (std::filesystem::path(spec_folder(document_)) / path).string();
  }

  // {"file": "q.npy"} or {"file": "inputs.npz", "key": "query"}: shape and dtype from the header.
  TensorDecl file_tensor(const json& value, const std::string& pointer, const std::string& name) {
    check_keys(value, pointer, {"file", "key", "contiguous", "note"});
    TensorDecl tensor;
    tensor.name = name;
    tensor.pointer = pointer;
    read_contiguous(value, pointer, tensor);
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
      header = file_header(tensor.file, archive ? tensor.file_member : "");
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
    spec_.index_names();
  }

  // A module: an object with "type" and options, or a constructor string. `call_pointer`,
  // when not empty, is the constructor string this module is nested in.
  ModuleDecl module_value(const json& value, const std::string& pointer, const std::string& name,
                          const std::string& expected_type = {}) {
    std::string read_key;
    if (value.is_string()) {
      read_key = value.get<std::string>() + '\0' + expected_type;
      auto read = modules_read_.find(read_key);
      if (read != modules_read_.end()) return module_read_before(read->second, name, pointer);
    }
    ModuleDecl module;
    module.name = name;
    module.pointer = pointer;
    const json* object = &value;
    std::size_t unbound_before = unbound_.size();
    if (value.is_string()) {
      Location origin = document_.values.find(pointer);
      origin.column += 1;  // past the opening quote
      object = &module_call(value.get<std::string>(), origin);
      pasted_texts_.emplace(pointer, std::make_pair(value.get<std::string>(), origin));
      module.written_as_call = true;
      bind_pasted_sizes(value.get<std::string>(), origin);
    } else if (!value.is_object()) {
      fail(pointer, "expected a module: an object with \"type\", or a constructor call string", type_name(value));
    }
    read_module_object(module, *object, pointer, expected_type);
    module.text = value.is_string() ? value.get<std::string>() : module_call_text(value);
    // An unbound size is settled later by its module's pointer: such a module is read anew.
    if (!read_key.empty() && unbound_.size() == unbound_before) modules_read_.emplace(std::move(read_key), module);
    return module;
  }

  // A copy of a module read from the same constructor string, under its own name and pointer
  // (which its nested modules share, being written in the same string).
  static ModuleDecl module_read_before(const ModuleDecl& read, const std::string& name, const std::string& pointer) {
    ModuleDecl module = read;
    module.name = name;
    std::vector<ModuleDecl*> pending = {&module};
    while (!pending.empty()) {
      ModuleDecl* next = pending.back();
      pending.pop_back();
      next->pointer = pointer;
      for (ModuleDecl& nested : next->submodules) pending.push_back(&nested);
    }
    return module;
  }

  // The module's options from `object`; for a module written as a constructor string,
  // `object` is the parsed call and every location is the string's.
  void read_module_object(ModuleDecl& module, const json& object, const std::string& pointer, const std::string& expected_type) {
    auto at = [&](const std::string& key) { return module.written_as_call ? module.pointer : child_pointer(pointer, key); };
    if (!object.contains("type")) {
      fail(pointer, "module has no \"type\"", {}, fmt::format("e.g. \"type\": \"{}\"", expected_type.empty() ? "MultiheadAttention" : expected_type));
    }
    if (!object["type"].is_string()) fail(at("type"), "expected a module type name", type_name(object["type"]));
    std::optional<std::string> type = canonical_module_type(object["type"].get<std::string>());
    if (!type) {
      std::string names;
      for (const std::string& known : module_type_names()) names += (names.empty() ? "" : ", ") + known;
      fail(at("type"),
           fmt::format("unknown module type \"{}\"{}", object["type"].get<std::string>(),
                       did_you_mean(object["type"].get<std::string>(), module_type_names())),
           {}, "supported: " + names);
    }
    if (!expected_type.empty() && *type != expected_type) {
      fail(at("type"), fmt::format("expected a {} here, found a {}", expected_type, *type));
    }
    module.type = *type;
    const ModuleSchema& schema = *find_module_schema(*type);
    std::vector<std::string> allowed = {"type"};
    if (expected_type.empty()) {
      allowed.push_back("weights");
      allowed.push_back("prefix");
    }
    for (const OptionSchema& option : schema.options) allowed.push_back(option.name);
    if (!module.written_as_call) check_keys(object, pointer, allowed);
    if (object.contains("weights")) {
      module.weights = path_value(object["weights"], child_pointer(pointer, "weights"), "the .npz file of the module's state_dict");
    }
    if (object.contains("prefix")) {
      if (!object["prefix"].is_string()) fail(child_pointer(pointer, "prefix"), "expected a state_dict prefix (a string)", type_name(object["prefix"]));
      module.prefix = object["prefix"].get<std::string>();
    }
    module.options = json::object();
    for (const OptionSchema& option : schema.options) {
      if (!object.contains(option.name)) {
        if (option.required) {
          fail(pointer, fmt::format("module has no \"{}\"", option.name), {}, "it is a required argument");
        }
        module.options[option.name] = option.default_value;
        continue;
      }
      const json& written = object[option.name];
      module.given.push_back(option.name);
      if (std::optional<std::string> name = unbound_name(option, written)) {
        module.options[option.name] = option.default_value;
        // Written as Python writes it: True, None.
        const json& fallback = option.default_value;
        std::string value = fallback.is_boolean() ? (fallback.get<bool>() ? "True" : "False") : fallback.is_null() ? "None" : fallback.dump();
        module.assumptions.push_back(fmt::format("{} {}, which nothing binds: it changes no shape, so the check keeps PyTorch's default {}={}",
                                                 option.name,
                                                 name->starts_with("**") ? fmt::format("would come from {}", *name)
                                                                         : fmt::format("is the name {}", *name),
                                                 option.name, value));
        continue;
      }
      if (option.kind == OptionKind::Module || option.kind == OptionKind::OptionalModule) {
        module.options[option.name] = nullptr;
        if (written.is_null() && option.kind == OptionKind::OptionalModule) continue;
        ModuleDecl nested;
        nested.name = option.name;
        if (module.written_as_call) {
          nested.pointer = module.pointer;
          nested.written_as_call = true;
          nested.path_in_call = module.path_in_call + "/" + option.name;
          read_module_object(nested, written, module.pointer, option.module_type);
        } else {
          nested = module_value(written, child_pointer(pointer, option.name), option.name, option.module_type);
        }
        module.submodules.push_back(std::move(nested));
        continue;
      }
      module.options[option.name] = option_value(option, written, at(option.name));
    }
    if (module.type == "MultiheadAttention" && !has_unbound_size(module)) module.mha = mha_options(module.options);
  }

  // An option that changes no shape written as a name nothing binds: "dropout": "p_drop" in
  // JSON, {"$unbound": "p_drop"} from Python text (which also leaves device= and activation=
  // names unbound). The name, or nullopt.
  static std::optional<std::string> unbound_name(const OptionSchema& option, const json& written) {
    if (written.is_object() && written.size() == 1 && written.contains("$unbound") && written["$unbound"].is_string()) {
      return written["$unbound"].get<std::string>();
    }
    if (option.kind == OptionKind::Float && written.is_string() && is_identifier(written.get<std::string>())) {
      return written.get<std::string>();
    }
    return std::nullopt;
  }

  static bool is_size_option(OptionKind kind) {
    return kind == OptionKind::Int || kind == OptionKind::OptionalInt || kind == OptionKind::IntOrList;
  }

  // Whether an integer option still holds an unbound symbol (settled by settle_unbound_sizes).
  static bool has_unbound_size(const ModuleDecl& module) {
    for (const OptionSchema& option : find_module_schema(module.type)->options) {
      if (!is_size_option(option.kind)) continue;
      const json& value = module.options.at(option.name);
      if (value.is_string()) return true;
      if (value.is_array() && std::any_of(value.begin(), value.end(), [](const json& item) { return item.is_string(); })) return true;
    }
    return false;
  }

  // A module size left as a name nothing binds ("embed_dim": "d_model" with no "dims" for it).
  struct UnboundSize {
    std::string symbol, option, pointer;
  };

  static void collect_modules(ModuleDecl& module, std::vector<ModuleDecl*>& out) {
    out.push_back(&module);
    for (ModuleDecl& nested : module.submodules) collect_modules(nested, out);
  }

  // Every symbol a tensor's shape uses, named or inline.
  std::set<std::string> shape_symbols() const {
    std::set<std::string> symbols;
    auto add = [&](const Shape& shape) {
      for (const DimExpr& dim : shape) {
        for (const std::string& factor : dim.factors()) symbols.insert(factor);
      }
    };
    for (const TensorDecl& tensor : spec_.tensors) add(tensor.shape);
    for (const CallDecl& call : spec_.calls) {
      for (const auto& [name, arg] : call.tensors) {
        if (arg.tensor) add(arg.tensor->shape);
      }
    }
    return symbols;
  }

  // Module sizes left as unbound names are checked with stand-in sizes bound like "dims", each
  // module saying what that assumes (MHA004). A head count stands in as a divisor of the
  // embedding size it goes with (or a small prime when that is unbound too); an embedding size
  // as a multiple of its head counts; every stand-in is distinct and unusual, so that it equals
  // no size written elsewhere. A size that no input's shape uses and that is not a head count
  // or a feed-forward width would decide the outputs' shapes alone: it must be bound.
  void settle_unbound_sizes() {
    if (unbound_.empty()) return;
    std::vector<ModuleDecl*> modules;
    for (ModuleDecl& module : spec_.modules) collect_modules(module, modules);
    struct Heads {
      ModuleDecl* module;
      std::string embed_option, heads_option;
    };
    std::vector<Heads> pairs;
    for (ModuleDecl* module : modules) {
      if (module->type == "MultiheadAttention") pairs.push_back({module, "embed_dim", "num_heads"});
      if (module->options.contains("nhead")) pairs.push_back({module, "d_model", "nhead"});
    }
    std::map<std::string, std::int64_t> stand_ins;
    std::set<std::int64_t> taken;
    std::int64_t next_prime = 7;
    auto prime_after = [](std::int64_t n) {
      for (std::int64_t candidate = n;; ++candidate) {
        bool prime = candidate > 1;
        for (std::int64_t d = 2; d * d <= candidate && prime; ++d) prime = candidate % d != 0;
        if (prime) return candidate;
      }
    };
    // Head counts first.
    for (const Heads& pair : pairs) {
      const json& heads = pair.module->options.at(pair.heads_option);
      if (!heads.is_string() || stand_ins.count(heads.get<std::string>()) != 0) continue;
      std::int64_t common = 0;  // gcd of the constant embedding sizes this head count goes with
      for (const Heads& other : pairs) {
        const json& embed = other.module->options.at(other.embed_option);
        if (other.module->options.at(other.heads_option) == heads && embed.is_number_integer() && embed.get<std::int64_t>() > 0) {
          common = std::gcd(common, embed.get<std::int64_t>());
        }
      }
      std::int64_t stand_in = 1;
      if (common > 1) {
        for (std::int64_t d = 2; d <= common; ++d) {
          if (common % d == 0) {
            stand_in = d;
            break;
          }
          if (d * d > common) {
            stand_in = common;
            break;
          }
        }
      } else if (common == 0) {
        next_prime = prime_after(next_prime);
        stand_in = next_prime++;
      }
      stand_ins[heads.get<std::string>()] = stand_in;
      taken.insert(stand_in);
    }
    std::set<std::string> used_by_shapes = shape_symbols();
    std::int64_t next_size_prime = 1009;
    for (const UnboundSize& unbound : unbound_) {
      if (stand_ins.count(unbound.symbol) != 0) continue;
      bool heads_of = false;
      for (const Heads& pair : pairs) heads_of = heads_of || pair.module->options.at(pair.heads_option) == unbound.symbol;
      if (!heads_of && used_by_shapes.count(unbound.symbol) == 0 && unbound.option != "dim_feedforward") {
        std::string message = fmt::format("\"{}\" is the symbol {}, which nothing binds", unbound.option, unbound.symbol);
        std::string help = fmt::format("bind it: \"dims\": {{\"{}\": SIZE}} in the spec, --dim {}=SIZE on the command line; no input's "
                                       "shape uses {}, so it alone would decide the output's shape",
                                       unbound.symbol, unbound.symbol, unbound.symbol);
        // In a pasted constructor, point at the name where the call uses it.
        if (auto pasted = pasted_texts_.find(unbound.pointer); pasted != pasted_texts_.end()) {
          if (std::optional<Location> place = place_of_name(pasted->second.first, pasted->second.second, unbound.symbol)) {
            throw InputError(*place, message, help);
          }
        }
        fail(unbound.pointer, message, {}, help);
      }
      std::int64_t multiple = 1;  // the head counts it must be divisible by
      for (const Heads& pair : pairs) {
        if (pair.module->options.at(pair.embed_option) != unbound.symbol) continue;
        const json& heads = pair.module->options.at(pair.heads_option);
        std::int64_t count = heads.is_string() ? stand_ins.at(heads.get<std::string>()) : heads.get<std::int64_t>();
        if (count > 0) multiple = std::lcm(multiple, count);
      }
      std::int64_t stand_in = 0;
      do {
        next_size_prime = prime_after(next_size_prime);
        if (__builtin_mul_overflow(next_size_prime++, multiple, &stand_in) || stand_in > kMaxDim) {
          fail(unbound.pointer, fmt::format("\"{}\" is the symbol {}, which nothing binds, and its head counts leave no size to check it with",
                                            unbound.option, unbound.symbol),
               {}, fmt::format("bind it: --dim {}=SIZE", unbound.symbol));
        }
      } while (taken.count(stand_in) != 0);
      stand_ins[unbound.symbol] = stand_in;
      taken.insert(stand_in);
    }
    // What each module assumes, said once on it.
    auto is_symbol = [](const json& value) { return value.is_string(); };
    for (const Heads& pair : pairs) {
      const json& embed = pair.module->options.at(pair.embed_option);
      const json& heads = pair.module->options.at(pair.heads_option);
      if (!is_symbol(embed) && !is_symbol(heads)) continue;
      std::string e = embed.is_string() ? embed.get<std::string>() : embed.dump();
      std::string h = heads.is_string() ? heads.get<std::string>() : heads.dump();
      // "d_model (embed_dim)"; just "num_heads" when the name is the option's own.
      auto named = [](const std::string& name, const std::string& option) { return name == option ? name : fmt::format("{} ({})", name, option); };
      std::string text;
      if (is_symbol(embed) && is_symbol(heads)) {
        text = fmt::format("{} and {} are unbound: PyTorch requires {} divisible by {}, head_dim = {} // {}; checked "
                           "with the stand-ins {}={}, {}={}",
                           e, h, named(e, pair.embed_option), named(h, pair.heads_option), e, h, e, stand_ins.at(e), h, stand_ins.at(h));
      } else if (is_symbol(heads)) {
        // The first 12 divisors, found in pairs up to the square root: a prime embed_dim near
        // kMaxDim would otherwise be a billion divisions.
        std::vector<std::int64_t> low, high;
        const std::int64_t size = embed.get<std::int64_t>();
        for (std::int64_t d = 1; d <= size / d; ++d) {
          if (size % d != 0) continue;
          low.push_back(d);
          if (d != size / d) high.push_back(size / d);
        }
        low.insert(low.end(), high.rbegin(), high.rend());
        std::string divisors;
        for (std::size_t i = 0; i < low.size() && i < 12; ++i) divisors += (i == 0 ? "" : ", ") + std::to_string(low[i]);
        if (low.size() > 12) divisors += ", ...";
        text = fmt::format("{} is unbound: PyTorch requires {} to divide {} {} ({} one of {}); checked with the stand-in {}={}", h,
                           named(h, pair.heads_option), pair.embed_option, e, h, divisors, h, stand_ins.at(h));
      } else {
        text = fmt::format("{} is unbound: PyTorch requires {} divisible by {} {}, head_dim = {} // {}; checked with the stand-in {}={}",
                           e, named(e, pair.embed_option), pair.heads_option, h, e, h, e, stand_ins.at(e));
      }
      pair.module->assumptions.push_back(text);
    }
    for (ModuleDecl* module : modules) {
      for (const OptionSchema& option : find_module_schema(module->type)->options) {
        if (!is_size_option(option.kind)) continue;
        json& value = module->options[option.name];
        bool paired = std::any_of(pairs.begin(), pairs.end(), [&](const Heads& pair) {
          return pair.module == module && (option.name == pair.embed_option || option.name == pair.heads_option);
        });
        auto settle = [&](json& item) {
          if (!item.is_string()) return;
          std::string symbol = item.get<std::string>();
          if (!paired) {
            module->assumptions.push_back(fmt::format("{} is unbound: checked with the stand-in {}={}, {}", symbol, symbol, stand_ins.at(symbol),
                                                      option.name == "dim_feedforward" ? "which changes no output shape"
                                                                                        : "consistent with the shapes that use it"));
          }
          item = stand_ins.at(symbol);
        };
        if (value.is_array()) {
          for (json& item : value) settle(item);
        } else {
          settle(value);
        }
      }
      if (module->type == "MultiheadAttention") module->mha = mha_options(module->options);
    }
    for (const auto& [symbol, size] : stand_ins) spec_.dims.emplace_back(symbol, size);
  }

  // Sizes pasted lines assign (d_model = 512) bind the same names in the shapes, as "dims"
  // would; "dims" and earlier bindings win.
  void bind_pasted_sizes(const std::string& text, const Location& origin) {
    const NameBindings bound = bound_dims();
    for (const auto& [name, size] : pasted_sizes(text, origin, bound)) {
      if (bound.count(name) == 0) spec_.dims.emplace_back(name, size.get<std::int64_t>());
    }
  }

  NameBindings bound_dims() const {
    NameBindings bound(spec_.dims.begin(), spec_.dims.end());
    for (const auto& [name, pointer] : non_size_dims_) bound[name] = document_.value.at(json::json_pointer(pointer));
    return bound;
  }

  // A constructor string's options, parsed once per distinct string: a generated stack repeats
  // a few strings across tens of thousands of modules. The dims are all bound by then, and
  // `origin` only places an error, which ends the reading at the string's first occurrence.
  const json& module_call(const std::string& text, const Location& origin) {
    auto parsed = parsed_module_calls_.find(text);
    if (parsed == parsed_module_calls_.end()) parsed = parsed_module_calls_.emplace(text, parse_module_call(text, origin, bound_dims())).first;
    return parsed->second;
  }

  // One option's value, checked against its kind; dtypes are stored by their canonical names.
  // An integer option may be a symbol that "dims" binds ("embed_dim": "d_model").
  json option_value(const OptionSchema& option, const json& value, const std::string& pointer) {
    auto wrong = [&]() { fail(pointer, fmt::format("\"{}\" must be {}", option.name, option_kind_text(option.kind)), type_name(value)); };
    // An unbound symbol stays a string here until settle_unbound_sizes decides it.
    auto integer = [&](const json& item) -> json {
      if (item.is_string() && is_identifier(item.get<std::string>())) {
        std::string symbol = item.get<std::string>();
        refuse_non_size_dims_in(symbol);
        for (const auto& [name, size] : spec_.dims) {
          if (name == symbol) return size;
        }
        unbound_.push_back({symbol, option.name, pointer});
        return symbol;
      }
      // Beyond int64 nlohmann/json keeps an integer as a double: out of range, not a fraction.
      bool huge_whole = item.is_number_float() && std::floor(item.get<double>()) == item.get<double>() &&
                        std::abs(item.get<double>()) > static_cast<double>(kMaxDim);
      if (!item.is_number_integer() && !huge_whole) wrong();
      bool out_of_range = huge_whole || (item.is_number_unsigned() && item.get<std::uint64_t>() > static_cast<std::uint64_t>(kMaxDim)) ||
                          (item.is_number_integer() && std::abs(item.get<std::int64_t>()) > kMaxDim);
      if (out_of_range) fail(pointer, fmt::format("\"{}\" is {}, out of range", option.name, item.dump()));
      return item.get<std::int64_t>();
    };
    switch (option.kind) {
      case OptionKind::Int: return integer(value);
      case OptionKind::OptionalInt: return value.is_null() ? json(nullptr) : integer(value);
      case OptionKind::Float:  // an int stays one: PyTorch's messages print the value as written (dropout=2: "got 2")
        if (!value.is_number()) wrong();
        return value;
      case OptionKind::Bool:
        if (!value.is_boolean()) wrong();
        return value;
      case OptionKind::String:
        if (!value.is_string()) wrong();
        return value;
      case OptionKind::IntOrList: {
        if (!value.is_array()) return json::array({integer(value)});
        if (value.size() > 8) fail(pointer, fmt::format("\"{}\" has {} sizes; at most 8 are supported", option.name, value.size()));
        json sizes = json::array();
        for (const json& item : value) sizes.push_back(integer(item));
        return sizes;
      }
      case OptionKind::IntOrListOrString: {
        // A string is a padding mode ("same"), judged by the operator's rule, never a size symbol.
        if (value.is_string()) return value;
        if (!value.is_array()) return json::array({integer(value)});
        if (value.size() > 8) fail(pointer, fmt::format("\"{}\" has {} sizes; at most 8 are supported", option.name, value.size()));
        json sizes = json::array();
        for (const json& item : value) {
          if (!item.is_number()) wrong();
          sizes.push_back(integer(item));
        }
        return sizes;
      }
      case OptionKind::DType: {
        if (value.is_null()) return nullptr;
        if (!value.is_string()) wrong();
        std::optional<DType> dtype = parse_dtype(value.get<std::string>());
        if (!dtype) fail(pointer, fmt::format("unknown dtype \"{}\"", value.get<std::string>()), {}, "expected one of " + dtype_names_list());
        if (!is_floating(*dtype)) fail(pointer, fmt::format("module dtype must be a floating type, found \"{}\"", value.get<std::string>()));
        return dtype_name(*dtype);
      }
      case OptionKind::Device:
        if (!value.is_null() && !value.is_string()) wrong();
        return value;
      case OptionKind::Module:
      case OptionKind::OptionalModule: break;  // read by read_module_object
    }
    return nullptr;
  }

  void read_modules(const json& modules) {
    object_at(modules, "/modules", "named modules");
    spec_.modules.reserve(modules.size());
    for (auto it = modules.begin(); it != modules.end(); ++it) {
      spec_.modules.push_back(module_value(it.value(), child_pointer("/modules", it.key()), it.key()));
    }
    spec_.index_names();
  }

  // `pointer`: the argument's, written or not.
  ArgRef argument(const json& call, const std::string& name, std::string pointer) {
    if (!call.contains(name) || call[name].is_null()) {
      ArgRef absent;
      absent.pointer = std::move(pointer);
      return absent;
    }
    return argument_value(call[name], pointer);
  }

  // A tensor argument as written: a name, a causal-mask generator, or an inline tensor.
  ArgRef argument_value(const json& value, const std::string& pointer) {
    ArgRef arg;
    arg.pointer = pointer;
    if (value.is_string()) {
      arg.kind = ArgRef::Kind::Named;
      arg.name = value.get<std::string>();
      return arg;
    }
    if (value.is_object() && value.contains("causal")) {
      // {"causal": ["T", "T"]}: nn.Transformer.generate_square_subsequent_mask's float mask.
      check_keys(value, arg.pointer, {"causal"});
      arg.kind = ArgRef::Kind::Causal;
      TensorDecl mask;
      mask.pointer = arg.pointer;
      mask.shape = shape_value(value["causal"], child_pointer(arg.pointer, "causal"));
      if (mask.shape.size() != 2) fail(child_pointer(arg.pointer, "causal"), "a causal mask is (L, S): two dims");
      mask.dtype = DType::Float32;
      arg.tensor = std::make_shared<const TensorDecl>(std::move(mask));
      return arg;
    }
    arg.kind = ArgRef::Kind::Inline;
    arg.tensor = std::make_shared<const TensorDecl>(tensor_value(value, arg.pointer, ""));
    return arg;
  }

  // An integer argument (a dim, a size) within the dim limit, negative allowed (dims wrap).
  static bool small_integer(const json& value) {
    return value.is_number_integer() && !(value.is_number_unsigned() && value.get<std::uint64_t>() > static_cast<std::uint64_t>(kMaxDim)) &&
           std::abs(value.get<std::int64_t>()) <= kMaxDim;
  }

  static bool non_finite(const json& value) { return value == "inf" || value == "-inf" || value == "nan"; }

  // A plain (non-tensor) argument, checked against its kind.
  json plain_argument(const json& value, const ArgSchema& argument, const std::string& pointer) {
    // Sizes written as symbols (an index's bounds x[:, :p], repeat's or view's sizes, arange's
    // end) are sizes as a shape's are: a fraction or a flag "dims" binds is refused there too.
    if (argument.kind == ArgKind::Size || argument.kind == ArgKind::SizeList || argument.kind == ArgKind::Index) {
      if (value.is_string()) refuse_non_size_dims_in(value.get<std::string>());
      if (value.is_array()) {
        for (const json& item : value) {
          if (item.is_string()) refuse_non_size_dims_in(item.get<std::string>());
        }
      }
    }
    bool fits = false;
    switch (argument.kind) {
      case ArgKind::Bool: fits = value.is_boolean(); break;
      case ArgKind::OptionalBool: fits = value.is_boolean() || value.is_null(); break;
      // A fill value (masked_fill's) is a Python scalar: infinite or NaN, which JSON writes as a
      // string, or a bool (x.masked_fill(mask, True)), which PyTorch converts to input's dtype.
      case ArgKind::Float:  // masked_fill's value and vector_norm's ord may be inf
        fits = value.is_number() || ((argument.name == "value" || argument.name == "fill_value") && (non_finite(value) || value.is_boolean())) ||
               (argument.name == "ord" && (value == "inf" || value == "-inf"));
        break;
      case ArgKind::OptionalFloat: fits = value.is_number() || value.is_null(); break;
      case ArgKind::Int: fits = small_integer(value); break;
      case ArgKind::OptionalInt: fits = value.is_null() || small_integer(value); break;
      case ArgKind::IntList:  // permute's dims, split_with_sizes' sizes (one per output)
      case ArgKind::SizeList:
        fits = value.is_array() && value.size() <= (argument.kind == ArgKind::IntList ? kMaxListTensors : 8) && std::all_of(value.begin(), value.end(), [&](const json& item) {
                 return small_integer(item) || (argument.kind == ArgKind::SizeList && item.is_string() && parse_dim_expr(item.get<std::string>()));
               });
        break;
      case ArgKind::Size:
        fits = value.is_null() ? !argument.required && argument.default_value.is_null()
                               : value.is_number_float() || small_integer(value) ||
                                     (value.is_string() && parse_dim_expr(value.get<std::string>()));
        break;
      case ArgKind::String: fits = value.is_string(); break;
      case ArgKind::OptionalString: fits = value.is_string() || value.is_null(); break;
      case ArgKind::Dims:
        fits = value.is_null() || small_integer(value) ||
               (value.is_array() && value.size() <= 8 && std::all_of(value.begin(), value.end(), small_integer));
        break;
      case ArgKind::TensorOrNumber: fits = value.is_number() || value.is_boolean() || non_finite(value); break;
      case ArgKind::Index: {
        fits = value.is_string();
        std::string error;
        if (fits && !parse_index(value.get<std::string>(), error)) {
          fail(pointer, fmt::format("\"{}\" must be {}: {}", argument.name, arg_kind_text(argument.kind), error), value.dump());
        }
        break;
      }
      case ArgKind::Tensor:
      case ArgKind::Mask:
      case ArgKind::Indices:
      case ArgKind::TensorList: break;
    }
    if (!fits) fail(pointer, fmt::format("\"{}\" must be {}", argument.name, arg_kind_text(argument.kind)), type_name(value));
    return value;
  }

  // One call of `schema`: its tensor arguments, its other arguments with PyTorch's defaults,
  // and its output names.
  CallDecl call_value(const json& call, const std::string& pointer, const std::string& default_id, const OperatorSchema& schema,
                      const std::vector<std::string>& other_keys) {
    std::vector<std::string> allowed = other_keys;
    for (const ArgSchema& parameter : schema.arguments) allowed.push_back(parameter.name);
    check_keys(call, pointer, allowed);
    CallDecl decl;
    decl.pointer = pointer;
    decl.id = default_id;
    decl.op = schema.name;
    decl.arguments = json::object();
    if (call.contains("id")) {
      if (!call["id"].is_string()) fail(child_pointer(pointer, "id"), "expected the call's id (a string)", type_name(call["id"]));
      decl.id = call["id"].get<std::string>();
    }
    if (call.contains("note") && !call["note"].is_string()) {
      fail(child_pointer(pointer, "note"), "expected a note (a string)", type_name(call["note"]));
    }
    if (call.contains("source")) decl.source = source_value(call["source"], child_pointer(pointer, "source"));
    for (const ArgSchema& parameter : schema.arguments) {
      // Made only for an argument written or a tensor's (an absent one keeps its pointer too):
      // most of a call's parameters are neither, and a big graph has 100,000 calls.
      bool absent_option = !schema.is_tensor(parameter) && parameter.kind != ArgKind::TensorList && !call.contains(parameter.name);
      std::string parameter_pointer = absent_option ? std::string() : child_pointer(pointer, parameter.name);
      if (parameter.kind == ArgKind::TensorList) {
        // torch.cat's tensors: element i is the tensor argument "tensors[i]".
        if (!call.contains(parameter.name)) fail(pointer, fmt::format("call has no \"{}\"", parameter.name), {}, "a list of tensors");
        const json& list = call[parameter.name];
        if (!list.is_array() || list.empty() || list.size() > kMaxListTensors) {
          fail(parameter_pointer, fmt::format("\"{}\" must be a list of 1 to {} tensors", parameter.name, kMaxListTensors), type_name(list));
        }
        for (std::size_t i = 0; i < list.size(); ++i) {
          decl.tensors.emplace(list_element(parameter.name, i), argument_value(list[i], child_pointer(parameter_pointer, i)));
        }
        continue;
      }
      if (parameter.kind == ArgKind::TensorOrNumber && call.contains(parameter.name) &&
          (call[parameter.name].is_number() || call[parameter.name].is_boolean() || non_finite(call[parameter.name]))) {
        decl.arguments[parameter.name] = plain_argument(call[parameter.name], parameter, parameter_pointer);
        decl.tensors.emplace(parameter.name, ArgRef{ArgRef::Kind::Absent, {}, {}, parameter_pointer});
        continue;
      }
      if (schema.is_tensor(parameter)) {
        ArgRef ref = argument(call, parameter.name, std::move(parameter_pointer));
        if (parameter.required && ref.kind == ArgRef::Kind::Absent) {
          std::string required;
          for (const ArgSchema& other : schema.arguments) {
            if (other.required) required += (required.empty() ? "" : ", ") + other.name;
          }
          fail(pointer, fmt::format("call has no \"{}\"", parameter.name), {}, fmt::format("{} takes {}", schema.name, required));
        }
        decl.tensors.emplace(parameter.name, std::move(ref));
      } else {
        if (parameter.required && !call.contains(parameter.name)) {
          fail(pointer, fmt::format("call has no \"{}\"", parameter.name), {}, fmt::format("{} takes {}", schema.name, arg_kind_text(parameter.kind)));
        }
        decl.arguments[parameter.name] = call.contains(parameter.name)
                                             ? plain_argument(call[parameter.name], parameter, parameter_pointer)
                                             : parameter.default_value;
      }
    }
    std::size_t returned = schema.outputs.size();
    if (!schema.last_output_flag.empty()) {
      const json& given = decl.arguments.at(schema.last_output_flag);  // need_weights: a bool; max's dim: an integer or null
      if (given.is_boolean() ? !given.get<bool>() : given.is_null()) --returned;
    }
    if (call.contains("outputs")) {
      std::string outputs_pointer = child_pointer(pointer, "outputs");
      const json& outputs = call["outputs"];
      std::size_t most = schema.variadic_outputs ? kMaxListTensors : schema.outputs.size();
      // The message is made only when it is needed: nearly every call of a large spec names outputs.
      auto refuse = [&](const std::string& found) {
        std::string names;
        for (const std::string& name : schema.outputs) names += (names.empty() ? "" : ", ") + name;
        fail(outputs_pointer,
             schema.variadic_outputs
                 ? fmt::format("expected \"outputs\": up to {} names, one per tensor {} returns", most, schema.name)
                 : fmt::format("expected \"outputs\": up to {} name{}, for {}", most, most == 1 ? "" : "s", names),
             found);
      };
      if (!outputs.is_array()) refuse(type_name(outputs));
      if (outputs.size() > most) refuse(fmt::format("{} names", outputs.size()));
      for (std::size_t i = 0; i < outputs.size(); ++i) {
        if (!outputs[i].is_string()) fail(child_pointer(outputs_pointer, i), "expected an output name (a string)", type_name(outputs[i]));
        if (outputs[i].get<std::string>().empty()) {
          fail(child_pointer(outputs_pointer, i), "expected an output name, found an empty string");
        }
        decl.outputs.push_back(outputs[i].get<std::string>());
      }
    } else if (spec_.flat) {
      decl.outputs.assign(schema.outputs.begin(), schema.outputs.begin() + static_cast<std::ptrdiff_t>(returned));
    }
    return decl;
  }

  // The operator a call names: "module" (declared under "modules") or "op" (a function).
  const OperatorSchema& call_operator(const json& call, const std::string& pointer, std::string& module) {
    if (call.contains("op")) {
      std::string op_pointer = child_pointer(pointer, "op");
      if (call.contains("module")) fail(op_pointer, "a call has \"module\" or \"op\", not both");
      if (!call["op"].is_string()) fail(op_pointer, "expected \"op\": a function's name", type_name(call["op"]));
      std::string name = bare_function_name(call["op"].get<std::string>());
      const OperatorSchema* schema = find_operator_schema(name);
      if (schema == nullptr || schema->module) {
        std::string names;
        for (const std::string& known : function_names()) names += (names.empty() ? "" : ", ") + known;
        fail(op_pointer, fmt::format("unknown function \"{}\"{}", call["op"].get<std::string>(), did_you_mean(name, function_names())), {},
             fmt::format("supported functions: {}{}", names,
                         schema != nullptr ? fmt::format("; nn.{} is a module: declare it under \"modules\"", name) : ""));
      }
      return *schema;
    }
    if (!call.contains("module") || !call["module"].is_string()) {
      fail(call.contains("module") ? child_pointer(pointer, "module") : pointer,
           "expected \"module\" (the name of a module declared under \"modules\") or \"op\" (a function)");
    }
    module = call["module"].get<std::string>();
    const ModuleDecl* declared = spec_.find_module(module);
    if (declared == nullptr) {
      std::vector<std::string> names;
      for (const ModuleDecl& candidate : spec_.modules) names.push_back(candidate.name);
      fail(child_pointer(pointer, "module"), fmt::format("no module named \"{}\"{}", module, did_you_mean(module, names)), {},
           names.empty() ? "declare it under \"modules\", e.g. \"modules\": {\"attn\": \"nn.MultiheadAttention(512, 8)\"}" : "");
    }
    return *find_operator_schema(declared->type);
  }

  void read_flat_call(const json& root) {
    if (!root.contains("module") && !root.contains("op")) {
      fail("", "missing \"module\"", {}, "a single-call spec names its module under \"module\" (or a function under \"op\")");
    }
    std::vector<std::string> other_keys = {"version", "dims", "tensors", "mhacheck", "id", "outputs"};
    std::string module;
    const OperatorSchema* schema = nullptr;
    if (root.contains("module")) {
      spec_.modules.push_back(module_value(root["module"], "/module", "module"));
      spec_.index_names();
      other_keys.push_back("module");
      module = "module";
      schema = find_operator_schema(spec_.modules.back().type);
    } else {
      other_keys.push_back("op");
      schema = &call_operator(root, "", module);
    }
    CallDecl call = call_value(root, "", "call", *schema, other_keys);
    call.module = module;
    spec_.calls.push_back(std::move(call));
  }

  void read_calls(const json& calls) {
    if (!calls.is_array()) fail("/calls", "expected \"calls\" to be an array of calls", type_name(calls));
    if (calls.size() > kMaxCalls) {
      fail("/calls", fmt::format("{} calls is above the limit of {}", calls.size(), kMaxCalls), {}, "split the spec into several files");
    }
    spec_.calls.reserve(calls.size());
    for (std::size_t i = 0; i < calls.size(); ++i) {
      std::string pointer = child_pointer("/calls", i);
      const json& call = calls[i];
      object_at(call, pointer, "a call");
      std::string module;
      const OperatorSchema& schema = call_operator(call, pointer, module);
      CallDecl decl = call_value(call, pointer, fmt::format("call{}", i), schema, kCallKeys);
      decl.module = module;
      if (!call_ids_.insert(decl.id).second) fail(child_pointer(pointer, "id"), fmt::format("call id \"{}\" is used twice", decl.id));
      spec_.calls.push_back(std::move(decl));
    }
  }

  Spec& spec_;
  std::vector<UnboundSize> unbound_;
  std::map<std::string, std::pair<std::string, Location>> pasted_texts_;  // a constructor string's pointer: its text and place
  std::map<std::string, std::string> non_size_dims_;  // names "dims" binds to a fraction or a flag -> its pointer
  const JsonDocument& document_;
  std::set<std::string> call_ids_;
  std::unordered_map<std::string, json> parsed_module_calls_;  // by constructor string
  // Modules read from a constructor string, by the string and the type expected there: a
  // generated stack repeats a few strings across tens of thousands of modules, and reading
  // one (its options checked one by one, defaults filled in, typed) costs more than copying it.
  std::unordered_map<std::string, ModuleDecl> modules_read_;
};

}  // namespace

std::string bare_function_name(std::string name) {
  // Methods are named as the operator table and PyTorch's docs name them (Tensor.masked_fill),
  // functions with any of their module paths (torch.linalg.vector_norm).
  for (const char* prefix : {"torch.nn.functional.", "nn.functional.", "F.", "torch.Tensor.", "Tensor.", "torch.", "linalg."}) {
    if (name.rfind(prefix, 0) == 0) name = name.substr(std::string(prefix).size());
  }
  // PyTorch's aliases (torch/_torch_docs.py: "Alias of torch.cat()"), which run the same kernel.
  static const std::map<std::string, std::string, std::less<>> kAliases = {
      {"concat", "cat"}, {"concatenate", "cat"}, {"swapdims", "transpose"}, {"multiply", "mul"},
      {"divide", "div"}, {"subtract", "sub"}, {"not_equal", "ne"}, {"greater", "gt"}, {"greater_equal", "ge"}, {"less", "lt"}, {"less_equal", "le"}, {"clip", "clamp"}, {"clip_min", "clamp_min"}};
  auto alias = kAliases.find(name);
  return alias == kAliases.end() ? name : alias->second;
}

std::string spec_folder(const JsonDocument& document) {
  std::string name = document.source ? document.source->name : std::string();
  if (name.empty() || name == "-" || name.front() == '<') return ".";
  std::filesystem::path folder = std::filesystem::path(name).parent_path();
  return folder.empty() ? "." : folder.string();
}

MhaOptions mha_options(const nlohmann::json& options) {
  MhaOptions mha;
  mha.embed_dim = options["embed_dim"].get<std::int64_t>();
  mha.num_heads = options["num_heads"].get<std::int64_t>();
  mha.dropout = options["dropout"].get<double>();
  mha.bias = options["bias"].get<bool>();
  mha.add_bias_kv = options["add_bias_kv"].get<bool>();
  mha.add_zero_attn = options["add_zero_attn"].get<bool>();
  if (!options["kdim"].is_null()) mha.kdim = options["kdim"].get<std::int64_t>();
  if (!options["vdim"].is_null()) mha.vdim = options["vdim"].get<std::int64_t>();
  mha.batch_first = options["batch_first"].get<bool>();
  if (!options["dtype"].is_null()) mha.dtype = *parse_dtype(options["dtype"].get<std::string>());
  return mha;
}

const ModuleDecl* ModuleDecl::submodule(const std::string& option) const {
  for (const ModuleDecl& module : submodules) {
    if (module.name == option) return &module;
  }
  return nullptr;
}

DType ModuleDecl::dtype() const {
  const nlohmann::json& written = options.at("dtype");
  return written.is_null() ? DType::Float32 : *parse_dtype(written.get<std::string>());
}

std::string list_element(const std::string& argument, std::size_t index) { return fmt::format("{}[{}]", argument, index); }

std::size_t CallDecl::list_size(const std::string& argument) const {
  std::size_t size = 0;
  while (tensors.count(list_element(argument, size)) != 0) ++size;
  return size;
}

void Spec::index_names() {
  module_positions_.clear();
  tensor_positions_.clear();
  for (std::size_t i = 0; i < modules.size(); ++i) module_positions_.emplace(modules[i].name, i);
  for (std::size_t i = 0; i < tensors.size(); ++i) tensor_positions_.emplace(tensors[i].name, i);
}

const ModuleDecl* Spec::find_module(const std::string& name) const {
  auto it = module_positions_.find(name);
  return it == module_positions_.end() ? nullptr : &modules[it->second];
}

const TensorDecl* Spec::find_tensor(const std::string& name) const {
  auto it = tensor_positions_.find(name);
  return it == tensor_positions_.end() ? nullptr : &tensors[it->second];
}

const nlohmann::json& Spec::value() const {
  if (!document.value.is_discarded()) return document.value;
  if (!reread_value_) reread_value_ = std::make_shared<const nlohmann::json>(nlohmann::json::parse(document.source->text, nullptr, true, true));
  return *reread_value_;
}

struct Spec::TensorUses {
  const CallDecl* calls = nullptr;  // the calls indexed: Spec::calls' data and size then
  std::size_t count = 0;
  std::unordered_map<std::string, std::vector<std::size_t>> readers, makers;
};

namespace {

const Spec::TensorUses& tensor_uses(const Spec& spec, std::shared_ptr<const Spec::TensorUses>& uses) {
  if (uses && uses->calls == spec.calls.data() && uses->count == spec.calls.size()) return *uses;
  auto made = std::make_shared<Spec::TensorUses>();
  made->calls = spec.calls.data();
  made->count = spec.calls.size();
  for (std::size_t i = 0; i < spec.calls.size(); ++i) {
    for (const auto& [argument, ref] : spec.calls[i].tensors) {
      if (ref.kind != ArgRef::Kind::Named) continue;
      std::vector<std::size_t>& readers = made->readers[ref.name];
      if (readers.empty() || readers.back() != i) readers.push_back(i);
    }
    for (const std::string& output : spec.calls[i].outputs) {
      std::vector<std::size_t>& makers = made->makers[output];
      if (makers.empty() || makers.back() != i) makers.push_back(i);
    }
  }
  uses = std::move(made);
  return *uses;
}

const std::vector<std::size_t>& uses_of(const std::unordered_map<std::string, std::vector<std::size_t>>& uses, const std::string& name) {
  static const std::vector<std::size_t> none;
  auto found = uses.find(name);
  return found == uses.end() ? none : found->second;
}

}  // namespace

const std::vector<std::size_t>& Spec::readers_of(const std::string& name) const { return uses_of(tensor_uses(*this, uses_).readers, name); }

const std::vector<std::size_t>& Spec::makers_of(const std::string& name) const { return uses_of(tensor_uses(*this, uses_).makers, name); }

Spec parse_spec(JsonDocument document) {
  Spec spec;
  spec.document = std::move(document);
  SpecReader(spec).read();
  // Nothing read keeps a pointer into the tree; value() parses the text again if asked.
  if (spec.document.value_from_source) spec.document.value = nlohmann::json(nlohmann::json::value_t::discarded);
  return spec;
}

}  // namespace mhacheck
