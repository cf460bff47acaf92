#include "mhacheck/atomic_file.hpp"

#include <atomic>
#include <cerrno>
#include <cstring>
#include <memory>

#include <fcntl.h>
#include <unistd.h>

#include <fmt/format.h>

#include "mhacheck/location.hpp"

namespace mhacheck {
namespace {

InputError write_error(const std::string& path, const std::string& problem) {
  auto text = std::make_shared<SourceText>();
  text->name = path;
  Location location;
  location.source = text;
  return InputError(location, fmt::format("{}: cannot write: {}", path, problem), {}, InputError::Kind::Syntax);
}

}  // namespace

void write_file_atomically(const std::string& path, std::string_view bytes) {
  static std::atomic<unsigned> counter{0};
  std::string temp;
  int fd = -1;
  for (int attempt = 0; attempt < 100 && fd < 0; ++attempt) {
    temp = fmt::format("{}.tmp.{}.{}", path, ::getpid(), counter++);
    fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd < 0 && errno != EEXIST) throw write_error(path, std::strerror(errno));
  }
  if (fd < 0) throw write_error(path, "no free temporary file name");
  auto fail = [&](const std::string& what) {
    std::string reason = std::strerror(errno);
    if (fd >= 0) ::close(fd);
    ::unlink(temp.c_str());
    return write_error(path, fmt::format("{}: {}", what, reason));
  };
  std::size_t done = 0;
  while (done < bytes.size()) {
    ssize_t wrote = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (wrote < 0 && errno == EINTR) continue;
    if (wrote < 0) throw fail("write failed");
    done += static_cast<std::size_t>(wrote);
  }
  if (::fsync(fd) != 0) throw fail("fsync failed");
  int closed = ::close(fd);
  fd = -1;
  if (closed != 0) throw fail("close failed");
  if (::rename(temp.c_str(), path.c_str()) != 0) throw fail("rename failed");
}

}  // namespace mhacheck
