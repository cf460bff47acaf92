// The diagnostic catalogue, built from include/mhacheck/diagnostics.def. Each example is a flat
// spec that triggers the code (empty for a code that depends on the machine, not on a spec); tests/check/catalogue_test.cpp checks that it does, and that
// docs/diagnostics.md lists every code.
#include <cctype>
#include <unordered_map>

#include "mhacheck/diagnostic.hpp"

namespace mhacheck {

std::string severity_name(Severity severity) {
  switch (severity) {
    case Severity::Error: return "error";
    case Severity::Warning: return "warning";
    case Severity::Note: return "note";
  }
  return "error";
}

std::string semantics_name(FixSemantics semantics) {
  switch (semantics) {
    case FixSemantics::Unknown: return "unknown";
    case FixSemantics::Consistent: return "consistent";
    case FixSemantics::Suspect: return "suspect";
  }
  return "unknown";
}

#define MHA(q, k, v, extra) \
  R"({"module": {"type": "MultiheadAttention", "embed_dim": 8, "num_heads": 2)" extra R"(}, "query": )" q R"(, "key": )" k R"(, "value": )" v

#define SDPA(q, k, v, extra) \
  R"({"op": "scaled_dot_product_attention", "query": )" q R"(, "key": )" k R"(, "value": )" v extra "}"

const std::vector<DiagInfo>& diagnostic_catalogue() {
  static const std::vector<DiagInfo> catalogue = {
#define MHACHECK_DIAG(id, code, severity, name, title, explanation, example, needs_run) \
  {DiagId::id, code, Severity::severity, name, title, explanation, example, needs_run},
#include "mhacheck/diagnostics.def"
#undef MHACHECK_DIAG
  };
  return catalogue;
}

#undef MHA
#undef SDPA

const DiagInfo& diag_info(DiagId id) { return diagnostic_catalogue()[static_cast<std::size_t>(id)]; }

const DiagInfo* find_diag_info(const std::string& code) {
  using Index = std::unordered_map<std::string, const DiagInfo*>;
  static const std::pair<Index, Index> by_code_and_name = [] {
    std::pair<Index, Index> index;
    for (const DiagInfo& info : diagnostic_catalogue()) {
      index.first.emplace(info.code, &info);
      index.second.emplace(info.name, &info);
    }
    return index;
  }();
  std::string upper = code;  // codes in any case, names as written
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  auto found = by_code_and_name.first.find(upper);
  if (found != by_code_and_name.first.end()) return found->second;
  found = by_code_and_name.second.find(code);
  return found == by_code_and_name.second.end() ? nullptr : found->second;
}

}  // namespace mhacheck
