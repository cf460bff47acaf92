#include "mhacheck/python_text.hpp"

#include <cctype>
#include <charconv>

#include <fmt/format.h>

#include "mhacheck/dtype.hpp"
#include "mhacheck/module_schema.hpp"
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

  Location at(std::size_t offset, std::size_t length) const {
    Location location = origin_;
    location.column += static_cast<int>(offset);
    location.length = static_cast<int>(std::max<std::size_t>(1, length));
    return location;
  }

 private:
  void advance() {
    while (pos_ < text_.size() && std::isspace(static_cast<unsigned char>(text_[pos_]))) ++pos_;
    std::size_t start = pos_;
    if (pos_ >= text_.size()) {
      current_ = {Token::Kind::End, "", pos_};
      return;
    }
    char c = text_[pos_];
    auto is_name = [](char ch) { return std::isalnum(static_cast<unsigned char>(ch)) || ch == '_' || ch == '.'; };
    if (std::isalpha(static_cast<unsigned char>(c)) || c == '_') {
      while (pos_ < text_.size() && is_name(text_[pos_])) ++pos_;
      current_ = {Token::Kind::Name, text_.substr(start, pos_ - start), start};
    } else if (std::isdigit(static_cast<unsigned char>(c)) || c == '-' || c == '+' || c == '.') {
      ++pos_;
      bool floating = c == '.';
      while (pos_ < text_.size() &&
             (std::isalnum(static_cast<unsigned char>(text_[pos_])) || text_[pos_] == '.' ||
              ((text_[pos_] == '-' || text_[pos_] == '+') &&
               (text_[pos_ - 1] == 'e' || text_[pos_ - 1] == 'E')))) {
        floating = floating || text_[pos_] == '.' || text_[pos_] == 'e' || text_[pos_] == 'E';
        ++pos_;
      }
      current_ = {floating ? Token::Kind::Float : Token::Kind::Int, text_.substr(start, pos_ - start), start};
    } else if (c == '\'' || c == '"') {
      ++pos_;
      while (pos_ < text_.size() && text_[pos_] != c) ++pos_;
      if (pos_ >= text_.size()) fail(start, 1, "unterminated string");
      ++pos_;
      current_ = {Token::Kind::String, text_.substr(start + 1, pos_ - start - 2), start};
    } else if (std::string("()[],=:").find(c) != std::string::npos) {
      ++pos_;
      current_ = {Token::Kind::Punct, std::string(1, c), start};
    } else {
      fail(start, 1, fmt::format("unexpected character '{}'", c));
    }
  }

  const std::string& text_;
  Location origin_;
  std::size_t pos_ = 0;
  Token current_{Token::Kind::End, "", 0};
};

std::int64_t parse_int(const Lexer& lexer, const Token& token) {
  std::int64_t value = 0;
  const char* first = token.text.data() + (token.text[0] == '+' ? 1 : 0);
  auto [end, error] = std::from_chars(first, token.text.data() + token.text.size(), value);
  if (error != std::errc() || end != token.text.data() + token.text.size()) {
    lexer.fail(token.offset, token.text.size(), fmt::format("'{}' is not an integer in range", token.text));
  }
  return value;
}

nlohmann::json parse_module(Lexer& lexer, const std::string& expected_type);

// activation=: a string, or the function or module PyTorch maps it to.
nlohmann::json activation_value(Lexer& lexer, const Token& token) {
  if (token.kind == Token::Kind::String) return token.text;
  std::string name = token.text.substr(token.text.rfind('.') == std::string::npos ? 0 : token.text.rfind('.') + 1);
  if (token.kind == Token::Kind::Name && (name == "relu" || name == "gelu")) return name;
  if (token.kind == Token::Kind::Name && (name == "ReLU" || name == "GELU")) {
    lexer.expect("(");
    lexer.expect(")");
    return name == "ReLU" ? "relu" : "gelu";
  }
  lexer.fail(token.offset, token.text.size(), fmt::format("activation must be \"relu\" or \"gelu\" (or F.relu, F.gelu), found '{}'", token.text),
             "mhacheck knows the two activations PyTorch's Transformer layers name");
}

