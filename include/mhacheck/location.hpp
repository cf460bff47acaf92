// Where a fact came from: a file (or a command-line flag), a line and column, and the JSON
// pointer of the spec element. Diagnostics carry these so renderers never search for them.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace mhacheck {

// The text of one input: a spec file, stdin, or the value of a command-line flag.
struct SourceText {
  std::string name;  // "spec.json", "-" for stdin, or "--query" for a flag
  std::string text;

  // The 1-based line `line` without its newline; empty when out of range. A view into `text`:
  // a minified spec is one line of megabytes, which reports must not copy per diagnostic.
  std::string_view line_text(int line) const;

  // A cache, not data: where each line starts, found by the first line_text call (the text is
  // complete by then), so that a report quoting many lines of a big spec does not rescan it.
  mutable std::vector<std::size_t> line_starts = {};
};

struct Location {
  std::shared_ptr<const SourceText> source;  // null when the fact has no place in any input
  int line = 0;                              // 1-based; 0 when unknown
  int column = 0;                            // 1-based, in bytes
  int length = 1;                            // bytes to underline
  std::string pointer;                       // JSON pointer into the spec document

  bool known() const { return source != nullptr && line > 0; }
  std::string file() const { return source ? source->name : std::string(); }
};

// The location of every element of a spec document, by JSON pointer.
class LocationMap {
 public:
  // Records (or replaces) the location of the element at `pointer`.
  void add(const std::string& pointer, const Location& location);
  // Records the location of an element known to have none yet, as a reader does that visits
  // each element once. No lookup is made: the table finds it from the next add or find on.
  void add_unique(std::string_view pointer, const Location& location);
  // The element's location, or the nearest enclosing element's; the pointer is kept as asked.
  Location find(const std::string& pointer) const;

 private:
  // A spec has an entry for every value and every key, so the map is flat: the pointers back
  // to back in one string, fixed-size entries in one vector, and an open-addressing hash table
  // of entry numbers, filled for many entries at once when they were added unlooked-up. A few
  // large blocks, not three allocations per entry in a tree whose lookups compare long common
  // prefixes ("/calls/1234/...") on every level. An entry is 16 bytes (a 100,000-call spec has
  // 1.6 million): its pointer ends where the next entry's begins, a spec's text is at most
  // 16 MiB (so a length fits in 24 bits) and a map holds a few sources (one per document).
  struct Entry {
    std::uint32_t key_offset;  // the pointer, in keys_, up to the next entry's key_offset
    std::int32_t line, column;
    std::uint32_t length_and_source;  // the length in the low kLengthBits, the source index above
  };
  static constexpr int kLengthBits = 24;
  std::string_view key(std::size_t entry) const;
  Entry entry_for(const Location& location);
  std::uint32_t source_index(const std::shared_ptr<const SourceText>& source);
  // Brings the table up to date with entries_ (growing it when it would be over half full).
  void index() const;
  // The slot holding `pointer`, or the empty slot where it would go; the table is up to date.
  std::size_t slot_of(std::string_view pointer, std::size_t hash) const;

  std::string keys_;
  std::vector<Entry> entries_;
  std::vector<std::shared_ptr<const SourceText>> sources_;  // the distinct sources: one per document, a few for flags
  // Open addressing, a power of two in size and at most half full. A slot is 0 when empty,
  // else the entry's index + 1 in its low 32 bits and the high 32 bits of the pointer's hash
  // above them, so that probing past other pointers does not read their entries. It holds
  // the first `indexed_` entries; index() adds the rest (a cache: find() is const).
  mutable std::vector<std::uint64_t> slots_;
  mutable std::size_t indexed_ = 0;
};

// A JSON pointer for `parent`'s member or element `token`, escaped per RFC 6901.
std::string child_pointer(const std::string& parent, const std::string& token);
std::string child_pointer(const std::string& parent, std::size_t index);

// Input that cannot be used: bad syntax, wrong types, unknown keys, unreadable files.
// Always names where and what was expected; the CLI turns it into exit code 2.
// Environment: not the input's fault but the machine's, a library mhacheck loads on first use
// is missing (MHA106).
class InputError : public std::runtime_error {
 public:
  enum class Kind { Syntax, Schema, Reference, Environment };

  InputError(Location location, const std::string& message, std::string help = {}, Kind kind = Kind::Schema)
      : std::runtime_error(message), location_(std::move(location)), help_(std::move(help)), kind_(kind) {}
  const Location& location() const { return location_; }
  const std::string& help() const { return help_; }
  Kind kind() const { return kind_; }

 private:
  Location location_;
  std::string help_;
  Kind kind_;
};

}  // namespace mhacheck
