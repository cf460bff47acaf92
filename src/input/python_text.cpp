#include "mhacheck/python_text.hpp"

#include <algorithm>
#include <cctype>
#include <deque>
#include <limits>
#include <map>
#include <set>
#include <charconv>
#include <cmath>
#include <cstdlib>

#include <fmt/format.h>

#include "core/text.hpp"
#include "mhacheck/dtype.hpp"
#include "mhacheck/module_schema.hpp"
#include "mhacheck/shape.hpp"
#include "mhacheck/spec.hpp"
#include "mhacheck/suggest.hpp"

namespace mhacheck {
namespace {

struct Token {
  enum class Kind { Name, Int, Float, String, Punct, End };
  Kind kind;
  std::string text;
  std::size_t offset;
};

class Lexer {
 public:
  Lexer(const std::string& text, const Location& origin) : text_(text), origin_(origin) {
    // Python source as pasted is ASCII here; anything else (a stray byte, invalid UTF-8) is
    // refused up front so that no later message or JSON carries it.
    for (std::size_t i = 0; i < text_.size(); ++i) {
      unsigned char c = static_cast<unsigned char>(text_[i]);
      if (c >= 0x80 || (c < 0x20 && c != '\t' && c != '\n' && c != '\r') || c == 0x7f) {
        fail(i, 1, fmt::format("unexpected byte 0x{:02x}: only ASCII text is read here", c));
      }
    }
    advance();
  }

  const Token& peek() const { return current_; }
  Token take() {
    Token token = current_;
    advance();
    return token;
  }

  [[noreturn]] void fail(std::size_t offset, std::size_t length, const std::string& message,
                         const std::string& help = {}) const {
    throw InputError(at(offset, length), message, help, InputError::Kind::Syntax);
  }
  [[noreturn]] void fail_here(const std::string& expected) const {
    std::string found = current_.kind == Token::Kind::End ? "end of text" : "'" + current_.text + "'";
    fail(current_.offset, std::max<std::size_t>(1, current_.text.size()),
         fmt::format("expected {}, found {}", expected, found));
  }
  void expect(const std::string& punct) {
    if (current_.kind != Token::Kind::Punct || current_.text != punct) fail_here("'" + punct + "'");
    advance();
  }
  bool accept(const std::string& punct) {
    if (current_.kind == Token::Kind::Punct && current_.text == punct) {
      advance();
      return true;
    }
    return false;
  }

  // Where `offset` is: several pasted lines keep their own line numbers.
  Location at(std::size_t offset, std::size_t length) const {
    Location location = origin_;
    offset = std::min(offset, text_.size());
    std::size_t line_start = text_.rfind('\n', offset == 0 ? std::string::npos : offset - 1);
    if (line_start == std::string::npos || offset == 0) {
      location.column += static_cast<int>(offset);
    } else {
      location.line += static_cast<int>(std::count(text_.begin(), text_.begin() + static_cast<std::ptrdiff_t>(offset), '\n'));
      location.column = static_cast<int>(offset - line_start);
    }
    location.length = static_cast<int>(std::max<std::size_t>(1, length));
    return location;
  }

 private:
  void advance() {
    current_ = lex(pos_);
  }

  // The token at `pos` (whitespace, comments and line continuations skipped); moves `pos` past it.
  Token lex(std::size_t& pos) const {
    for (;;) {
      while (pos < text_.size() && std::isspace(static_cast<unsigned char>(text_[pos]))) ++pos;
      if (pos < text_.size() && text_[pos] == '#') {
        while (pos < text_.size() && text_[pos] != '\n') ++pos;
      } else if (pos + 1 < text_.size() && text_[pos] == '\\' && (text_[pos + 1] == '\n' || text_[pos + 1] == '\r')) {
        ++pos;  // a line continuation
      } else {
        break;
      }
    }
    std::size_t start = pos;
    if (pos >= text_.size()) return {Token::Kind::End, "", pos};
    char c = text_[pos];
    auto is_name = [](char ch) { return std::isalnum(static_cast<unsigned char>(ch)) || ch == '_' || ch == '.'; };
    if (std::isalpha(static_cast<unsigned char>(c)) || c == '_') {
      while (pos < text_.size() && is_name(text_[pos])) ++pos;
      return {Token::Kind::Name, text_.substr(start, pos - start), start};
    }
    if (text_.compare(pos, 3, "...") == 0) {  // Ellipsis, as in an annotation: Callable[..., nn.Module]
      pos += 3;
      return {Token::Kind::Punct, "...", start};
    }
    if (c == '.' && pos + 1 < text_.size() && (std::isalpha(static_cast<unsigned char>(text_[pos + 1])) || text_[pos + 1] == '_')) {
      ++pos;  // a method called on what precedes: nn.Linear(8, 4).to(device)
      while (pos < text_.size() && is_name(text_[pos])) ++pos;
      return {Token::Kind::Name, text_.substr(start, pos - start), start};
    }
    if (std::isdigit(static_cast<unsigned char>(c)) || (c == '.' && pos + 1 < text_.size() && std::isdigit(static_cast<unsigned char>(text_[pos + 1])))) {
      ++pos;
      bool floating = c == '.';
      while (pos < text_.size() &&
             (std::isalnum(static_cast<unsigned char>(text_[pos])) || text_[pos] == '.' || text_[pos] == '_' ||
              ((text_[pos] == '-' || text_[pos] == '+') && (text_[pos - 1] == 'e' || text_[pos - 1] == 'E')))) {
        floating = floating || text_[pos] == '.' || text_[pos] == 'e' || text_[pos] == 'E';
        ++pos;
      }
      return {floating ? Token::Kind::Float : Token::Kind::Int, text_.substr(start, pos - start), start};
    }
    if (c == '\'' || c == '"') {
      ++pos;
      while (pos < text_.size() && text_[pos] != c && text_[pos] != '\n') ++pos;
      if (pos >= text_.size() || text_[pos] != c) fail(start, 1, "unterminated string");
      ++pos;
      return {Token::Kind::String, text_.substr(start + 1, pos - start - 2), start};
    }
    if (c == '/' && pos + 1 < text_.size() && text_[pos + 1] == '/') {
      pos += 2;
      return {Token::Kind::Punct, "//", start};
    }
    if ((c == '=' || c == '!') && pos + 1 < text_.size() && text_[pos + 1] == '=') {
      pos += 2;
      return {Token::Kind::Punct, std::string(1, c) + "=", start};
    }
    if (std::string("()[]{},=:+-*/%;").find(c) != std::string::npos) {
      ++pos;
      return {Token::Kind::Punct, std::string(1, c), start};
    }
    fail(start, 1, fmt::format("unexpected character '{}'", c));
  }

 public:
  // Skips the rest of the logical line the current token is on (brackets, strings and
  // continuations followed), unread: a class or def line's tail, super().__init__(...).
  void skip_line() {
    std::size_t pos = current_.offset;
    int depth = 0;
    while (pos < text_.size()) {
      char c = text_[pos];
      if (c == '\'' || c == '"') {
        std::size_t close = text_.find(c, pos + 1);
        pos = close == std::string::npos ? text_.size() : close + 1;
        continue;
      }
      if (c == '#') {
        while (pos < text_.size() && text_[pos] != '\n') ++pos;
        continue;
      }
      if (c == '\\' && pos + 1 < text_.size() && text_[pos + 1] == '\n') {
        pos += 2;
        continue;
      }
      if (c == '(' || c == '[' || c == '{') ++depth;
      if ((c == ')' || c == ']' || c == '}') && depth > 0) --depth;
      if (c == '\n' && depth == 0) break;
      ++pos;
    }
    pos_ = pos;
    advance();
  }

  // The token after the current one, without moving.
  Token peek_second() const {
    std::size_t pos = pos_;
    return lex(pos);
  }

