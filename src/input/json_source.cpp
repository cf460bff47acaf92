#include "mhacheck/json_source.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <deque>
#include <fstream>
#include <iostream>
#include <iterator>
#include <sstream>
#include <string_view>
#include <unordered_set>
#include <vector>
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
    // Offsets mostly come in reading order: try the line of the previous one, and the next.
    std::size_t line = last_;
    if (!(starts_[line] <= offset && (line + 1 == starts_.size() || offset < starts_[line + 1]))) {
      if (line + 2 < starts_.size() && starts_[line + 1] <= offset && offset < starts_[line + 2]) {
        ++line;
      } else {
        line = static_cast<std::size_t>(std::upper_bound(starts_.begin(), starts_.end(), offset) - starts_.begin()) - 1;
      }
      last_ = line;
    }
    Location location;
    location.source = source_;
    location.line = static_cast<int>(line) + 1;
    location.column = static_cast<int>(offset - starts_[line]) + 1;
    location.length = length;
    return location;
  }

 private:
  std::shared_ptr<const SourceText> source_;
  std::vector<std::size_t> starts_;
  mutable std::size_t last_ = 0;  // the line found last
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
    value(0);
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

  // The key of the string at `start` (quotes included). A key of printable ASCII without a
  // backslash is its own bytes, viewed in the text; anything else (escapes, UTF-8, text the
  // parser would refuse) is decoded by nlohmann/json, as the whole document was, and kept.
  std::string_view key_text(std::size_t start, std::size_t length) {
    length = std::min(length, text_.size() - start);
    std::string_view quoted(text_.data() + start, length);
    bool plain = length >= 2 && quoted.back() == '"';
    for (std::size_t i = 1; plain && i + 1 < length; ++i) {
      unsigned char c = static_cast<unsigned char>(quoted[i]);
      plain = c >= 0x20 && c < 0x7f && c != '\\' && c != '"';
    }
    if (plain) return quoted.substr(1, length - 2);
    return decoded_keys_.emplace_back(nlohmann::json::parse(quoted).get<std::string>());
  }

  // The keys of one object, to find a key given twice as soon as it comes: compared one by one
  // while the object is small, through a hash set once it is not. The views live in a stack
  // shared by the objects being read (an object's members are read before its next sibling's).
  class Members {
   public:
    explicit Members(std::vector<std::string_view>& stack) : stack_(stack), first_(stack.size()) {}
    ~Members() { stack_.resize(first_); }
    Members(const Members&) = delete;
    Members& operator=(const Members&) = delete;

    bool insert(std::string_view key) {
      if (set_) return set_->insert(key).second;
      if (std::find(stack_.begin() + static_cast<std::ptrdiff_t>(first_), stack_.end(), key) != stack_.end()) return false;
      stack_.push_back(key);
      if (stack_.size() - first_ > 16) {
        set_ = std::make_unique<std::unordered_set<std::string_view>>(stack_.begin() + static_cast<std::ptrdiff_t>(first_), stack_.end());
      }
      return true;
    }

   private:
    std::vector<std::string_view>& stack_;
    std::size_t first_;
    std::unique_ptr<std::unordered_set<std::string_view>> set_;
  };

  // pointer_ += "/" + token, escaped as child_pointer escapes it (RFC 6901).
  void push_token(std::string_view token) {
    pointer_ += '/';
    if (token.find_first_of("~/") == std::string_view::npos) {
      pointer_ += token;
      return;
    }
    for (char c : token) {
      if (c == '~') pointer_ += "~0";
      else if (c == '/') pointer_ += "~1";
      else pointer_ += c;
    }
  }

  // Records the value at pos_ (and everything in it) under pointer_, the value's JSON pointer.
  // pointer_ is one string, extended for each member or element and cut back after it, so
  // walking a large spec does not build a string per value.
  void value(int depth) {
    if (depth > kMaxJsonDepth) {
      throw InputError(lines_.at(pos_),
                       fmt::format("JSON nested deeper than {} levels", kMaxJsonDepth),
                       "a spec never needs this much nesting", InputError::Kind::Syntax);
    }
    std::size_t start = pos_;
    // The text is valid JSON (nlohmann/json accepted it), so running out here cannot happen;
    // the check keeps a disagreement between the two readers from reading past the end.
    if (pos_ >= text_.size()) return;
    std::size_t parent_length = pointer_.size();
    char c = text_[pos_];
    if (c == '{') {
      ++pos_;
      skip_blank();
      Members members(keys_seen_);
      while (pos_ < text_.size() && text_[pos_] != '}') {
        std::size_t key_start = pos_;
        std::size_t key_length = skip_string();
        std::string_view key = key_text(key_start, key_length);
        if (!members.insert(key)) {
          throw InputError(lines_.at(key_start, static_cast<int>(key_length)),
                           fmt::format("duplicate key \"{}\"", key),
                           "each key may appear once in an object");
        }
        push_token(key);
        spend_pointer(key_start);
        document_.keys.add_unique(pointer_, lines_.at(key_start, static_cast<int>(key_length)));
        skip_blank();
        ++pos_;  // ':'
        skip_blank();
        element(depth, parent_length);
      }
      ++pos_;
    } else if (c == '[') {
      ++pos_;
      skip_blank();
      for (std::size_t index = 0; pos_ < text_.size() && text_[pos_] != ']'; ++index) {
        pointer_ += '/';
        pointer_ += std::to_string(index);
        element(depth, parent_length);
      }
      ++pos_;
    } else if (c == '"') {
      skip_string();
    } else {
      while (pos_ < text_.size() && std::strchr(",]} \t\r\n/", text_[pos_]) == nullptr) ++pos_;
    }
    int length = c == '{' || c == '[' ? 1 : static_cast<int>(pos_ - start);
    spend_pointer(start);
    document_.values.add_unique(pointer_, lines_.at(start, length));
  }

  // A member's or an element's value, under pointer_ as extended for it; then pointer_ is cut
  // back to the parent's and the comma after the value skipped.
  void element(int depth, std::size_t parent_length) {
    value(depth + 1);
    pointer_.resize(parent_length);
    skip_blank();
    if (pos_ < text_.size() && text_[pos_] == ',') ++pos_;
    skip_blank();
  }

  // Every value's and key's pointer is kept, so a long key above a large array is repeated in
  // each element's pointer: a 1.5 MB spec could ask for 500 GB. An ordinary spec's pointers take
  // about twice its text (1.9 times for the 100,000-call stack of bench/graph), so 16 times the
  // text and a MiB refuses only such a spec, at the element whose pointer runs over.
  void spend_pointer(std::size_t at) {
    pointer_bytes_ += pointer_.size();
    if (pointer_bytes_ <= 16 * text_.size() + (std::size_t{1} << 20)) return;
    throw InputError(lines_.at(at),
                     fmt::format("the JSON pointers of the spec's elements take more than 16 times its size, here at {:.60}...",
                                 pointer_),
                     "a long key above a large array is repeated in every element's pointer: shorten the key",
                     InputError::Kind::Syntax);
  }

  std::shared_ptr<const SourceText> source_;
  LineIndex lines_;
  const std::string& text_;
  JsonDocument& document_;
  std::size_t pos_ = 0;
  std::string pointer_;  // the JSON pointer of the value being read
  std::size_t pointer_bytes_ = 0;  // of all the pointers recorded so far
  std::vector<std::string_view> keys_seen_;  // the keys of the objects being read, outermost first
  std::deque<std::string> decoded_keys_;     // keys with escapes, decoded (a deque keeps them in place)
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
    document.value_from_source = true;
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
  // In one read of the size stat gave, then whatever follows should the file have grown since.
  std::string& text = source->text;
  text.resize(static_cast<std::size_t>(info.st_size));
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  text.resize(static_cast<std::size_t>(in.gcount()));
  if (in) text.append(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  return source;
}

}  // namespace mhacheck
