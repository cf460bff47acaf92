// The corpus of tests/corpus/: silent or misleading attention bugs modelled on real PyTorch
// issues (each cites its source), with the primary diagnostic and the first fix a user must
// see; and correct real-world configurations that must not warn.
#include <catch2/catch.hpp>

#include <filesystem>

#include <nlohmann/json.hpp>

#include "mhacheck/render.hpp"
#include "test_support.hpp"

using namespace mhacheck;

namespace {

nlohmann::json corpus(const std::string& name) {
  return nlohmann::json::parse(test::read_file(std::string(MHACHECK_SOURCE_DIR) + "/tests/corpus/" + name));
}

// The diagnostic a user reads first: the first error, else the first warning.
const Diagnostic* primary(const Report& report) {
  for (Severity severity : {Severity::Error, Severity::Warning}) {
    for (const Diagnostic& diagnostic : report.diagnostics) {
      if (diagnostic.severity() == severity) return &diagnostic;
    }
  }
  return nullptr;
}

}  // namespace

TEST_CASE("corpus: every silent or misleading case gets its primary diagnostic and first fix", "[corpus]") {
  nlohmann::json cases = corpus("silent.json");
  CHECK(cases.size() >= 40);
  for (const nlohmann::json& entry : cases) {
    INFO(entry.at("name").get<std::string>());
    REQUIRE(entry.at("source").get<std::string>().rfind("https://", 0) == 0);
    Report report = test::check_text(entry.at("spec").dump());
    REQUIRE_FALSE(report.input_error);
    const Diagnostic* first = primary(report);
    REQUIRE(first != nullptr);
    CHECK(std::string(first->info().code) == entry.at("primary").get<std::string>());
    CHECK(report.ok() == (entry.at("primary_severity").get<std::string>() != "error"));
    CHECK(severity_name(first->severity()) == entry.at("primary_severity").get<std::string>());
    if (entry.contains("first_fix")) {
      REQUIRE_FALSE(first->fixes.empty());
      const Fix& fix = first->fixes.front();
      INFO(fix_text(fix));
      CHECK(fix.description.find(entry.at("first_fix").get<std::string>()) != std::string::npos);
      CHECK(fix.verified);
      CHECK(fix.valid());
      CHECK(fix.semantics != FixSemantics::Suspect);
    }
    for (const std::string& never : entry.value("never_first", std::vector<std::string>{})) {
      if (first->fixes.empty()) continue;
      CHECK(first->fixes.front().description.find(never) == std::string::npos);
    }
  }
}

namespace {

// Every configuration of a correct.json gets no error and no warning (notes are allowed).
void check_no_warning_on(const nlohmann::json& cases) {
  for (const nlohmann::json& entry : cases) {
    INFO(entry.at("name").get<std::string>());
    Report report = test::check_text(entry.at("spec").dump());
    REQUIRE_FALSE(report.input_error);
    for (const Diagnostic& diagnostic : report.diagnostics) {
      INFO(diagnostic.info().code << " " << diagnostic.message);
      CHECK(diagnostic.severity() == Severity::Note);
    }
  }
}

}  // namespace

TEST_CASE("corpus: correct real-world configurations get no error and no warning", "[corpus]") {
  nlohmann::json cases = corpus("correct.json");
  CHECK(cases.size() >= 15);
  check_no_warning_on(cases);
}

// The held-out sets' silent cases are scored by score.py (their first fixes are a measure, not a
// contract), but a false alarm on any of their correct configurations is a regression.
TEST_CASE("corpus: every held-out set's correct configurations get no error and no warning", "[corpus]") {
  const std::filesystem::path root = std::filesystem::path(MHACHECK_SOURCE_DIR) / "tests" / "corpus";
  int sets = 0;
  for (const auto& entry : std::filesystem::directory_iterator(root)) {
    if (!entry.is_directory() || entry.path().filename().string().rfind("heldout", 0) != 0) continue;
    INFO(entry.path().filename().string());
    ++sets;
    check_no_warning_on(nlohmann::json::parse(test::read_file((entry.path() / "correct.json").string())));
  }
  CHECK(sets >= 10);
}

