#include "mhacheck/report_filter.hpp"

#include <algorithm>
#include <stdexcept>

#include "mhacheck/suggest.hpp"

namespace mhacheck {

std::vector<std::string> parse_code_list(const std::vector<std::string>& items) {
  std::vector<std::string> codes;
  for (const std::string& item : items) {
    std::size_t start = 0;
    while (start <= item.size()) {
      std::size_t comma = item.find(',', start);
      std::string word = item.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
      start = comma == std::string::npos ? item.size() + 1 : comma + 1;
      if (word.empty()) continue;
      const DiagInfo* info = find_diag_info(word);
      if (info == nullptr) {
        std::vector<std::string> known;
        for (const DiagInfo& entry : diagnostic_catalogue()) {
          known.push_back(entry.code);
          known.push_back(entry.name);
        }
        throw std::invalid_argument("unknown diagnostic code '" + word + "'" + did_you_mean(word, known));
      }
      codes.push_back(info->code);
    }
  }
  return codes;
}

void apply_filter(Report& report, const DiagnosticFilter& filter) {
  auto listed = [](const std::vector<std::string>& codes, const Diagnostic& d) {
    return std::find(codes.begin(), codes.end(), d.info().code) != codes.end();
  };
  std::erase_if(report.diagnostics, [&](const Diagnostic& d) {
    bool input = d.id == DiagId::InputSyntax || d.id == DiagId::InputSchema || d.id == DiagId::InputReference ||
                 d.id == DiagId::RuntimeLibraryMissing;
    if (input) return false;
    bool dropped = listed(filter.ignore, d) || (!filter.only.empty() && !listed(filter.only, d));
    if (dropped && d.severity() == Severity::Error) {
      // The call still fails; the report says why it shows no error for it.
      for (CallReport& call : report.calls) {
        if (call.id != d.call) continue;
        std::vector<std::string>& hidden = call.hidden_errors;
        if (std::find(hidden.begin(), hidden.end(), d.info().code) == hidden.end()) hidden.push_back(d.info().code);
      }
    }
    return dropped;
  });
}

}  // namespace mhacheck
