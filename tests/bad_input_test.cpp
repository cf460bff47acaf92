// The bad-input table of docs/limits.md: every row not already covered elsewhere (see the
// table's "test" column), each with the exact message, its location, and the exit code where
// the row goes through the command line.
#include <catch2/catch.hpp>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "mhacheck/json_source.hpp"
#include "mhacheck/run.hpp"
#include "mhacheck/shape.hpp"
#include "mhacheck/spec.hpp"
#include "mhacheck/spec_files.hpp"
#include "test_support.hpp"

using namespace mhacheck;
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

// --- library level -------------------------------------------------------------------------

struct Refusal {
  std::string message;
  std::string help;
  int line = 0;
  int column = 0;
  std::string pointer;
};

// The InputError parsing `text` as a spec raises; message "(no error)" when there is none.
Refusal refusal(const std::string& text) {
  try {
    parse_spec(test::document_from(text));
  } catch (const InputError& error) {
    return {error.what(), error.help(), error.location().line, error.location().column, error.location().pointer};
  }
  return {"(no error)", {}, 0, 0, {}};
}

// One row: a spec, the exact message, and where it points: the first occurrence of `at` in the
// (single-line) spec gives the column, and `pointer` the JSON pointer.
struct Row {
  std::string spec;
  std::string message;
  std::string at;
  std::string pointer;
};

void check_rows(const std::vector<Row>& rows) {
  for (const Row& row : rows) {
    INFO(row.spec);
    Refusal got = refusal(row.spec);
    CHECK(got.message == row.message);
    REQUIRE(row.spec.find(row.at) != std::string::npos);
    CHECK(got.line == 1);
    CHECK(got.column == static_cast<int>(row.spec.find(row.at)) + 1);
    CHECK(got.pointer == row.pointer);
  }
}

const std::string kModule = R"J("module": {"type": "MultiheadAttention", "embed_dim": 8, "num_heads": 2})J";
const std::string kArgs = R"J("query": [1, 1, 8], "key": [1, 1, 8], "value": [1, 1, 8])J";

// A valid flat spec with `extra` members added at the end.
std::string flat(const std::string& extra) { return "{" + kModule + ", " + kArgs + extra + "}"; }
// A valid flat spec whose module object gets `options` added.
std::string with_options(const std::string& options) {
  return R"J({"module": {"type": "MultiheadAttention", "embed_dim": 8, "num_heads": 2, )J" + options + "}, " + kArgs + "}";
}
// A flat spec with `query` in place of the query shape.
std::string with_query(const std::string& query) {
  return "{" + kModule + R"J(, "query": )J" + query + R"J(, "key": [1, 1, 8], "value": [1, 1, 8]})J";
}

// --- command line --------------------------------------------------------------------------

using Run = test::CliRun;
using test::run_cli;
using test::TempDir;

std::string read_all(const std::string& path) { return test::read_file(path); }

// The one diagnostic of a `--format json` report for one file.
json only_diagnostic(const Run& run) {
  json report = json::parse(run.out);
  REQUIRE(report["diagnostics"].size() == 1);
  return report["diagnostics"][0];
}

// `check --format json` on `path`: exit 2, one MHA001 with this message and location.
void check_file_refused(const std::string& path, const std::string& message, int line = 0, int column = 0) {
  INFO(path);
  Run run = run_cli("check --format json " + path);
  CHECK(run.status == 2);
  json diagnostic = only_diagnostic(run);
  CHECK(diagnostic["code"] == "MHA001");
  CHECK(diagnostic["message"] == message);
  CHECK(diagnostic["location"]["file"] == path);
  if (line == 0) {
    CHECK(diagnostic["location"]["line"].is_null());
  } else {
    CHECK(diagnostic["location"]["line"] == line);
    CHECK(diagnostic["location"]["column"] == column);
  }
}

}  // namespace

// --- files and JSON ------------------------------------------------------------------------

TEST_CASE("bad input: truncated and empty JSON, exact text and place", "[bad-input]") {
  TempDir dir;
  check_file_refused(dir.write("truncated.json", R"J({"module": "nn.MultiheadAttention(8, 2)", "query": [1, 1)J"),
                     "syntax error while parsing array - unexpected end of input; expected ']'", 1, 57);
  check_file_refused(dir.write("empty.json", ""),
                     "syntax error while parsing value - unexpected end of input; expected '[', '{', or a literal", 1, 1);
}