namespace {

// A shape mhacheck reports, with the sizes gen_pytorch_verdicts.py gave its unbound symbols.
nlohmann::json concrete(const Shape& shape, const nlohmann::json& symbols) {
  nlohmann::json sizes = nlohmann::json::array();
  for (const DimExpr& dim : shape) {
    if (dim.is_constant()) {
      sizes.push_back(dim.offset);
    } else {
      std::int64_t product = dim.coeff;
      for (const std::string& factor : dim.factors()) {
        REQUIRE(symbols.contains(factor));
        product *= symbols.at(factor).get<std::int64_t>();
      }
      sizes.push_back(product + dim.offset);
    }
  }
  return sizes;
}

}  // namespace

// tests/corpus/pytorch_verdicts.json: the corpus run in real PyTorch by gen_pytorch_verdicts.py.
TEST_CASE("corpus: PyTorch confirms every silent bug and every first fix", "[corpus]") {
  nlohmann::json verdicts = corpus("pytorch_verdicts.json");
  nlohmann::json cases = corpus("silent.json");
  REQUIRE(verdicts.at("silent").size() == cases.size());
  int misbehaving = 0, fixes_run = 0, matching = 0;
  for (std::size_t i = 0; i < cases.size(); ++i) {
    const nlohmann::json& entry = cases[i];
    const nlohmann::json& verdict = verdicts.at("silent")[i];
    INFO(entry.at("name").get<std::string>());
    REQUIRE(verdict.at("name") == entry.at("name"));
    if (entry.at("primary_severity") == "error" || entry.at("primary") == "MHA080") {
      // mhacheck's error is PyTorch's: no false alarm (a call valid only if B == T runs with B != T).
      // MHA080 warns that the call is valid only if two symbols are equal: they run unequal.
      CHECK(verdict.at("pytorch_raises").get<bool>());
    } else {
      // Silent: PyTorch accepts it, and it really computes the wrong thing.
      REQUIRE_FALSE(verdict.at("pytorch_raises").get<bool>());
      bool leaks = verdict.value("leaks", nlohmann::json()).is_boolean() && verdict.at("leaks").get<bool>();
      bool differs = verdict.value("differs_from_intended", false);
      CHECK((leaks || differs));
      misbehaving += leaks || differs;
    }
    Report report = test::check_text(entry.at("spec").dump());
    const Diagnostic* first = primary(report);
    REQUIRE(first != nullptr);
    if (first->fixes.empty()) {
      CHECK_FALSE(verdict.contains("first_fix"));
      continue;
    }
    // The fixture ran this very fix: regenerate it when the first fix changes.
    REQUIRE(verdict.contains("first_fix"));
    const nlohmann::json& fixed = verdict.at("first_fix");
    const Fix& fix = first->fixes.front();
    CHECK(fixed.at("patch") == fix.patch);
    CHECK(fixed.at("description") == fix.description);
    // The fix's text names an expression that, run in PyTorch on the original tensors, gives what the patch declares.
    CHECK_FALSE(fixed.at("expression").is_null());
    if (!fix.valid()) continue;
    ++fixes_run;
    REQUIRE_FALSE(fixed.at("pytorch_raises").get<bool>());
    CHECK_FALSE(fixed.at("leaks") == true);
    // A case that says what it was meant to compute: the fix computes exactly that (null: the
    // fix's outputs are in another layout, none to compare).
    if (entry.contains("intended")) {
      CHECK(fixed.at("matches_intended") != false);
      matching += fixed.at("matches_intended") == true;
    }
    for (std::size_t k = 0; k < fix.outputs.size(); ++k) {
      std::string key = first->call + "." + std::to_string(k);
      INFO(key);
      REQUIRE(fixed.at("outputs").contains(key));
      CHECK(fixed.at("outputs").at(key) == concrete(fix.outputs[k].shape, verdict.at("symbols")));
    }
  }
  CHECK(misbehaving >= 16);
  CHECK(fixes_run >= 30);
  CHECK(matching >= 6);
}

TEST_CASE("corpus: PyTorch runs every correct configuration without mixing batch entries", "[corpus]") {
  nlohmann::json verdicts = corpus("pytorch_verdicts.json");
  nlohmann::json cases = corpus("correct.json");
  REQUIRE(verdicts.at("correct").size() == cases.size());
  for (std::size_t i = 0; i < cases.size(); ++i) {
    INFO(cases[i].at("name").get<std::string>());
    const nlohmann::json& verdict = verdicts.at("correct")[i];
    REQUIRE(verdict.at("name") == cases[i].at("name"));
    CHECK_FALSE(verdict.at("pytorch_raises").get<bool>());
    // null: a batch of one entry, which nothing can mix.
    CHECK(verdict.at("leaks") != true);
  }
}
