// Helpers for the glue-operator tests: a flat spec calling one function, and its single output.
#pragma once

#include <string>

#include <catch2/catch.hpp>

#include "test_support.hpp"

namespace mhacheck::test {

inline std::string op_call(const std::string& op, const std::string& arguments) {
  return R"({"op": ")" + op + R"(", )" + arguments + "}";
}

inline std::string single_output(const Report& report) {
  REQUIRE(report.calls.at(0).outputs.size() == 1);
  return tuple_str(report.calls[0].outputs[0].shape);
}

// Whether the diagnostic offers the fix so described, verified to make the spec valid.
inline bool has_valid_fix(const Diagnostic& diagnostic, const std::string& description) {
  for (const Fix& fix : diagnostic.fixes) {
    if (fix.description == description) return fix.valid();
  }
  return false;
}

inline std::string raised_message(const Report& report) {
  const Diagnostic* first = raised(report);
  REQUIRE(first != nullptr);
  return first->pytorch_error->type + ": " + first->pytorch_error->message;
}

}  // namespace mhacheck::test