TEST_CASE("bad input: invalid UTF-8 in a spec, exact text and place", "[bad-input]") {
  TempDir dir;
  check_file_refused(dir.write("utf8.json", "{\"query\": \"\xff\"}"),
                     // The JSON report replaces the byte that is not UTF-8 with U+FFFD.
                     "syntax error while parsing value - invalid string: ill-formed UTF-8 byte; last read: '\"\xEF\xBF\xBD'", 1, 12);
}

TEST_CASE("bad input: JSON nesting, 64 levels accepted, 65 refused", "[bad-input]") {
  std::string at_limit = std::string(64, '[') + std::string(64, ']');
  CHECK_NOTHROW(test::document_from(at_limit));
  std::string over = std::string(65, '[') + std::string(65, ']');
  try {
    test::document_from(over);
    FAIL("no error");
  } catch (const InputError& error) {
    CHECK(std::string(error.what()) == "JSON nested deeper than 64 levels");
    CHECK(error.help() == "a spec never needs this much nesting");
    CHECK(error.location().line == 1);
    CHECK(error.location().column == 65);
    CHECK(error.kind() == InputError::Kind::Syntax);
  }
  // Brackets inside strings do not count.
  CHECK_NOTHROW(test::document_from("{\"a\": \"" + std::string(100, '[') + "\"}"));
}

TEST_CASE("bad input: a FIFO and /dev/zero as a spec are refused unread, exit 2", "[bad-input]") {
  TempDir dir;
  std::string fifo = dir.file("spec.json");
  REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
  // No writer ever opens the FIFO: a reader that opened it would block here forever.
  check_file_refused(fifo, "is not a regular file, expected a JSON spec file");
  check_file_refused("/dev/zero", "is not a regular file, expected a JSON spec file");
}

TEST_CASE("bad input: a spec file over 16 MiB is refused by size, exit 2", "[bad-input]") {
  TempDir dir;
  std::string big = dir.file("big.json");
  { std::ofstream(big) << ' '; }
  fs::resize_file(big, 16 * 1024 * 1024 + 1);  // sparse: nothing is written
  check_file_refused(big, "file is 16777217 bytes, larger than the limit of 16777216 bytes");
  fs::resize_file(big, 16 * 1024 * 1024);  // at the limit: read, then refused for its content (NUL bytes)
  Run at_limit = run_cli("check --format json " + big);
  CHECK(at_limit.status == 2);
  CHECK(only_diagnostic(at_limit)["message"] == "a NUL byte in the spec");
}

TEST_CASE("bad input: standard input over 16 MiB (/dev/zero) stops at the limit, exit 2", "[bad-input]") {
  Run run = run_cli("check --format json - < /dev/zero");
  CHECK(run.status == 2);
  json diagnostic = only_diagnostic(run);
  CHECK(diagnostic["code"] == "MHA001");
  CHECK(diagnostic["message"] == "standard input is larger than 16777216 bytes");
  CHECK(diagnostic["location"]["file"] == "-");
}

TEST_CASE("bad input: a missing spec file, exact text", "[bad-input]") {
  check_file_refused("no/such/spec.json", "cannot open: No such file or directory");
}

TEST_CASE("bad input: an unreadable spec file (skipped when running as root)", "[bad-input]") {
  // chmod cannot stop root from reading, so as root this row is documented, not tested.
  if (::geteuid() == 0) return;
  TempDir dir;
  std::string path = dir.write("secret.json", "{}");
  REQUIRE(::chmod(path.c_str(), 0) == 0);
  check_file_refused(path, "cannot open: Permission denied");
}

TEST_CASE("bad input: a directory of more than 10000 specs is refused", "[bad-input]") {
  TempDir dir;
  fs::create_directories(dir.path / "many");
  for (std::size_t i = 0; i <= kMaxSpecFiles; ++i) std::ofstream((dir.path / "many" / (std::to_string(i) + ".json")).string());
  std::string many = (dir.path / "many").string();
  try {
    expand_spec_paths({many});
    FAIL("no error");
  } catch (const InputError& error) {
    CHECK(std::string(error.what()) == many + ": more than 10000 spec files");
    CHECK(error.help() == "name a smaller directory, or several");
    CHECK(error.location().file() == many);
  }
  fs::remove(dir.path / "many" / "0.json");
  CHECK(expand_spec_paths({many}).size() == kMaxSpecFiles);
}

