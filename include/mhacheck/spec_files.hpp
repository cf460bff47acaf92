// Which spec files a command line names: files as given, and directories searched recursively
// for *.json (so *.mha.json too), in a stable sorted order.
#pragma once

#include <string>
#include <vector>

namespace mhacheck {

constexpr std::size_t kMaxSpecFiles = 10000;

// Paths that are not directories are kept as they are (a missing file is reported when it is
// read). Symbolic links to directories are not followed, so a link cycle cannot loop. Throws
// InputError when a directory holds no spec file, or more than kMaxSpecFiles.
std::vector<std::string> expand_spec_paths(const std::vector<std::string>& paths);

}  // namespace mhacheck
