// Helpers shared by the tests: checking spec text, finding diagnostics.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "mhacheck/check.hpp"
#include "mhacheck/json_source.hpp"

namespace mhacheck::test {

JsonDocument document_from(const std::string& text, const std::string& name = "test.json");
Report check_text(const std::string& text, bool verify_fixes = true);
// The first diagnostic with this code, or nullptr.
const Diagnostic* find(const Report& report, const std::string& code);
// The first fix of the first diagnostic with this code, or nullptr when there is none.
const Fix* first_fix(const Report& report, const std::string& code);
// The first error whose PyTorch exception is raised first, or nullptr.
const Diagnostic* raised(const Report& report);
std::string read_file(const std::string& path);
// Checks examples/<name>, named as in a run from the source directory.
Report check_example(const std::string& name);
// Checks the catalogue's example spec of `id`, as if it were the file `file`.
Report check_catalogue_example(DiagId id, const std::string& file = "spec.json");

// A fresh directory under the system's temporary folder, removed with its contents when the
// test ends.
struct TempDir {
  std::filesystem::path path;
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  std::string file(const std::string& name) const { return (path / name).string(); }
  std::string write(const std::string& name, const std::string& bytes) const;
  std::vector<std::string> names() const;  // sorted
};

// The mhacheck binary run through /bin/sh from the source directory.
struct CliRun {
  int status;
  std::string out;
  std::string err;  // empty when merged into out
};
// `prefix` goes before the binary (a pipe, ulimit); `merge` sends stderr into out.
CliRun run_cli(const std::string& args, const std::string& prefix = "", bool merge = false);

}  // namespace mhacheck::test