// --- wrong types, field by field -----------------------------------------------------------

TEST_CASE("bad input: wrong types at the top level, version and mhacheck.ignore", "[bad-input]") {
  check_rows({
      {"5", "expected a JSON object at the top level of a spec, found an integer", "5", ""},
      {"null", "expected a JSON object at the top level of a spec, found null", "null", ""},
      {R"J("spec")J", "expected a JSON object at the top level of a spec, found a string", "\"spec\"", ""},
      {flat(R"J(, "version": "1")J"), R"J(unsupported spec version "1")J", R"J("1")J", "/version"},
      {flat(R"J(, "version": 1.0)J"), "unsupported spec version 1.0", "1.0", "/version"},
      {flat(R"J(, "mhacheck": [])J"), "expected mhacheck's settings for this spec (an object), found an array", "[]", "/mhacheck"},
      {flat(R"J(, "mhacheck": {"ignore": "MHA081"})J"), "expected a list of diagnostic codes, found a string", R"J("MHA081")J",
       "/mhacheck/ignore"},
      {flat(R"J(, "mhacheck": {"ignore": [81]})J"), R"J(expected a diagnostic code such as "MHA081", found an integer)J", "81]",
       "/mhacheck/ignore/0"},
      {flat(R"J(, "mhacheck": {"ignor": []})J"), R"J(unknown key "ignor" (did you mean "ignore"?))J", R"J("ignor")J",
       "/mhacheck/ignor"},
  });
}

TEST_CASE("bad input: wrong types in dims", "[bad-input]") {
  check_rows({
      {flat(R"J(, "dims": [1])J"), R"J(expected symbol bindings such as {"B": 32} (an object), found an array)J", "[1]", "/dims"},
      {flat(R"J(, "dims": {"B": "32"})J"), "expected a dim size (a non-negative integer), found a string", R"J("32")J", "/dims/B"},
      // a fraction binds a float option (dropout) and is refused where a size uses it
      {"{" + kModule + R"J(, "query": [1, "B", 8], "key": [1, 1, 8], "value": [1, 1, 8], "dims": {"B": 2.5}})J",
       "expected a dim size (a non-negative integer), found 2.5", "2.5", "/dims/B"},
      {flat(R"J(, "dims": {"B": -3})J"), "dim -3 is negative", "-3", "/dims/B"},
      {flat(R"J(, "dims": {"2B": 3})J"), R"J("2B" is not a symbol name)J", R"J("2B")J", "/dims/2B"},
  });
}

TEST_CASE("bad input: wrong types in tensors", "[bad-input]") {
  check_rows({
      {flat(R"J(, "tensors": [])J"), "expected named tensors (an object), found an array", "[]", "/tensors"},
      {flat(R"J(, "tensors": {"x": 5})J"),
       R"J(expected a tensor: a shape array, {"shape": [...], "dtype": "..."} or {"file": "..."}, found an integer)J", "5}",
       "/tensors/x"},
      {flat(R"J(, "tensors": {"": [1]})J"), "a tensor name must not be empty", R"J("": [1])J", "/tensors/"},
      {flat(R"J(, "tensors": {"x": {"dtype": "float32"}})J"), R"J(tensor has no "shape")J", R"J({"dtype")J", "/tensors/x"},
      {flat(R"J(, "tensors": {"x": {"shape": 3}})J"), "expected a shape (an array of integers and symbol names), found an integer",
       "3}}", "/tensors/x/shape"},
      {flat(R"J(, "tensors": {"x": {"shape": [1], "dtype": 32}})J"), "expected a dtype name, found an integer", "32}",
       "/tensors/x/dtype"},
      {flat(R"J(, "tensors": {"x": {"shape": [1], "contiguous": "no"}})J"),
       "expected true or false (whether the tensor's strides are the contiguous ones), found a string", R"J("no"}})J",
       "/tensors/x/contiguous"},
      {flat(R"J(, "tensors": {"x": {"file": "a.npy", "contiguous": 0}})J"),
       "expected true or false (whether the tensor's strides are the contiguous ones), found an integer", "0}}",
       "/tensors/x/contiguous"},
      {flat(R"J(, "tensors": {"x": {"shape": [1], "dtyp": "float32"}})J"), R"J(unknown key "dtyp" (did you mean "dtype"?))J",
       R"J("dtyp")J", "/tensors/x/dtyp"},
      {flat(R"J(, "tensors": {"x": {"file": 3}})J"), "expected a file name (.npy or .npz), found an integer", "3}}",
       "/tensors/x/file"},
      {flat(R"J(, "tensors": {"x": {"file": "a.npz", "key": 3}})J"), "expected the array's name in the .npz, found an integer",
       "3}}", "/tensors/x/key"},
      {flat(R"J(, "tensors": {"x": {"file": "a.npz"}})J"), R"J(an .npz file needs "key": the name of the array in it)J",
       R"J({"file")J", "/tensors/x"},
      {flat(R"J(, "tensors": {"x": {"file": "a.npy", "key": "x"}})J"), R"J("key" goes with an .npz file only)J", R"J("x"}})J",
       "/tensors/x/key"},
  });
}

