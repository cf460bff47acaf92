#include "mhacheck/location.hpp"

#include <algorithm>
#include <charconv>
#include <functional>
#include <limits>
#include <stdexcept>

namespace mhacheck {

std::string_view SourceText::line_text(int line) const {
  if (line_starts.empty()) {
    line_starts.push_back(0);
    for (std::size_t at = text.find('\n'); at != std::string::npos; at = text.find('\n', at + 1)) line_starts.push_back(at + 1);
  }
  if (line < 1 || static_cast<std::size_t>(line) > line_starts.size()) return {};
  auto index = static_cast<std::size_t>(line) - 1;
  std::size_t start = line_starts[index];
  // The line ends before the next line's start (its newline), not found by searching: a search
  // would cross the rest of a one-line (minified) spec at every call.
  std::size_t end = index + 1 < line_starts.size() ? line_starts[index + 1] - 1 : text.size();
  std::string_view result = std::string_view(text).substr(start, end - start);
  if (!result.empty() && result.back() == '\r') result.remove_suffix(1);
  return result;
}

namespace {

constexpr std::uint64_t kTagBits = 0xffffffff00000000u;
std::uint64_t tag_of(std::size_t hash) { return static_cast<std::uint64_t>(hash) & kTagBits; }
std::uint32_t index_of(std::uint64_t slot) { return static_cast<std::uint32_t>(slot); }
std::size_t hash_of(std::string_view pointer) { return std::hash<std::string_view>{}(pointer); }

}  // namespace

std::uint32_t LocationMap::source_index(const std::shared_ptr<const SourceText>& source) {
  std::uint32_t index = 0;
  while (index < sources_.size() && sources_[index] != source) ++index;
  if (index == sources_.size()) {
    // A document's map holds its own text and, for a call written as command-line flags, one
    // source per flag: far below the 256 an entry has room for.
    if (index >> (32 - kLengthBits) != 0) throw std::length_error("a location map of more than 256 source texts");
    sources_.push_back(source);
  }
  return index;
}

LocationMap::Entry LocationMap::entry_for(const Location& location) {
  // No element of a text of at most 16 MiB (the input limit) is longer than the field: only a
  // longer text given to the library directly could have its underline cut short.
  constexpr std::uint32_t kMaxLength = (1u << kLengthBits) - 1;
  std::uint32_t length = static_cast<std::uint32_t>(std::clamp(location.length, 0, static_cast<int>(kMaxLength)));
  return Entry{0, location.line, location.column, length | source_index(location.source) << kLengthBits};
}

std::string_view LocationMap::key(std::size_t entry) const {
  std::size_t end = entry + 1 < entries_.size() ? entries_[entry + 1].key_offset : keys_.size();
  return std::string_view(keys_).substr(entries_[entry].key_offset, end - entries_[entry].key_offset);
}

void LocationMap::add_unique(std::string_view pointer, const Location& location) {
  if (keys_.size() + pointer.size() > std::numeric_limits<std::uint32_t>::max()) throw std::length_error("location map pointers over 4 GiB");
  Entry entry = entry_for(location);
  entry.key_offset = static_cast<std::uint32_t>(keys_.size());
  entries_.push_back(entry);
  keys_.append(pointer);
}

void LocationMap::index() const {
  if (indexed_ == entries_.size()) return;
  if (2 * entries_.size() > slots_.size()) {
    std::size_t size = 64;
    while (size < 2 * entries_.size()) size *= 2;
    slots_.assign(size, 0);
    indexed_ = 0;
  }
  // Hashes first, then the insertions: each insertion is independent of the last, so the
  // memory accesses into a large table overlap instead of waiting on each other.
  std::vector<std::size_t> hashes(entries_.size() - indexed_);
  for (std::size_t i = 0; i < hashes.size(); ++i) hashes[i] = hash_of(key(indexed_ + i));
  std::size_t mask = slots_.size() - 1;
  for (std::size_t i = 0; i < hashes.size(); ++i) {
    std::size_t slot = hashes[i] & mask;
    while (slots_[slot] != 0) slot = (slot + 1) & mask;
    slots_[slot] = tag_of(hashes[i]) | static_cast<std::uint32_t>(indexed_ + i + 1);
  }
  indexed_ = entries_.size();
}

std::size_t LocationMap::slot_of(std::string_view pointer, std::size_t hash) const {
  std::size_t mask = slots_.size() - 1;
  std::uint64_t tag = tag_of(hash);
  for (std::size_t slot = hash & mask;; slot = (slot + 1) & mask) {
    std::uint64_t held = slots_[slot];
    if (held == 0) return slot;
    if ((held & kTagBits) == tag && key(index_of(held) - 1) == pointer) return slot;
  }
}

void LocationMap::add(const std::string& pointer, const Location& location) {
  index();
  if (!slots_.empty()) {
    if (std::uint64_t held = slots_[slot_of(pointer, hash_of(pointer))]; held != 0) {
      Entry& entry = entries_[index_of(held) - 1];
      std::uint32_t key_offset = entry.key_offset;
      entry = entry_for(location);
      entry.key_offset = key_offset;
      return;
    }
  }
  add_unique(pointer, location);
  index();
}

Location LocationMap::find(const std::string& pointer) const {
  index();
  Location found;
  found.pointer = pointer;
  if (slots_.empty()) return found;
  std::string_view probe(pointer);
  for (;;) {
    if (std::uint64_t held = slots_[slot_of(probe, hash_of(probe))]; held != 0) {
      const Entry& entry = entries_[index_of(held) - 1];
      found.source = sources_[entry.length_and_source >> kLengthBits];
      found.line = entry.line;
      found.column = entry.column;
      found.length = static_cast<int>(entry.length_and_source & ((1u << kLengthBits) - 1));
      return found;
    }
    std::size_t slash = probe.rfind('/');
    if (probe.empty() || slash == std::string_view::npos) return found;
    probe = probe.substr(0, slash);
  }
}

// A reader makes a pointer per element (over a million for a big spec): each is built in one
// allocation, and a token without '~' or '/' (nearly all) is appended whole.
std::string child_pointer(const std::string& parent, const std::string& token) {
  std::string pointer;
  pointer.reserve(parent.size() + 1 + token.size());
  pointer.append(parent).push_back('/');
  if (token.find_first_of("~/") == std::string::npos) {
    pointer.append(token);
    return pointer;
  }
  for (char c : token) {
    if (c == '~') pointer += "~0";
    else if (c == '/') pointer += "~1";
    else pointer += c;
  }
  return pointer;
}

std::string child_pointer(const std::string& parent, std::size_t index) {
  char digits[20];
  auto end = std::to_chars(digits, digits + sizeof digits, index).ptr;
  std::string pointer;
  pointer.reserve(parent.size() + 1 + static_cast<std::size_t>(end - digits));
  pointer.append(parent).push_back('/');
  pointer.append(digits, end);
  return pointer;
}

}  // namespace mhacheck
