// End-to-end: the mhacheck binary on examples/ and on flags, checking exit codes and output.
#include <sstream>

#include <catch2/catch.hpp>

#include <algorithm>
#include <array>
#include <fstream>
#include <iterator>
#include <cstdio>
#include <filesystem>
#include <sys/wait.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "mhacheck/npy.hpp"
#include "test_support.hpp"

using nlohmann::json;

namespace {

using Run = mhacheck::test::CliRun;

// Runs mhacheck from the source directory with `args` (shell words), `stdin_text` piped in.
Run cli(const std::string& args, const std::string& stdin_text = "") {
  return mhacheck::test::run_cli(args, stdin_text.empty() ? "" : "printf '%s' '" + stdin_text + "' | ");
}

}  // namespace

TEST_CASE("cli: version and help", "[cli]") {
  CHECK(cli("--version").out == "mhacheck " MHACHECK_VERSION "\n");
  Run help = cli("check --help");
  CHECK(help.status == 0);
  CHECK_THAT(help.out, Catch::Contains("--module") && Catch::Contains("Examples:"));
  CHECK(cli("").status == 2);
  CHECK(cli("check --format yaml examples/seed_example1.json").status == 2);
}

TEST_CASE("cli: the seed examples' verdicts and exit codes", "[cli]") {
  CHECK(cli("check examples/seed_example1.json").status == 1);
  CHECK(cli("check examples/seed_example2.json").status == 1);
  CHECK(cli("check examples/seed_example3.json").status == 0);
  CHECK(cli("check examples/seed_example3_named.json").status == 0);
  CHECK(cli("check --werror examples/seed_example3_named.json").status == 1);
  Run both = cli("check --format json examples/seed_example1.json examples/seed_example3.json");
  CHECK(both.status == 1);
  json report = json::parse(both.out);
  CHECK(report["files"].size() == 2);
  CHECK(report["summary"]["errors"] == 1);
  CHECK(report["outputs"].contains("examples/seed_example3.json:attn_output"));
}

TEST_CASE("cli: every example in examples/ is checked without input errors", "[cli]") {
  Run run = cli("check --format json examples/*.json");
  json report = json::parse(run.out);
  CHECK(report["input_error"] == false);
  CHECK(run.status == 1);
}

TEST_CASE("cli: inline flags as pasted from Python", "[cli]") {
  Run fixed = cli("check --format json --module 'nn.MultiheadAttention(512, 8, kdim=256, vdim=256, batch_first=True)' "
                       "--query 'torch.Size([32, 1, 512])' --key '(32, 10, 256)' --value '[B, 10, 256]' --dim B=32");
  CHECK(fixed.status == 0);
  json report = json::parse(fixed.out);
  CHECK(report["outputs"]["attn_output"]["shape"] == json{32, 1, 512});
  CHECK(report["outputs"]["attn_output_weights"]["shape"] == json{32, 1, 10});

  Run broken = cli("check --color never --module 'nn.MultiheadAttention(512, 8)' --query '(32, 1, 512)' --key '(32, 10, 512)'");
  CHECK(broken.status == 1);
  CHECK_THAT(broken.out, Catch::Contains(" --> --key:1:6") && Catch::Contains("(32, 10, 512)"));

  Run self = cli("check --format json --module 'nn.MultiheadAttention(64, 4)' --query '(T, B, 64)' --attn-mask '(T, T):float32' "
                      "--no-need-weights");
  CHECK(self.status == 0);
  CHECK(json::parse(self.out)["outputs"]["attn_output"]["shape"] == json{"T", "B", 64});
}

TEST_CASE("cli: unusable input exits 2 with file, line and column", "[cli]") {
  Run syntax = cli("check --color never -", "{\"module\": 1,,}");
  CHECK(syntax.status == 2);
  CHECK_THAT(syntax.out, Catch::Contains("error[MHA001]") && Catch::Contains("--> -:1:14"));
  Run bad_flag = cli("check --color never --module 'nn.MultiheadAttention(512, 8, batchfirst=True)' --query '(1, 2, 512)'");
  CHECK(bad_flag.status == 2);
  CHECK_THAT(bad_flag.out, Catch::Contains("--> --module:1:31") && Catch::Contains("did you mean \"batch_first\"?"));
  Run missing = cli("check --format json no/such/file.json");
  CHECK(missing.status == 2);
  CHECK(json::parse(missing.out)["diagnostics"][0]["code"] == "MHA001");
}