TEST_CASE("bad input: wrong types in module options", "[bad-input]") {
  check_rows({
      {"{\"module\": 5, " + kArgs + "}",
       R"J(expected a module: an object with "type", or a constructor call string, found an integer)J", "5,", "/module"},
      {"{\"module\": {\"embed_dim\": 8}, " + kArgs + "}", R"J(module has no "type")J", "{\"embed_dim", "/module"},
      {"{\"module\": {\"type\": 5}, " + kArgs + "}", "expected a module type name, found an integer", "5}", "/module/type"},
      {R"J({"module": {"type": "MultiheadAttention", "embed_dim": 8.0, "num_heads": 2}, )J" + kArgs + "}",
       R"J("embed_dim" must be an integer, found a number with a fraction)J", "8.0", "/module/embed_dim"},
      {R"J({"module": {"type": "MultiheadAttention", "embed_dim": 8, "num_heads": true}, )J" + kArgs + "}",
       R"J("num_heads" must be an integer, found true)J", "true", "/module/num_heads"},
      {R"J({"module": {"type": "MultiheadAttention", "embed_dim": -9999999999999, "num_heads": 2}, )J" + kArgs + "}",
       "\"embed_dim\" is -9999999999999, out of range", "-9999999999999", "/module/embed_dim"},
      {with_options(R"J("dropout": "0.1")J"), R"J("dropout" must be a number, found a string)J", R"J("0.1")J", "/module/dropout"},
      {with_options(R"J("bias": 1)J"), R"J("bias" must be true or false, found an integer)J", "1}", "/module/bias"},
      {with_options(R"J("add_bias_kv": "true")J"), R"J("add_bias_kv" must be true or false, found a string)J", R"J("true")J",
       "/module/add_bias_kv"},
      {with_options(R"J("add_zero_attn": null)J"), R"J("add_zero_attn" must be true or false, found null)J", "null",
       "/module/add_zero_attn"},
      {with_options(R"J("batch_first": 0)J"), R"J("batch_first" must be true or false, found an integer)J", "0}",
       "/module/batch_first"},
      {with_options(R"J("kdim": "4")J"), R"J("kdim" must be an integer or null, found a string)J", R"J("4")J", "/module/kdim"},
      {with_options(R"J("vdim": 4.5)J"), R"J("vdim" must be an integer or null, found a number with a fraction)J", "4.5",
       "/module/vdim"},
      {with_options(R"J("dtype": 32)J"), R"J("dtype" must be a dtype name such as "float32", found an integer)J", "32}",
       "/module/dtype"},
      {with_options(R"J("dtype": "int32")J"), R"J(module dtype must be a floating type, found "int32")J", R"J("int32")J",
       "/module/dtype"},
      {with_options(R"J("device": 0)J"), R"J("device" must be a device name such as "cpu", found an integer)J", "0}",
       "/module/device"},
      {with_options(R"J("weights": 3)J"), "expected the .npz file of the module's state_dict, found an integer", "3}",
       "/module/weights"},
      {with_options(R"J("prefix": 3)J"), "expected a state_dict prefix (a string), found an integer", "3}", "/module/prefix"},
  });
  // null is the default for kdim, vdim, dtype and device, as in PyTorch.
  CHECK(refusal(with_options(R"J("kdim": null, "vdim": null, "dtype": null, "device": null)J")).message == "(no error)");
}

