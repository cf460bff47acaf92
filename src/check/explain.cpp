// `mhacheck explain TEXT`: finds the last message in TEXT that a row of the message table
// (pytorch_messages.cpp) matches, reads its numbers under each of the row's causes, and ranks
// the causes: the row's order, raised by what --module and the traceback's other lines say,
// lowered where the numbers fit a cause only in an uncommon layout.
#include "mhacheck/explain.hpp"

#include <algorithm>
#include <cctype>
#include <cstring>
#include <regex>
#include <stdexcept>

#include <fmt/format.h>

#include "mhacheck/render.hpp"
#include "pytorch_messages.hpp"

namespace mhacheck {

namespace {

// A wording compiled: the regex and its placeholders' names in order.
struct CompiledWording {
  const MessagePattern* pattern;
  const MessageWording* wording;
  std::regex regex;
  std::vector<std::string> names;
};

std::string escape_regex(char c) {
  static const std::string special = "\\^$.|?*+()[]{}";
  return special.find(c) == std::string::npos ? std::string(1, c) : std::string("\\") + c;
}

CompiledWording compile(const MessagePattern& pattern, const MessageWording& wording) {
  CompiledWording compiled{&pattern, &wording, {}, {}};
  std::string text = wording.text, regex = R"([ \t]*["']?)";
  for (std::size_t i = 0; i < text.size();) {
    if (text[i] == '{') {
      std::size_t close = text.find('}', i);
      std::string placeholder = text.substr(i + 1, close - i - 1);
      std::size_t colon = placeholder.find(':');
      std::string kind = colon == std::string::npos ? "int" : placeholder.substr(colon + 1);
      compiled.names.push_back(placeholder.substr(0, colon));
      if (kind == "int") regex += R"((-?\d+))";
      else if (kind == "list") regex += R"(((?:-?\d+(?:,\s*-?\d+)*)?))";
      else if (kind == "word") regex += R"(([\w.:]+))";
      else if (kind == "text") regex += R"(([^\n]+?))";
      else if (kind == "rest") regex += R"(([^\n]*))";
      else throw std::logic_error("unknown placeholder kind in the message table: " + kind);
      i = close + 1;
    } else if (text[i] == ' ') {
      while (i < text.size() && text[i] == ' ') ++i;
      regex += R"(\s+)";
    } else {
      regex += escape_regex(text[i++]);
    }
  }
  compiled.regex = std::regex(regex, std::regex::ECMAScript | std::regex::optimize);
  return compiled;
}

const std::vector<CompiledWording>& compiled_table() {
  static const std::vector<CompiledWording> table = [] {
    std::vector<CompiledWording> compiled;
    for (const MessagePattern& pattern : pytorch_message_table()) {
      for (const MessageWording& wording : pattern.wordings) compiled.push_back(compile(pattern, wording));
    }
    return compiled;
  }();
  return table;
}

// Where a message may start: each line's start, and just after each "...Error:",
// "...Exception:" or "...Warning:" on a line (a traceback's last line, a warnings line after
// "file.py:12:", pytest's "E   " lines). Latest first: the last exception is the one raised.
struct Start {
  std::size_t position;
  std::string exception;  // the type named before it, if any
};

bool word_char(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.'; }

std::vector<Start> message_starts(const std::string& text) {
  std::vector<Start> starts;
  std::size_t line = 0;
  while (line <= text.size()) {
    std::size_t end = text.find('\n', line);
    if (end == std::string::npos) end = text.size();
    starts.push_back({line, ""});
    for (const char* suffix : {"Error:", "Exception:", "Warning:"}) {
      for (std::size_t at = text.find(suffix, line); at != std::string::npos && at < end; at = text.find(suffix, at + 1)) {
        std::size_t colon = at + std::char_traits<char>::length(suffix);
        std::size_t word = at;
        while (word > line && word_char(text[word - 1])) --word;
        std::string name = text.substr(word, colon - 1 - word);
        if (std::size_t dot = name.rfind('.'); dot != std::string::npos) name = name.substr(dot + 1);
        starts.push_back({colon, name});
      }
    }
    line = end + 1;
  }
  std::stable_sort(starts.begin(), starts.end(), [](const Start& a, const Start& b) { return a.position > b.position; });
  return starts;
}

std::string expand(const char* text, const Captures& captures) {
  std::string out;
  for (const char* p = text; *p != '\0';) {
    if (*p == '{') {
      const char* close = std::strchr(p, '}');
      out += captures.at(std::string(p + 1, close));
      p = close + 1;
    } else {
      out += *p++;
    }
  }
  return out;
}

ModuleHints module_hints(const ExplainContext& context) {
  ModuleHints hints;
  if (!context.module || !context.module->is_object()) return hints;
  const nlohmann::json& module = *context.module;
  hints.type = module.value("type", "");
  auto size = [&](const char* name, const char* layer_name) -> std::optional<std::int64_t> {
    for (const char* key : {name, layer_name}) {
      if (module.contains(key) && module[key].is_number_integer()) return module[key].get<std::int64_t>();
    }
    return std::nullopt;
  };
  hints.embed_dim = size("embed_dim", "d_model");
  hints.num_heads = size("num_heads", "nhead");
  return hints;
}

bool contains(const std::vector<std::string>& list, const std::string& item) { return std::find(list.begin(), list.end(), item) != list.end(); }

struct Candidate {
  ExplainedCause cause;
  int module_match = 0;  // 1: the cause is the given module's; 0: a torch function, or no --module
  bool frame_hit = false;
  bool uncommon = false;  // the numbers fit the cause only in an uncommon layout
};

// The causes that read the numbers, in the row's order raised by --module and the traceback;
// `narrowed`: only those of the module (and of torch functions).
std::vector<Candidate> rank_causes(const std::vector<MessageCause>& causes, const Captures& captures, const ModuleHints& hints,
                                   const std::string& rest, bool narrowed) {
  std::vector<Candidate> candidates;
  for (const MessageCause& cause : causes) {
    std::vector<Reading> readings;
    try {
      readings = cause.read ? cause.read(captures, hints) : std::vector<Reading>{Reading{expand(cause.meaning, captures), {}}};
    } catch (const std::out_of_range&) {
      continue;  // numbers beyond int64: no reading of them holds
    }
    if (readings.empty()) continue;
    if (!cause.read) {
      for (const char* fix : cause.fixes) readings.front().fixes.push_back(expand(fix, captures));
    }
    if (narrowed && !cause.modules.empty() && !contains(cause.modules, hints.type)) continue;
    Candidate candidate;
    candidate.cause.id = cause.id;
    candidate.cause.message = readings.front().meaning;
    candidate.cause.fixes = readings.front().fixes;
    for (std::size_t i = 1; i < readings.size() && i < 3; ++i) candidate.cause.readings.push_back(readings[i].meaning);
    candidate.module_match = narrowed && contains(cause.modules, hints.type) ? 1 : 0;
    candidate.uncommon = readings.front().uncommon;
    candidate.frame_hit = std::any_of(cause.frames.begin(), cause.frames.end(),
                                      [&](const std::string& word) { return rest.find(word) != std::string::npos; });
    candidates.push_back(std::move(candidate));
  }
  std::stable_sort(candidates.begin(), candidates.end(), [](const Candidate& a, const Candidate& b) {
    if (a.module_match != b.module_match) return a.module_match > b.module_match;
    if (a.frame_hit != b.frame_hit) return a.frame_hit;
    return !a.uncommon && b.uncommon;
  });
  return candidates;
}

}  // namespace

std::optional<Explanation> explain_pytorch_error(const std::string& text, const ExplainContext& context) {
  // A message spans at most a few lines; the regexes see a bounded window of the text.
  constexpr std::size_t kWindow = 4096;
  for (const Start& start : message_starts(text)) {
    const CompiledWording* best = nullptr;
    std::smatch best_match;
    std::string window = text.substr(start.position, kWindow);
    std::smatch match;
    for (const CompiledWording& compiled : compiled_table()) {
      if (!std::regex_search(window, match, compiled.regex, std::regex_constants::match_continuous)) continue;
      if (best == nullptr || match.length(0) > best_match.length(0)) {
        best = &compiled;
        best_match = match;
      }
    }
    if (best == nullptr) continue;
    Captures captures;
    for (std::size_t i = 0; i < best->names.size(); ++i) captures[best->names[i]] = best_match.str(i + 1);
    ModuleHints hints = module_hints(context);
    // The traceback's other lines: frames and source lines that point to a cause.
    std::string rest = text.substr(0, start.position) + text.substr(std::min(text.size(), start.position + best_match.length(0)));

    bool narrowed = !hints.type.empty();
    std::vector<Candidate> candidates = rank_causes(best->pattern->causes, captures, hints, rest, narrowed);
    if (candidates.empty() && narrowed) {
      narrowed = false;  // the message, but none of its causes, fits the module: say so and list them all
      candidates = rank_causes(best->pattern->causes, captures, hints, rest, narrowed);
    }
    if (candidates.empty()) continue;
    Explanation explanation;
    explanation.error_type = start.exception;
    explanation.message = best_match.str(0);
    explanation.message.erase(0, explanation.message.find_first_not_of(" \t\"'"));
    explanation.wording = best->wording->version;
    for (Candidate& candidate : candidates) {
      candidate.cause.rank = static_cast<int>(explanation.causes.size()) + 1;
      explanation.causes.push_back(std::move(candidate.cause));
    }
    if (narrowed) explanation.notes.push_back(fmt::format("causes narrowed to those of {} and of torch functions", hints.type));
    if (!narrowed && !hints.type.empty()) {
      explanation.notes.push_back(fmt::format("{} raises this message under none of these causes: the error comes from another call", hints.type));
    }
    return explanation;
  }
  return std::nullopt;
}

void narrow_by_report(Explanation& explanation, const Report& report) {
  if (report.input_error) {
    explanation.notes.push_back("the call could not be rebuilt: " + report.diagnostics.front().message);
    return;
  }
  const Diagnostic* confirming = nullptr;
  for (const Diagnostic& diagnostic : report.diagnostics) {
    if (!diagnostic.pytorch_error || !diagnostic.pytorch_error->raised_first) continue;
    std::optional<Explanation> same = explain_pytorch_error(diagnostic.pytorch_error->message);
    if (same && same->message == explanation.message) confirming = &diagnostic;
    if (confirming == nullptr && diagnostic.severity() == Severity::Error) {
      auto listed = std::find_if(explanation.causes.begin(), explanation.causes.end(),
                                 [&](const ExplainedCause& cause) { return cause.id == diagnostic.id; });
      if (listed != explanation.causes.end()) confirming = &diagnostic;
    }
  }
  if (confirming == nullptr) {
    explanation.notes.push_back(report.ok() ? "the call as given checks valid: the error comes from another call, or from other shapes"
                                            : "checking the call as given finds other errors (mhacheck check shows them)");
    return;
  }
  auto listed = std::find_if(explanation.causes.begin(), explanation.causes.end(),
                             [&](const ExplainedCause& cause) { return cause.id == confirming->id; });
  ExplainedCause cause;
  if (listed != explanation.causes.end()) {
    cause = *listed;
    explanation.causes.erase(listed);
  }
  cause.id = confirming->id;
  cause.confirmed = true;
  cause.readings.insert(cause.readings.begin(), cause.message);
  cause.message = confirming->message;
  std::vector<std::string> fixes;
  for (const Fix& fix : confirming->fixes) fixes.push_back(fix.verified ? fix_text(fix) + " [verified]" : fix.description);
  if (!fixes.empty()) cause.fixes = fixes;
  explanation.causes.insert(explanation.causes.begin(), cause);
  for (std::size_t i = 0; i < explanation.causes.size(); ++i) explanation.causes[i].rank = static_cast<int>(i) + 1;
  explanation.notes.push_back("checking the call reproduces the error: " + std::string(diag_info(confirming->id).code));
}

std::vector<std::string> predicted_messages(DiagId id) {
  std::vector<std::string> messages;
  for (const MessagePattern& pattern : pytorch_message_table()) {
    bool caused = std::any_of(pattern.causes.begin(), pattern.causes.end(), [&](const MessageCause& cause) { return cause.id == id; });
    if (!caused) continue;
    for (const MessageWording& wording : pattern.wordings) {
      std::string text = wording.text;
      for (std::size_t open = text.find('{'); open != std::string::npos; open = text.find('{', open + 1)) {
        std::size_t colon = text.find(':', open), close = text.find('}', open);
        if (colon < close) text.erase(colon, close - colon);
      }
      messages.push_back(fmt::format("`{}: {}` ({})", wording.exception ? wording.exception : pattern.exception, text, wording.version));
    }
  }
  return messages;
}

std::string render_explanation_text(const Explanation& explanation) {
  std::string text = fmt::format("{}{}\n", explanation.error_type.empty() ? "" : explanation.error_type + ": ", explanation.message);
  text += fmt::format("  recognised: a PyTorch {} message; {} possible cause{}, most likely first\n", explanation.wording,
                      explanation.causes.size(), explanation.causes.size() == 1 ? "" : "s");
  for (const ExplainedCause& cause : explanation.causes) {
    const DiagInfo& info = diag_info(cause.id);
    text += fmt::format("\n{}. {} {}: {}{}\n", cause.rank, info.code, info.name, info.title, cause.confirmed ? " (confirmed by checking the call)" : "");
    text += fmt::format("   {}\n", cause.message);
    for (const std::string& reading : cause.readings) text += fmt::format("   or: {}\n", reading);
    for (const std::string& fix : cause.fixes) text += fmt::format("   fix: {}\n", fix);
  }
  for (const std::string& note : explanation.notes) text += fmt::format("\nnote: {}\n", note);
  text += fmt::format("\nmhacheck explain {} describes a code in full\n", diag_info(explanation.causes.front().id).code);
  return text;
}

nlohmann::json render_explanation_json(const Explanation& explanation) {
  nlohmann::json causes = nlohmann::json::array();
  for (const ExplainedCause& cause : explanation.causes) {
    const DiagInfo& info = diag_info(cause.id);
    causes.push_back({{"code", info.code},
                      {"name", info.name},
                      {"rank", cause.rank},
                      {"title", info.title},
                      {"message", cause.message},
                      {"readings", cause.readings},
                      {"fixes", cause.fixes},
                      {"confirmed", cause.confirmed}});
  }
  return {{"schema_version", 1},
          {"error", {{"type", explanation.error_type.empty() ? nlohmann::json() : nlohmann::json(explanation.error_type)},
                     {"message", explanation.message},
                     {"wording", explanation.wording}}},
          {"causes", causes},
          {"notes", explanation.notes}};
}

}  // namespace mhacheck