 private:
  const std::string& text_;
  Location origin_;
  std::size_t pos_ = 0;
  Token current_{Token::Kind::End, "", 0};
};

std::int64_t parse_int(const Lexer& lexer, const Token& token) {
  std::int64_t value = 0;
  std::string digits;
  for (char c : token.text) {
    if (c != '_') digits += c;  // 1_000 is Python's 1000
  }
  auto [end, error] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
  if (error != std::errc() || end != digits.data() + digits.size()) {
    lexer.fail(token.offset, token.text.size(), fmt::format("'{}' is not an integer in range", token.text));
  }
  return value;
}

// A float literal as Python reads it: digits with single '_' between them, an optional fraction
// and exponent (1_000.5, .5, 1e-3, 5.); beyond the largest double it is inf, as in Python
// (1e400), and below the smallest it is 0.0. Anything else (1.2.3, 0x1p3, 1e, 1j): nullopt.
std::optional<double> python_float(const std::string& text) {
  std::string plain;  // without the underscores
  std::size_t pos = 0;
  auto digit_part = [&]() {
    std::size_t start = pos;
    while (pos < text.size() && std::isdigit(static_cast<unsigned char>(text[pos]))) {
      plain += text[pos++];
      if (pos + 1 < text.size() && text[pos] == '_' && std::isdigit(static_cast<unsigned char>(text[pos + 1]))) ++pos;
    }
    return pos > start;
  };
  bool whole = digit_part();
  bool fraction = false;
  if (pos < text.size() && text[pos] == '.') {
    plain += text[pos++];
    fraction = digit_part();
  }
  bool valid = whole || fraction;
  if (valid && pos < text.size() && (text[pos] == 'e' || text[pos] == 'E')) {
    plain += text[pos++];
    if (pos < text.size() && (text[pos] == '+' || text[pos] == '-')) plain += text[pos++];
    valid = digit_part();
  }
  if (!valid || pos != text.size()) return std::nullopt;
  // strtod gives HUGE_VAL (inf) past the largest double and 0 or a subnormal below the smallest,
  // as Python does; its ERANGE is not an error here. Only digits, '.', 'e' and a sign reach it.
  return std::strtod(plain.c_str(), nullptr);
}

double parse_float(const Lexer& lexer, const Token& token) {
  std::optional<double> value = python_float(token.text);
  if (!value) lexer.fail(token.offset, token.text.size(), fmt::format("'{}' is not a number", token.text));
  return *value;
}

// float('inf'), as Python converts a string: surrounding spaces, a sign, then inf, infinity or
// nan in any case, or a float literal's digits.
double float_of_string(const Lexer& lexer, const Token& token) {
  std::size_t first = token.text.find_first_not_of(" \t"), last = token.text.find_last_not_of(" \t");
  std::string text = first == std::string::npos ? "" : token.text.substr(first, last - first + 1);
  double sign = !text.empty() && text[0] == '-' ? -1.0 : 1.0;
  if (!text.empty() && (text[0] == '-' || text[0] == '+')) text.erase(0, 1);
  const std::string lower = lowered(text);
  if (lower == "inf" || lower == "infinity") return sign * std::numeric_limits<double>::infinity();
  if (lower == "nan") return std::numeric_limits<double>::quiet_NaN();
  std::optional<double> value = python_float(text);
  if (!value) {
    // The string token's offset is its opening quote.
    lexer.fail(token.offset, token.text.size() + 2, fmt::format("ValueError: could not convert string to float: '{}'", token.text));
  }
  return sign * *value;
}

// Python's float floor division and modulo (float_divmod in CPython's floatobject.c), for a
// non-zero divisor: the remainder takes the divisor's sign, the quotient is floored, and
// infinities give what Python gives (inf // 1 is nan, -1 // inf is -1.0, -5 % inf is inf).
std::pair<double, double> python_divmod(double a, double b) {
  double mod = std::fmod(a, b);
  double div = (a - mod) / b;
  if (mod != 0) {  // NaN too, as in C's `if (mod)`
    if ((b < 0) != (mod < 0)) {
      mod += b;
      div -= 1.0;
    }
  } else {
    mod = std::copysign(0.0, b);
  }
  if (div == 0) return {std::copysign(0.0, a / b), mod};
  double floored = std::floor(div);
  return {div - floored > 0.5 ? floored + 1.0 : floored, mod};
}

// Nesting of parentheses and module calls read at most: far beyond real code, and the
// recursion stays shallow.
constexpr int kMaxNesting = 64;

// An integer expression's value: known, or depending on a name nothing binds. A lone
// unbound name stays a symbol ("d_model"); anything computed from one cannot.
struct IntValue {
  std::optional<std::int64_t> number;
  // A float instead (head_dim ** -0.5, an attention's scale): never a size; known when every
  // name it uses is bound.
  bool real = false;
  std::optional<double> real_number;
  std::string symbol;   // the expression is exactly this unbound name
  std::string unbound;  // the first unbound name it uses
  std::optional<std::size_t> division;  // where a '/' made it a float (true division), for the message a size gives
  std::size_t offset = 0, end = 0;
};

// The value as a float, when known: Python converts an int operand of float arithmetic so.
std::optional<double> as_real(const IntValue& value) {
  return value.number ? std::optional<double>(static_cast<double>(*value.number)) : value.real_number;
}

// One entry of a dict literal: its key, where its value is written, and the value (as an
// assignment's right-hand side reads it: nullopt and `symbol` for an unbound name).
struct DictEntry {
  std::string key;
  Token at;
  std::optional<nlohmann::json> value;
  std::string symbol;
};

// Reads what people paste from their model code: assignments of sizes (d_model = 512),
// assignments of modules (self.attn = nn.MultiheadAttention(...)), and constructor calls whose
// arguments are integer expressions over those names, the bound dims and symbols.
class PythonReader {
 public:
  PythonReader(Lexer& lexer, const NameBindings& bindings) : lexer_(lexer) {
    for (const auto& [name, value] : bindings) {
      values_[name] = value;
      given_.insert(name);
    }
  }

  // Every statement; returns the one module the text constructs (modules used as another's
  // argument, such as an encoder_layer, are part of it).
  nlohmann::json read_statements() {
    std::vector<std::pair<std::string, Token>> constructed;  // name (or "") and where
    std::map<std::string, nlohmann::json> anonymous;
    while (lexer_.peek().kind != Token::Kind::End) {
      if (lexer_.accept(";")) continue;
      Token first = lexer_.peek();
      if (first.kind == Token::Kind::Name && (first.text == "class" || first.text == "import" || first.text == "from" ||
                                              first.text == "super" || first.text == "pass")) {
        lexer_.skip_line();  // the lines around a module line, as pasted from a class
        continue;
      }
      if (first.kind == Token::Kind::Name && first.text == "def") {
        read_def();
        continue;
      }
      if (first.kind == Token::Kind::Name && first.text == "if") {
        // `if head_dim * num_heads != embed_dim:` then `raise ValueError(...)`, on the next line
        // or after the colon: the model's own check, passed over as an assert over unbound names is.
        Lexer body = lexer_;
        body.skip_line();
        if (raises_on_same_line(body.peek().offset)) {
          lexer_.skip_line();
          continue;
        }
        if (body.peek().kind == Token::Kind::Name && body.peek().text == "raise") {
          lexer_.skip_line();
          lexer_.skip_line();
          continue;
        }
      }
      // Any other block: its body runs or not by values this reader does not have.
      static const std::set<std::string> conditional = {"if", "elif", "else"}, loops = {"for", "while"};
      if (first.kind == Token::Kind::Name && (conditional.count(first.text) != 0 || loops.count(first.text) != 0)) {
        lexer_.fail(first.offset, first.text.size(),
                    fmt::format("{} blocks are not read; paste the constructor line", conditional.count(first.text) != 0 ? "if/else" : "for/while"));
      }
      if (first.kind == Token::Kind::Name && first.text == "assert") {
        read_assert();
        continue;
      }
      if (first.kind == Token::Kind::Name && lexer_.peek_second().kind == Token::Kind::Punct && lexer_.peek_second().text == ",") {
        read_tuple_assignment();
        continue;
      }
      auto assign_to = [&](const std::string& target) {
        // a = b = value (PyTorch's `self.head_dim = head_dim = embed_dim // num_heads`): the
        // value is read once and every target bound to it, as Python does.
        std::vector<std::string> also;
        while (lexer_.peek().kind == Token::Kind::Name && lexer_.peek_second().kind == Token::Kind::Punct &&
               (lexer_.peek_second().text == "=" || lexer_.peek_second().text == "[")) {
          Lexer probe = lexer_;
          probe.take();
          if (probe.accept("[")) {
            probe.take();
            if (!probe.accept("]") || probe.peek().text != "=") break;
          }
          also.push_back(assignment_target());
        }
        if (lexer_.peek().kind == Token::Kind::Punct && lexer_.peek().text == "{") {
          read_dict(target);
          for (const std::string& other : also) {
            bind(other, std::nullopt, {});
            dicts_[other] = dicts_[target];
          }
        } else if (starts_unknown_class_call()) {
          // self.dropout = nn.Dropout(p), self.mlp = MLPBlock(...): a module mhacheck does not
          // model, beside the one it checks; refused only if the text constructs no other.
          if (!unknown_call_) unknown_call_ = lexer_.peek();
          lexer_.skip_line();
          bind(target, std::nullopt, {});
          for (const std::string& other : also) bind(other, std::nullopt, {});
        } else if (starts_module_call()) {
          modules_[target] = parse_module({});
          constructed.emplace_back(target, first);
          for (const std::string& other : also) {
            modules_[other] = modules_[target];
            same_module_[other] = target;
          }
        } else {
          assign(target, also);
        }
      };
      bool block = first.text == "else" || first.text == "try" || first.text == "except" || first.text == "finally";  // not annotations: refused below
      if (first.kind == Token::Kind::Name && !block && lexer_.peek_second().kind == Token::Kind::Punct && lexer_.peek_second().text == ":") {
        if (read_annotation()) assign_to(first.text);
        continue;
      }
      if (first.kind == Token::Kind::Name && lexer_.peek_second().kind == Token::Kind::Punct &&
          (lexer_.peek_second().text == "=" || lexer_.peek_second().text == "[")) {
        assign_to(assignment_target());
        continue;
      }
      if (first.kind == Token::Kind::Name && lexer_.peek_second().kind == Token::Kind::Punct && lexer_.peek_second().text == "(" &&
          !canonical_module_type(first.text)) {
        // A call whose result is dropped, to a function (lowercase, as Python names them):
        // _log_api_usage_once(self), self._reset_parameters(), self.apply(self._init_weights),
        // nn.init.xavier_uniform_(...). It sets values, not shapes; the default dtype it may set is
        // not followed, so that call is refused.
        std::string callee = first.text.substr(first.text.rfind('.') == std::string::npos ? 0 : first.text.rfind('.') + 1);
        if (callee == "set_default_dtype" || callee == "set_default_tensor_type") {
          lexer_.fail(first.offset, first.text.size(), fmt::format("{}() is not followed here", first.text),
                      "give each module its dtype: nn.Linear(8, 4, dtype=torch.float64), or .double() on it");
        }
        if (const OperatorSchema* function = find_operator_schema(callee); function != nullptr && !function->module) {
          lexer_.fail(first.offset, first.text.size(), fmt::format("{} is a function, not a module", first.text),
                      fmt::format("check a call of it with --op {} and its tensors (--query ..., --arg NAME=SHAPE), or in a spec's \"calls\"", first.text));
        }
        if (!callee.empty() && (std::islower(static_cast<unsigned char>(callee[0])) || callee[0] == '_')) {
          lexer_.skip_line();
          continue;
        }
      }
      std::string key = fmt::format("<call at {}>", first.offset);
      anonymous[key] = parse_module({});
      constructed.emplace_back(key, first);
    }
    std::vector<std::pair<std::string, Token>> results;
    for (const auto& item : constructed) {
      if (used_.count(item.first) == 0) results.push_back(item);
    }
    if (results.empty() && unknown_call_) unknown_module(*unknown_call_);
    if (results.empty() && forward_call_) {
      lexer_.fail(forward_call_->offset, forward_call_->text.size(),
                  fmt::format("{}(...) calls a module, as a forward line does: --module takes the line that constructs it", forward_call_->text),
                  fmt::format("paste the line of __init__ that builds it ({} = nn.MultiheadAttention(...)), and give the call's tensors "
                              "with --query/--key/--value or --arg NAME=SHAPE",
                              forward_call_->text));
    }
    if (results.empty()) {
      lexer_.fail(0, 1, "expected a module constructor such as nn.MultiheadAttention(512, 8)",
                  "the text binds names but constructs no module");
    }
    if (results.size() > 1) {
      std::string names;
      for (const auto& [name, token] : results) names += (names.empty() ? "" : ", ") + (name[0] == '<' ? token.text : name);
      lexer_.fail(results[1].second.offset, results[1].second.text.size(),
                  fmt::format("the text constructs {} modules ({}); one is checked at a time", results.size(), names),
                  "give each module its own --module, or declare each under \"modules\" in a spec");
    }
    const std::string& name = results[0].first;
    return name[0] == '<' ? anonymous[name] : modules_[name];
  }