TEST_CASE("bad input: wrong types in call arguments, flags, id and outputs", "[bad-input]") {
  check_rows({
      {with_query("5"), R"J(expected a tensor: a shape array, {"shape": [...], "dtype": "..."} or {"file": "..."}, found an integer)J",
       "5,", "/query"},
      {with_query("true"), R"J(expected a tensor: a shape array, {"shape": [...], "dtype": "..."} or {"file": "..."}, found true)J",
       "true", "/query"},
      {flat(R"J(, "key_padding_mask": 5)J"),
       R"J(expected a tensor: a shape array, {"shape": [...], "dtype": "..."} or {"file": "..."}, found an integer)J", "5}",
       "/key_padding_mask"},
      {flat(R"J(, "attn_mask": [[1]])J"), "expected a dim size (a non-negative integer), found an array", "[1]]",
       "/attn_mask/0"},
      {flat(R"J(, "need_weights": 1)J"), R"J("need_weights" must be true or false, found an integer)J", "1}", "/need_weights"},
      {flat(R"J(, "average_attn_weights": "no")J"), R"J("average_attn_weights" must be true or false, found a string)J", R"J("no")J",
       "/average_attn_weights"},
      {flat(R"J(, "is_causal": null)J"), R"J("is_causal" must be true or false, found null)J", "null", "/is_causal"},
      {flat(R"J(, "id": 3)J"), "expected the call's id (a string), found an integer", "3}", "/id"},
      {flat(R"J(, "outputs": "out")J"),
       R"J(expected "outputs": up to 2 names, for attn_output, attn_output_weights, found a string)J", R"J("out")J",
       "/outputs"},
      {flat(R"J(, "outputs": [1])J"), "expected an output name (a string), found an integer", "1]", "/outputs/0"},
      {flat(R"J(, "moduels": 1)J"), R"J(unknown key "moduels" (did you mean "module"?))J", R"J("moduels")J", "/moduels"},
  });
}

TEST_CASE("bad input: wrong types in the full form: modules and calls", "[bad-input]") {
  const std::string modules = R"J("modules": {"a": {"type": "MultiheadAttention", "embed_dim": 8, "num_heads": 2}})J";
  check_rows({
      {R"J({"modules": [], "calls": []})J", "expected named modules (an object), found an array", "[]", "/modules"},
      {R"J({"modules": {"a": 5}, "calls": []})J",
       R"J(expected a module: an object with "type", or a constructor call string, found an integer)J", "5}", "/modules/a"},
      {"{" + modules + R"J(, "calls": {}})J", R"J(expected "calls" to be an array of calls, found an object)J", "{}}", "/calls"},
      {"{" + modules + R"J(, "calls": [5]})J", "expected a call (an object), found an integer", "5]", "/calls/0"},
      {"{" + modules + R"J(, "calls": [{"module": 5, )J" + kArgs + "}]}",
       R"J(expected "module" (the name of a module declared under "modules") or "op" (a function))J", "5,", "/calls/0/module"},
      {"{" + modules + R"J(, "calls": [{)J" + kArgs + "}]}",
       R"J(expected "module" (the name of a module declared under "modules") or "op" (a function))J", "{\"query", "/calls/0"},
      {"{" + modules + R"J(, "calls": [{"module": "a", "id": "x", )J" + kArgs + R"J(}, {"module": "a", "id": "y", )J" + kArgs +
           R"J(}, {"module": "a", "id": "x", )J" + kArgs + "}]}",
       R"J(call id "x" is used twice)J", R"J("x", "query": [1, 1, 8], "key": [1, 1, 8], "value": [1, 1, 8]}]})J", "/calls/2/id"},
      {"{" + modules + R"J(, "calls": [{"module": "a", "modul": 1, )J" + kArgs + "}]}",
       R"J(unknown key "modul" (did you mean "module"?))J", R"J("modul")J", "/calls/0/modul"},
      {"{" + modules + R"J(, "calls": [], "module": "x"})J", R"J(unknown key "module" (did you mean "modules"?))J", R"J("module")J",
       "/module"},
  });
}

// --- dims and shapes -----------------------------------------------------------------------

