// The command-line front end: argument parsing (CLI11) and dispatch. Everything it prints
// comes from the library's reports and renderers.
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <string>
#include <vector>

#include <unistd.h>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "mhacheck/check.hpp"
#include "mhacheck/diagnostic.hpp"
#include "mhacheck/json_source.hpp"
#include "mhacheck/python_text.hpp"
#include "mhacheck/render.hpp"

namespace {

using namespace mhacheck;

constexpr std::size_t kMaxSpecBytes = 16 * 1024 * 1024;

struct InlineCall {
  std::string module, query, key, value, key_padding_mask, attn_mask;
  std::vector<std::string> dims;
  bool no_need_weights = false, no_average_attn_weights = false, is_causal = false;

  bool given() const {
    return !module.empty() || !query.empty() || !key.empty() || !value.empty() || !key_padding_mask.empty() ||
           !attn_mask.empty() || !dims.empty() || no_need_weights || no_average_attn_weights || is_causal;
  }
};

std::shared_ptr<SourceText> flag_source(const std::string& flag, const std::string& text) {
  auto source = std::make_shared<SourceText>();
  source->name = flag;
  source->text = text;
  return source;
}

Location start_of(const std::shared_ptr<SourceText>& source) {
  Location location;
  location.source = source;
  location.line = 1;
  location.column = 1;
  location.length = static_cast<int>(std::max<std::size_t>(1, source->text.size()));
  return location;
}

// Builds the flat spec the flags describe, with each dim located in its flag's text. An
// omitted --value means the key tensor itself; an omitted --key too means self-attention.
JsonDocument inline_document(const InlineCall& call) {
  JsonDocument document;
  auto whole = flag_source("<command line>", "");
  document.source = whole;
  nlohmann::json& spec = document.value;
  if (call.module.empty()) throw InputError(start_of(whole), "--module is required with --query", "e.g. --module \"nn.MultiheadAttention(512, 8)\"");
  if (call.query.empty()) throw InputError(start_of(whole), "--query is required with --module", "e.g. --query \"torch.Size([32, 1, 512])\"");
  auto module_source = flag_source("--module", call.module);
  spec["module"] = parse_module_call(call.module, start_of(module_source));
  document.values.add("/module", start_of(module_source));
  auto add_tensor = [&](const std::string& flag, const std::string& argument, const std::string& text,
                        const std::string& pointer_root) {
    auto source = flag_source(flag, text);
    ShapeText shape = parse_shape_text(text, start_of(source));
    nlohmann::json tensor = {{"shape", shape.shape}};
    if (shape.dtype) tensor["dtype"] = *shape.dtype;
    std::string pointer = pointer_root + "/" + argument;
    document.values.add(pointer, start_of(source));
    for (std::size_t i = 0; i < shape.dims.size(); ++i) {
      document.values.add(pointer + "/shape/" + std::to_string(i), shape.dims[i]);
    }
    return tensor;
  };
  if (call.key.empty() && !call.value.empty()) {
    throw InputError(start_of(flag_source("--value", call.value)), "--value needs --key",
                     "omit both for self-attention, or give --key alone to pass the key tensor as value too");
  }
  if (call.key.empty()) {
    spec["tensors"]["x"] = add_tensor("--query", "x", call.query, "/tensors");
    spec["query"] = spec["key"] = spec["value"] = "x";
    for (const char* argument : {"/query", "/key", "/value"}) document.values.add(argument, document.values.find("/tensors/x"));
  } else if (call.value.empty()) {
    spec["query"] = add_tensor("--query", "query", call.query, "");
    spec["tensors"]["kv"] = add_tensor("--key", "kv", call.key, "/tensors");
    spec["key"] = spec["value"] = "kv";
    for (const char* argument : {"/key", "/value"}) document.values.add(argument, document.values.find("/tensors/kv"));
  } else {
    spec["query"] = add_tensor("--query", "query", call.query, "");
    spec["key"] = add_tensor("--key", "key", call.key, "");
    spec["value"] = add_tensor("--value", "value", call.value, "");
  }
  if (!call.key_padding_mask.empty()) {
    spec["key_padding_mask"] = add_tensor("--key-padding-mask", "key_padding_mask", call.key_padding_mask, "");
  }
  if (!call.attn_mask.empty()) spec["attn_mask"] = add_tensor("--attn-mask", "attn_mask", call.attn_mask, "");
  if (call.no_need_weights) spec["need_weights"] = false;
  if (call.no_average_attn_weights) spec["average_attn_weights"] = false;
  if (call.is_causal) spec["is_causal"] = true;
  for (const std::string& binding : call.dims) {
    auto source = flag_source("--dim", binding);
    std::size_t equals = binding.find('=');
    std::string symbol = binding.substr(0, equals);
    try {
      if (equals == std::string::npos) throw std::invalid_argument("no =");
      std::size_t used = 0;
      long long value = std::stoll(binding.substr(equals + 1), &used);
      if (used != binding.size() - equals - 1) throw std::invalid_argument("trailing text");
      spec["dims"][symbol] = value;
    } catch (const std::exception&) {
      throw InputError(start_of(source), fmt::format("expected SYMBOL=SIZE, found '{}'", binding), "e.g. --dim B=32",
                       InputError::Kind::Syntax);
    }
    document.values.add("/dims/" + symbol, start_of(source));
  }
  return document;
}

bool use_color(const std::string& mode) {
  if (mode == "always") return true;
  if (mode == "never") return false;
  const char* no_color = std::getenv("NO_COLOR");
  return isatty(STDOUT_FILENO) && (no_color == nullptr || no_color[0] == '\0');
}

int exit_code(const std::vector<Report>& reports, bool werror) {
  bool errors = false;
  for (const Report& report : reports) {
    if (report.input_error) return 2;
    errors = errors || !report.ok() || (werror && report.count(Severity::Warning) > 0);
  }
  return errors ? 1 : 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"mhacheck: finds and explains shape errors in PyTorch attention layers, without PyTorch"};
  app.set_version_flag("--version", std::string("mhacheck ") + MHACHECK_VERSION);
  app.require_subcommand(1);
  app.footer(
      "Examples:\n"
      "  mhacheck check examples/seed_example1.json\n"
      "  mhacheck check --module \"nn.MultiheadAttention(512, 8)\" --query \"torch.Size([32, 1, 512])\" \\\n"
      "                 --key \"(32, 10, 512)\" --value \"(32, 10, 512)\"\n"
      "  mhacheck explain MHA040\n"
      "Exit codes: 0 no errors, 1 errors found (or warnings with --werror), 2 unusable input or usage.");

