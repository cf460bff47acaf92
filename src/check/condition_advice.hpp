// The note a condition (MHA040, "valid only if B == T") carries while it is one: bind the symbols
// or name them alike. One definition, the note's identity: a stage that finds another cause for
// the condition (arguments given in each other's place, MHA083) removes that note, and only it.
#pragma once

#include <string_view>

namespace mhacheck {

inline constexpr std::string_view kBindSymbolsNote =
    "distinct symbols are independent sizes: bind them under \"dims\", or use one name where the sizes must agree";

}  // namespace mhacheck