 private:
  // NAME = or NAME[KEY] = (torchvision's heads_layers["head"] = nn.Linear(...)), taken; the
  // target as written.
  std::string assignment_target() {
    std::string target = lexer_.take().text;
    if (lexer_.accept("[")) {
      Token key = lexer_.take();
      if (key.kind != Token::Kind::String && key.kind != Token::Kind::Int) {
        lexer_.fail(key.offset, std::max<std::size_t>(1, key.text.size()), "expected a string or an integer key");
      }
      lexer_.expect("]");
      target += key.kind == Token::Kind::String ? "[\"" + key.text + "\"]" : "[" + key.text + "]";
    }
    lexer_.expect("=");
    return target;
  }

  // NAME: annotation [= ...] (self.attn: nn.MultiheadAttention = nn.MultiheadAttention(...)):
  // the name and annotation taken, and the '=' when there is one (true: its value follows); an
  // annotation alone binds nothing.
  bool read_annotation() {
    Lexer line_end = lexer_;
    line_end.skip_line();
    std::size_t next_line = line_end.peek().offset;
    lexer_.take();
    lexer_.take();  // ':'
    int depth = 0;
    while (lexer_.peek().kind != Token::Kind::End && lexer_.peek().offset < next_line) {
      if (depth == 0 && lexer_.accept("=")) return true;
      Token token = lexer_.take();
      if (token.text == "[" || token.text == "(") ++depth;
      if (token.text == "]" || token.text == ")") --depth;
    }
    return false;
  }

  // Name(...) with a class's name (its last part capitalised, as Python names classes) that is
  // not a module mhacheck knows.
  bool starts_unknown_class_call() const {
    const Token& token = lexer_.peek();
    if (token.kind != Token::Kind::Name || canonical_module_type(token.text)) return false;
    Token after = lexer_.peek_second();
    std::size_t dot = token.text.rfind('.');
    char initial = token.text[dot == std::string::npos ? 0 : dot + 1];
    return after.kind == Token::Kind::Punct && after.text == "(" && std::isupper(static_cast<unsigned char>(initial));
  }

  bool starts_module_call() const {
    const Token& token = lexer_.peek();
    return token.kind == Token::Kind::Name && canonical_module_type(token.text).has_value();
  }

  // The value of an assignment's right-hand side: an integer expression, a number,
  // True/False/None or a string; nullopt when it depends on an unbound name (`symbol` is set
  // when it is exactly one).
  std::optional<nlohmann::json> right_hand_side(std::string& symbol) {
    const Token& token = lexer_.peek();
    if (token.kind == Token::Kind::Name && (token.text == "True" || token.text == "False" || token.text == "None")) {
      Token word = lexer_.take();
      return word.text == "None" ? nlohmann::json(nullptr) : nlohmann::json(word.text == "True");
    }
    if (token.kind == Token::Kind::String) return lexer_.take().text;
    // A name bound to something other than a number (device = None, batch_first = True): its value.
    if (auto bound = values_.find(token.text); token.kind == Token::Kind::Name && bound != values_.end() && !bound->second.is_number()) {
      lexer_.take();
      return bound->second;
    }
    IntValue value = expression();
    if (value.number) return *value.number;
    if (value.real_number) return *value.real_number;
    symbol = value.symbol;
    return std::nullopt;
  }

  void bind(const std::string& name, const std::optional<nlohmann::json>& value, const std::string& symbol) {
    uncomputed_.erase(name);
    aliases_.erase(name);
    values_.erase(name);
    dicts_.erase(name);
    if (value) {
      values_[name] = *value;
    } else if (!symbol.empty() && symbol != name) {
      aliases_[name] = symbol;  // self.d_model = d_model: self.d_model is the symbol d_model
    }
  }

  // NAME = value, and every further target of a chained assignment.
  void assign(const std::string& name, const std::vector<std::string>& also) {
    Lexer line_end = lexer_;
    line_end.skip_line();
    std::size_t next_line = line_end.peek().offset;
    std::string symbol;
    Token start = lexer_.peek();
    note_forward_call(start, lexer_.peek_second());
    std::optional<nlohmann::json> value = right_hand_side(symbol);
    const Token& rest = lexer_.peek();
    bool computed = rest.kind == Token::Kind::End || rest.offset >= next_line || rest.text == ";";
    if (!computed) {
      // More than mhacheck computes (timm's `self.scale = qk_scale or head_dim ** -0.5`): the
      // names stay unbound, so a size that uses one is refused naming it and this line.
      lexer_.skip_line();
      value.reset();
      symbol.clear();
    }
    bind(name, value, symbol);
    for (const std::string& other : also) bind(other, value, symbol);
    if (!computed) {
      uncomputed_[name] = start.text;
      for (const std::string& other : also) uncomputed_[other] = start.text;
    }
  }

  // assert A == B or assert A != B (nanoGPT's assert config.n_embd % config.n_head == 0), with
  // an optional message: a comparison that is false fails as Python would; one over unbound
  // names, or any other assert, says nothing of shapes and is passed over.
  void read_assert() {
    Token keyword = lexer_.take();
    Lexer line_end = lexer_;
    line_end.skip_line();
    std::size_t next_line = line_end.peek().offset;
    Lexer probe = lexer_;
    bool comparison = false;
    for (int depth = 0; probe.peek().kind != Token::Kind::End && probe.peek().offset < next_line;) {
      Token token = probe.take();
      if (token.text == "(" || token.text == "[") ++depth;
      if (token.text == ")" || token.text == "]") --depth;
      if (token.kind == Token::Kind::Name && (token.text == "and" || token.text == "or" || token.text == "not" || token.text == "is" ||
                                              token.text == "in")) {
        comparison = false;
        break;
      }
      if (depth == 0 && token.kind == Token::Kind::Punct && (token.text == "==" || token.text == "!=")) comparison = true;
      if (depth == 0 && token.kind == Token::Kind::Punct && token.text == ",") break;
    }
    if (!comparison) {
      lexer_.skip_line();
      return;
    }
    IntValue left = expression();
    std::string op = lexer_.take().text;
    if (op != "==" && op != "!=") lexer_.fail(keyword.offset, keyword.text.size(), "expected one comparison, == or !=, after assert");
    IntValue right = expression();
    std::size_t end = right.end;
    if (lexer_.peek().kind == Token::Kind::Punct && lexer_.peek().text == ",") lexer_.skip_line();  // the message
    if (!left.number || !right.number) return;
    if ((*left.number == *right.number) == (op == "==")) return;
    lexer_.fail(keyword.offset, end - keyword.offset,
                fmt::format("AssertionError: the pasted assert is False: its sides are {} and {}", *left.number, *right.number),
                "PyTorch never gets to the module: the names' values break the model's own assert");
  }

  // NAME = {'key': value, ...}, as PyTorch's own modules gather their factory arguments
  // (factory_kwargs = {'device': device, 'dtype': dtype}) to pass them on with **NAME. Each
  // value is read when the dict is built, as Python evaluates it.
  void read_dict(const std::string& name) {
    Token open = lexer_.take();
    enter(open);
    std::vector<DictEntry> entries;
    while (!lexer_.accept("}")) {
      Token key = lexer_.take();
      if (key.kind != Token::Kind::String) {
        lexer_.fail(key.offset, std::max<std::size_t>(1, key.text.size()), "expected a string key: only keyword dicts are passed on with **");
      }
      lexer_.expect(":");
      DictEntry entry{key.text, lexer_.peek(), std::nullopt, {}};
      entry.value = right_hand_side(entry.symbol);
      std::erase_if(entries, [&](const DictEntry& earlier) { return earlier.key == entry.key; });  // a repeated key: the last wins
      entries.push_back(std::move(entry));
      if (!lexer_.accept(",")) {
        lexer_.expect("}");
        break;
      }
    }
    --depth_;
    bind(name, std::nullopt, {});
    dicts_[name] = std::move(entries);
  }

  // A dict entry passed as the keyword argument `option`: its value as the option's kind. An
  // unbound name stays a symbol where a bare name would (sizes; options that change no shape);
  // not in padding=, where a string is a mode, as integer_value refuses it there.
  nlohmann::json dict_value(const OptionSchema& option, const std::string& dict, const DictEntry& entry) {
    if (entry.value) {
      if (option.kind == OptionKind::DType && entry.value->is_string() && parse_dtype(entry.value->get<std::string>())) {
        return dtype_name(*parse_dtype(entry.value->get<std::string>()));
      }
      return checked(option, *entry.value, entry.at, fmt::format("{}['{}']", dict, entry.key));
    }
    if (option.kind == OptionKind::DType && parse_dtype(entry.symbol)) return dtype_name(*parse_dtype(entry.symbol));  // torch.float16
    bool size = option.kind == OptionKind::Int || option.kind == OptionKind::IntOrList || option.kind == OptionKind::OptionalInt;
    bool shapeless = option.kind == OptionKind::Float || option.kind == OptionKind::Device;
    if (!entry.symbol.empty() && size) return entry.symbol;
    if (!entry.symbol.empty() && shapeless) return {{"$unbound", entry.symbol}};
    std::string what = entry.symbol.empty() ? "an expression of names" : fmt::format("'{}'", entry.symbol);
    lexer_.fail(entry.at.offset, std::max<std::size_t>(1, entry.at.text.size()),
                fmt::format("{} (from **{}) must be {}, but {}['{}'] is {}, which nothing binds", option.name, dict,
                            option_kind_text(option.kind), dict, entry.key, what),
                fmt::format("bind it before the dict: a line \"{} = None\" (PyTorch's default) or the value itself",
                            entry.symbol.empty() ? entry.key : entry.symbol));
  }