TEST_CASE("bad input: non-integer, null and huge dims, the 2^40 boundary", "[bad-input]") {
  check_rows({
      {with_query("[1, 1e3, 8]"), "expected a dim size (a non-negative integer), found 1000.0", "1e3", "/query/1"},
      {with_query("[1, null, 8]"), "expected a dim size (a non-negative integer), found null", "null", "/query/1"},
      {with_query(R"J([1, "", 8])J"), R"J("" is not a symbol name or a symbol expression)J", R"J("")J", "/query/1"},
      {with_query("[1, 1099511627777, 8]"), "dim 1099511627777 is larger than the limit of 1099511627776", "1099511627777",
       "/query/1"},
      {with_query("[1, 9223372036854775808, 8]"), "dim 9223372036854775808 is larger than the limit of 1099511627776",
       "9223372036854775808", "/query/1"},
      {flat(R"J(, "dims": {"B": 1099511627777})J"), "dim 1099511627777 is larger than the limit of 1099511627776",
       "1099511627777", "/dims/B"},
  });
  CHECK(kMaxDim == 1099511627776);
  CHECK(refusal(with_query("[1, 1099511627776, 8]")).message == "(no error)");
}

TEST_CASE("bad input: rank 8 is accepted, rank 9 refused at the shape", "[bad-input]") {
  check_rows({{with_query("[1, 1, 1, 1, 1, 1, 1, 1, 1]"), "rank 9 is above the limit of 8", "[1, 1, 1, 1, 1, 1, 1, 1, 1]", "/query"}});
  CHECK(refusal(with_query("[1, 1, 1, 1, 1, 1, 1, 1]")).message == "(no error)");
}

TEST_CASE("bad input: zero dims are valid input (empty tensors)", "[bad-input]") {
  Report report = test::check_text(R"J({"module": "nn.MultiheadAttention(8, 2)", "query": [0, 2, 8], "key": [0, 2, 8], "value": [0, 2, 8]})J");
  CHECK_FALSE(report.input_error);
  CHECK(report.ok());
  Run run = run_cli("check --format json --module 'nn.MultiheadAttention(8, 2)' --query '(3, 0, 8)'");
  CHECK(run.status == 0);
  CHECK(json::parse(run.out)["outputs"]["attn_output"]["shape"] == json{3, 0, 8});
}

TEST_CASE("bad input: an empty shape [] is a 0-d tensor, refused by the rules (MHA020), not as input", "[bad-input]") {
  TempDir dir;
  std::string path = dir.write("scalar.json", R"J({"module": "nn.MultiheadAttention(8, 2)", "query": [], "key": [], "value": []})J");
  Run run = run_cli("check --format json " + path);
  CHECK(run.status == 1);
  json report = json::parse(run.out);
  CHECK(report["input_error"] == false);
  REQUIRE(report["diagnostics"].size() >= 1);
  CHECK(report["diagnostics"][0]["code"] == "MHA020");
  CHECK(report["diagnostics"][0]["message"] == "query is 0-D (); expected 3-D (L, N, E) or unbatched 2-D (L, E)");
  CHECK(report["diagnostics"][0]["location"]["line"] == 1);
  CHECK(report["diagnostics"][0]["location"]["column"] == 52);
}

// --- data files through a spec, and run's element limit ------------------------------------

TEST_CASE("bad input: /dev/zero and a FIFO as a .npy in a spec, located at the file value, exit 2", "[bad-input]") {
  TempDir dir;
  std::string fifo = dir.file("q.npy");
  REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
  std::string zero = dir.write("zero.json", R"J({"module": "nn.MultiheadAttention(8, 2)", "query": {"file": "/dev/zero"}, "key": [1, 1, 8], "value": [1, 1, 8]})J");
  check_file_refused(zero, "/dev/zero: is not a regular file (a device, FIFO or socket); refused unread", 1, 61);
  std::string pipe = dir.write("fifo.json", R"J({"module": "nn.MultiheadAttention(8, 2)", "query": {"file": "q.npy"}, "key": [1, 1, 8], "value": [1, 1, 8]})J");
  check_file_refused(pipe, fifo + ": is not a regular file (a device, FIFO or socket); refused unread", 1, 61);
}

