#include "mhacheck/json_source.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <iostream>
#include <iterator>
#include <sstream>
#include <sys/stat.h>

#include <fmt/format.h>

namespace mhacheck {
namespace {

// Byte offsets -> line and column, in O(log lines) each: the offsets of line starts are
// found once per text, so locating every value of a large spec stays linear.
class LineIndex {
 public:
  explicit LineIndex(const std::shared_ptr<const SourceText>& source) : source_(source) {
    starts_.push_back(0);
    const std::string& text = source->text;
    for (std::size_t i = 0; i < text.size(); ++i) {
      if (text[i] == '\n') starts_.push_back(i + 1);
    }
  }

  Location at(std::size_t offset, int length = 1) const {
    offset = std::min(offset, source_->text.size());
    auto line = std::upper_bound(starts_.begin(), starts_.end(), offset) - 1;
    Location location;
    location.source = source_;
    location.line = static_cast<int>(line - starts_.begin()) + 1;
    location.column = static_cast<int>(offset - *line) + 1;
    location.length = length;
    return location;
  }

 private:
  std::shared_ptr<const SourceText> source_;
  std::vector<std::size_t> starts_;
};

Location location_at(const std::shared_ptr<const SourceText>& source, std::size_t offset, int length = 1) {
  return LineIndex(source).at(offset, length);
}

// Walks text that nlohmann/json has already accepted, recording value and key offsets.
class Locator {
 public:
  Locator(const std::shared_ptr<const SourceText>& source, JsonDocument& document)
      : source_(source), lines_(source), text_(source->text), document_(document) {}

  void run() {
    skip_blank();
    value("", 0);
  }

 private:
  void skip_blank() {
    while (pos_ < text_.size()) {
      char c = text_[pos_];
      if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
        ++pos_;
      } else if (c == '/' && pos_ + 1 < text_.size() && text_[pos_ + 1] == '/') {
        // As nlohmann/json reads it: a line comment ends at a newline or a carriage return.
        while (pos_ < text_.size() && text_[pos_] != '\n' && text_[pos_] != '\r') ++pos_;
      } else if (c == '/' && pos_ + 1 < text_.size() && text_[pos_ + 1] == '*') {
        std::size_t end = text_.find("*/", pos_ + 2);
        pos_ = end == std::string::npos ? text_.size() : end + 2;
      } else {
        break;
      }
    }
  }

  std::size_t skip_string() {  // at '"'; returns the string's length in bytes with quotes
    std::size_t start = pos_++;
    while (pos_ < text_.size() && text_[pos_] != '"') pos_ += text_[pos_] == '\\' ? 2 : 1;
    ++pos_;
    return pos_ - start;
  }

  void value(const std::string& pointer, int depth) {
    if (depth > kMaxJsonDepth) {
      throw InputError(lines_.at(pos_),
                       fmt::format("JSON nested deeper than {} levels", kMaxJsonDepth),
                       "a spec never needs this much nesting", InputError::Kind::Syntax);
    }
    std::size_t start = pos_;
    // The text is valid JSON (nlohmann/json accepted it), so running out here cannot happen;
    // the check keeps a disagreement between the two readers from reading past the end.
    if (pos_ >= text_.size()) return;
    char c = text_[pos_];
    if (c == '{') {
      ++pos_;
      std::map<std::string, bool> seen;
      skip_blank();
      while (pos_ < text_.size() && text_[pos_] != '}') {
        std::size_t key_start = pos_;
        std::size_t key_length = skip_string();
        std::string key = nlohmann::json::parse(text_.substr(key_start, key_length)).get<std::string>();
        std::string member = child_pointer(pointer, key);
        if (seen[key]) {
          throw InputError(lines_.at(key_start, static_cast<int>(key_length)),
                           fmt::format("duplicate key \"{}\"", key),
                           "each key may appear once in an object");
        }
        seen[key] = true;
        document_.keys.add(member, lines_.at(key_start, static_cast<int>(key_length)));
        skip_blank();
        ++pos_;  // ':'
        skip_blank();
        value(member, depth + 1);
        skip_blank();
        if (pos_ < text_.size() && text_[pos_] == ',') ++pos_;
        skip_blank();
      }
      ++pos_;
    } else if (c == '[') {
      ++pos_;
      skip_blank();
      for (std::size_t index = 0; pos_ < text_.size() && text_[pos_] != ']'; ++index) {
        value(child_pointer(pointer, index), depth + 1);
        skip_blank();
        if (pos_ < text_.size() && text_[pos_] == ',') ++pos_;
        skip_blank();
      }
      ++pos_;
    } else if (c == '"') {
      skip_string();
    } else {
      while (pos_ < text_.size() && std::strchr(",]} \t\r\n/", text_[pos_]) == nullptr) ++pos_;
    }
    int length = c == '{' || c == '[' ? 1 : static_cast<int>(pos_ - start);
    document_.values.add(pointer, lines_.at(start, length));
  }