  // self.ln_1(x): a call of a module attribute, as a forward line makes.
  void note_forward_call(const Token& name, const Token& after) {
    if (!forward_call_ && name.kind == Token::Kind::Name && name.text.starts_with("self.") && after.kind == Token::Kind::Punct &&
        after.text == "(") {
      forward_call_ = name;
    }
  }

  // a, b = 512, 8: every value is read before any name is bound, as Python does.
  void read_tuple_assignment() {
    std::vector<Token> names;
    do {
      Token name = lexer_.take();
      if (name.kind != Token::Kind::Name) lexer_.fail(name.offset, std::max<std::size_t>(1, name.text.size()), "expected a name to assign");
      names.push_back(name);
    } while (lexer_.accept(",") && !(lexer_.peek().kind == Token::Kind::Punct && lexer_.peek().text == "="));
    lexer_.expect("=");
    Token start = lexer_.peek();
    Token after = lexer_.peek_second();
    bool call = start.kind == Token::Kind::Name && after.kind == Token::Kind::Punct && after.text == "(" && start.text != "int" &&
                start.text != "float" && start.text != "getattr";
    bool unpacked = start.kind == Token::Kind::Name && !(after.kind == Token::Kind::Punct && after.text == ",");
    if (call || unpacked) {
      // A forward line (x, _ = self.attn(x, x, x); B, T, C = x.size(); q, k, v = qkv.split(...)):
      // the names stay unbound, and a module call is said to be one if nothing is constructed.
      note_forward_call(start, after);
      lexer_.skip_line();
      for (const Token& name : names) {
        bind(name.text, std::nullopt, {});
        uncomputed_[name.text] = start.text;
      }
      return;
    }
    bool parenthesised = lexer_.accept("(");
    std::vector<std::pair<std::optional<nlohmann::json>, std::string>> values;
    for (std::size_t i = 0; i < names.size(); ++i) {
      if (i > 0) lexer_.expect(",");
      std::string symbol;
      std::optional<nlohmann::json> value = right_hand_side(symbol);
      values.emplace_back(value, symbol);
    }
    lexer_.accept(",");
    if (parenthesised) lexer_.expect(")");
    for (std::size_t i = 0; i < names.size(); ++i) bind(names[i].text, values[i].first, values[i].second);
  }

  // def __init__(self, d_model=512, nhead: int = 8, *args, **kwargs) -> None: the defaults bind
  // their names (as a call that passes nothing would), unless --dim or "dims" gives the name.
  // Whether the statement at the current token (an `if`) ends in `: raise ...` on its own logical
  // line, which ends before offset `next_line`: the colon outside any brackets (a slice's or a
  // dict's is inside), then raise.
  bool raises_on_same_line(std::size_t next_line) const {
    Lexer line = lexer_;
    int depth = 0;
    while (line.peek().kind != Token::Kind::End && line.peek().offset < next_line) {
      Token token = line.take();
      if (token.kind != Token::Kind::Punct) continue;
      if (token.text == "(" || token.text == "[" || token.text == "{") ++depth;
      if (token.text == ")" || token.text == "]" || token.text == "}") --depth;
      if (token.text == ":" && depth == 0) {
        return line.peek().kind == Token::Kind::Name && line.peek().text == "raise" && line.peek().offset < next_line;
      }
    }
    return false;
  }

  void read_def() {
    lexer_.take();  // def
    Token name = lexer_.take();
    if (name.kind != Token::Kind::Name) lexer_.fail(name.offset, std::max<std::size_t>(1, name.text.size()), "expected the function's name after def");
    lexer_.expect("(");
    while (!lexer_.accept(")")) {
      while (lexer_.accept("*")) {
      }
      Token parameter = lexer_.take();
      if (parameter.kind != Token::Kind::Name) lexer_.fail(parameter.offset, std::max<std::size_t>(1, parameter.text.size()), "expected a parameter name");
      if (lexer_.accept(":")) {
        int depth = 0;  // the annotation: skipped up to its default or the next parameter
        while (lexer_.peek().kind != Token::Kind::End &&
               (depth > 0 || !(lexer_.peek().kind == Token::Kind::Punct &&
                               (lexer_.peek().text == "=" || lexer_.peek().text == "," || lexer_.peek().text == ")")))) {
          Token token = lexer_.take();
          if (token.text == "[" || token.text == "(") ++depth;
          if (token.text == "]" || token.text == ")") --depth;
        }
      }
      if (lexer_.accept("=")) {
        std::string symbol;
        std::optional<nlohmann::json> value = right_hand_side(symbol);
        if (given_.count(parameter.text) == 0) bind(parameter.text, value, symbol);
      }
      if (!lexer_.accept(",")) {
        lexer_.expect(")");
        break;
      }
    }
    lexer_.skip_line();  // -> None:
  }

  void enter(const Token& token) {
    if (++depth_ > kMaxNesting) lexer_.fail(token.offset, 1, fmt::format("nested more than {} deep", kMaxNesting));
  }

  // expression := term (('+' | '-') term)*, as Python evaluates integers (// floors).
  IntValue expression() { return sum_from(term()); }

  // The '+' and '-' terms after `left`.
  IntValue sum_from(IntValue left) {
    while (lexer_.peek().kind == Token::Kind::Punct && (lexer_.peek().text == "+" || lexer_.peek().text == "-")) {
      std::string op = lexer_.take().text;
      IntValue right = term();
      left = combine(left, right, op);
    }
    return left;
  }

  IntValue term() {
    IntValue left = unary();
    while (lexer_.peek().kind == Token::Kind::Punct && (lexer_.peek().text == "*" || lexer_.peek().text == "//" || lexer_.peek().text == "%" ||
                                                         lexer_.peek().text == "/")) {
      if (lexer_.peek().text == "/" && dividend_of_int_) return left;  // int(a / b): the quotient is int_call's
      Token op = lexer_.take();
      IntValue right = unary();
      left = op.text == "/" ? true_division(left, right, op) : combine(left, right, op.text);
    }
    return left;
  }

  // a / b: a float in Python whatever its operands (dropout=1/10); a size refuses it.
  IntValue true_division(const IntValue& left, const IntValue& right, const Token& op) {
    IntValue result;
    result.offset = left.offset;
    result.end = right.end;
    result.unbound = !left.unbound.empty() ? left.unbound : right.unbound;
    result.real = true;
    result.division = left.division ? left.division : right.division ? right.division : std::optional<std::size_t>(op.offset);
    std::optional<double> a = as_real(left);
    std::optional<double> b = as_real(right);
    if (a && b && *b == 0) {
      lexer_.fail(result.offset, result.end - result.offset, left.real || right.real ? "ZeroDivisionError: float division by zero" : "ZeroDivisionError: division by zero");
    }
    if (a && b) result.real_number = *a / *b;
    return result;
  }

  // int(a / b), as HF models write a head size: true division, truncated toward zero. The
  // quotient of two integers is exact in a double only below 2^53; sizes are far below, and
  // integer division truncates alike.
  IntValue int_call(const Token& name) {
    Token open = lexer_.peek();
    lexer_.expect("(");
    enter(open);
    bool outer = dividend_of_int_;
    dividend_of_int_ = true;  // int(a * b / c): the term before '/' is the dividend
    IntValue value = term();
    dividend_of_int_ = outer;
    if (!lexer_.accept("/")) {
      value = sum_from(value);
    } else {
      IntValue divisor = unary();  // anything after it (int(a / b + 1)) is float arithmetic: ')' is expected
      IntValue quotient;
      quotient.offset = value.offset;
      quotient.end = divisor.end;
      quotient.unbound = !value.unbound.empty() ? value.unbound : divisor.unbound;
      quotient.real = value.real || divisor.real;
      if (quotient.real) {  // int(1.5e3 / 2): a float quotient, truncated below
        std::optional<double> a = as_real(value);
        std::optional<double> b = as_real(divisor);
        if (a && b && *b == 0) lexer_.fail(quotient.offset, quotient.end - quotient.offset, "ZeroDivisionError: float division by zero");
        if (a && b) quotient.real_number = *a / *b;
      } else if (value.number && divisor.number) {
        if (*divisor.number == 0) lexer_.fail(quotient.offset, quotient.end - quotient.offset, "ZeroDivisionError: division by zero");
        if (*value.number == std::numeric_limits<std::int64_t>::min() && *divisor.number == -1) {
          lexer_.fail(quotient.offset, quotient.end - quotient.offset, "integer out of range");
        }
        quotient.number = *value.number / *divisor.number;  // C++ truncates toward zero, as int() does
      }
      value = quotient;
    }
    close_call(name, value);
    if (value.real) {  // int(d ** 0.5): truncated toward zero
      if (value.real_number) value.number = truncated(*value.real_number, value);
      value.real = false;
      value.real_number.reset();
      value.division.reset();
    }
    return value;
  }

  // The ')' of a builtin call, int(...) or float(...), or of a parenthesised expression: its
  // value spans the whole call from `name` (or the '('), and has no symbol of its own.
  void close_call(const Token& name, IntValue& value) {
    --depth_;
    Token close = lexer_.peek();
    lexer_.expect(")");
    value.offset = name.offset;
    value.end = close.offset + 1;
    value.symbol.clear();
  }

  // float(x) or float('inf'): a float, known when x is (module_call_text writes an infinite
  // option so).
  IntValue float_call(const Token& name) {
    Token open = lexer_.peek();
    lexer_.expect("(");
    enter(open);
    IntValue value;
    if (lexer_.peek().kind == Token::Kind::String) {
      value.real_number = float_of_string(lexer_, lexer_.take());
    } else {
      value = expression();
      if (value.number) value.real_number = static_cast<double>(*value.number);
      value.number.reset();
    }
    value.real = true;
    close_call(name, value);
    return value;
  }

  // int() of a known float, as Python converts it; a value beyond int64 (Python's int would
  // be a huge integer) is out of range for any size, and is refused before the cast.
  std::int64_t truncated(double real, const IntValue& at) {
    std::size_t length = at.end - at.offset;
    if (std::isnan(real)) lexer_.fail(at.offset, length, "ValueError: cannot convert float NaN to integer");
    if (std::isinf(real)) lexer_.fail(at.offset, length, "OverflowError: cannot convert float infinity to integer");
    double whole = std::trunc(real);
    if (whole < -0x1p63 || whole >= 0x1p63) lexer_.fail(at.offset, length, "integer out of range");
    return static_cast<std::int64_t>(whole);
  }