TEST_CASE("cli: a missing libzip stops check and graph of a spec naming an .npz with MHA106, not only run", "[cli]") {
  // The dynamic loader takes LD_LIBRARY_PATH's libzip.so.4 first; an empty file cannot be loaded,
  // as on a machine without libzip4. check reads the .npz headers, so it is check that finds it.
  mhacheck::test::TempDir folder;
  folder.write("libzip.so.4", "");
  std::string without_libzip = "LD_LIBRARY_PATH=" + folder.path.string() + " ";
  Run check = mhacheck::test::run_cli("check --format json examples/run_example.json", without_libzip);
  CHECK(check.status == 2);
  json report = json::parse(check.out);
  CHECK(report["input_error"] == true);
  REQUIRE(report["diagnostics"].size() == 1);
  CHECK(report["diagnostics"][0]["code"] == "MHA106");
  CHECK_THAT(report["diagnostics"][0]["message"].get<std::string>(), Catch::StartsWith("cannot load libzip (libzip.so.4): "));
  Run graph = mhacheck::test::run_cli("graph --format dot examples/run_example.json", without_libzip);
  CHECK(graph.status == 2);
  CHECK_THAT(graph.err, Catch::Contains("error[MHA106]"));
  // The same spec without .npz files needs no libzip.
  CHECK(mhacheck::test::run_cli("check examples/seed_example3.json", without_libzip).status == 0);
  // So the catalogue does not file it under run alone.
  Run explain = cli("explain MHA106");
  CHECK_THAT(explain.out, Catch::StartsWith("MHA106 (runtime-library-missing, error): "));
  CHECK_THAT(explain.out, Catch::Contains("mhacheck check and mhacheck graph raise it too"));
}

TEST_CASE("cli: explain", "[cli]") {
  Run explain = cli("explain MHA040");
  CHECK(explain.status == 0);
  CHECK_THAT(explain.out, Catch::StartsWith("MHA040 (batch-mismatch, error)"));
  CHECK(cli("explain batch-mismatch").out == explain.out);
  CHECK(cli("explain MHA999").status == 2);
  // explain --help shows its own examples, none of mhacheck --help's again.
  std::string top = cli("--help").out, help = cli("explain --help").out;
  std::istringstream lines(help.substr(help.find("Examples")));
  int examples = 0;
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind("  mhacheck", 0) != 0) continue;
    ++examples;
    CHECK(top.find(line + "\n") == std::string::npos);
  }
  CHECK(examples >= 3);
}

TEST_CASE("cli: the README's \"30 seconds\" commands print what it shows", "[cli]") {
  std::string readme = mhacheck::test::read_file(std::string(MHACHECK_SOURCE_DIR) + "/README.md");
  std::size_t begin = readme.find("## 30 seconds"), end = readme.find("\n## ", begin + 1);
  REQUIRE(begin != std::string::npos);
  std::istringstream section(readme.substr(begin, end - begin));
  std::vector<std::string> commands;
  std::string line;
  while (std::getline(section, line)) {
    if (line.rfind("$ mhacheck ", 0) != 0) continue;
    // The command, over its '\' continuations, then the output up to the block's end.
    std::string args = line.substr(std::string("$ mhacheck ").size());
    while (!args.empty() && args.back() == '\\' && std::getline(section, line)) {
      args.pop_back();
      args += line.substr(line.find_first_not_of(' '));
    }
    std::string shown;
    while (std::getline(section, line) && line != "```") shown += line + "\n";
    INFO("mhacheck " << args);
    CHECK(cli(args).out == shown);
    commands.push_back(args);
  }
  // The spec file, a pasted line (--module) and a pasted error (explain).
  REQUIRE(commands.size() == 3);
  CHECK(commands[1].find("--module \"self.attn = ") != std::string::npos);
  CHECK(commands[2].rfind("explain \"RuntimeError: ", 0) == 0);
}

TEST_CASE("cli: inline flags and spec files do not mix, and --value needs --key", "[cli]") {
  CHECK(cli("check --dim B=3 examples/seed_example1.json").status == 2);
  Run value_alone = cli("check --color never --module 'nn.MultiheadAttention(8, 2)' --query '(3, 2, 8)' --value '(3, 2, 8)'");
  CHECK(value_alone.status == 2);
  CHECK_THAT(value_alone.out, Catch::Contains("--value needs --key"));
}