// One argument value converted to the JSON the spec format uses for this option kind.
nlohmann::json option_value(Lexer& lexer, const OptionSchema& option) {
  if (option.kind == OptionKind::Module || option.kind == OptionKind::OptionalModule) {
    if (option.kind == OptionKind::OptionalModule && lexer.peek().kind == Token::Kind::Name && lexer.peek().text == "None") {
      lexer.take();
      return nullptr;
    }
    return parse_module(lexer, option.module_type);
  }
  if (option.kind == OptionKind::IntOrList && (lexer.peek().text == "(" || lexer.peek().text == "[")) {
    std::string closer = lexer.take().text == "(" ? ")" : "]";
    nlohmann::json sizes = nlohmann::json::array();
    while (!lexer.accept(closer)) {
      Token size = lexer.take();
      if (size.kind != Token::Kind::Int) lexer.fail(size.offset, size.text.size(), fmt::format("{} must be integers, found '{}'", option.name, size.text));
      sizes.push_back(parse_int(lexer, size));
      if (!lexer.accept(",")) {
        lexer.expect(closer);
        break;
      }
    }
    return sizes;
  }
  Token token = lexer.take();
  auto wrong = [&]() {
    lexer.fail(token.offset, token.text.size(),
               fmt::format("{} must be {}, found '{}'", option.name,
                           option_kind_text(option.kind) == "an integer or null" ? "an integer or None"
                                                                                  : option_kind_text(option.kind),
                           token.text));
  };
  switch (option.kind) {
    case OptionKind::Int:
    case OptionKind::IntOrList:
      if (token.kind != Token::Kind::Int) wrong();
      return parse_int(lexer, token);
    case OptionKind::String:
      return activation_value(lexer, token);
    case OptionKind::Module:
    case OptionKind::OptionalModule:
      break;  // read above
    case OptionKind::OptionalInt:
      if (token.kind == Token::Kind::Name && token.text == "None") return nullptr;
      if (token.kind != Token::Kind::Int) wrong();
      return parse_int(lexer, token);
    case OptionKind::Float:
      if (token.kind != Token::Kind::Int && token.kind != Token::Kind::Float) wrong();
      try {
        return std::stod(token.text);
      } catch (const std::exception&) {
        wrong();
      }
      return nullptr;
    case OptionKind::Bool:
      if (token.kind == Token::Kind::Name && (token.text == "True" || token.text == "False")) {
        return token.text == "True";
      }
      wrong();
      return nullptr;
    case OptionKind::DType:
      if (token.kind == Token::Kind::Name && token.text == "None") return nullptr;
      if ((token.kind == Token::Kind::Name || token.kind == Token::Kind::String) && parse_dtype(token.text)) {
        return dtype_name(*parse_dtype(token.text));
      }
      wrong();
      return nullptr;
    case OptionKind::Device:
      if (token.kind == Token::Kind::Name && token.text == "None") return nullptr;
      if (token.kind == Token::Kind::String) return token.text;
      if (token.kind == Token::Kind::Name && token.text.rfind("torch.device", 0) == 0) {
        // torch.device('cpu')
        lexer.expect("(");
        Token name = lexer.take();
        lexer.expect(")");
        return name.text;
      }
      wrong();
  }
  wrong();
  return nullptr;
}