  IntValue unary() {
    Token token = lexer_.peek();
    if (token.kind == Token::Kind::Punct && (token.text == "-" || token.text == "+")) {
      enter(token);
      lexer_.take();
      IntValue operand = unary();
      --depth_;
      operand.offset = token.offset;
      operand.symbol.clear();
      if (token.text == "-" && operand.real_number) operand.real_number = -*operand.real_number;
      if (token.text == "-" && operand.number) {
        if (*operand.number == std::numeric_limits<std::int64_t>::min()) lexer_.fail(token.offset, operand.end - token.offset, "integer out of range");
        operand.number = -*operand.number;
      }
      return operand;
    }
    return power();
  }

  // atom ** factor, as Python binds it (-2 ** 2 is -4, 2 ** -1 is 0.5): an integer for a
  // non-negative integer exponent, else a float (an attention's scale, head_dim ** -0.5).
  IntValue power() {
    IntValue base = atom();
    bool starts = lexer_.peek().kind == Token::Kind::Punct && lexer_.peek().text == "*" && lexer_.peek_second().kind == Token::Kind::Punct &&
                  lexer_.peek_second().text == "*" && lexer_.peek_second().offset == lexer_.peek().offset + 1;
    if (!starts) return base;
    Token op = lexer_.take();
    lexer_.take();
    enter(op);
    IntValue exponent;
    std::size_t exponent_offset = lexer_.peek().offset;
    exponent = unary();
    --depth_;
    IntValue result;
    result.offset = base.offset;
    result.end = std::max(exponent.end, exponent_offset);
    result.unbound = !base.unbound.empty() ? base.unbound : exponent.unbound;
    result.division = base.division ? base.division : exponent.division;
    std::optional<double> b = as_real(base);
    std::optional<double> e = as_real(exponent);
    // An unbound exponent (2 ** n_layers) leaves the kind open: the unbound name is what to report.
    result.real = base.real || exponent.real || (exponent.number && *exponent.number < 0);
    if (!result.real && base.number && exponent.number) {
      std::int64_t value = 1, n = *exponent.number, x = *base.number;
      if (x == 0 || x == 1 || x == -1) {
        value = n == 0 ? 1 : x == -1 ? (n % 2 == 0 ? 1 : -1) : x;  // no loop: the exponent may be huge
      } else {
        for (std::int64_t i = 0; i < n; ++i) {  // |x| >= 2 overflows within 64 steps
          if (__builtin_mul_overflow(value, x, &value)) lexer_.fail(result.offset, result.end - result.offset, "integer out of range");
        }
      }
      result.number = value;
    } else if (result.real && b && e) {
      if (*b == 0 && *e < 0) lexer_.fail(result.offset, result.end - result.offset, "ZeroDivisionError: 0.0 cannot be raised to a negative power");
      if (*b < 0 && std::isfinite(*e) && std::trunc(*e) != *e) {
        lexer_.fail(result.offset, result.end - result.offset, "a negative number to a fractional power is a complex number in Python",
                    "sizes and scales are real: check the sign of the base");
      }
      result.real_number = std::pow(*b, *e);
      if (std::isinf(*result.real_number) && std::isfinite(*b) && std::isfinite(*e)) {
        lexer_.fail(result.offset, result.end - result.offset, "OverflowError: (34, 'Numerical result out of range')");
      }
    }
    return result;
  }

  IntValue atom() {
    Token token = lexer_.take();
    IntValue value;
    value.offset = token.offset;
    value.end = token.offset + token.text.size();
    if (token.kind == Token::Kind::Int) {
      value.number = parse_int(lexer_, token);
      return value;
    }
    if (token.kind == Token::Kind::Float) {
      value.real = true;
      value.real_number = parse_float(lexer_, token);
      return value;
    }
    if (token.kind == Token::Kind::Punct && token.text == "(") {
      enter(token);
      bool outer = dividend_of_int_;
      dividend_of_int_ = false;  // int((a / b) * c): a '/' inside parentheses is an ordinary division
      value = expression();
      dividend_of_int_ = outer;
      close_call(token, value);  // (d_model) is still d_model, but say so only for bare names
      return value;
    }
    if (token.kind == Token::Kind::Name && token.text == "int" && lexer_.peek().kind == Token::Kind::Punct && lexer_.peek().text == "(") {
      return int_call(token);
    }
    if (token.kind == Token::Kind::Name && token.text == "float" && lexer_.peek().kind == Token::Kind::Punct && lexer_.peek().text == "(") {
      return float_call(token);
    }
    if (token.kind == Token::Kind::Name && token.text == "getattr" && lexer_.peek().kind == Token::Kind::Punct && lexer_.peek().text == "(") {
      return getattr_call(token);
    }
    if (token.kind == Token::Kind::Name && token.text != "True" && token.text != "False" && token.text != "None") {
      return named(token, token.text);
    }
    std::string found = token.kind == Token::Kind::End ? "end of text" : "'" + token.text + "'";
    lexer_.fail(token.offset, std::max<std::size_t>(1, token.text.size()), fmt::format("expected an integer or a name, found {}", found));
  }

  // getattr(config, "head_dim", default), as Hugging Face models read an optional config field:
  // config.head_dim when the text or the dims bind it, else the default (else the unbound name).
  IntValue getattr_call(const Token& callee) {
    enter(lexer_.take());
    Token object = lexer_.take();
    if (object.kind != Token::Kind::Name) lexer_.fail(object.offset, std::max<std::size_t>(1, object.text.size()), "expected an object's name");
    lexer_.expect(",");
    Token attribute = lexer_.take();
    if (attribute.kind != Token::Kind::String) {
      lexer_.fail(attribute.offset, std::max<std::size_t>(1, attribute.text.size()), "expected the attribute's name as a string");
    }
    std::optional<IntValue> fallback;
    if (lexer_.accept(",") && !(lexer_.peek().kind == Token::Kind::Punct && lexer_.peek().text == ")")) fallback = expression();
    lexer_.accept(",");
    --depth_;
    Token close = lexer_.peek();
    lexer_.expect(")");
    std::string name = object.text + "." + attribute.text;
    bool bound = values_.count(name) != 0 || aliases_.count(name) != 0;
    IntValue value = bound || !fallback ? named(callee, name) : *fallback;
    value.offset = callee.offset;
    value.end = close.offset + 1;
    return value;
  }

  // A name's value: bound earlier, or the unbound name itself as a symbol. `token` is where to
  // point.
  IntValue named(const Token& token, const std::string& name) {
    IntValue value;
    value.offset = token.offset;
    value.end = token.offset + token.text.size();
    {
      auto bound = values_.find(name);
      if (bound == values_.end()) {
        auto alias = aliases_.find(name);
        value.symbol = value.unbound = alias == aliases_.end() ? name : alias->second;
        return value;
      }
      if (bound->second.is_number_float()) {  // scale = head_dim ** -0.5, used again
        value.real = true;
        value.real_number = bound->second.get<double>();
        return value;
      }
      if (!bound->second.is_number_integer()) {
        lexer_.fail(token.offset, token.text.size(), fmt::format("{} is {}, not an integer", name, bound->second.dump()));
      }
      value.number = bound->second.get<std::int64_t>();
      return value;
    }
  }

  IntValue combine(const IntValue& left, const IntValue& right, const std::string& op) {
    IntValue result;
    result.offset = left.offset;
    result.end = right.end;
    result.unbound = !left.unbound.empty() ? left.unbound : right.unbound;
    result.division = left.division ? left.division : right.division;
    if (left.real || right.real) {
      // Float arithmetic (a scale times a factor): the value, when both sides are known.
      result.real = true;
      std::optional<double> a = as_real(left);
      std::optional<double> b = as_real(right);
      if (!a || !b) return result;
      if (op == "//" && *b == 0) lexer_.fail(result.offset, result.end - result.offset, "ZeroDivisionError: float floor division by zero");
      if (op == "%" && *b == 0) lexer_.fail(result.offset, result.end - result.offset, "ZeroDivisionError: float modulo");
      // IEEE arithmetic, as Python's floats: 1e300 * 10 is inf, inf - inf is nan.
      if (op == "//" || op == "%") {
        auto [quotient, remainder] = python_divmod(*a, *b);
        result.real_number = op == "//" ? quotient : remainder;
      } else {
        result.real_number = op == "+" ? *a + *b : op == "-" ? *a - *b : *a * *b;
      }
      return result;
    }
    if (!left.number || !right.number) return result;
    std::int64_t a = *left.number, b = *right.number, value = 0;
    bool overflow = false;
    if (op == "+") overflow = __builtin_add_overflow(a, b, &value);
    if (op == "-") overflow = __builtin_sub_overflow(a, b, &value);
    if (op == "*") overflow = __builtin_mul_overflow(a, b, &value);
    if (op == "//" || op == "%") {
      if (b == 0) lexer_.fail(result.offset, result.end - result.offset, "ZeroDivisionError: integer division or modulo by zero");
      overflow = op == "//" && a == std::numeric_limits<std::int64_t>::min() && b == -1;
      // Python floors: the quotient toward minus infinity, the remainder with the divisor's sign.
      bool adjust = b != -1 && a % b != 0 && ((a < 0) != (b < 0));
      if (!overflow && op == "//") value = a / b - (adjust ? 1 : 0);
      if (op == "%") value = b == -1 ? 0 : a % b + (adjust ? b : 0);
    }
    if (overflow) lexer_.fail(result.offset, result.end - result.offset, "integer out of range");
    result.number = value;
    return result;
  }

