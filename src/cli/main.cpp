// The command-line front end: argument parsing (CLI11) and dispatch. Everything it prints
// comes from the library's reports and renderers.
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

#include <unistd.h>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "mhacheck/check.hpp"
#include "mhacheck/diagnostic.hpp"
#include "mhacheck/explain.hpp"
#include "mhacheck/json_source.hpp"
#include "mhacheck/inline_call.hpp"
#include "mhacheck/output_file.hpp"
#include "mhacheck/plot.hpp"
#include "mhacheck/render.hpp"
#include "mhacheck/render_parts.hpp"
#include "mhacheck/render_dot.hpp"
#include "mhacheck/report_filter.hpp"
#include "mhacheck/spec_files.hpp"
#include "mhacheck/render_run.hpp"
#include "mhacheck/run.hpp"

namespace {

using namespace mhacheck;

constexpr std::size_t kMaxSpecBytes = 16 * 1024 * 1024;

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

void add_inline_options(CLI::App* command, InlineCall& call) {
  command->add_option("--module", call.module,
                      "the module as Python constructs it, e.g. \"self.attn = nn.MultiheadAttention(d_model, 8, batch_first=True)\" "
                      "(several lines, names bound by --dim)");
  command->add_option("--op", call.op, "a function instead of a module, e.g. F.scaled_dot_product_attention, torch.matmul");
  command->add_option("--arg", call.args, "any argument of the call: NAME=SHAPE[:DTYPE] for a tensor, NAME=VALUE otherwise (repeatable)")
      ->allow_extra_args(false);
  command->add_option("--query", call.query, "query shape: torch.Size([32, 1, 512]), (32, 1, 512), [B, 1, 512]");
  command->add_option("--key", call.key, "key shape (omitted: the query tensor itself, self-attention)");
  command->add_option("--value", call.value, "value shape (omitted: the key tensor itself)");
  command->add_option("--key-padding-mask", call.key_padding_mask, "key_padding_mask shape, optionally SHAPE:dtype (default bool)");
  command->add_option("--attn-mask", call.attn_mask, "attn_mask shape, optionally SHAPE:dtype (default bool)");
  command->add_option("--dim", call.dims, "bind a symbol, e.g. --dim B=32, or a flag the --module text leaves unbound, --dim batch_first=True (repeatable)")->allow_extra_args(false);
  command->add_flag("--no-need-weights", call.no_need_weights, "call with need_weights=False");
  command->add_flag("--no-average-attn-weights", call.no_average_attn_weights, "call with average_attn_weights=False");
  command->add_flag("--is-causal", call.is_causal, "call with is_causal=True");
}

// Parses one spec: a file, stdin, or the inline-call flags.
JsonDocument load_document(const std::string& file, const InlineCall& call) {
  return call.given() ? inline_document(call) : parse_json_document(read_source_file(file, kMaxSpecBytes));
}

// An integer option's lower bound, with a message people can read (CLI11's own range check
// prints the upper bound as a 309-digit double).
CLI::Validator at_least(long long minimum) {
  return CLI::Validator(
      [minimum](std::string& text) -> std::string {
        try {
          std::size_t used = 0;
          long long value = std::stoll(text, &used);
          if (used == text.size() && value >= minimum) return {};
        } catch (const std::exception&) {
        }
        return fmt::format("expected an integer of at least {}, found '{}'", minimum, text);
      },
      fmt::format("INT>={}", minimum));
}

// Reports as JSON text. Bytes that are not UTF-8 (a file name, say) become U+FFFD rather than
// stopping the report.
std::string json_text(const nlohmann::json& document) {
  return document.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

// The report goes to stdout, or with -o through write_output: a regular file is replaced
// atomically (a CI job never reads a half-written report), a device or FIFO written as it is.
int emit(const std::string& text, const std::string& output_file) {
  try {
    write_output(output_file.empty() ? "-" : output_file, text);
  } catch (const InputError& error) {
    std::cerr << "mhacheck: " << error.what() << "\n";
    return 2;
  }
  return 0;
}

// Outputs that would replace an input (a spec, a tensor or weights file) or each other are
// refused before anything is written; false after saying why.
bool outputs_are_safe(const std::vector<std::string>& outputs, const std::vector<std::string>& inputs) {
  try {
    refuse_unsafe_outputs(outputs, inputs);
  } catch (const InputError& error) {
    std::cerr << "mhacheck: " << error.what() << "\n";
    return false;
  }
  return true;
}

// The files a command read: its specs and what they name.
std::vector<std::string> files_read(std::vector<std::string> specs, const std::vector<Report>& reports) {
  for (const Report& report : reports) specs.insert(specs.end(), report.input_files.begin(), report.input_files.end());
  return specs;
}

// What check and run share: how the report is written and which diagnostics it keeps.
struct ReportOptions {
  std::string format = "text", color = "auto", output_file;
  std::vector<std::string> ignore, only;
  bool werror = false;

  void add_to(CLI::App* command, const std::vector<std::string>& formats) {
    command->add_option("--format", format, "report format")->check(CLI::IsMember(formats));
    command->add_option("-o,--output", output_file, "write the report to this file instead of stdout ('-'; a regular file is replaced atomically)");
    command->add_option("--ignore", ignore, "drop these diagnostics, e.g. --ignore MHA081,MHA090")->allow_extra_args(false);
    command->add_option("--only", only, "keep only these diagnostics, e.g. --only MHA040")->allow_extra_args(false);
    command->add_option("--color", color, "colour in text reports")->check(CLI::IsMember({"auto", "always", "never"}));
    command->add_flag("--werror", werror, "treat warnings as errors for the exit code");
  }
  TextStyle text_style() const { return TextStyle{(output_file.empty() || output_file == "-") && use_color(color)}; }
  // --ignore and --only as codes; an unknown code is a usage error.
  bool read_filter(DiagnosticFilter& filter) const {
    try {
      filter.ignore = parse_code_list(ignore);
      filter.only = parse_code_list(only);
    } catch (const std::invalid_argument& error) {
      std::cerr << "mhacheck: " << error.what() << "\n";
      return false;
    }
    return true;
  }
};

struct CheckCommand {
  std::vector<std::string> files;
  ReportOptions report;
  InlineCall call;
  unsigned jobs = 0;

  void add_options(CLI::App* command) {
    command->add_option("specs", files,
                        "JSON spec files or directories (searched for *.json), '-' for stdin; see docs/spec-format.md");
    report.add_to(command, {"text", "json", "sarif", "github"});
    command->add_option("-j,--jobs", jobs, "check this many spec files at once (default 0: one per core)")
        ->check(at_least(0));
    add_inline_options(command, call);
    command->footer(
        "Examples:\n"
        "  mhacheck check examples/seed_example1.json examples/seed_example2.json\n"
        "  mhacheck check --format json spec.json | jq .ok\n"
        "  mhacheck check --module \"nn.MultiheadAttention(512, 8, kdim=256, vdim=256, batch_first=True)\" \\\n"
        "                 --query \"torch.Size([32, 1, 512])\" --key \"(32, 10, 256)\" --value \"[B, 10, 256]\" --dim B=32\n"
        "  mhacheck check --module \"nn.MultiheadAttention(64, 4)\" --query \"(T, B, 64)\" --attn-mask \"(T, T):float32\"");
  }

  int execute() const {
    DiagnosticFilter filter;
    if (!report.read_filter(filter)) return 2;
    std::vector<Report> reports;
    if (call.given()) {
      if (!files.empty()) {
        std::cerr << "mhacheck: give either spec files or the inline-call flags (--module, --query, ...), not both\n";
        return 2;
      }
      try {
        reports.push_back(check_document(inline_document(call)));
      } catch (const InputError& error) {
        reports.push_back(input_error_report("<command line>", error));
      }
    } else if (files.empty()) {
      std::cerr << "mhacheck check: no spec files given (and no --module/--query); see mhacheck check --help\n";
      return 2;
    }
    std::vector<std::string> specs;
    try {
      specs = expand_spec_paths(files);
    } catch (const InputError& error) {
      reports.push_back(input_error_report(error.location().file(), error));
    }
    if (!outputs_are_safe({report.output_file}, specs)) return 2;
    // Each report is filtered and, in the JSON and text formats, its part of the report rendered
    // where it was checked: with -j in the workers, so that the main thread only joins the parts.
    // (SARIF and GitHub are rendered whole.)
    const bool json_format = report.format == "json", text_format = report.format == "text";
    const TextStyle style = report.text_style();
    const std::size_t first_file = reports.size();
    std::vector<JsonReportPart> json_parts(json_format ? first_file + specs.size() : 0);
    std::vector<std::string> text_parts(text_format ? first_file + specs.size() : 0);
    auto finish = [&](std::size_t i, Report& checked) {
      apply_filter(checked, filter);
      if (json_format) json_parts[i] = render_json_part(checked);
      if (text_format) text_parts[i] = render_text_part(checked, style);
    };
    for (std::size_t i = 0; i < first_file; ++i) finish(i, reports[i]);
    for (Report& checked : check_spec_files(specs, kMaxSpecBytes, jobs, [&](std::size_t i, Report& checked) { finish(first_file + i, checked); })) {
      reports.push_back(std::move(checked));
    }
    if (!outputs_are_safe({report.output_file}, files_read(specs, reports))) return 2;
    std::string text;
    if (json_format) {
      text = render_json_text(reports, json_parts);
    } else if (report.format == "sarif") {
      text = json_text(render_sarif(reports, std::filesystem::current_path()));
    } else if (report.format == "github") {
      text = render_github(reports, std::filesystem::current_path());
    } else {
      for (const std::string& part : text_parts) text += part;
      text += render_text_summary(reports, style);
    }
    int written = emit(text, report.output_file);
    return written != 0 ? written : exit_code(reports, report.werror);
  }
};

struct RunCommand {
  std::string file, save, plot;
  ReportOptions report;
  bool values = false, full = false;
  int precision = 4;
  std::int64_t plot_head = -1;  // --plot-head; -1: the average over heads
  RunOptions options;
  InlineCall call;

  void add_options(CLI::App* command) {
    command->add_option("spec", file, "the JSON spec ('-' reads stdin); tensors may be {\"file\": \"x.npy\"}");
    command->add_option("--weights", options.weights, "a state_dict .npz for a spec with one module (PyTorch's names)");
    command->add_option("--seed", options.seed, "seed of the initial weights and of --random-inputs (default 0)");
    command->add_flag("--random-inputs", options.random_inputs, "fill tensors given only as shapes with standard-normal data");
    command->add_option("--threads", options.threads, "threads for the forward pass (default 0: every core)")
        ->check(at_least(0));
    command->add_option("--max-elements", options.max_elements, "refuse tensors with more elements than this (default 2^28); a module's parameters count as one tensor")
        ->check(at_least(1));
    command->add_option("--max-flops", options.max_flops,
                        "refuse, before running anything, a call estimated to take more floating-point operations than this (default 1e11)")
        ->check(CLI::PositiveNumber);
    command->add_option("--save", save, "write every named output to this .npz ('-' for stdout; a regular file is replaced atomically)");
    command->add_option("--plot", plot, "draw one call's attention probabilities as an SVG heatmap to this file");
    command->add_option("--plot-call", options.plot_call, "the call --plot draws (default: the first that computes attention)");
    command->add_option("--plot-block", options.plot_block,
                        "for a Transformer module: the attention block --plot draws, e.g. layers.0.self_attn (default: its first)");
    command->add_option("--plot-head", plot_head, "the head --plot draws, from 0 (default: the average over heads)")->check(at_least(0));
    report.add_to(command, {"text", "json"});
    command->add_flag("--values", values, "with --format json: include every output value");
    command->add_flag("--full", full, "print whole tensors, not a summary past 1000 elements");
    command->add_option("--precision", precision, "digits after the point when printing (default 4)")->check(CLI::Range(0, 16));
    add_inline_options(command, call);
    command->footer(
        "Examples:\n"
        "  mhacheck run examples/run_example.json\n"
        "  mhacheck run spec.json --weights model.npz --save outputs.npz --format json\n"
        "  mhacheck run --module \"nn.MultiheadAttention(8, 2)\" --query \"(3, 2, 8)\" --random-inputs --seed 1");
  }

  int execute() {
    DiagnosticFilter filter;
    if (!report.read_filter(filter)) return 2;
    options.plot = !plot.empty();
    if (!options.plot && (!options.plot_call.empty() || !options.plot_block.empty() || plot_head >= 0)) {
      std::cerr << "mhacheck run: --plot-call, --plot-block and --plot-head choose what --plot draws; give --plot FILE.svg too\n";
      return 2;
    }
    if (call.given() == !file.empty()) {
      std::cerr << "mhacheck run: give one spec file, or the inline-call flags (--module, --query, ...)\n";
      return 2;
    }
    std::string name = call.given() ? "<command line>" : file;
    const std::vector<std::string> outputs{report.output_file, save, plot};
    const std::vector<std::string> given_inputs{file, options.weights};
    if (!outputs_are_safe(outputs, given_inputs)) return 2;
    RunResult result;
    try {
      result = run_spec(parse_spec(load_document(file, call)), options);
    } catch (const InputError& error) {
      result.report = input_error_report(name, error);
      result.executed = false;
      result.stopped_by = fmt::format("unusable input ({} above)", result.report.diagnostics.front().info().code);
    }
    if (!outputs_are_safe(outputs, files_read(given_inputs, {result.report}))) return 2;
    // The outputs are computed; a file that cannot be written is reported after the report.
    std::string write_problem;
    if (result.executed) write_problem = write_files(result);
    apply_filter(result.report, filter);
    std::string text;
    if (report.format == "json") {
      text = json_text(render_run_json(result, values));
    } else {
      PrintOptions print;
      print.precision = precision;
      if (full) print.threshold = std::numeric_limits<double>::infinity();
      text = render_run_text(result, report.text_style(), print);
    }
    if (int written = emit(text, report.output_file); written != 0) return written;
    if (!write_problem.empty()) {
      std::cerr << "mhacheck run: " << write_problem << "\n";
      return 2;
    }
    int status = exit_code({result.report}, report.werror);
    return status == 0 && !result.executed ? 1 : status;
  }

  // --save and --plot; returns what went wrong, or "".
  std::string write_files(const RunResult& result) const {
    try {
      if (!save.empty()) {
        std::vector<std::pair<std::string, Array>> members;
        for (const RunOutput& output : result.outputs) members.emplace_back(output.name, output.array);
        write_npz(save, members, false);
      }
      if (!plot.empty()) {
        if (!result.plotted) return result.plot_problem;
        const PlottedAttention& plotted = *result.plotted;
        std::int64_t heads = plotted.probabilities.shape.at(1);
        if (plot_head >= heads) {
          return fmt::format("--plot-head {}: call \"{}\"{} has {} head{} (0 to {})", plot_head, plotted.call,
                             plotted.block.empty() ? "" : " " + plotted.block, heads, heads == 1 ? "" : "s", heads - 1);
        }
        write_output(plot, attention_heatmap_svg(plotted, plot_head < 0 ? std::nullopt : std::optional<std::int64_t>(plot_head)));
      }
    } catch (const InputError& error) {
      return error.what();
    }
    return {};
  }
};

// `mhacheck graph`: the spec's calls and tensors as a Graphviz graph, DOT or (through Graphviz's
// own dot program) SVG.
struct GraphCommand {
  std::string file, format, output_file;

  void add_options(CLI::App* command) {
    command->add_option("spec", file, "the JSON spec ('-' reads stdin)")->required();
    command->add_option("--format", format, "dot (default) or svg (needs Graphviz's dot; default for -o *.svg)")
        ->check(CLI::IsMember({"dot", "svg"}));
    command->add_option("-o,--output", output_file, "write the graph to this file instead of stdout ('-'; a regular file is replaced atomically)");
    command->footer(
        "Examples:\n"
        "  mhacheck graph examples/seed_example1.json | dot -Tpng > graph.png\n"
        "  mhacheck graph spec.json -o graph.svg");
  }

  int execute() const {
    // Without --format, the output file's extension decides: `-o graph.svg` means SVG.
    bool svg = format == "svg" || (format.empty() && output_file.ends_with(".svg"));
    if (!outputs_are_safe({output_file}, {file})) return 2;
    Report report;
    std::string text;
    try {
      Spec spec = parse_spec(parse_json_document(read_source_file(file, kMaxSpecBytes)));
      report = check_spec(spec, CheckOptions{false});  // fixes are not drawn: no need to verify them
      if (!report.input_error) text = render_dot(report);
    } catch (const InputError& error) {
      report = input_error_report(file, error);
    }
    if (report.input_error) {
      std::cerr << render_text({report}, TextStyle{false});
      return 2;
    }
    if (!outputs_are_safe({output_file}, files_read({file}, {report}))) return 2;
    if (svg) {
      std::optional<std::string> dot = find_graphviz_dot();
      if (!dot) {
        std::cerr << "mhacheck graph: SVG needs Graphviz's `dot`, which is not on PATH; install the graphviz package "
                     "(apt-get install graphviz), or write DOT with --format dot\n";
        return 2;
      }
      try {
        text = dot_to_svg(*dot, text);
      } catch (const std::runtime_error& error) {
        std::cerr << "mhacheck graph: " << error.what() << "\n";
        return 2;
      }
    }
    int written = emit(text, output_file);
    return written != 0 ? written : exit_code({report}, false);
  }
};

// `mhacheck explain`: a diagnostic code's explanation, or PyTorch's error text (a message, or a
// whole traceback; '-' reads stdin) read back into the causes that predict it.
struct ExplainCommand {
  std::string text, format = "text";
  bool all_codes = false;
  InlineCall call;

  void add_options(CLI::App* command) {
    command->add_option("text", text,
                        "a code such as MHA040 (or its name, batch-mismatch), PyTorch's error text, or - to read the text from stdin");
    command->add_flag("--all", all_codes, "print the whole catalogue in Markdown (docs/diagnostics.md)");
    command->add_option("--format", format, "output format for an error text")->check(CLI::IsMember({"text", "json"}));
    add_inline_options(command, call);
    command->footer(
        "Examples (beyond mhacheck --help's):\n"
        "  mhacheck explain batch-mismatch\n"
        "  mhacheck explain \"mat1 and mat2 shapes cannot be multiplied (320x256 and 512x1536)\" --format json\n"
        "  python train.py 2>&1 | mhacheck explain -\n"
        "  mhacheck explain \"$(cat error.txt)\" --module \"nn.MultiheadAttention(512, 8)\" --query \"(32, 1, 512)\" --key \"(32, 10, 512)\"");
  }

  int execute() const {
    if (all_codes) {
      std::cout << render_catalogue_markdown();
      return 0;
    }
    if (text.empty()) {
      std::cerr << "mhacheck explain: give a diagnostic code (MHA040, batch-mismatch), PyTorch's error text, or - to read the "
                   "error text from stdin; see mhacheck explain --help\n";
      return 2;
    }
    const DiagInfo* info = find_diag_info(text);
    if (info != nullptr && !call.given()) {
      std::cout << render_explanation(*info);
      return 0;
    }
    std::string pasted = text;
    ExplainContext context;
    try {
      if (text == "-") pasted = read_source_file("-", kMaxSpecBytes)->text;
      if (!call.module.empty()) context.module = inline_document(call).value.at("module");
    } catch (const InputError& error) {
      std::cerr << render_text({input_error_report(text == "-" ? "<stdin>" : "<command line>", error)}, TextStyle{false});
      return 2;
    }
    std::optional<Explanation> explanation = explain_pytorch_error(pasted, context);
    if (!explanation) {
      std::string first_line = pasted.substr(0, std::min(pasted.find('\n'), std::size_t{120}));
      std::cerr << fmt::format(
          "mhacheck explain: '{}' is neither a diagnostic code nor a PyTorch error that mhacheck predicts; the codes are listed in "
          "docs/diagnostics.md, the messages it reads in docs/explain.md\n",
          first_line);
      return 2;
    }
    if (!call.query.empty()) {
      try {
        narrow_by_report(*explanation, check_document(inline_document(call)));
      } catch (const InputError& error) {
        narrow_by_report(*explanation, input_error_report("<command line>", error));
      }
    }
    std::cout << (format == "json" ? json_text(render_explanation_json(*explanation)) : render_explanation_text(*explanation));
    return 0;
  }
};

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
      "  mhacheck run examples/run_example.json --save out.npz\n"
      "  mhacheck explain MHA040\n"
      "  mhacheck explain \"RuntimeError: shape '[32, 8, 64]' is invalid for input of size 163840\"\n"
      "Exit codes: 0 no errors, 1 errors found (or warnings with --werror), 2 unusable input or usage.");

