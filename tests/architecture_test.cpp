// Keeps docs/architecture.md (and the operator list of docs/spec-format.md) honest: the tree it
// draws is the real one, every path it names exists, and the operator table, the rule files of
// src/ops/ and the docs name the same operators. A file added, moved or removed without the doc
// fails here.
#include <catch2/catch.hpp>

#include <cctype>
#include <filesystem>
#include <regex>
#include <set>
#include <string>

#include "operators.hpp"
#include "test_support.hpp"

using namespace mhacheck;
namespace fs = std::filesystem;

namespace {

const fs::path kSource = MHACHECK_SOURCE_DIR;

std::string architecture() { return test::read_file((kSource / "docs/architecture.md").string()); }

// The files of src/ (sources and headers), relative to src/.
std::vector<std::string> source_files() {
  std::vector<std::string> files;
  for (const auto& entry : fs::recursive_directory_iterator(kSource / "src")) {
    std::string extension = entry.path().extension().string();
    if (entry.is_regular_file() && (extension == ".cpp" || extension == ".hpp")) {
      files.push_back(fs::relative(entry.path(), kSource / "src").generic_string());
    }
  }
  return files;
}

// `word` in `text` as a whole word: "TransformerDecoder" is not found in "TransformerDecoderLayer".
bool names_word(const std::string& text, const std::string& word) {
  auto word_char = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; };
  for (std::size_t at = text.find(word); at != std::string::npos; at = text.find(word, at + 1)) {
    bool starts = at == 0 || !word_char(text[at - 1]);
    bool ends = at + word.size() == text.size() || !word_char(text[at + word.size()]);
    if (starts && ends) return true;
  }
  return false;
}

}  // namespace

TEST_CASE("architecture.md: every source file is in the tree, by its folder", "[architecture]") {
  std::string doc = architecture();
  std::vector<std::string> files = source_files();
  REQUIRE(files.size() > 50);
  for (const std::string& file : files) {
    // "check/call_context.hpp/.cpp" names both files of a pair.
    std::string stem = file.substr(0, file.rfind('.') + 1);
    INFO(file);
    CHECK(doc.find(stem) != std::string::npos);
  }
}

TEST_CASE("architecture.md: every path it names exists", "[architecture]") {
  std::string doc = architecture();
  // A path with a folder and an extension: "src/check/propagate.cpp", "ops/registry.hpp",
  // "tests/ops/NAME_test.cpp" (NAME is a placeholder of the walk-through).
  std::regex path_pattern(R"(\b((?:[a-z_]+/)+[A-Za-z_0-9.-]+\.(?:cpp|hpp|def|md|py|sh|json|cmake)))");
  std::set<std::string> checked;
  for (std::sregex_iterator it(doc.begin(), doc.end(), path_pattern), end; it != end; ++it) {
    std::string path = (*it)[1];
    // PyTorch's own files ("torch/_tensor_str.py", ".../ATen/native/transformers/attention.cpp").
    bool pytorch = path.rfind("torch/", 0) == 0 || (it->position(1) > 0 && doc[it->position(1) - 1] == '/');
    if (pytorch || path.find("NAME") != std::string::npos || !checked.insert(path).second) continue;
    INFO(path);
    // Relative to the repository, to src/, to include/mhacheck/ or to python/mhacheck/, as the
    // tree draws it.
    bool exists = fs::exists(kSource / path) || fs::exists(kSource / "src" / path) || fs::exists(kSource / "include/mhacheck" / path) ||
                  fs::exists(kSource / "python/mhacheck" / path) || fs::exists(kSource / "docs" / path);
    CHECK(exists);
  }
  CHECK(checked.size() > 40);
}

TEST_CASE("architecture.md: every public header is in the tree", "[architecture]") {
  std::string doc = architecture();
  for (const auto& entry : fs::directory_iterator(kSource / "include/mhacheck")) {
    std::string name = entry.path().filename().string();
    INFO(name);
    CHECK(doc.find("  " + name) != std::string::npos);
  }
}

TEST_CASE("the operator table, src/ops/ and the docs name the same operators", "[architecture]") {
  std::string table = test::read_file((kSource / "src/operators.cpp").string());
  std::string spec_format = test::read_file((kSource / "docs/spec-format.md").string());
  // Every rule defined in src/ops/ is some row's rule, and every file there holds a rule or is
  // a helper the tree describes.
  std::regex rule_pattern(R"(void (infer_[a-z_]+)\(CallContext& ctx\))");
  std::string doc = architecture();
  for (const auto& entry : fs::directory_iterator(kSource / "src/ops")) {
    if (entry.path().extension() != ".cpp") continue;
    std::string text = test::read_file(entry.path().string());
    std::string file = "ops/" + entry.path().stem().string() + ".";  // "ops/dim_arguments.hpp/.cpp" names it too
    INFO(file);
    bool has_rule = false;
    for (std::sregex_iterator it(text.begin(), text.end(), rule_pattern), end; it != end; ++it) {
      has_rule = true;
      INFO((*it)[1].str());
      CHECK(table.find(", " + (*it)[1].str() + ",") != std::string::npos);
    }
    if (!has_rule) CHECK(doc.find(file) != std::string::npos);
  }
  // Every row is documented for users: a module by its type, a function by its name in backquotes.
  for (const OperatorDef& row : operator_table()) {
    INFO(row.display);
    if (row.is_module()) {
      CHECK(names_word(spec_format, row.name()));
    } else {
      CHECK((spec_format.find("`" + row.name() + "`") != std::string::npos || spec_format.find("`" + row.display + "`") != std::string::npos));
    }
  }
}
