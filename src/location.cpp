#include "mhacheck/location.hpp"

namespace mhacheck {

std::string SourceText::line_text(int line) const {
  if (line_starts.empty()) {
    line_starts.push_back(0);
    for (std::size_t at = text.find('\n'); at != std::string::npos; at = text.find('\n', at + 1)) line_starts.push_back(at + 1);
  }
  if (line < 1 || static_cast<std::size_t>(line) > line_starts.size()) return {};
  std::size_t start = line_starts[static_cast<std::size_t>(line) - 1];
  if (start > text.size()) return {};
  std::size_t end = text.find('\n', start);
  std::string result = text.substr(start, end == std::string::npos ? std::string::npos : end - start);
  if (!result.empty() && result.back() == '\r') result.pop_back();
  return result;
}

void LocationMap::add(const std::string& pointer, Location location) {
  location.pointer = pointer;
  by_pointer_[pointer] = std::move(location);
}

Location LocationMap::find(const std::string& pointer) const {
  std::string probe = pointer;
  for (;;) {
    auto it = by_pointer_.find(probe);
    if (it != by_pointer_.end()) {
      Location found = it->second;
      found.pointer = pointer;
      return found;
    }
    if (probe.empty()) break;
    probe.erase(probe.rfind('/'));
  }
  Location unknown;
  unknown.pointer = pointer;
  return unknown;
}

std::string child_pointer(const std::string& parent, const std::string& token) {
  std::string escaped;
  for (char c : token) {
    if (c == '~') escaped += "~0";
    else if (c == '/') escaped += "~1";
    else escaped += c;
  }
  return parent + "/" + escaped;
}

std::string child_pointer(const std::string& parent, std::size_t index) {
  return parent + "/" + std::to_string(index);
}

}  // namespace mhacheck