TEST_CASE("bad input: a zip bomb .npz named by a spec is refused at check time, exit 2", "[bad-input]") {
  TempDir dir;
  std::string bomb = std::string(MHACHECK_SOURCE_DIR) + "/tests/npy/bomb_declared.npz";
  std::string spec = dir.write("bomb.json", R"J({"module": "nn.MultiheadAttention(8, 2)", "query": {"file": ")J" + bomb +
                                                R"J(", "key": "x"}, "key": [1, 1, 8], "value": [1, 1, 8]})J");
  check_file_refused(spec,
                     bomb + ": member \"x\": zip entry declares 1048704 uncompressed bytes, but its .npy header "
                            "(10 elements of float64) needs 208",
                     1, 61);
}

TEST_CASE("bad input: run's --max-elements refuses random inputs beyond it, exit 2", "[bad-input]") {
  // 480 query elements; the module's parameters (288) and the outputs, (2, 30, 8) and
  // attn_output_weights (30, 2, 2), are within the limit either way.
  const std::string call = "run --format json --module 'nn.MultiheadAttention(8, 2)' --query '(2, 30, 8)' --random-inputs";
  Run over = run_cli(call + " --max-elements 479");
  CHECK(over.status == 2);
  json diagnostic = json::parse(over.out)["diagnostics"][0];
  CHECK(diagnostic["code"] == "MHA002");
  CHECK(diagnostic["message"] == "query would have more than 479 elements (--max-elements)");
  CHECK(diagnostic["location"]["file"] == "--query");
  CHECK(run_cli(call + " --max-elements 480").status == 0);
  // The default, 2^28. (A tensor whose bytes overflow int64 is refused by the check already, as
  // PyTorch refuses to create it.)
  Run huge = run_cli("run --format json --module 'nn.MultiheadAttention(8, 2)' --query '(1099511627776, 2, 8)' --random-inputs --max-flops 1e30");
  CHECK(huge.status == 2);
  CHECK(json::parse(huge.out)["diagnostics"][0]["message"] == "query would have more than 268435456 elements (--max-elements)");
  CHECK(kDefaultMaxElements == 268435456);
}

TEST_CASE("bad input: run's --max-elements bounds a module's parameters together, before allocating them, exit 2", "[bad-input]") {
  auto refusal = [](const std::string& arguments) {
    Run refused = run_cli("run --format json --random-inputs " + arguments);
    CHECK(refused.status == 2);
    json diagnostic = json::parse(refused.out)["diagnostics"][0];
    CHECK(diagnostic["code"] == "MHA002");
    CHECK(diagnostic["location"]["file"] == "--module");
    return diagnostic["message"].get<std::string>();
  };
  // A 16 TiB embedding table and a 64 TiB kernel under the default limit (they were std::bad_alloc aborts).
  CHECK(refusal("--module 'nn.Embedding(2**30, 2**12)' --arg 'input=(2, 3):int64'") ==
        "the parameters of module \"module\" (nn.Embedding) would have 4398046511104 elements, more than 268435456 (--max-elements)");
  CHECK(refusal("--module 'nn.Conv2d(4096, 4096, 1024)' --arg 'input=(1, 4096, 1024, 1024)'") ==
        "the parameters of module \"module\" (nn.Conv2d) would have 17592186048512 elements, more than 268435456 (--max-elements)");
  // A billion small layers: each tensor is small, the state_dict is not (counted, never listed).
  // An encoder layer has 464 (self_attn 288, linear1 and linear2 72 each, norm1 and norm2 16 each),
  // a decoder layer 768 (a second attention and norm3), each stack's final norm 16.
  CHECK(refusal("--module 'nn.Transformer(d_model=8, nhead=2, num_encoder_layers=10**9, num_decoder_layers=1, dim_feedforward=8)' "
                "--arg 'src=(2, 3, 8)' --arg 'tgt=(2, 3, 8)'") ==
        "the parameters of module \"module\" (nn.Transformer) would have 464000000800 elements, more than 268435456 (--max-elements)");
  CHECK(refusal("--module 'nn.Transformer(d_model=2**20, nhead=1, num_encoder_layers=2**40, num_decoder_layers=1)' "
                "--arg 'src=(1, 1, 1048576)' --arg 'tgt=(1, 1, 1048576)'") ==
        "the parameters of module \"module\" (nn.Transformer) would have more elements than an int64 can count, more than 268435456 (--max-elements)");
  // nn.MultiheadAttention(8, 2) has 288: in_proj_weight (24, 8), in_proj_bias, out_proj's (8, 8) and (8,).
  const std::string attention = "--module 'nn.MultiheadAttention(8, 2)' --query '(1, 1, 8)'";
  CHECK(refusal(attention + " --max-elements 287") ==
        "the parameters of module \"module\" (nn.MultiheadAttention) would have 288 elements, more than 287 (--max-elements)");
  CHECK(run_cli("run --random-inputs " + attention + " --max-elements 288").status == 0);
  // Loaded ones count the same: the whole state_dict, before any member is read.
  const std::string loaded = attention + " --weights examples/run/mha_e8_h2.npz";
  CHECK(refusal(loaded + " --max-elements 287") ==
        "the parameters of module \"module\" (nn.MultiheadAttention) would have 288 elements, more than 287 (--max-elements)");
  CHECK(run_cli("run --random-inputs " + loaded + " --max-elements 288").status == 0);
}