  CLI::App* check = app.add_subcommand("check", "check attention calls described by spec files or by flags");
  std::vector<std::string> files;
  std::string format = "text", color = "auto";
  bool werror = false;
  InlineCall inline_call;
  check->add_option("specs", files, "JSON spec files ('-' reads stdin); see docs/spec-format.md");
  check->add_option("--format", format, "report format")->check(CLI::IsMember({"text", "json"}));
  check->add_option("--color", color, "colour in text reports")->check(CLI::IsMember({"auto", "always", "never"}));
  check->add_flag("--werror", werror, "treat warnings as errors for the exit code");
  check->add_option("--module", inline_call.module, "the constructor call, e.g. \"nn.MultiheadAttention(512, 8, batch_first=True)\"");
  check->add_option("--query", inline_call.query, "query shape: torch.Size([32, 1, 512]), (32, 1, 512), [B, 1, 512]");
  check->add_option("--key", inline_call.key, "key shape (omitted: the query tensor itself, self-attention)");
  check->add_option("--value", inline_call.value, "value shape (omitted: the key tensor itself)");
  check->add_option("--key-padding-mask", inline_call.key_padding_mask, "key_padding_mask shape, optionally SHAPE:dtype (default bool)");
  check->add_option("--attn-mask", inline_call.attn_mask, "attn_mask shape, optionally SHAPE:dtype (default bool)");
  check->add_option("--dim", inline_call.dims, "bind a symbol, e.g. --dim B=32 (repeatable)")->allow_extra_args(false);
  check->add_flag("--no-need-weights", inline_call.no_need_weights, "call with need_weights=False");
  check->add_flag("--no-average-attn-weights", inline_call.no_average_attn_weights, "call with average_attn_weights=False");
  check->add_flag("--is-causal", inline_call.is_causal, "call with is_causal=True");
  check->footer(
      "Examples:\n"
      "  mhacheck check examples/seed_example1.json examples/seed_example2.json\n"
      "  mhacheck check --format json spec.json | jq .ok\n"
      "  mhacheck check --module \"nn.MultiheadAttention(512, 8, kdim=256, vdim=256, batch_first=True)\" \\\n"
      "                 --query \"torch.Size([32, 1, 512])\" --key \"(32, 10, 256)\" --value \"[B, 10, 256]\" --dim B=32\n"
      "  mhacheck check --module \"nn.MultiheadAttention(64, 4)\" --query \"(T, B, 64)\" --attn-mask \"(T, T):float32\"");

  CLI::App* explain = app.add_subcommand("explain", "print the explanation of a diagnostic code");
  std::string code;
  bool all_codes = false;
  explain->add_option("code", code, "a code such as MHA040, or its name such as batch-mismatch");
  explain->add_flag("--all", all_codes, "print the whole catalogue in Markdown (docs/diagnostics.md)");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    int status = app.exit(error);
    return status == 0 ? 0 : 2;
  }

  if (explain->parsed()) {
    if (all_codes) {
      std::cout << render_catalogue_markdown();
      return 0;
    }
    const DiagInfo* info = find_diag_info(code);
    if (info == nullptr) {
      std::cerr << "mhacheck: unknown diagnostic code '" << code << "' (codes are listed in docs/diagnostics.md)\n";
      return 2;
    }
    std::cout << render_explanation(*info);
    return 0;
  }

  std::vector<Report> reports;
  if (inline_call.given()) {
    if (!files.empty()) {
      std::cerr << "mhacheck: give either spec files or the inline-call flags (--module, --query, ...), not both\n";
      return 2;
    }
    try {
      reports.push_back(check_document(inline_document(inline_call)));
    } catch (const InputError& error) {
      reports.push_back(input_error_report("<command line>", error));
    }
  } else if (files.empty()) {
    std::cerr << "mhacheck check: no spec files given (and no --module/--query); see mhacheck check --help\n";
    return 2;
  }
  for (const std::string& file : files) {
    try {
      reports.push_back(check_document(parse_json_document(read_source_file(file, kMaxSpecBytes))));
    } catch (const InputError& error) {
      reports.push_back(input_error_report(file, error));
    }
  }
  if (format == "json") {
    std::cout << render_json(reports).dump(2) << "\n";
  } else {
    std::cout << render_text(reports, TextStyle{use_color(color)});
  }
  return exit_code(reports, werror);
}
