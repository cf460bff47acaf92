#include "mhacheck/spec_files.hpp"

#include <algorithm>
#include <atomic>
#include <exception>
#include <filesystem>
#include <functional>
#include <system_error>
#include <thread>

#include <fmt/format.h>

#include "mhacheck/json_source.hpp"
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

std::vector<Report> check_spec_files(const std::vector<std::string>& files, std::size_t max_bytes, unsigned jobs,
                                     const std::function<void(std::size_t, Report&)>& finish) {
  std::vector<Report> reports(files.size());
  auto check_file = [&](std::size_t i) {
    try {
      reports[i] = check_document(parse_json_document(read_source_file(files[i], max_bytes)));
    } catch (const InputError& error) {
      reports[i] = input_error_report(files[i], error);
    }
    if (finish) finish(i, reports[i]);
  };
  if (jobs == 0) jobs = std::max(1u, std::thread::hardware_concurrency());
  std::size_t workers = std::min<std::size_t>(jobs, files.size());
  if (workers <= 1) {
    for (std::size_t i = 0; i < files.size(); ++i) check_file(i);
    return reports;
  }
  // Each worker takes the next unchecked file; anything but an InputError (out of memory, a bug)
  // stops the workers and is rethrown here, as it would be without threads.
  std::atomic<std::size_t> next{0};
  std::vector<std::exception_ptr> failures(workers);
  std::vector<std::thread> pool;
  for (std::size_t worker = 0; worker < workers; ++worker) {
    pool.emplace_back([&, worker] {
      try {
        for (std::size_t i = next++; i < files.size(); i = next++) check_file(i);
      } catch (...) {
        failures[worker] = std::current_exception();
        next = files.size();
      }
    });
  }
  for (std::thread& thread : pool) thread.join();
  for (const std::exception_ptr& failure : failures) {
    if (failure) std::rethrow_exception(failure);
  }
  return reports;
}

}  // namespace mhacheck