TEST_CASE("cli: run prints, saves atomically and plots", "[cli]") {
  std::string dir = "/tmp/mhacheck-cli-test-" + std::to_string(::getpid());
  Run made = cli("run --color never examples/run_example.json --save " + dir + "-out.npz --plot " + dir + "-w.svg");
  CHECK(made.status == 0);
  CHECK_THAT(made.out, Catch::Contains("call \"call\": attn_output_weights (2, 3, 5) float32\ntensor([[[0.1924,"));
  CHECK(std::filesystem::file_size(dir + "-out.npz") > 0);
  CHECK(std::filesystem::file_size(dir + "-w.svg") > 0);
  Run unwritable = cli("run examples/run_example.json --save /nonexistent-dir/out.npz");
  CHECK(unwritable.status == 2);
  CHECK_FALSE(std::filesystem::exists("/nonexistent-dir"));
  Run failing = cli("run --random-inputs examples/seed_example1.json");
  CHECK(failing.status == 1);
  CHECK_THAT(failing.out, Catch::Contains("not run: the check found errors"));
  // What stopped it, when it was not the check: an unusable input, or the run's own first error.
  Run unusable = cli("run --color never --op relu --arg 'input=(2, 3' --random-inputs");
  CHECK(unusable.status == 2);
  CHECK_THAT(unusable.out, Catch::Contains("expected ')'"));
  CHECK_THAT(unusable.out, Catch::Contains("not run: unusable input (MHA001 above)"));
  CHECK_THAT(unusable.out, !Catch::Contains("the check found errors"));
  Run no_data = cli("run --color never --op relu --arg 'input=(2, 3)'");
  CHECK(no_data.status == 1);
  CHECK_THAT(no_data.out, Catch::Contains("not run: MHA103 in call \"call\""));
  Run random = cli("run --format json --module 'nn.MultiheadAttention(8, 2)' --query '(3, 2, 8)' --random-inputs --seed 3");
  CHECK(random.status == 0);
  CHECK(json::parse(random.out)["run"]["outputs"]["attn_output"]["shape"] == json{3, 2, 8});
  std::filesystem::remove(dir + "-out.npz");
  std::filesystem::remove(dir + "-w.svg");
}

TEST_CASE("cli: run --plot picks the call and the head, and refuses a head out of range", "[cli]") {
  std::string svg = "/tmp/mhacheck-cli-plot-" + std::to_string(::getpid()) + ".svg";
  Run head = cli("run examples/run_example.json --plot " + svg + " --plot-call call --plot-head 1");
  CHECK(head.status == 0);
  std::string drawn = mhacheck::read_source_file(svg, 1 << 20)->text;
  CHECK_THAT(drawn, Catch::Contains("call: batch 1, head 1 of 2"));
  std::size_t cells = 0;
  for (std::size_t at = drawn.find("<title>query "); at != std::string::npos; at = drawn.find("<title>query ", at + 1)) ++cells;
  CHECK(cells == 2 * 3 * 5);  // (N, L, S)
  std::filesystem::remove(svg);
  Run beyond = cli("run examples/run_example.json --plot " + svg + " --plot-head 2");
  CHECK(beyond.status == 2);
  CHECK_THAT(beyond.err, Catch::Contains("--plot-head 2: call \"call\" has 2 heads (0 to 1)"));
  CHECK_FALSE(std::filesystem::exists(svg));
  Run alone = cli("run examples/run_example.json --plot-head 1");
  CHECK(alone.status == 2);
  CHECK_THAT(alone.err, Catch::Contains("give --plot FILE.svg too"));
}

TEST_CASE("cli: run executes a Transformer module, prints and saves its output", "[cli]") {
  std::string saved = "/tmp/mhacheck-cli-transformer-" + std::to_string(::getpid()) + ".npz";
  Run run = cli("run --color never tests/pytorch/forward_transformer/encoder-layer-unbatched.json --save " + saved);
  CHECK(run.status == 0);
  // PyTorch prints the expected output's first row the same way.
  CHECK_THAT(run.out, Catch::Contains("call \"call\": output (5, 8) float32\n"
                                      "tensor([[-0.2557, -1.6714,  1.4249,  0.1005, -0.3763,  0.1662,  0.0561,  0.2743],\n"));
  REQUIRE(std::filesystem::exists(saved));
  CHECK(mhacheck::list_npz(saved) == std::vector<std::string>{"output"});
  CHECK(mhacheck::read_npz(saved, "output", 1 << 20).shape == std::vector<std::int64_t>{5, 8});
  Run json_run = cli("run --format json tests/pytorch/forward_transformer/embedding-2d-no-padding.json");
  CHECK(json_run.status == 0);
  CHECK(json::parse(json_run.out)["run"]["outputs"]["output"]["dtype"] == "float32");
  std::filesystem::remove(saved);
}