  // An integer option's value: its number, or the unbound name itself as a symbol. Not in
  // padding=, where a string is a mode ('same'): a size there must be bound.
  nlohmann::json integer_value(const OptionSchema& option) {
    IntValue value = expression();
    if (value.number) return *value.number;
    if (value.division) {
      lexer_.fail(*value.division, 1, "'/' divides into a float: sizes are integers, written with '//' or int(a / b)", "e.g. d_model // num_heads");
    }
    if (value.real) {
      lexer_.fail(value.offset, value.end - value.offset,
                  fmt::format("{} is a float here (a float name, or '**' with a negative or float exponent): sizes are integers", option.name));
    }
    bool symbol_allowed = option.kind != OptionKind::IntOrListOrString;
    if (!value.symbol.empty() && symbol_allowed) return value.symbol;
    std::string what = value.symbol.empty() ? fmt::format("is computed from {}", value.unbound) : fmt::format("is '{}'", value.symbol);
    auto uncomputed = uncomputed_.find(value.unbound);
    std::string why = uncomputed == uncomputed_.end()
                          ? std::string("which nothing binds")
                          : fmt::format("which the text assigns from an expression mhacheck does not compute ({} ...)", uncomputed->second);
    lexer_.fail(value.offset, value.end - value.offset,
                fmt::format("{} {}, {}", option.name, what, why),
                fmt::format("bind it: --dim {}=SIZE on the command line, \"dims\": {{\"{}\": SIZE}} in a spec, or a line "
                            "\"{} = SIZE\" before the call",
                            value.unbound, value.unbound, value.unbound));
  }

  // A name bound to a value earlier (dropout = 0.1): its value, taken; nullopt otherwise.
  std::optional<nlohmann::json> bound_name() {
    const Token& token = lexer_.peek();
    if (token.kind != Token::Kind::Name) return std::nullopt;
    Token after = lexer_.peek_second();
    if (after.kind != Token::Kind::Punct || (after.text != "," && after.text != ")")) return std::nullopt;
    auto bound = values_.find(token.text);
    if (bound == values_.end()) return std::nullopt;
    lexer_.take();
    return bound->second;
  }

  // activation=: a string, or the function or module PyTorch maps it to.
  nlohmann::json activation_value(const Token& token) {
    if (token.kind == Token::Kind::String) return token.text;
    std::string name = token.text.substr(token.text.rfind('.') == std::string::npos ? 0 : token.text.rfind('.') + 1);
    if (token.kind == Token::Kind::Name && (name == "relu" || name == "gelu")) return name;
    if (token.kind == Token::Kind::Name && (name == "ReLU" || name == "GELU")) {
      lexer_.expect("(");
      lexer_.expect(")");
      return name == "ReLU" ? "relu" : "gelu";
    }
    lexer_.fail(token.offset, token.text.size(), fmt::format("activation must be \"relu\" or \"gelu\" (or F.relu, F.gelu), found '{}'", token.text),
                "mhacheck knows the two activations PyTorch's Transformer layers name");
  }

  // Options that do not change any shape or dtype (dropout, eps, device, activation, a flag its
  // schema declares FlagEffect::ChangesNoShape) may be names the text does not bind: the option
  // then keeps PyTorch's default. Returns the name when the next value is such a name (taken).
  std::optional<std::string> unbound_shapeless_option(const OptionSchema& option) {
    bool shapeless = option.kind == OptionKind::Float || option.kind == OptionKind::Device || option.kind == OptionKind::String ||
                     (option.kind == OptionKind::Bool && option.flag_effect == FlagEffect::ChangesNoShape);
    const Token& token = lexer_.peek();
    if (!shapeless || token.kind != Token::Kind::Name || values_.count(token.text) != 0) return std::nullopt;
    if (token.text == "True" || token.text == "False" || token.text == "None") return std::nullopt;
    Token after = lexer_.peek_second();
    if (after.kind != Token::Kind::Punct || (after.text != "," && after.text != ")")) return std::nullopt;
    if (option.kind == OptionKind::String && (token.text.ends_with("relu") || token.text.ends_with("gelu"))) return std::nullopt;
    return lexer_.take().text;
  }

  // One argument value converted to the JSON the spec format uses for this option kind; an
  // unbound name where shapes do not depend on it is {"$unbound": NAME} (PyTorch's default,
  // with a note).
  nlohmann::json option_value(const OptionSchema& option) {
    if (option.kind == OptionKind::Module || option.kind == OptionKind::OptionalModule) {
      const Token& token = lexer_.peek();
      if (option.kind == OptionKind::OptionalModule && token.kind == Token::Kind::Name && token.text == "None") {
        lexer_.take();
        return nlohmann::json(nullptr);
      }
      if (token.kind == Token::Kind::Name && modules_.count(token.text) != 0 && !starts_module_call()) {
        Token name = lexer_.take();
        used_.insert(same_module_.count(name.text) != 0 ? same_module_[name.text] : name.text);
        const nlohmann::json& module = modules_[name.text];
        if (module["type"] != option.module_type) {
          lexer_.fail(name.offset, name.text.size(), fmt::format("expected an nn.{} here, found {} (an nn.{})", option.module_type, name.text,
                                                                 module["type"].get<std::string>()));
        }
        return module;
      }
      return parse_module(option.module_type);
    }
    if (std::optional<std::string> name = unbound_shapeless_option(option)) return {{"$unbound", *name}};
    const std::string written = lexer_.peek().text;
    if (std::optional<nlohmann::json> bound = bound_name()) return checked(option, *bound, lexer_.peek(), fmt::format("'{}'", written));
    if (option.kind == OptionKind::IntOrListOrString && lexer_.peek().kind == Token::Kind::String) return lexer_.take().text;
    if ((option.kind == OptionKind::IntOrList || option.kind == OptionKind::IntOrListOrString) &&
        (lexer_.peek().text == "(" || lexer_.peek().text == "[") &&
        lexer_.peek().kind == Token::Kind::Punct) {
      // A list of sizes, unless the parenthesis only groups an expression: (d_model).
      bool list = lexer_.peek().text == "[";
      if (!list) {
        std::size_t depth = 0;
        Lexer probe = lexer_;
        for (;;) {
          Token token = probe.take();
          if (token.kind == Token::Kind::End) break;
          if (token.kind != Token::Kind::Punct) continue;
          if (token.text == "(" || token.text == "[") ++depth;
          if (token.text == ")" || token.text == "]") {
            if (--depth == 0) break;
          }
          if (token.text == "," && depth == 1) {
            list = true;
            break;
          }
        }
      }
      if (list) {
        Token open = lexer_.take();
        enter(open);
        std::string closer = open.text == "(" ? ")" : "]";
        nlohmann::json sizes = nlohmann::json::array();
        while (!lexer_.accept(closer)) {
          sizes.push_back(integer_value(option));
          if (!lexer_.accept(",")) {
            lexer_.expect(closer);
            break;
          }
        }
        --depth_;
        return sizes;
      }
    }
    switch (option.kind) {
      case OptionKind::Int:
      case OptionKind::IntOrList:
      case OptionKind::IntOrListOrString:
        return integer_value(option);
      case OptionKind::OptionalInt:
        if (lexer_.peek().kind == Token::Kind::Name && lexer_.peek().text == "None") {
          lexer_.take();
          return nlohmann::json(nullptr);
        }
        return integer_value(option);
      case OptionKind::Float:
        {
          IntValue value = expression();
          if (value.real_number) return *value.real_number;
          if (!value.number) wrong(option, value.offset, value.end - value.offset);
          return *value.number;  // an int as written: PyTorch's messages print it so (dropout=2: "got 2")
        }
      default:
        break;
    }
    Token token = lexer_.take();
    if (option.kind == OptionKind::String) return activation_value(token);
    if (option.kind == OptionKind::Bool && token.kind == Token::Kind::Name && (token.text == "True" || token.text == "False")) {
      return token.text == "True";
    }
    if ((option.kind == OptionKind::DType || option.kind == OptionKind::Device) && token.kind == Token::Kind::Name && token.text == "None") {
      return nlohmann::json(nullptr);
    }
    if (option.kind == OptionKind::DType && (token.kind == Token::Kind::Name || token.kind == Token::Kind::String) && parse_dtype(token.text)) {
      return dtype_name(*parse_dtype(token.text));
    }
    if (option.kind == OptionKind::Device) {
      if (token.kind == Token::Kind::String) return token.text;
      if (token.kind == Token::Kind::Name && token.text.rfind("torch.device", 0) == 0) {
        // torch.device('cpu')
        lexer_.expect("(");
        Token name = lexer_.take();
        lexer_.expect(")");
        return name.text;
      }
    }
    wrong(option, token.offset, token.text.size(), token.text);
  }

  [[noreturn]] void wrong(const OptionSchema& option, std::size_t offset, std::size_t length, const std::string& found = {}) {
    std::string text = option_kind_text(option.kind) == "an integer or null" ? "an integer or None" : option_kind_text(option.kind);
    if (option.kind == OptionKind::Bool) text = "True or False";
    if (option.kind == OptionKind::Bool && values_.count(found) == 0 && !found.empty() && found != "True" && found != "False") {
      lexer_.fail(offset, length, fmt::format("{} must be True or False, found '{}', which nothing binds", option.name, found),
                  fmt::format("it decides shapes, so mhacheck does not guess it (PyTorch's default is {}): bind it with --dim {}=True "
                              "(or False), a line \"{} = True\" before the call, a pasted `def __init__(..., {}=...)` line, or "
                              "write the value",
                              option.default_value == true ? "True" : "False", found, found, found));
    }
    lexer_.fail(offset, length, fmt::format("{} must be {}{}", option.name, text, found.empty() ? "" : fmt::format(", found '{}'", found)));
  }

  // A bound name's value as this option's kind.
  // `what` names where the value comes from, `next` is where to point.
  nlohmann::json checked(const OptionSchema& option, const nlohmann::json& value, const Token& next, const std::string& what) {
    bool fits = false;
    switch (option.kind) {
      case OptionKind::Int:
      case OptionKind::IntOrList: fits = value.is_number_integer(); break;
      case OptionKind::IntOrListOrString: fits = value.is_number_integer() || value.is_string(); break;
      case OptionKind::OptionalInt: fits = value.is_number_integer() || value.is_null(); break;
      case OptionKind::Float: fits = value.is_number(); break;
      case OptionKind::Bool: fits = value.is_boolean(); break;
      case OptionKind::String: fits = value.is_string(); break;
      case OptionKind::Device: fits = value.is_string() || value.is_null(); break;
      case OptionKind::DType: fits = value.is_null() || (value.is_string() && parse_dtype(value.get<std::string>())); break;
      case OptionKind::Module:
      case OptionKind::OptionalModule: break;
    }
    if (!fits) {
      lexer_.fail(next.offset, std::max<std::size_t>(1, next.text.size()),
                  fmt::format("{} must be {}, but {} is {}", option.name, option_kind_text(option.kind), what, value.dump()));
    }
    if (option.kind == OptionKind::DType && value.is_string()) return dtype_name(*parse_dtype(value.get<std::string>()));
    return value;
  }