// A constructor call, Name(arguments...), of a module; `expected_type` when nested in an option.
nlohmann::json parse_module(Lexer& lexer, const std::string& expected_type) {
  Token name = lexer.take();
  if (name.kind != Token::Kind::Name) {
    lexer.fail(name.offset, name.text.size(),
               fmt::format("expected a module constructor such as nn.{}(...)", expected_type.empty() ? "MultiheadAttention" : expected_type));
  }
  std::optional<std::string> type = canonical_module_type(name.text);
  if (!type) {
    std::string bare = name.text.substr(name.text.rfind('.') == std::string::npos ? 0 : name.text.rfind('.') + 1);
    std::string names;
    for (const std::string& known : module_type_names()) names += (names.empty() ? "nn." : ", nn.") + known;
    lexer.fail(name.offset, name.text.size(), fmt::format("unknown module '{}'{}", name.text, did_you_mean(bare, module_type_names())),
               "supported: " + names);
  }
  if (!expected_type.empty() && *type != expected_type) {
    lexer.fail(name.offset, name.text.size(), fmt::format("expected an nn.{} here, found nn.{}", expected_type, *type));
  }
  const ModuleSchema& schema = *find_module_schema(*type);
  nlohmann::json module = {{"type", *type}};
  Token open = lexer.peek();
  lexer.expect("(");
  std::size_t position = 0;
  bool keywords_started = false;
  while (!lexer.accept(")")) {
    Token first = lexer.peek();
    const OptionSchema* option = nullptr;
    bool keyword = false;
    if (first.kind == Token::Kind::Name && first.text.find('.') == std::string::npos && first.text != "True" &&
        first.text != "False" && first.text != "None") {
      // name=value, unless the name is a value itself (a nested module call such as LayerNorm(8))
      keyword = canonical_module_type(first.text) == std::nullopt;
    }
    if (keyword) {
      lexer.take();
      lexer.expect("=");
      keywords_started = true;
      std::vector<std::string> names;
      for (const OptionSchema& candidate : schema.options) {
        names.push_back(candidate.name);
        if (candidate.name == first.text) option = &candidate;
      }
      if (option == nullptr) {
        lexer.fail(first.offset, first.text.size(),
                   fmt::format("{}.__init__() got an unexpected keyword argument '{}'{}", schema.type,
                               first.text, did_you_mean(first.text, names)));
      }
      if (module.contains(option->name)) {
        lexer.fail(first.offset, first.text.size(),
                   fmt::format("{}.__init__() got multiple values for argument '{}'", schema.type, option->name));
      }
    } else {
      if (keywords_started) lexer.fail(first.offset, first.text.size(), "positional argument follows keyword argument");
      if (position >= schema.options.size()) {
        lexer.fail(first.offset, first.text.size(),
                   fmt::format("{}.__init__() takes at most {} arguments", schema.type, schema.options.size()));
      }
      option = &schema.options[position++];
    }
    module[option->name] = option_value(lexer, *option);
    if (!lexer.accept(",")) {
      lexer.expect(")");
      break;
    }
  }
  for (const OptionSchema& option : schema.options) {
    if (option.required && !module.contains(option.name)) {
      lexer.fail(name.offset, open.offset + 1 - name.offset,
                 fmt::format("{}.__init__() missing required argument: '{}'", schema.type, option.name));
    }
  }
  return module;
}

}  // namespace

nlohmann::json parse_module_call(const std::string& text, const Location& origin) {
  Lexer lexer(text, origin);
  nlohmann::json module = parse_module(lexer, {});
  if (lexer.peek().kind != Token::Kind::End) lexer.fail_here("end of text after ')'");
  return module;
}

ShapeText parse_shape_text(const std::string& text, const Location& origin) {
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
    Token token = lexer.take();
    if (token.kind == Token::Kind::Int) {
      std::int64_t value = parse_int(lexer, token);
      if (value < 0) lexer.fail(token.offset, token.text.size(), fmt::format("dim {} is negative", value));
      result.shape.push_back(value);
    } else if (token.kind == Token::Kind::Name || token.kind == Token::Kind::String) {
      result.shape.push_back(token.text);
    } else {
      lexer.fail(token.offset, std::max<std::size_t>(1, token.text.size()),
                 fmt::format("expected a dim (an integer or a symbol name), found '{}'", token.text));
    }
    result.dims.push_back(lexer.at(token.offset, token.text.size() + (token.kind == Token::Kind::String ? 2 : 0)));
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
    if (kind == OptionKind::DType) return fmt::format("torch.{}", value.get<std::string>());
    if (kind == OptionKind::Module || kind == OptionKind::OptionalModule) return module_call_text(value);
    if (value.is_string()) return fmt::format("'{}'", value.get<std::string>());
    if (value.is_array()) {
      std::string items;
      for (const nlohmann::json& item : value) items += (items.empty() ? "" : ", ") + item.dump();
      return "(" + items + (value.size() == 1 ? ",)" : ")");
    }
    return value.dump();
  };
  for (const OptionSchema& option : schema->options) {
    if (!module.contains(option.name)) continue;
    text += first ? "" : ", ";
    first = false;
    if (!option.required) text += option.name + "=";
    text += python(module[option.name], option.kind);
  }
  return text + ")";
}

}  // namespace mhacheck