TEST_CASE("bad input: run past a raised --max-elements that memory cannot hold is refused before allocating, not an abort", "[bad-input]") {
  // 2^52 float32 weights (16 PiB) pass --max-elements 2^62; the run's estimated peak (its
  // parameters) cannot be mapped, so nothing is allocated (in the sanitizer build too).
  Run refused = run_cli("run --format json --random-inputs --max-elements 4611686018427387904 --module 'nn.Embedding(2**40, 2**12)' "
                        "--arg 'input=(1,):int64'");
  CHECK(refused.status == 2);
  json diagnostic = json::parse(refused.out)["diagnostics"][0];
  CHECK(diagnostic["code"] == "MHA002");
  CHECK_THAT(diagnostic["message"].get<std::string>(),
             Catch::StartsWith("out of memory: the run would hold about 17179869184 MiB (its tensors' data, parameters and outputs"));
  CHECK(diagnostic["notes"].dump().find("run it on smaller inputs") != std::string::npos);
}

// --- writing: -o, --save, --plot -----------------------------------------------------------

TEST_CASE("bad input: -o to an unwritable path: exact message, exit 2, nothing left behind", "[bad-input]") {
  TempDir dir;
  Run missing = run_cli("check -o " + dir.file("no/such/report.txt") + " examples/seed_example3.json");
  CHECK(missing.status == 2);
  CHECK(missing.out.empty());
  CHECK(missing.err == "mhacheck: " + dir.file("no/such/report.txt") + ": cannot write: No such file or directory\n");
  // The target is a directory: refused before any temporary file is made.
  fs::create_directories(dir.path / "taken" / "inside");
  Run taken = run_cli("check -o " + dir.file("taken") + " examples/seed_example3.json");
  CHECK(taken.status == 2);
  CHECK(taken.err == "mhacheck: " + dir.file("taken") + ": cannot write: Is a directory\n");
  CHECK(dir.names() == std::vector<std::string>{"taken"});
}

TEST_CASE("bad input: a failed write (file size limit) leaves the original report and .npz untouched", "[bad-input]") {
  TempDir dir;
  std::string report = dir.write("report.json", "old report\n");
  std::string saved = dir.write("out.npz", "old npz\n");
  // ulimit -f 0 makes every write to a file fail with EFBIG (SIGXFSZ ignored); the pipe to the
  // test is not a file, so the output still arrives.
  const std::string limited = "trap '' XFSZ; ulimit -f 0; ";
  Run check = run_cli("check -o " + report + " examples/seed_example3.json", limited, true);
  CHECK(check.status == 2);
  CHECK(check.out == "mhacheck: " + report + ": cannot write: write failed: File too large\n");
  // The calls ran and their report is printed; the write failure follows on stderr.
  Run run = run_cli("run --format json examples/run_example.json --save " + saved, limited, true);
  CHECK(run.status == 2);
  CHECK_THAT(run.out, Catch::Contains("\"executed\": true") &&
                          Catch::EndsWith("mhacheck run: " + saved + ": cannot write: write failed: File too large\n"));
  Run plot = run_cli("run --format json examples/run_example.json --plot " + saved, limited, true);
  CHECK(plot.status == 2);
  CHECK_THAT(plot.out, Catch::EndsWith("mhacheck run: " + saved + ": cannot write: write failed: File too large\n"));
  CHECK(read_all(report) == "old report\n");
  CHECK(read_all(saved) == "old npz\n");
  CHECK(dir.names() == std::vector<std::string>{"out.npz", "report.json"});
}