  // The option a keyword argument names, as Python's call checks it.
  const OptionSchema& keyword_option(const ModuleSchema& schema, const std::set<std::string>& given, const std::string& keyword,
                                     const Token& at) {
    const OptionSchema* option = nullptr;
    std::vector<std::string> names;
    for (const OptionSchema& candidate : schema.options) {
      names.push_back(candidate.name);
      if (candidate.name == keyword) option = &candidate;
    }
    std::size_t length = std::max<std::size_t>(1, at.text.size());
    if (option == nullptr) {
      lexer_.fail(at.offset, length,
                  fmt::format("{}.__init__() got an unexpected keyword argument '{}'{}", schema.type, keyword, did_you_mean(keyword, names)));
    }
    if (given.count(option->name) != 0) {
      lexer_.fail(at.offset, length, fmt::format("{}.__init__() got multiple values for argument '{}'", schema.type, option->name));
    }
    return *option;
  }

  // factory_kwargs, the name PyTorch's own modules give their {'device': ..., 'dtype': ...}
  // keyword dict, when the text neither builds it nor binds it otherwise.
  bool is_unbound_factory_kwargs(const std::string& name) const {
    return name == "factory_kwargs" && values_.count(name) == 0 && aliases_.count(name) == 0 && modules_.count(name) == 0;
  }

  // **NAME with NAME a dict built earlier: its entries as keyword arguments (taken). False,
  // nothing taken, when the next argument is not such a splat.
  bool read_dict_splat(const ModuleSchema& schema, nlohmann::json& module, std::set<std::string>& given) {
    Lexer probe = lexer_;
    if (!probe.accept("*") || !probe.accept("*")) return false;
    Token name = probe.take();
    auto dict = dicts_.find(name.text);
    if (name.kind == Token::Kind::Name && dict == dicts_.end() && is_unbound_factory_kwargs(name.text)) {
      // PyTorch's own modules pass {'device': device, 'dtype': dtype} as **factory_kwargs: with
      // nothing binding it, both keep PyTorch's defaults (the CPU, float32), with a note.
      lexer_.take();
      lexer_.take();
      lexer_.take();
      for (const char* key : {"device", "dtype"}) {
        const OptionSchema& option = keyword_option(schema, given, key, name);
        given.insert(option.name);
        module[option.name] = {{"$unbound", "**" + name.text}};
      }
      return true;
    }
    if (name.kind != Token::Kind::Name || dict == dicts_.end()) return false;
    lexer_.take();
    lexer_.take();
    lexer_.take();
    for (const DictEntry& entry : dict->second) {
      const OptionSchema& option = keyword_option(schema, given, entry.key, name);
      given.insert(option.name);
      module[option.name] = dict_value(option, name.text, entry);
    }
    return true;
  }

  [[noreturn]] void unknown_module(const Token& name) {
    std::string bare = name.text.substr(name.text.rfind('.') == std::string::npos ? 0 : name.text.rfind('.') + 1);
    std::string names;
    for (const std::string& known : module_type_names()) names += (names.empty() ? "nn." : ", nn.") + known;
    lexer_.fail(name.offset, name.text.size(), fmt::format("unknown module '{}'{}", name.text, did_you_mean(bare, module_type_names())),
                "supported: " + names);
  }

  // A constructor call, Name(arguments...), of a module; `expected_type` when nested in an option.
  nlohmann::json parse_module(const std::string& expected_type) {
    Token name = lexer_.take();
    if (name.kind != Token::Kind::Name) {
      lexer_.fail(name.offset, name.text.size(),
                  fmt::format("expected a module constructor such as nn.{}(...)", expected_type.empty() ? "MultiheadAttention" : expected_type));
    }
    enter(name);
    std::optional<std::string> type = canonical_module_type(name.text);
    if (!type) unknown_module(name);
    if (!expected_type.empty() && *type != expected_type) {
      lexer_.fail(name.offset, name.text.size(), fmt::format("expected an nn.{} here, found nn.{}", expected_type, *type));
    }
    const ModuleSchema& schema = *find_module_schema(*type);
    nlohmann::json module = {{"type", *type}};
    std::set<std::string> given;
    Token open = lexer_.peek();
    lexer_.expect("(");
    std::size_t position = 0;
    bool keywords_started = false;
    while (!lexer_.accept(")")) {
      Token first = lexer_.peek();
      if (read_dict_splat(schema, module, given)) {
        keywords_started = true;
        if (!lexer_.accept(",")) {
          lexer_.expect(")");
          break;
        }
        continue;
      }
      if (first.kind == Token::Kind::Punct && first.text == "*") {
        Token splat = lexer_.peek_second();
        lexer_.fail(first.offset, splat.offset + splat.text.size() - first.offset,
                    splat.text == "*" ? std::string("the arguments of a ** splat are not known here")
                                      : fmt::format("the arguments of a splat (*{}) are not known here", splat.text),
                    "write the arguments out, e.g. nn.MultiheadAttention(d_model, n_heads, batch_first=True)");
      }
      const OptionSchema* option = nullptr;
      Token after = lexer_.peek_second();
      if (first.kind == Token::Kind::Name && after.kind == Token::Kind::Punct && after.text == "=") {
        lexer_.take();
        lexer_.take();
        keywords_started = true;
        option = &keyword_option(schema, given, first.text, first);
      } else {
        if (keywords_started) lexer_.fail(first.offset, first.text.size(), "positional argument follows keyword argument");
        if (position >= schema.options.size()) {
          lexer_.fail(first.offset, first.text.size(),
                      fmt::format("{}.__init__() takes at most {} arguments", schema.type, schema.options.size()));
        }
        option = &schema.options[position++];
      }
      given.insert(option->name);
      module[option->name] = option_value(*option);
      if (!lexer_.accept(",")) {
        lexer_.expect(")");
        break;
      }
    }
    for (const OptionSchema& option : schema.options) {
      if (option.required && given.count(option.name) == 0) {
        lexer_.fail(name.offset, open.offset + 1 - name.offset,
                    fmt::format("{}.__init__() missing required argument: '{}'", schema.type, option.name));
      }
    }
    --depth_;
    read_module_methods(module);
    return module;
  }

  // Methods called on the constructed module, which return it: .to(device), .cuda(), .eval()
  // change no shape; .half(), .float(), .double(), .bfloat16() and .to(torch.float16) or
  // .to(dtype=...) make its parameters that dtype.
  void read_module_methods(nlohmann::json& module) {
    static const std::map<std::string, DType> kCasts = {
        {".half", DType::Float16}, {".float", DType::Float32}, {".double", DType::Float64}, {".bfloat16", DType::BFloat16}};
    static const std::set<std::string> kShapeless = {".to", ".cuda", ".cpu", ".eval", ".train", ".requires_grad_", ".share_memory"};
    while (lexer_.peek().kind == Token::Kind::Name && lexer_.peek().text[0] == '.') {
      Token method = lexer_.take();
      auto cast = kCasts.find(method.text);
      if (cast == kCasts.end() && kShapeless.count(method.text) == 0) {
        lexer_.fail(method.offset, method.text.size(), fmt::format("unknown method '{}' on the module", method.text.substr(1)),
                    "mhacheck follows .to(...), .half(), .float(), .double(), .bfloat16(), .cuda(), .cpu(), .eval() and .train()");
      }
      lexer_.expect("(");
      std::optional<DType> dtype;
      if (cast != kCasts.end()) dtype = cast->second;
      while (!lexer_.accept(")")) {
        // .to's arguments: a dtype (positional or dtype=) counts; a device, non_blocking, copy do not.
        bool keyword = lexer_.peek().kind == Token::Kind::Name && lexer_.peek_second().kind == Token::Kind::Punct && lexer_.peek_second().text == "=";
        bool is_dtype = keyword && lexer_.peek().text == "dtype";
        if (keyword) {
          lexer_.take();
          lexer_.take();
        }
        Token value = lexer_.take();
        if (value.kind == Token::Kind::End || (value.kind == Token::Kind::Punct && value.text != "-")) {
          lexer_.fail(value.offset, std::max<std::size_t>(1, value.text.size()), "expected an argument of the module's method");
        }
        if (lexer_.accept("(")) skip_brackets(")");  // torch.device("cuda", 0)
        // A dtype by keyword, or positional as torch.float16 (a bare name is a device or a tensor).
        if ((is_dtype || (!keyword && value.text.rfind("torch.", 0) == 0)) && parse_dtype(value.text)) dtype = parse_dtype(value.text);
        else if (is_dtype && value.text != "None") lexer_.fail(value.offset, std::max<std::size_t>(1, value.text.size()), fmt::format("'{}' is not a dtype", value.text));
        if (!lexer_.accept(",")) {
          lexer_.expect(")");
          break;
        }
      }
      if (dtype) set_dtype(module, *dtype);
    }
  }

  // Past the brackets opened just before, nested ones included.
  void skip_brackets(const std::string& closer) {
    int depth = 1;
    while (depth > 0 && lexer_.peek().kind != Token::Kind::End) {
      Token token = lexer_.take();
      if (token.text == "(" || token.text == "[") ++depth;
      if (token.text == ")" || token.text == "]") --depth;
    }
    if (depth > 0) lexer_.fail_here("'" + closer + "'");
  }

  // module.half() and the like convert every parameter: the module's own dtype option and those
  // of the modules inside it (a stack's layers and norm).
  static void set_dtype(nlohmann::json& module, DType dtype) {
    const ModuleSchema* schema = find_module_schema(module["type"].get<std::string>());
    for (const OptionSchema& option : schema->options) {
      if (option.kind == OptionKind::DType) module[option.name] = dtype_name(dtype);
      if ((option.kind == OptionKind::Module || option.kind == OptionKind::OptionalModule) && module.contains(option.name) &&
          module[option.name].is_object()) {
        set_dtype(module[option.name], dtype);
      }
    }
  }

