// Which spec files a command line names: files as given, and directories searched recursively
// for *.json (so *.mha.json too), in a stable sorted order.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "mhacheck/check.hpp"

namespace mhacheck {

constexpr std::size_t kMaxSpecFiles = 10000;

// Paths that are not directories are kept as they are (a missing file is reported when it is
// read). Symbolic links to directories are not followed, so a link cycle cannot loop. Throws
// InputError when a directory holds no spec file, or more than kMaxSpecFiles.
std::vector<std::string> expand_spec_paths(const std::vector<std::string>& paths);

// Reads, parses and checks each file ("-": standard input), `jobs` files at a time (0: one per
// core); a file that cannot be used gives its input-error report. The reports come in the order
// of `files`, whatever the number of jobs. `finish`, when given, is called with each file's index
// and report by the thread that checked it (check -j renders each report's part there).
std::vector<Report> check_spec_files(const std::vector<std::string>& files, std::size_t max_bytes, unsigned jobs,
                                     const std::function<void(std::size_t, Report&)>& finish = {});

}  // namespace mhacheck
