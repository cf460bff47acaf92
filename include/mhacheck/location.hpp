// Where a fact came from: a file (or a command-line flag), a line and column, and the JSON
// pointer of the spec element. Diagnostics carry these so renderers never search for them.
#pragma once

#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace mhacheck {

// The text of one input: a spec file, stdin, or the value of a command-line flag.
struct SourceText {
  std::string name;  // "spec.json", "-" for stdin, or "--query" for a flag
  std::string text;

  // The 1-based line `line` without its newline; empty when out of range.
  std::string line_text(int line) const;

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
  void add(const std::string& pointer, Location location);
  // The element's location, or the nearest enclosing element's; the pointer is kept as asked.
  Location find(const std::string& pointer) const;

 private:
  std::map<std::string, Location> by_pointer_;
};

// A JSON pointer for `parent`'s member or element `token`, escaped per RFC 6901.
std::string child_pointer(const std::string& parent, const std::string& token);
std::string child_pointer(const std::string& parent, std::size_t index);

// Input that cannot be used: bad syntax, wrong types, unknown keys, unreadable files.
// Always names where and what was expected; the CLI turns it into exit code 2.
class InputError : public std::runtime_error {
 public:
  enum class Kind { Syntax, Schema, Reference };

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