 public:
  // The integer sizes the text itself assigns to plain names (d_model = 512, the defaults of a
  // pasted def), not those `bindings` gave.
  NameBindings assigned_sizes() const {
    NameBindings sizes;
    for (const auto& [name, value] : values_) {
      if (value.is_number_integer() && given_.count(name) == 0 && name.find('.') == std::string::npos) sizes[name] = value;
    }
    return sizes;
  }

 private:
  Lexer& lexer_;
  std::map<std::string, nlohmann::json> values_;   // names bound to sizes and other values
  std::map<std::string, std::string> aliases_;     // names bound to an unbound name (self.d_model = d_model)
  std::set<std::string> given_;                    // names --dim or "dims" binds
  std::map<std::string, nlohmann::json> modules_;  // names bound to modules
  std::map<std::string, std::vector<DictEntry>> dicts_;  // names bound to dict literals
  std::set<std::string> used_;                     // modules passed to another module
  std::optional<Token> forward_call_;               // the first call of a module attribute (self.attn(...))
  std::optional<Token> unknown_call_;               // the first constructor of a module mhacheck does not know
  std::map<std::string, std::string> same_module_;
  std::map<std::string, std::string> uncomputed_;   // names assigned from more than mhacheck computes: the value's first word  // a = b = nn.Linear(...): b names the module constructed as a
  int depth_ = 0;
  bool dividend_of_int_ = false;  // reading int(a / b)'s dividend, where '/' ends the term
};

}  // namespace

// The result depends on the text and the bindings alone (`origin` only places an error), and one
// `check` reads the same constructor string many times: the spec, then each patched copy that
// verifies a fix, and the fix candidates built from the module's options. So each thread keeps
// its last few results (of short texts: a remembered text is kept until the process ends).
nlohmann::json parse_module_call(const std::string& text, const Location& origin, const NameBindings& bindings) {
  struct Parsed {
    std::string text;
    NameBindings bindings;
    nlohmann::json options;
  };
  constexpr std::size_t kRemembered = 8, kLongestRemembered = 64 * 1024;
  thread_local std::deque<Parsed> remembered;
  for (const Parsed& parsed : remembered) {
    if (parsed.text == text && parsed.bindings == bindings) return parsed.options;
  }
  Lexer lexer(text, origin);
  PythonReader reader(lexer, bindings);
  nlohmann::json options = reader.read_statements();
  if (text.size() <= kLongestRemembered) {
    if (remembered.size() == kRemembered) remembered.pop_back();
    remembered.push_front({text, bindings, options});
  }
  return options;
}

NameBindings pasted_sizes(const std::string& text, const Location& origin, const NameBindings& bindings) {
  Lexer lexer(text, origin);
  PythonReader reader(lexer, bindings);
  reader.read_statements();
  return reader.assigned_sizes();
}

std::optional<Location> place_of_name(const std::string& text, const Location& origin, const std::string& name) {
  try {
    Lexer lexer(text, origin);
    std::optional<Token> place;
    while (lexer.peek().kind != Token::Kind::End) {
      Token token = lexer.take();
      const Token& next = lexer.peek();
      bool named = next.kind == Token::Kind::Punct && (next.text == "=" || next.text == ":");
      if (token.kind == Token::Kind::Name && token.text == name && !named) place = token;
    }
    if (place) return lexer.at(place->offset, place->text.size());
  } catch (const InputError&) {
  }
  return std::nullopt;
}

ShapeText parse_shape_text(const std::string& text, const Location& origin, bool sizes) {
  Lexer lexer(text, origin);
  ShapeText result;
  result.shape = nlohmann::json::array();
  int closers = 0;
  if (lexer.peek().kind == Token::Kind::Name && lexer.peek().text == "torch.Size") {
    lexer.take();
    lexer.expect("(");
    lexer.expect("[");
    closers = 2;
  } else if (lexer.accept("(")) {
    closers = -1;  // ')'
  } else if (lexer.accept("[")) {
    closers = -2;  // ']'
  }
  auto at_close = [&]() {
    const Token& token = lexer.peek();
    if (closers == 0) return token.kind == Token::Kind::End || (token.kind == Token::Kind::Punct && token.text == ":");
    std::string closer = closers == -1 ? ")" : "]";
    return token.kind == Token::Kind::Punct && token.text == closer;
  };
  while (!at_close()) {
    // One dim: the tokens up to the next ',' or the closer (B*T, 2*S-1 as well as 512 or B).
    std::vector<Token> tokens;
    while (!at_close() && lexer.peek().kind != Token::Kind::End && !(lexer.peek().kind == Token::Kind::Punct && lexer.peek().text == ",")) {
      tokens.push_back(lexer.take());
    }
    if (tokens.empty()) {
      Token token = lexer.peek();
      lexer.fail(token.offset, std::max<std::size_t>(1, token.text.size()),
                 fmt::format("expected a dim (an integer or a symbol name), found {}", token.kind == Token::Kind::End ? "end of text" : "'" + token.text + "'"));
    }
    const Token& first = tokens.front();
    const Token& last = tokens.back();
    std::size_t length = last.offset + last.text.size() + (last.kind == Token::Kind::String ? 2 : 0) - first.offset;
    bool negative = tokens.size() == 2 && first.kind == Token::Kind::Punct && first.text == "-" && last.kind == Token::Kind::Int;
    if (negative && !sizes) lexer.fail(first.offset, length, fmt::format("dim -{} is negative", last.text));
    if (negative) {
      result.shape.push_back(-parse_int(lexer, last));  // a size list's -1, checked by the operator's rule
    } else if (tokens.size() == 1 && first.kind == Token::Kind::Int) {
      std::int64_t value = parse_int(lexer, first);
      if (value < 0) lexer.fail(first.offset, first.text.size(), fmt::format("dim {} is negative", value));
      result.shape.push_back(value);
    } else if (tokens.size() == 1 && (first.kind == Token::Kind::Name || first.kind == Token::Kind::String)) {
      result.shape.push_back(first.text);
    } else {
      // A symbol expression as the spec writes one (B*T, 8*B, T+1): the shape algebra's own reader decides.
      std::string expression;
      for (const Token& token : tokens) expression += token.text;
      bool plain = std::all_of(tokens.begin(), tokens.end(), [](const Token& token) { return token.kind != Token::Kind::String; });
      if (!plain || !parse_dim_expr(expression)) {
        lexer.fail(first.offset, length,
                   fmt::format("expected a dim (an integer, a symbol name, or a product of symbols with a constant such as B*T, 8*B or T+1), found '{}'",
                               expression));
      }
      result.shape.push_back(expression);
    }
    result.dims.push_back(lexer.at(first.offset, length));
    if (!lexer.accept(",")) break;
  }
  if (closers == 2) {
    lexer.expect("]");
    lexer.expect(")");
  } else if (closers == -1) {
    lexer.expect(")");
  } else if (closers == -2) {
    lexer.expect("]");
  }
  if (lexer.accept(":")) {
    Token dtype = lexer.take();
    if (!parse_dtype(dtype.text)) {
      lexer.fail(dtype.offset, dtype.text.size(),
                 fmt::format("unknown dtype '{}'; expected one of {}", dtype.text, dtype_names_list()));
    }
    result.dtype = dtype_name(*parse_dtype(dtype.text));
  }
  if (lexer.peek().kind != Token::Kind::End) lexer.fail_here("end of shape");
  return result;
}

std::string module_call_text(const nlohmann::json& module) {
  std::string type = module.value("type", std::string("MultiheadAttention"));
  const ModuleSchema* schema = find_module_schema(canonical_module_type(type).value_or(type));
  std::string text = "nn." + canonical_module_type(type).value_or(type) + "(";
  bool first = true;
  auto python = [](const nlohmann::json& value, OptionKind kind) -> std::string {
    if (value.is_null()) return "None";
    if (value.is_boolean()) return value.get<bool>() ? "True" : "False";
    if (value.is_object() && value.contains("$unbound")) return value["$unbound"].get<std::string>();
    if (kind == OptionKind::DType) return fmt::format("torch.{}", value.get<std::string>());
    if (kind == OptionKind::Module || kind == OptionKind::OptionalModule) {
      // A nested module written as its constructor call is shown as written.
      return value.is_string() ? value.get<std::string>() : module_call_text(value);
    }
    // Names stay names: a size symbol ("d_model"), an option left unbound ({"$unbound": "p_drop"}, above).
    if (value.is_string() && kind != OptionKind::String && kind != OptionKind::Device && kind != OptionKind::IntOrListOrString) {
      return value.get<std::string>();
    }
    if (value.is_string()) return fmt::format("'{}'", value.get<std::string>());
    if (value.is_array()) {
      std::string items;
      for (const nlohmann::json& item : value) items += (items.empty() ? "" : ", ") + (item.is_string() ? item.get<std::string>() : item.dump());
      return "(" + items + (value.size() == 1 ? ",)" : ")");
    }
    // A float Python text computed past the largest double (dropout=1e400): JSON has no inf.
    if (value.is_number_float() && !std::isfinite(value.get<double>())) {
      double real = value.get<double>();
      return std::isnan(real) ? "float('nan')" : real > 0 ? "float('inf')" : "float('-inf')";
    }
    return value.dump();
  };
  std::set<std::string> splats;  // an unbound **factory_kwargs, written once, last, as pasted
  for (const OptionSchema& option : schema->options) {
    if (!module.contains(option.name)) continue;
    const nlohmann::json& value = module[option.name];
    if (value.is_object() && value.contains("$unbound") && value["$unbound"].is_string() &&
        value["$unbound"].get<std::string>().starts_with("**")) {
      splats.insert(value["$unbound"].get<std::string>());
      continue;
    }
    text += first ? "" : ", ";
    first = false;
    if (!option.required) text += option.name + "=";
    text += python(value, option.kind);
  }
  for (const std::string& splat : splats) {
    text += (first ? "" : ", ") + splat;
    first = false;
  }
  return text + ")";
}

}  // namespace mhacheck
