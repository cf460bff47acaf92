// The fixtures generated from real PyTorch (tests/pytorch/*_cases.json): every case's spec
// checked and compared with PyTorch's verdict, the loop the agreement and layout tests share.
#pragma once

#include <functional>
#include <string>

#include <nlohmann/json.hpp>

#include "mhacheck/check.hpp"

namespace mhacheck::test {

// tests/pytorch/<file>, parsed.
nlohmann::json load_fixture(const std::string& file);

// How a case's report (of a spec mhacheck accepted) differs from what PyTorch did; empty when
// they agree.
using CaseMismatch = std::function<std::string(const nlohmann::json& fixture_case, const Report& report)>;

// How the report's verdict differs from PyTorch's, `expect` as the fixtures write it ({"ok": true}, or
// {"ok": false, "error": {"type", "message"}} with the failing "call" in multi-call fixtures): an
// error PyTorch does not raise, none where it raises, or another first exception (its type,
// message and call). Empty when the verdicts agree; the outputs are the caller's to compare.
std::string verdict_mismatch(const nlohmann::json& expect, const Report& report);

// Checks each case's "spec" (fixes unverified, as the fixtures record no fixes) and fails with
// up to 40 of the disagreements: a spec rejected, or what `mismatch` finds.
void check_fixture_cases(const nlohmann::json& cases, const CaseMismatch& mismatch);

}  // namespace mhacheck::test
