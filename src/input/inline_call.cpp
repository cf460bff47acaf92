#include "mhacheck/inline_call.hpp"

#include <cmath>
#include <map>
#include <optional>

#include <fmt/format.h>

#include "mhacheck/module_schema.hpp"
#include "mhacheck/python_text.hpp"
#include "mhacheck/spec.hpp"
#include "mhacheck/suggest.hpp"

namespace mhacheck {
namespace {

std::shared_ptr<SourceText> flag_source(const std::string& flag, const std::string& text) {
  auto source = std::make_shared<SourceText>();
  source->name = flag;
  source->text = text;
  return source;
}

Location start_of(const std::shared_ptr<SourceText>& source, std::size_t offset = 0) {
  Location location;
  location.source = source;
  location.line = 1;
  location.column = 1 + static_cast<int>(offset);
  location.length = static_cast<int>(std::max<std::size_t>(1, source->text.size() - std::min(offset, source->text.size())));
  return location;
}

// One argument given on the command line: which flag, its text, and where the value starts.
struct GivenArgument {
  std::string flag;
  std::shared_ptr<SourceText> source;
  std::string value;
  std::size_t offset = 0;
};

// A string argument (einsum's equation, gelu's approximate, getitem's index): as Python quotes
// it ('bhid,bhjd->bhij') or bare, as a shell passes it; None where the argument may be None.
nlohmann::json string_value(const GivenArgument& given, ArgKind kind) {
  const std::string& text = given.value;
  if (kind == ArgKind::OptionalString && text == "None") return nullptr;
  bool quoted = text.size() >= 2 && (text.front() == '\'' || text.front() == '"') && text.back() == text.front();
  if (!quoted && (text.front() == '\'' || text.front() == '"')) {
    throw InputError(start_of(given.source, given.offset), fmt::format("the string {} has no closing quote", text), {}, InputError::Kind::Syntax);
  }
  return quoted ? text.substr(1, text.size() - 2) : text;
}

// A plain (non-tensor) value as Python writes it: True, False, None, numbers, (0, 2, 1), [2, -1];
// a size list as a shape is written ((B*T, -1)); a string.
nlohmann::json plain_value(const GivenArgument& given, ArgKind kind) {
  std::string text = given.value;
  if ((kind == ArgKind::String || kind == ArgKind::OptionalString || kind == ArgKind::Index) && !text.empty()) return string_value(given, kind);
  if (kind == ArgKind::SizeList && text != "None") {
    ShapeText sizes = parse_shape_text(text, start_of(given.source, given.offset), true);
    if (sizes.dtype) {
      throw InputError(start_of(given.source, given.offset), fmt::format("a list of sizes takes no dtype, found '{}'", text), {}, InputError::Kind::Syntax);
    }
    return sizes.shape;
  }
  if (text == "True" || text == "False") return text == "True";
  if (text == "None") return nullptr;
  for (char& c : text) {
    if (c == '(') c = '[';
    if (c == ')') c = ']';
  }
  if (text.size() > 2 && text.compare(text.size() - 2, 2, ",]") == 0) text.erase(text.size() - 2, 1);  // (3,)
  nlohmann::json value = nlohmann::json::parse(text, nullptr, false);
  if (value.is_discarded() || value.is_object() || value.is_string()) {
    throw InputError(start_of(given.source, given.offset), fmt::format("expected a value such as 1, 0.5, True, None or (0, 2, 1), found '{}'", given.value),
                     {}, InputError::Kind::Syntax);
  }
  return value;
}

// `other` of add, mul, eq, ... given as a Python number rather than a shape: True, False, an
// integer or a float literal, float('inf'), float('-inf'), float('nan'). A number is kept as
// the JSON spec keeps it (infinities and NaN as the strings "inf", "-inf", "nan"); nullopt for
// anything else, which is then read as a shape ((3, 4), or 3 written with a comma: (3,)).
std::optional<nlohmann::json> python_number(const std::string& text) {
  if (text == "True" || text == "False") return text == "True";
  for (const char* special : {"inf", "-inf", "nan"}) {
    for (char quote : {'\'', '"'}) {
      if (text == fmt::format("float({0}{1}{0})", quote, special)) return special;
    }
  }
  nlohmann::json value = nlohmann::json::parse(text, nullptr, false);
  if (!value.is_discarded() && value.is_number()) return value;
  return std::nullopt;
}

}  // namespace

bool InlineCall::given() const {
  return !module.empty() || !op.empty() || !query.empty() || !key.empty() || !value.empty() || !key_padding_mask.empty() ||
         !attn_mask.empty() || !args.empty() || !dims.empty() || no_need_weights || no_average_attn_weights || is_causal;
}

// Each size the --module text leaves as a name (in_features=d_model), located where the text uses
// it, so that "bind it" points there; nested modules (a stack's encoder_layer) too.
static void locate_symbols(JsonDocument& document, const nlohmann::json& module, const std::string& pointer, const std::string& text,
                    const Location& origin) {
  for (const auto& [option, value] : module.items()) {
    if (value.is_object() && value.contains("type")) locate_symbols(document, value, pointer + "/" + option, text, origin);
    if (!value.is_string() || option == "type") continue;
    if (std::optional<Location> place = place_of_name(text, origin, value.get<std::string>())) {
      document.values.add(pointer + "/" + option, *place);
    }
  }
}

JsonDocument inline_document(const InlineCall& call) {
  JsonDocument document;
  auto whole = flag_source("<command line>", "");
  document.source = whole;
  nlohmann::json& spec = document.value;
  spec = nlohmann::json::object();

  NameBindings bindings;
  for (const std::string& binding : call.dims) {
    auto source = flag_source("--dim", binding);
    std::size_t equals = binding.find('=');
    std::string symbol = binding.substr(0, equals);
    try {
      if (equals == std::string::npos) throw std::invalid_argument("no =");
      const std::string text = binding.substr(equals + 1);
      nlohmann::json value;
      if (text == "True" || text == "False") {
        // --dim batch_first=True binds a flag of the pasted constructor, as a line
        // `batch_first = True` would; the spec refuses it where a size uses it.
        value = text == "True";
      } else {
        std::size_t used = 0;
        value = std::stoll(text, &used);
        if (used != text.size()) {
          // A fraction (--dim dropout=0.1) binds a float option of the pasted constructor; the
          // spec refuses it where a size uses it.
          double real = std::stod(text, &used);
          if (used != text.size() || !std::isfinite(real) || std::floor(real) == real) throw std::invalid_argument("trailing text");
          value = real;
        }
      }
      spec["dims"][symbol] = value;
      bindings[symbol] = value;
    } catch (const std::exception&) {
      throw InputError(start_of(source), fmt::format("expected SYMBOL=SIZE, found '{}'", binding), "e.g. --dim B=32",
                       InputError::Kind::Syntax);
    }
    document.values.add("/dims/" + symbol, start_of(source));
  }

  const OperatorSchema* schema = nullptr;
  std::string callee;  // how messages name the operator
  if (!call.module.empty() && !call.op.empty()) {
    throw InputError(start_of(flag_source("--op", call.op)), "give --module or --op, not both", "--module for a module, --op for a function");
  }
  if (!call.module.empty()) {
    auto module_source = flag_source("--module", call.module);
    spec["module"] = parse_module_call(call.module, start_of(module_source), bindings);
    document.values.add("/module", start_of(module_source));
    locate_symbols(document, spec["module"], "/module", call.module, start_of(module_source));
    // d_model = 512 on a pasted line binds d_model in the shapes too, as --dim would.
    for (const auto& [symbol, size] : pasted_sizes(call.module, start_of(module_source), bindings)) {
      spec["dims"][symbol] = size;
      document.values.add("/dims/" + symbol, start_of(module_source));
    }
    schema = find_operator_schema(spec["module"]["type"].get<std::string>());
    callee = "nn." + spec["module"]["type"].get<std::string>();
  } else if (!call.op.empty()) {
    auto op_source = flag_source("--op", call.op);
    std::string name = bare_function_name(call.op);
    schema = find_operator_schema(name);
    if (schema == nullptr || schema->module) {
      std::string names;
      for (const std::string& known : function_names()) names += (names.empty() ? "" : ", ") + known;
      throw InputError(start_of(op_source), fmt::format("unknown function '{}'{}", call.op, did_you_mean(name, function_names())),
                       schema != nullptr ? fmt::format("nn.{} is a module: give it with --module", name) : "supported functions: " + names);
    }
    spec["op"] = call.op;
    document.values.add("/op", start_of(op_source));
    callee = call.op;
  } else {
    throw InputError(start_of(whole), "--module or --op is required with the inline-call flags",
                     "e.g. --module \"nn.MultiheadAttention(512, 8)\", or --op F.scaled_dot_product_attention");
  }

  // The flat form's top-level "dims" binds symbols; an operator's own argument named dims
  // (permute's) with --dim given too needs the full form, where the call is calls[0].
  bool full_form = schema->argument("dims") != nullptr && !call.dims.empty();
  std::string call_pointer = full_form ? "/calls/0" : "";
  if (full_form) {
    spec["calls"] = nlohmann::json::array({nlohmann::json::object({{"op", spec["op"]}})});
    spec.erase("op");
    document.values.add("/calls/0/op", document.values.find("/op"));
  }
  nlohmann::json& call_object = full_form ? spec["calls"][0] : spec;

  std::string arguments;
  for (const ArgSchema& argument : schema->arguments) arguments += (arguments.empty() ? "" : ", ") + argument.name;
  auto refuse = [&](const GivenArgument& given, const std::string& name) {
    std::vector<std::string> names;
    for (const ArgSchema& argument : schema->arguments) names.push_back(argument.name);
    throw InputError(start_of(given.source), fmt::format("{} takes no argument {}{}", callee, name, did_you_mean(name, names)),
                     fmt::format("its arguments: {}; give any of them with --arg NAME=SHAPE (tensors) or --arg NAME=VALUE", arguments));
  };

  // Every argument given, by name: the shorthand flags, then --arg.
  std::map<std::string, GivenArgument> given;
  auto add = [&](const std::string& name, const std::string& flag, const std::string& text, const std::string& value, std::size_t offset) {
    GivenArgument argument{flag, flag_source(flag, text), value, offset};
    if (schema->argument(name) == nullptr) refuse(argument, name);
    if (given.count(name) != 0) {
      throw InputError(start_of(argument.source), fmt::format("{} is given twice ({} and {})", name, given[name].flag, flag));
    }
    given.emplace(name, std::move(argument));
  };
  const std::pair<const char*, const std::string*> shorthands[] = {
      {"query", &call.query}, {"key", &call.key}, {"value", &call.value}, {"key_padding_mask", &call.key_padding_mask}, {"attn_mask", &call.attn_mask}};
  for (const auto& [name, text] : shorthands) {
    if (!text->empty()) add(name, std::string("--") + (std::string(name) == "key_padding_mask" ? "key-padding-mask" : std::string(name) == "attn_mask" ? "attn-mask" : name), *text, *text, 0);
  }
  for (const std::string& text : call.args) {
    std::size_t equals = text.find('=');
    if (equals == std::string::npos || equals == 0) {
      throw InputError(start_of(flag_source("--arg", text)), fmt::format("expected NAME=SHAPE or NAME=VALUE, found '{}'", text),
                       "e.g. --arg src=\"(10, 32, 512)\" or --arg dim=-1", InputError::Kind::Syntax);
    }
    add(text.substr(0, equals), "--arg", text, text.substr(equals + 1), equals + 1);
  }
  const std::pair<const char*, bool> flags[] = {
      {"need_weights", call.no_need_weights}, {"average_attn_weights", call.no_average_attn_weights}, {"is_causal", call.is_causal}};
  for (const auto& [name, set] : flags) {
    if (!set) continue;
    std::string flag = std::string(name) == "need_weights" ? "--no-need-weights" : std::string(name) == "is_causal" ? "--is-causal" : "--no-average-attn-weights";
    add(name, flag, flag, std::string(name) == "is_causal" ? "True" : "False", 0);
  }

  auto tensor_at = [&](const GivenArgument& argument, const std::string& pointer) {
    Location origin = start_of(argument.source, argument.offset);
    ShapeText shape = parse_shape_text(argument.value, origin);
    nlohmann::json tensor = {{"shape", shape.shape}};
    if (shape.dtype) tensor["dtype"] = *shape.dtype;
    document.values.add(pointer, origin);
    for (std::size_t i = 0; i < shape.dims.size(); ++i) document.values.add(pointer + "/shape/" + std::to_string(i), shape.dims[i]);
    return tensor;
  };
  // A list of tensors (torch.cat's): [SHAPE, SHAPE, ...], each shape as --query takes it.
  auto tensor_list = [&](const GivenArgument& argument, const std::string& pointer) {
    const std::string& text = argument.value;
    std::size_t open = text.find_first_not_of(" \t");
    std::size_t close = text.find_last_not_of(" \t");
    if (open == std::string::npos || text[open] != '[' || text[close] != ']') {
      throw InputError(start_of(argument.source, argument.offset),
                       fmt::format("expected a list of shapes in [ ], found '{}'", text), "e.g. --arg \"tensors=[(2, 3), (2, 4):float64]\"",
                       InputError::Kind::Syntax);
    }
    nlohmann::json list = nlohmann::json::array();
    document.values.add(pointer, start_of(argument.source, argument.offset + open));
    std::size_t start = open + 1;
    int depth = 0;
    for (std::size_t i = open + 1; i <= close; ++i) {
      char c = text[i];
      if (c == '(' || c == '[') ++depth;
      if ((c == ')' || c == ']') && depth > 0) {
        --depth;
        if (i != close) continue;
      }
      if ((c == ',' && depth == 0) || i == close) {
        std::string element = text.substr(start, i - start);
        bool blank = element.find_first_not_of(" \t") == std::string::npos;
        if (blank && i != close) {
          throw InputError(start_of(argument.source, argument.offset + i), "expected a shape before ','", {}, InputError::Kind::Syntax);
        }
        if (!blank) {  // else the list is empty or ends with a comma
          GivenArgument part{argument.flag, argument.source, element, argument.offset + start};
          list.push_back(tensor_at(part, pointer + "/" + std::to_string(list.size())));
        }
        start = i + 1;
      }
    }
    return list;
  };
  // Self-attention: the query tensor is also key and value; cross-attention: key is also value.
  bool attention = schema->argument("query") != nullptr && schema->argument("key") != nullptr && schema->argument("value") != nullptr;
  if (attention && given.count("query") != 0 && given.count("value") != 0 && given.count("key") == 0) {
    throw InputError(start_of(given["value"].source), given["value"].flag + " needs --key",
                     "omit both for self-attention, or give --key alone to pass the key tensor as value too");
  }
  if (attention && given.count("query") != 0 && given.count("key") == 0) {
    spec["tensors"]["x"] = tensor_at(given["query"], "/tensors/x");
    for (const char* argument : {"query", "key", "value"}) {
      call_object[argument] = "x";
      document.values.add(call_pointer + "/" + argument, document.values.find("/tensors/x"));
      given.erase(argument);
    }
  } else if (attention && given.count("key") != 0 && given.count("value") == 0) {
    spec["tensors"]["kv"] = tensor_at(given["key"], "/tensors/kv");
    for (const char* argument : {"key", "value"}) {
      call_object[argument] = "kv";
      document.values.add(call_pointer + "/" + argument, document.values.find("/tensors/kv"));
      given.erase(argument);
    }
  }
  for (const auto& [name, argument] : given) {
    const ArgSchema& parameter = *schema->argument(name);
    std::string pointer = call_pointer + "/" + name;
    std::optional<nlohmann::json> number = parameter.kind == ArgKind::TensorOrNumber ? python_number(argument.value) : std::nullopt;
    if (parameter.kind == ArgKind::TensorList) {
      call_object[name] = tensor_list(argument, pointer);
    } else if (number) {
      call_object[name] = *number;
      document.values.add(pointer, start_of(argument.source, argument.offset));
    } else if (schema->is_tensor(parameter)) {
      call_object[name] = tensor_at(argument, pointer);
    } else {
      call_object[name] = plain_value(argument, parameter.kind);
      document.values.add(pointer, start_of(argument.source, argument.offset));
    }
  }
  for (const ArgSchema& parameter : schema->arguments) {
    if (!parameter.required || call_object.contains(parameter.name)) continue;
    std::string required;
    for (const ArgSchema& other : schema->arguments) {
      if (other.required) required += (required.empty() ? "" : ", ") + other.name;
    }
    bool shorthand = parameter.name == "query" || parameter.name == "key" || parameter.name == "value";
    throw InputError(start_of(whole), fmt::format("{} needs {}", callee, parameter.name),
                     fmt::format("it takes {} (required: {}); give {} with {}", arguments, required, parameter.name,
                                 shorthand ? "--" + parameter.name + " SHAPE" : "--arg " + parameter.name + "=SHAPE"));
  }
  return document;
}

}  // namespace mhacheck
