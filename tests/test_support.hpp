// Helpers shared by the tests: checking spec text, finding diagnostics.
#pragma once

#include <string>

#include "mhacheck/check.hpp"
#include "mhacheck/json_source.hpp"

namespace mhacheck::test {

JsonDocument document_from(const std::string& text, const std::string& name = "test.json");
Report check_text(const std::string& text, bool verify_fixes = true);
// The first diagnostic with this code, or nullptr.
const Diagnostic* find(const Report& report, const std::string& code);
// The first error whose PyTorch exception is raised first, or nullptr.
const Diagnostic* raised(const Report& report);
std::string read_file(const std::string& path);

}  // namespace mhacheck::test
