#include "mhacheck/spec_files.hpp"

#include <algorithm>
#include <filesystem>
#include <system_error>

#include <fmt/format.h>

#include "mhacheck/location.hpp"

namespace mhacheck {

std::vector<std::string> expand_spec_paths(const std::vector<std::string>& paths) {
  namespace fs = std::filesystem;
  std::vector<std::string> files;
  for (const std::string& path : paths) {
    std::error_code error;
    if (path == "-" || !fs::is_directory(fs::symlink_status(path, error))) {
      files.push_back(path);
      continue;
    }
    std::vector<std::string> found;
    for (fs::recursive_directory_iterator it(path, fs::directory_options::skip_permission_denied, error), end; !error && it != end;
         it.increment(error)) {
      if (!it->is_regular_file(error) || it->path().extension() != ".json") continue;
      found.push_back(it->path().string());
      if (found.size() > kMaxSpecFiles) {
        auto source = std::make_shared<SourceText>();
        source->name = path;
        Location location;
        location.source = source;
        throw InputError(location, fmt::format("{}: more than {} spec files", path, kMaxSpecFiles),
                         "name a smaller directory, or several", InputError::Kind::Syntax);
      }
    }
    if (found.empty()) {
      // A CI job pointed at the wrong folder must not pass by checking nothing.
      auto source = std::make_shared<SourceText>();
      source->name = path;
      Location location;
      location.source = source;
      throw InputError(location, fmt::format("{}: no *.json spec files in this directory", path), "name the folder that holds the specs",
                       InputError::Kind::Syntax);
    }
    std::sort(found.begin(), found.end());
    files.insert(files.end(), found.begin(), found.end());
  }
  return files;
}

}  // namespace mhacheck