TEST_CASE("cli: directories are searched for specs, in a stable order", "[cli]") {
  Run all = cli("check --format json examples");
  json report = json::parse(all.out);
  std::vector<std::string> names;
  for (const json& file : report["files"]) names.push_back(file["file"]);
  CHECK(names.size() >= 5);
  CHECK(std::is_sorted(names.begin(), names.end()));
  CHECK(std::find(names.begin(), names.end(), "examples/seed_example1.json") != names.end());
  CHECK(all.status == 1);
}

TEST_CASE("cli: --ignore and --only choose diagnostics, unknown codes are usage errors", "[cli]") {
  Run ignored = cli("check --format json --ignore MHA040,interpretation examples/seed_example1.json examples/seed_example3.json");
  CHECK(ignored.status == 0);
  CHECK(json::parse(ignored.out)["diagnostics"].empty());
  Run only = cli("check --format json --only mha090 examples/seed_example1.json examples/seed_example3.json");
  json report = json::parse(only.out);
  REQUIRE(report["diagnostics"].size() == 1);
  CHECK(report["diagnostics"][0]["code"] == "MHA090");
  CHECK(only.status == 0);
  CHECK(cli("check --ignore MHA999 examples/seed_example1.json").status == 2);
  // Unreadable input stays an error whatever is ignored.
  CHECK(cli("check --ignore MHA001,MHA002 no/such/file.json").status == 2);
}

TEST_CASE("cli: -o writes the report atomically and leaves an old one alone on failure", "[cli]") {
  std::string path = "/tmp/mhacheck-report-" + std::to_string(::getpid()) + ".json";
  Run written = cli("check --format json -o " + path + " examples/seed_example3.json");
  CHECK(written.status == 0);
  CHECK(written.out.empty());
  CHECK(json::parse(mhacheck::test::read_file(path))["ok"] == true);
  Run failed = cli("check -o /nonexistent-dir/report.txt examples/seed_example3.json");
  CHECK(failed.status == 2);
  std::filesystem::remove(path);
}

TEST_CASE("cli: a directory without specs is an error, not a pass", "[cli]") {
  std::string dir = "/tmp/mhacheck-empty-" + std::to_string(::getpid());
  std::filesystem::create_directories(dir);
  Run empty = cli("check --color never " + dir);
  CHECK(empty.status == 2);
  CHECK_THAT(empty.out, Catch::Contains(dir + ": no *.json spec files in this directory"));
  std::filesystem::remove(dir);
}

TEST_CASE("cli: check -j checks files in parallel with the same report, in the same order", "[cli]") {
  mhacheck::test::TempDir dir;
  // Many small specs (good, broken, unusable) so that the workers really interleave.
  const std::array<std::string, 3> texts = {
      R"j({"module": "nn.MultiheadAttention(8, 2)", "query": [3, 2, 8]})j",
      R"j({"module": "nn.MultiheadAttention(8, 2)", "query": [3, 2, 8], "key": [4, 5, 8], "value": [4, 5, 8]})j",
      R"j({"module": "nn.MultiheadAttention(8, 2)", "query": [3, 2,)j"};
  for (int i = 0; i < 60; ++i) std::ofstream(dir.file("spec" + std::to_string(100 + i) + ".json")) << texts[static_cast<std::size_t>(i % 3)];
  Run one = cli("check --format json -j 1 " + dir.path.string());
  Run four = cli("check --format json -j 4 " + dir.path.string());
  Run every_core = cli("check --format json " + dir.path.string());
  CHECK(one.status == 2);
  CHECK(four.status == 2);
  CHECK(four.out == one.out);
  CHECK(every_core.out == one.out);
  json report = json::parse(one.out);
  CHECK(report["files"].size() == 60);
  CHECK(report["diagnostics"].size() >= 40);  // 20 batch mismatches, 20 syntax errors
  CHECK(cli("check -j -2 examples/seed_example1.json").status == 2);
}
