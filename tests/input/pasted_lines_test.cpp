// Lines pasted from public model code (tests/pasted/pasted_lines.json, each citing its source)
// check as PyTorch runs them: gen_pasted_lines.py built each module from the same text with
// PyTorch and recorded its outputs or its exception; mhacheck must agree on the verdict, the
// output shapes, and the error: the exception's text, and the diagnostic naming the cause.
#include <catch2/catch.hpp>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include "mhacheck/inline_call.hpp"
#include "test_support.hpp"

using namespace mhacheck;

namespace {

// One "args" entry as the --arg flag writes it: a shape list, {"shape", "dtype"}, or a value.
std::string arg_flag(const std::string& name, const nlohmann::json& value) {
  if (value.is_array()) return fmt::format("{}=({})", name, fmt::join(value.get<std::vector<std::int64_t>>(), ", "));
  if (value.is_object()) {
    return fmt::format("{}=({}):{}", name, fmt::join(value["shape"].get<std::vector<std::int64_t>>(), ", "), value["dtype"].get<std::string>());
  }
  if (value.is_boolean()) return fmt::format("{}={}", name, value.get<bool>() ? "True" : "False");
  return fmt::format("{}={}", name, value.dump());
}

InlineCall inline_call(const nlohmann::json& line) {
  InlineCall call;
  if (line.contains("op")) call.op = line["op"];
  else call.module = line["text"];
  nlohmann::json dims = line.value("dims", nlohmann::json::object());
  for (const auto& [name, size] : dims.items()) call.dims.push_back(fmt::format("{}={}", name, size.dump()));
  for (const auto& [name, value] : line["args"].items()) call.args.push_back(arg_flag(name, value));
  return call;
}

}  // namespace

TEST_CASE("pasted lines of public model code check as PyTorch runs them", "[pasted]") {
  nlohmann::json document = nlohmann::json::parse(test::read_file(std::string(MHACHECK_SOURCE_DIR) + "/tests/pasted/pasted_lines.json"));
  const nlohmann::json& lines = document["lines"];
  REQUIRE(lines.size() >= 20);
  int failing = 0;
  for (const nlohmann::json& line : lines) {
    const nlohmann::json& pytorch = line["pytorch"];
    INFO(line["name"].get<std::string>() << " (" << line["source"].get<std::string>() << "): PyTorch " << pytorch.dump());
    Report report;
    try {
      report = check_document(inline_document(inline_call(line)));
    } catch (const InputError& error) {
      FAIL("mhacheck refuses the line: " << error.what() << " | " << error.help());
    }
    for (const Diagnostic& diagnostic : report.diagnostics) UNSCOPED_INFO(diagnostic.info().code << ": " << diagnostic.message);
    REQUIRE(report.ok() == pytorch["ok"].get<bool>());
    if (pytorch["ok"].get<bool>()) {
      REQUIRE(report.calls.size() == 1);
      std::vector<std::vector<std::int64_t>> outputs;
      for (const NamedOutput& output : report.calls[0].outputs) {
        std::vector<std::int64_t> dims;
        for (const DimExpr& dim : output.shape) {
          REQUIRE(dim.is_constant());
          dims.push_back(dim.offset);
        }
        outputs.push_back(dims);
      }
      CHECK(nlohmann::json(outputs) == pytorch["outputs"]);
    } else {
      ++failing;
      const Diagnostic* raised = test::raised(report);
      REQUIRE(raised != nullptr);
      CHECK(raised->info().code == line["code"].get<std::string>());
      REQUIRE(raised->pytorch_error);
      CHECK(raised->pytorch_error->type == pytorch["error"]["type"].get<std::string>());
      CHECK(raised->pytorch_error->message == pytorch["error"]["message"].get<std::string>());
    }
  }
  CHECK(failing >= 5);
}