  std::shared_ptr<const SourceText> source_;
  LineIndex lines_;
  const std::string& text_;
  JsonDocument& document_;
  std::size_t pos_ = 0;
};

// nlohmann's messages start with "[json.exception.parse_error.101] parse error at line 3,
// column 13: "; the location is ours to print, so keep only what follows.
std::string plain_parse_message(const std::string& what) {
  std::string message = what;
  if (message.rfind("[json.exception.", 0) == 0 && message.find("] ") != std::string::npos) {
    message = message.substr(message.find("] ") + 2);
  }
  if (message.rfind("parse error", 0) == 0 && message.find(": ") != std::string::npos) {
    message = message.substr(message.find(": ") + 2);
  }
  return message;
}

// Refuses nesting deeper than kMaxJsonDepth before any recursive code sees the text.
void check_depth(const std::shared_ptr<const SourceText>& source) {
  int depth = 0;
  bool in_string = false;
  const std::string& text = source->text;
  for (std::size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (in_string) {
      if (c == '\\') ++i;
      else if (c == '"') in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '{' || c == '[') {
      if (++depth > kMaxJsonDepth) {
        throw InputError(location_at(source, i),
                         fmt::format("JSON nested deeper than {} levels", kMaxJsonDepth),
                         "a spec never needs this much nesting", InputError::Kind::Syntax);
      }
    } else if (c == '}' || c == ']') {
      --depth;
    }
  }
}

}  // namespace

JsonDocument parse_json_document(std::shared_ptr<const SourceText> source) {
  JsonDocument document;
  document.source = source;
  // nlohmann/json takes a NUL byte for the end of the input (even inside a comment), so a spec
  // with one would be read only up to it; refuse it where it stands instead.
  if (std::size_t nul = source->text.find('\0'); nul != std::string::npos) {
    throw InputError(location_at(source, nul), "a NUL byte in the spec", "a spec is JSON text", InputError::Kind::Syntax);
  }
  check_depth(source);
  try {
    document.value = nlohmann::json::parse(source->text, nullptr, true, true);
  } catch (const nlohmann::json::parse_error& error) {
    std::size_t offset = error.byte > 0 ? error.byte - 1 : 0;
    throw InputError(location_at(source, offset), plain_parse_message(error.what()),
                     "the spec must be JSON (comments with // and /* */ are allowed)", InputError::Kind::Syntax);
  } catch (const nlohmann::json::exception& error) {
    // A number beyond double's range (1e400) is out_of_range, not a parse_error; it has no offset.
    Location whole;
    whole.source = source;
    throw InputError(whole, plain_parse_message(error.what()), "numbers in a spec are dims and options: small integers",
                     InputError::Kind::Syntax);
  }
  try {
    Locator(source, document).run();
  } catch (const nlohmann::json::exception& error) {
    // The locator follows nlohmann/json's reading of the text; should the two ever disagree,
    // the spec is refused rather than half-located.
    Location whole;
    whole.source = source;
    throw InputError(whole, plain_parse_message(error.what()), "the spec could not be located", InputError::Kind::Syntax);
  }
  return document;
}

std::shared_ptr<const SourceText> read_source_file(const std::string& path, std::size_t max_bytes) {
  auto source = std::make_shared<SourceText>();
  source->name = path;
  Location whole_file;
  whole_file.source = source;
  if (path == "-") {
    std::string text;
    char buffer[65536];
    while (std::cin.read(buffer, sizeof buffer) || std::cin.gcount() > 0) {
      text.append(buffer, static_cast<std::size_t>(std::cin.gcount()));
      if (text.size() > max_bytes) {
        throw InputError(whole_file, fmt::format("standard input is larger than {} bytes", max_bytes), {}, InputError::Kind::Syntax);
      }
    }
    source->text = std::move(text);
    return source;
  }
  struct stat info {};
  if (stat(path.c_str(), &info) != 0) {
    throw InputError(whole_file, fmt::format("cannot open: {}", std::strerror(errno)), {}, InputError::Kind::Syntax);
  }
  if (S_ISDIR(info.st_mode)) throw InputError(whole_file, "is a directory, expected a JSON spec file", {}, InputError::Kind::Syntax);
  if (!S_ISREG(info.st_mode)) {
    throw InputError(whole_file, "is not a regular file, expected a JSON spec file", {}, InputError::Kind::Syntax);
  }
  if (static_cast<std::size_t>(info.st_size) > max_bytes) {
    throw InputError(whole_file,
                     fmt::format("file is {} bytes, larger than the limit of {} bytes", info.st_size, max_bytes), {},
                     InputError::Kind::Syntax);
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InputError(whole_file, fmt::format("cannot open: {}", std::strerror(errno)), {}, InputError::Kind::Syntax);
  source->text.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  return source;
}

}  // namespace mhacheck