  CLI::App* check = app.add_subcommand("check", "check attention calls described by spec files or by flags");
  CLI::App* run = app.add_subcommand("run", "check a spec, then run its calls on the CPU as PyTorch would, on real or random data");
  CLI::App* graph = app.add_subcommand("graph", "draw a spec's calls and tensors as a graph (Graphviz DOT or SVG), errors in red");
  CLI::App* explain =
      app.add_subcommand("explain", "explain a diagnostic code, or PyTorch's own error text (a message or a whole traceback)");
  // Building the option tree is a quarter of a single `check`: only the subcommand argv[1] names
  // gets its options. The others keep their names and descriptions, all that `mhacheck --help`
  // and a misspelt command's error show; without a subcommand first (--help, --version, a usage
  // error), every one is built.
  const std::string_view first = argc > 1 ? argv[1] : "";
  const bool names_subcommand = first == "check" || first == "run" || first == "graph" || first == "explain";
  CheckCommand check_command;
  RunCommand run_command;
  GraphCommand graph_command;
  ExplainCommand explain_command;
  if (!names_subcommand || first == "check") check_command.add_options(check);
  if (!names_subcommand || first == "run") run_command.add_options(run);
  if (!names_subcommand || first == "graph") graph_command.add_options(graph);
  if (!names_subcommand || first == "explain") explain_command.add_options(explain);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    int status = app.exit(error);
    return status == 0 ? 0 : 2;
  }

  if (explain->parsed()) return explain_command.execute();
  if (run->parsed()) return run_command.execute();
  if (graph->parsed()) return graph_command.execute();
  return check_command.execute();
}
