// Mask values as a function of the offset j - i, followed call by call (mask_pattern.hpp).
#include "mask_pattern.hpp"

#include <algorithm>
#include <array>
#include <map>
#include <cctype>
#include <cmath>
#include <functional>

#include "dim_origin.hpp"
#include "mask_origin.hpp"

namespace mhacheck {

namespace {

using Piece = MaskPattern::Piece;
constexpr std::int64_t kStart = MaskPattern::kNoLowerEnd;
constexpr double kInf = std::numeric_limits<double>::infinity();
// A spec's graph has no cycles; the bound keeps a long chain's walk short.
constexpr int kMaxSteps = 32;

bool same_value(double a, double b) { return a == b || (std::isnan(a) && std::isnan(b)); }

// Adjacent pieces of one value merged, so that a constant pattern has one piece.
void normalize(MaskPattern& pattern) {
  std::vector<Piece> merged;
  for (const Piece& piece : pattern.pieces) {
    if (merged.empty() || !same_value(merged.back().value, piece.value)) merged.push_back(piece);
  }
  pattern.pieces = std::move(merged);
}

MaskPattern constant(double value, bool boolean, int rank) {
  MaskPattern pattern;
  pattern.pieces = {{kStart, value}};
  pattern.boolean = boolean;
  pattern.rank = rank;
  return pattern;
}

MaskPattern map_values(MaskPattern pattern, const std::function<double(double)>& f) {
  for (Piece& piece : pattern.pieces) piece.value = f(piece.value);
  normalize(pattern);
  return pattern;
}

// Two patterns combined value by value, over the union of their breakpoints.
MaskPattern combine(const MaskPattern& a, const MaskPattern& b, const std::function<double(double, double)>& f) {
  std::vector<std::int64_t> starts;
  for (const MaskPattern* each : {&a, &b}) {
    for (const Piece& piece : each->pieces) starts.push_back(piece.start);
  }
  std::sort(starts.begin(), starts.end());
  starts.erase(std::unique(starts.begin(), starts.end()), starts.end());
  MaskPattern out;
  out.rank = std::max(a.rank, b.rank);
  for (std::int64_t start : starts) out.pieces.push_back({start, f(a.at(start), b.at(start))});
  out.triangles = a.triangles;
  out.triangles.insert(out.triangles.end(), b.triangles.begin(), b.triangles.end());
  out.joins = a.joins;
  out.joins.insert(out.joins.end(), b.joins.begin(), b.joins.end());
  out.matrix = a.rank >= b.rank && !a.matrix.empty() ? a.matrix : b.matrix;
  normalize(out);
  return out;
}

// The value x -> f(-x): the matrix transposed.
MaskPattern reflected(const MaskPattern& pattern) {
  MaskPattern out = pattern;
  out.pieces.clear();
  // Piece k covers [start_k, start_{k+1} - 1]; reflected it covers [1 - start_{k+1}, -start_k].
  for (std::size_t k = pattern.pieces.size(); k-- > 0;) {
    std::int64_t start = k + 1 < pattern.pieces.size() ? 1 - pattern.pieces[k + 1].start : kStart;
    out.pieces.push_back({start, pattern.pieces[k].value});
  }
  if (out.matrix.size() == 2) std::swap(out.matrix[0], out.matrix[1]);
  normalize(out);
  return out;
}

// tril (keep offsets <= diagonal) or triu (keep offsets >= diagonal); the rest becomes 0.
MaskPattern triangle(const MaskPattern& input, bool lower, std::int64_t diagonal) {
  MaskPattern step = constant(1.0, true, input.rank);
  step.pieces = lower ? std::vector<Piece>{{kStart, 1.0}, {diagonal + 1, 0.0}} : std::vector<Piece>{{kStart, 0.0}, {diagonal, 1.0}};
  MaskPattern out = combine(input, step, [](double value, double kept) { return kept != 0 ? value : 0.0; });
  out.boolean = input.boolean;
  return out;
}

std::optional<double> number_value(const nlohmann::json& number) {
  if (number.is_boolean()) return number.get<bool>() ? 1.0 : 0.0;
  if (number.is_number()) return number.get<double>();
  if (number.is_string()) {
    const std::string& text = number.get_ref<const std::string&>();
    if (text == "-inf") return -kInf;
    if (text == "inf") return kInf;
    if (text == "nan") return std::nan("");
  }
  return std::nullopt;
}

// The value a declared tensor is named after: ones, zeros, neg_inf / minus_inf / ninf.
std::optional<double> named_value(const std::string& written) {
  std::string name = lowered(written);
  std::string letters;
  for (char c : name) {
    if (std::isalpha(static_cast<unsigned char>(c))) letters += c;
  }
  for (const char* negative : {"neginf", "minusinf", "ninf"}) {
    if (letters.find(negative) != std::string::npos) return -kInf;
  }
  // Whole words only: "ones" in "bones" or "zones" is no value.
  std::vector<std::string> words(1);
  for (char c : name) {
    if (std::isalpha(static_cast<unsigned char>(c))) words.back() += c;
    else if (!words.back().empty()) words.emplace_back();
  }
  for (const std::string& word : words) {
    if (word == "ones" || word == "one") return 1.0;
    if (word == "zeros" || word == "zero") return 0.0;
  }
  return std::nullopt;
}

// An integer argument as written; nullopt when absent or not a number (a symbol).
std::optional<std::int64_t> integer_argument(const CallDecl& call, const std::string& argument, std::int64_t absent) {
  auto written = call.arguments.find(argument);
  if (written == call.arguments.end() || written->is_null()) return absent;
  if (!written->is_number_integer()) return std::nullopt;
  return written->get<std::int64_t>();
}

// An index that keeps the last two dims in place and from their start (slices `:n`, None before
// them, `...`): the offsets j - i stay. The rank after it, or nullopt.
std::optional<int> index_keeping_offsets(const std::string& index, int rank) {
  if (index.size() < 2 || index.front() != '[' || index.back() != ']') return std::nullopt;
  std::vector<std::string> parts(1);
  for (char c : index.substr(1, index.size() - 2)) {
    if (c == ',') parts.emplace_back();
    else if (c != ' ') parts.back() += c;
  }
  bool ellipsis = false;
  int consumed = 0, added = 0;
  std::vector<bool> takes_dim;
  for (const std::string& part : parts) {
    if (part == "...") {
      if (ellipsis) return std::nullopt;
      ellipsis = true;
      takes_dim.push_back(true);  // stands for dims, the last two among them if nothing follows
      continue;
    }
    if (part == "None") {
      ++added;
      takes_dim.push_back(false);
      continue;
    }
    // ":" or ":n": a slice from the start.
    if (part.empty() || part.front() != ':' || part.find(':', 1) != std::string::npos) return std::nullopt;
    ++consumed;
    takes_dim.push_back(true);
  }
  if (consumed > rank) return std::nullopt;
  if (!ellipsis) {
    // Dims not indexed follow, untouched.
    for (int k = consumed; k < rank && k < consumed + 2; ++k) takes_dim.push_back(true);
  }
  if (takes_dim.size() < 2 || !takes_dim[takes_dim.size() - 1] || !takes_dim[takes_dim.size() - 2]) {
    // `[..., None]`-like: only `...` last keeps both.
    if (!(ellipsis && parts.back() == "...")) return std::nullopt;
  }
  return rank + added;
}

bool is_bool_cast(const CallDecl& call) {
  if (call.op == "bool") return true;
  if (call.op != "to") return false;
  const nlohmann::json& dtype = call.arguments.value("dtype", nlohmann::json());
  return dtype.is_string() && parse_dtype(dtype.get<std::string>()) == DType::Bool;
}

// The values a constructor makes, from its arguments alone: ones, zeros and full (and their
// _like and new_ forms) one value everywhere, eye 1 on the diagonal (offset 0) and 0 elsewhere;
// a constructor's output carries them as a declared tensor named ones or zeros does. The rank
// is the size list's, or for the _like forms the input's (its declared or written shape).
std::optional<MaskPattern> constructed(const Spec& spec, const CallDecl& call) {
  const std::string& op = call.op;
  std::optional<double> value;
  if (op == "ones" || op == "ones_like" || op == "new_ones") value = 1.0;
  if (op == "zeros" || op == "zeros_like" || op == "new_zeros") value = 0.0;
  if (op == "full" || op == "full_like") value = number_value(call.arguments.value("fill_value", nlohmann::json()));
  if (!value && op != "eye") return std::nullopt;
  const nlohmann::json& dtype = call.arguments.value("dtype", nlohmann::json());
  const bool boolean = dtype.is_string() ? parse_dtype(dtype.get<std::string>()) == DType::Bool
                                         : op == "full" && call.arguments.value("fill_value", nlohmann::json()).is_boolean();
  if (op == "eye") {
    MaskPattern diagonal = constant(0.0, boolean, 2);
    diagonal.pieces = {{MaskPattern::kNoLowerEnd, 0.0}, {0, 1.0}, {1, 0.0}};
    return diagonal;
  }
  int rank = 0;
  const nlohmann::json& size = call.arguments.value("size", nlohmann::json());
  if (size.is_array()) {
    rank = static_cast<int>(size.size());
  } else {
    // ones_like(x): x's rank, when x is declared (a call's output has no rank written here).
    const std::string input = input_name(call, "input");
    const TensorDecl* declared = input.empty() ? nullptr : spec.find_tensor(input);
    if (declared == nullptr) return std::nullopt;
    rank = static_cast<int>(declared->shape.size());
  }
  return constant(boolean ? (*value != 0 ? 1.0 : 0.0) : *value, boolean, rank);
}

std::optional<MaskPattern> pattern_of(const Spec& spec, const std::string& name, const CallDecl* producer, const PatternEdit& edit,
                                      int& steps);

std::optional<MaskPattern> argument_pattern(const Spec& spec, const CallDecl& call, const std::string& argument, const PatternEdit& edit,
                                            int& steps) {
  std::string name = input_name(call, argument);
  if (name.empty()) return std::nullopt;
  return pattern_of(spec, name, producer_of(spec, name, &call), edit, steps);
}

// A size as a shape list writes it, for comparing with a declared dim's text: "T", "6".
std::string size_text(const nlohmann::json& size) {
  if (size.is_string()) return size.get<std::string>();
  return size.is_number_integer() ? std::to_string(size.get<std::int64_t>()) : std::string();
}

// The pattern of a where or binary operand: a tensor's, or a number's everywhere.
std::optional<MaskPattern> operand_pattern(const Spec& spec, const CallDecl& call, const std::string& argument, const PatternEdit& edit,
                                           int& steps) {
  if (!call.arguments.contains(argument)) return argument_pattern(spec, call, argument, edit, steps);
  std::optional<double> number = number_value(call.arguments.at(argument));
  if (!number) return std::nullopt;
  return constant(*number, call.arguments.at(argument).is_boolean(), 0);
}

// The output of `call` from its input's pattern; nullopt for a call whose effect is not known.
std::optional<MaskPattern> apply(const Spec& spec, const CallDecl& call, const PatternEdit& edit, int& steps) {
  const std::string& op = call.op;
  if (op == "where") {
    // condition ? input : other, offset by offset: the two halves each zero where the other is taken.
    std::optional<MaskPattern> condition = argument_pattern(spec, call, "condition", edit, steps);
    std::optional<MaskPattern> taken = condition ? operand_pattern(spec, call, "input", edit, steps) : std::nullopt;
    std::optional<MaskPattern> otherwise = taken ? operand_pattern(spec, call, "other", edit, steps) : std::nullopt;
    if (!otherwise) return std::nullopt;
    MaskPattern out = combine(combine(*condition, *taken, [](double c, double v) { return c != 0 ? v : 0.0; }),
                              combine(*condition, *otherwise, [](double c, double v) { return c != 0 ? 0.0 : v; }),
                              [](double a, double b) { return a + b; });
    out.boolean = taken->boolean && otherwise->boolean;
    return out;
  }
  if (std::optional<MaskPattern> made = constructed(spec, call)) return made;
  std::optional<MaskPattern> input = argument_pattern(spec, call, "input", edit, steps);
  if (!input) return std::nullopt;
  const int rank = input->rank;
  if (op == "contiguous" || op == "clone" || op == "detach" || op == "expand" || op == "expand_as") {
    if (op == "expand") {
      const nlohmann::json& size = call.arguments.value("size", nlohmann::json());
      if (size.is_array()) input->rank = static_cast<int>(size.size());
    }
    return input;
  }
  if (op == "unsqueeze") {
    std::optional<std::int64_t> written = integer_argument(call, "dim", 0);
    if (!written) return std::nullopt;
    std::int64_t dim = *written < 0 ? *written + rank + 1 : *written;
    if (dim > rank - 2) return std::nullopt;  // lands among the last two dims
    input->rank = rank + 1;
    return input;
  }
  if (op == "getitem") {
    const nlohmann::json& index = call.arguments.value("index", nlohmann::json());
    std::optional<int> after = index.is_string() ? index_keeping_offsets(index.get<std::string>(), rank) : std::nullopt;
    if (!after) return std::nullopt;
    input->rank = *after;
    input->matrix.clear();  // a slice may cut them
    return input;
  }
  if (op == "view" || op == "reshape") {
    // Row-major memory: a shape that ends with the same two dims keeps each (i, j) in its matrix.
    const nlohmann::json& shape = call.arguments.value("shape", nlohmann::json());
    if (!shape.is_array() || shape.size() < 2 || input->matrix.size() != 2 || size_text(shape[shape.size() - 2]) != input->matrix[0] ||
        size_text(shape[shape.size() - 1]) != input->matrix[1] || input->matrix[0].empty() || input->matrix[1].empty()) {
      return std::nullopt;
    }
    input->rank = static_cast<int>(shape.size());
    return input;
  }
  if (op == "transpose") {
    std::optional<std::int64_t> dim0 = integer_argument(call, "dim0", 0), dim1 = integer_argument(call, "dim1", 0);
    if (!dim0 || !dim1) return std::nullopt;
    std::int64_t a = *dim0 < 0 ? *dim0 + rank : *dim0, b = *dim1 < 0 ? *dim1 + rank : *dim1;
    if (std::min(a, b) == rank - 2 && std::max(a, b) == rank - 1) return reflected(*input);
    if (std::max(a, b) < rank - 2) return input;
    return std::nullopt;
  }
  if (op == "tril" || op == "triu") {
    std::optional<std::int64_t> diagonal = integer_argument(call, "diagonal", 0);
    if (edit.call == &call && edit.diagonal) diagonal = edit.diagonal;
    if (!diagonal) return std::nullopt;
    MaskPattern out = triangle(*input, op == "tril", *diagonal);
    out.triangles.push_back(&call);
    return out;
  }
  if (casts_to_float(call)) {
    input->boolean = false;
    return input;
  }
  if (is_bool_cast(call) || op == "logical_not") {
    bool invert = op == "logical_not";
    MaskPattern out = map_values(*input, [&](double v) { return (v != 0) != invert ? 1.0 : 0.0; });
    out.boolean = true;
    return out;
  }
  if (op == "bitwise_not") {
    if (!input->boolean) return std::nullopt;  // ~ of an integer flips bits
    return map_values(*input, [](double v) { return v != 0 ? 0.0 : 1.0; });
  }
  if (op == "masked_fill") {
    std::optional<MaskPattern> mask = argument_pattern(spec, call, "mask", edit, steps);
    std::optional<double> value = number_value(call.arguments.value("value", nlohmann::json()));
    if (!mask || !value) return std::nullopt;
    MaskPattern out = combine(*input, *mask, [&](double v, double m) { return m != 0 ? *value : v; });
    out.boolean = input->boolean;
    return out;
  }
  // The binary operators: `other` a number or a tensor.
  using Binary = std::function<double(double, double)>;
  static const std::map<std::string, std::pair<Binary, bool>> binary = {
      {"eq", {[](double a, double b) { return a == b ? 1.0 : 0.0; }, true}},
      {"ne", {[](double a, double b) { return a != b ? 1.0 : 0.0; }, true}},
      {"logical_and", {[](double a, double b) { return a != 0 && b != 0 ? 1.0 : 0.0; }, true}},
      {"logical_or", {[](double a, double b) { return a != 0 || b != 0 ? 1.0 : 0.0; }, true}},
      {"bitwise_and", {[](double a, double b) { return a != 0 && b != 0 ? 1.0 : 0.0; }, true}},
      {"bitwise_or", {[](double a, double b) { return a != 0 || b != 0 ? 1.0 : 0.0; }, true}},
      {"mul", {[](double a, double b) { return a * b; }, false}},
      {"div", {[](double a, double b) { return a / b; }, false}},
      {"add", {[](double a, double b) { return a + b; }, false}},
      {"sub", {[](double a, double b) { return a - b; }, false}},
  };
  std::string applied = op;
  bool join = op == "logical_and" || op == "logical_or" || op == "bitwise_and" || op == "bitwise_or";
  if (join && edit.call == &call && edit.swap_join) {
    applied = op.substr(0, op.find('_') + 1) + (op.find("_and") != std::string::npos ? "or" : "and");
  }
  auto rule = binary.find(applied);
  if (rule == binary.end()) return std::nullopt;
  bool bitwise = op.rfind("bitwise_", 0) == 0;
  if (call.arguments.contains("alpha")) return std::nullopt;
  std::optional<MaskPattern> other;
  if (call.arguments.contains("other")) {
    std::optional<double> number = number_value(call.arguments.at("other"));
    if (!number) return std::nullopt;
    other = constant(*number, call.arguments.at("other").is_boolean(), 0);
  } else {
    other = argument_pattern(spec, call, "other", edit, steps);
  }
  if (!other || (bitwise && (!input->boolean || !other->boolean))) return std::nullopt;
  MaskPattern out = combine(*input, *other, rule->second.first);
  out.boolean = rule->second.second || (input->boolean && other->boolean && bitwise);
  if (join) out.joins.push_back(&call);
  return out;
}

std::optional<MaskPattern> pattern_of(const Spec& spec, const std::string& name, const CallDecl* producer, const PatternEdit& edit,
                                      int& steps) {
  if (steps-- <= 0) return std::nullopt;
  std::optional<MaskPattern> pattern;
  if (producer == nullptr) {
    const TensorDecl* declared = spec.find_tensor(name);
    std::optional<double> value = declared ? declared_value(spec, *declared, name) : std::nullopt;
    if (!value) return std::nullopt;
    bool boolean = declared->dtype == DType::Bool;
    pattern = constant(boolean ? (*value != 0 ? 1.0 : 0.0) : *value, boolean, static_cast<int>(declared->shape.size()));
    if (declared->shape.size() >= 2) {
      pattern->matrix = {declared->shape[declared->shape.size() - 2].str(), declared->shape.back().str()};
    }
  } else {
    pattern = apply(spec, *producer, edit, steps);
  }
  if (pattern && producer != nullptr && edit.call == producer && edit.transpose_after) {
    std::vector<const CallDecl*> triangles = pattern->triangles;
    pattern = reflected(*pattern);
    pattern->triangles = triangles;
  }
  return pattern;
}

}  // namespace

std::optional<double> declared_value(const Spec& spec, const TensorDecl& declared, const std::string& name) {
  // The object form's "fill" sits next to its "shape" (the bare-array form has neither).
  const std::string suffix = "/shape";
  const std::string& shape_pointer = declared.shape_pointer;
  if (shape_pointer.size() > suffix.size() && shape_pointer.compare(shape_pointer.size() - suffix.size(), suffix.size(), suffix) == 0) {
    const nlohmann::json::json_pointer fill(shape_pointer.substr(0, shape_pointer.size() - suffix.size()) + "/fill");
    if (spec.value().contains(fill)) return number_value(spec.value().at(fill));
  }
  return named_value(name);
}

double MaskPattern::at(std::int64_t offset) const {
  double value = pieces.empty() ? 0.0 : pieces.front().value;
  for (const Piece& piece : pieces) {
    if (piece.start > offset) break;
    value = piece.value;
  }
  return value;
}

std::optional<MaskPattern> mask_pattern(const Spec& spec, const std::string& name, const CallDecl* producer, const PatternEdit& edit) {
  int steps = kMaxSteps;
  return pattern_of(spec, name, producer, edit, steps);
}

bool lets_attend(MaskReading reading, double value) {
  switch (reading) {
    case MaskReading::TrueKeeps: return value != 0;
    case MaskReading::TrueIgnores: return value == 0;
    case MaskReading::Additive: return !std::isnan(value) && value > -1e4;
  }
  return false;
}

bool square_causal(const MaskPattern& pattern, MaskReading reading, std::optional<std::int64_t> size) {
  // Query i meets key j at offset j - i: a square mask of size n holds the offsets -(n-1) .. n-1.
  const std::int64_t low = size ? 1 - *size : MaskPattern::kNoLowerEnd, high = size ? *size - 1 : std::numeric_limits<std::int64_t>::max();
  for (std::size_t k = 0; k < pattern.pieces.size(); ++k) {
    std::int64_t begin = std::max(pattern.pieces[k].start, low);
    std::int64_t end = k + 1 < pattern.pieces.size() ? std::min(pattern.pieces[k + 1].start - 1, high) : high;  // inclusive
    if (begin > end) continue;
    const bool allowed = lets_attend(reading, pattern.pieces[k].value);
    // The past and the own position (offsets <= 0) allowed, the future (offsets > 0) hidden.
    if (begin <= 0 && !allowed) return false;
    if (end > 0 && allowed) return false;
  }
  return true;
}

std::optional<CausalFault> causal_fault(const MaskPattern& pattern, MaskReading reading, std::optional<std::int64_t> shift,
                                        std::optional<std::int64_t> queries, std::optional<std::int64_t> keys) {
  // Made by a triangle: meant causal, even when the calls after it left one value everywhere.
  if (pattern.triangles.empty()) return std::nullopt;
  auto allows = [&](double value) { return lets_attend(reading, value); };
  // Whether some offset in [low, high] is allowed; kNoEnd: no end.
  constexpr std::int64_t kNoEnd = std::numeric_limits<std::int64_t>::max();
  auto any_allowed = [&](std::int64_t low, std::int64_t high) {
    if (high < low) return false;
    for (std::size_t k = 0; k < pattern.pieces.size(); ++k) {
      std::int64_t begin = pattern.pieces[k].start;
      std::int64_t end = k + 1 < pattern.pieces.size() ? pattern.pieces[k + 1].start - 1 : kNoEnd;  // inclusive
      if (end >= low && begin <= high && allows(pattern.pieces[k].value)) return true;
    }
    return false;
  };
  const std::int64_t last_key = keys ? *keys - 1 : kNoEnd;
  CausalFault fault;
  // Row 0 sees the offsets 0 .. S-1.
  fault.first_row_empty = !any_allowed(0, last_key);
  // Offsets allowed up to a bound on both sides are a local window open to both sides (an
  // encoder's band, tril(ones, w) & triu(ones, -w)), not a causal mask that leaks the future.
  const bool window = !pattern.pieces.empty() && !allows(pattern.pieces.front().value) && !allows(pattern.pieces.back().value);
  if (shift) {
    fault.sees_future = !window && any_allowed(*shift + 1, last_key);
    fault.hides_own = !allows(pattern.at(*shift));
  } else {
    // Without the sizes, only what holds for any S >= L: keys without end ahead, or row 0 empty.
    fault.sees_future = !keys && allows(pattern.pieces.back().value);
  }
  // Rows are counted one by one, so only for sizes a mask is built with (a symbol bound to a huge
  // size leaves the count unknown).
  constexpr std::int64_t kMaxCountedRows = std::int64_t{1} << 16;
  if (queries && keys && *queries <= kMaxCountedRows) {
    std::int64_t empty = 0;
    for (std::int64_t row = 0; row < *queries; ++row) empty += any_allowed(-row, *keys - 1 - row) ? 0 : 1;
    fault.empty_rows = empty;
  }
  if (!fault.sees_future && !fault.hides_own && !fault.first_row_empty && fault.empty_rows.value_or(0) == 0) return std::nullopt;
  return fault;
}

}  // namespace mhacheck
