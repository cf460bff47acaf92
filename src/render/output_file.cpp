#include "mhacheck/output_file.hpp"

#include <algorithm>
#include <cerrno>
#include <climits>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <memory>
#include <optional>

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <fmt/format.h>

#include "mhacheck/location.hpp"

namespace mhacheck {
namespace {

// An error located at the output path itself (it has no line: it is not a file that was read).
InputError path_error(const std::string& path, const std::string& message) {
  auto text = std::make_shared<SourceText>();
  text->name = path;
  Location location;
  location.source = text;
  return InputError(location, message, {}, InputError::Kind::Syntax);
}

InputError write_error(const std::string& path, const std::string& problem) {
  return path_error(path, fmt::format("{}: cannot write: {}", path, problem));
}

// Where the bytes go, found before anything is opened.
struct Destination {
  enum class Kind { StandardOutput, Direct, Socket, RegularFile };
  Kind kind = Kind::RegularFile;
  std::string path;                  // what is opened, connected to, or replaced
  std::optional<struct stat> existing;  // RegularFile: the file being replaced, if there is one
  bool append = false;               // Direct onto a regular file (through /dev/stdout, say)
};

std::string parent_of(const std::string& path) {
  std::size_t slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

// /proc/self/fd and /dev/fd hold links to open descriptors: what they point at ("pipe:[42]",
// a deleted file) may not be a path at all, and a file behind one is the descriptor's, not a
// name to replace.
bool is_descriptor_directory(const std::string& directory) {
  char* resolved = ::realpath(directory.c_str(), nullptr);
  if (resolved == nullptr) return false;
  std::string canonical = resolved;
  std::free(resolved);
  return canonical.starts_with("/proc/") && canonical.ends_with("/fd");
}

std::optional<struct stat> stat_of(const std::string& path) {
  struct stat info {};
  if (::stat(path.c_str(), &info) != 0) return std::nullopt;
  return info;
}

// Follows symlinks one hop at a time (as the kernel would) to the file the bytes are for.
Destination find_destination(const std::string& path) {
  if (path == "-") return {Destination::Kind::StandardOutput, path, std::nullopt, false};
  std::string current = path;
  for (int hops = 0; hops < 40; ++hops) {
    struct stat info {};
    if (::lstat(current.c_str(), &info) != 0) {
      if (errno == ENOENT) return {Destination::Kind::RegularFile, current, std::nullopt, false};
      throw write_error(path, std::strerror(errno));
    }
    if (S_ISLNK(info.st_mode)) {
      std::string directory = parent_of(current);
      if (is_descriptor_directory(directory)) {
        std::optional<struct stat> target = stat_of(path);
        if (!target) throw write_error(path, std::strerror(errno));
        if (S_ISDIR(target->st_mode)) throw write_error(path, std::strerror(EISDIR));
        return {Destination::Kind::Direct, path, std::nullopt, S_ISREG(target->st_mode)};
      }
      std::string link(PATH_MAX, '\0');
      ssize_t length = ::readlink(current.c_str(), link.data(), link.size());
      if (length < 0) throw write_error(path, std::strerror(errno));
      link.resize(static_cast<std::size_t>(length));
      current = link.starts_with('/') ? link : directory + "/" + link;
      continue;
    }
    if (S_ISREG(info.st_mode)) return {Destination::Kind::RegularFile, current, info, false};
    if (S_ISDIR(info.st_mode)) throw write_error(path, std::strerror(EISDIR));
    if (S_ISCHR(info.st_mode) || S_ISFIFO(info.st_mode)) return {Destination::Kind::Direct, current, std::nullopt, false};
    if (S_ISSOCK(info.st_mode)) return {Destination::Kind::Socket, current, std::nullopt, false};
    throw write_error(path, "is a block device (or another special file); refusing to write to it");
  }
  throw write_error(path, std::strerror(ELOOP));
}

// A reader that goes away must not kill the process with SIGPIPE: the write fails with EPIPE and
// is reported like any other failure. Blocked for this thread while writing; a SIGPIPE raised in
// the meantime is consumed.
class SigpipeBlocked {
 public:
  SigpipeBlocked() {
    sigemptyset(&pipe_);
    sigaddset(&pipe_, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_, &previous_);
  }
  ~SigpipeBlocked() {
    sigset_t pending;
    sigpending(&pending);
    if (sigismember(&pending, SIGPIPE) && !sigismember(&previous_, SIGPIPE)) {
      const struct timespec now {};
      sigtimedwait(&pipe_, nullptr, &now);
    }
    pthread_sigmask(SIG_SETMASK, &previous_, nullptr);
  }
  SigpipeBlocked(const SigpipeBlocked&) = delete;
  SigpipeBlocked& operator=(const SigpipeBlocked&) = delete;

 private:
  sigset_t pipe_{}, previous_{};
};

// Writes everything, waiting on a non-blocking descriptor; returns errno, or 0.
int write_all(int fd, std::string_view bytes) {
  std::size_t done = 0;
  while (done < bytes.size()) {
    ssize_t wrote = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (wrote >= 0) {
      done += static_cast<std::size_t>(wrote);
      continue;
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      struct pollfd ready {fd, POLLOUT, 0};
      ::poll(&ready, 1, -1);
      continue;
    }
    return errno;
  }
  return 0;
}

void write_directly(const Destination& destination, const std::string& path, std::string_view bytes) {
  SigpipeBlocked no_sigpipe;
  if (destination.kind == Destination::Kind::StandardOutput) {
    std::cout.flush();  // what was printed before comes first
    if (int error = write_all(STDOUT_FILENO, bytes)) throw write_error(path, fmt::format("write failed: {}", std::strerror(error)));
    return;
  }
  int fd = -1;
  if (destination.kind == Destination::Kind::Socket) {
    struct sockaddr_un address {};
    address.sun_family = AF_UNIX;
    if (destination.path.size() >= sizeof address.sun_path) throw write_error(path, "socket path too long to connect to");
    std::memcpy(address.sun_path, destination.path.c_str(), destination.path.size() + 1);
    fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || ::connect(fd, reinterpret_cast<const struct sockaddr*>(&address), sizeof address) != 0) {
      int error = errno;
      if (fd >= 0) ::close(fd);
      throw write_error(path, fmt::format("cannot connect to the socket: {}", std::strerror(error)));
    }
  } else {
    // No O_TRUNC and no O_CREAT: a device or FIFO is written as it is. A FIFO's open waits for
    // its reader, as a shell's `>` does.
    fd = ::open(destination.path.c_str(), O_WRONLY | O_NOCTTY | O_CLOEXEC | (destination.append ? O_APPEND : 0));
    if (fd < 0) throw write_error(path, std::strerror(errno));
  }
  int error = write_all(fd, bytes);
  if (::close(fd) != 0 && error == 0 && errno != EINTR) error = errno;
  if (error != 0) throw write_error(path, fmt::format("write failed: {}", std::strerror(error)));
}

// The temporary file being written, for the signal handlers below to remove. A handler may only
// call async-signal-safe functions, so its name sits in a fixed buffer.
char pending_temporary[PATH_MAX];
volatile std::sig_atomic_t temporary_pending = 0;
constexpr int kInterruptions[] = {SIGINT, SIGTERM, SIGHUP};
struct sigaction interrupted_actions[std::size(kInterruptions)];

extern "C" void remove_temporary_and_reraise(int signal) {
  if (temporary_pending) ::unlink(pending_temporary);
  for (std::size_t i = 0; i < std::size(kInterruptions); ++i) {
    if (kInterruptions[i] == signal) ::sigaction(signal, &interrupted_actions[i], nullptr);
  }
  // Blocked until this handler returns; then the previous disposition (by default, death by
  // this signal) applies.
  ::raise(signal);
}

// While it lives, SIGINT, SIGTERM and SIGHUP remove the temporary file before they act.
class TemporaryFileGuard {
 public:
  explicit TemporaryFileGuard(const std::string& temporary) {
    std::memcpy(pending_temporary, temporary.c_str(), temporary.size() + 1);
    temporary_pending = 1;
    struct sigaction action {};
    action.sa_handler = remove_temporary_and_reraise;
    sigemptyset(&action.sa_mask);
    for (int signal : kInterruptions) sigaddset(&action.sa_mask, signal);
    for (std::size_t i = 0; i < std::size(kInterruptions); ++i) {
      ::sigaction(kInterruptions[i], &action, &interrupted_actions[i]);
    }
  }
  ~TemporaryFileGuard() {
    for (std::size_t i = 0; i < std::size(kInterruptions); ++i) {
      ::sigaction(kInterruptions[i], &interrupted_actions[i], nullptr);
    }
    temporary_pending = 0;
  }
  TemporaryFileGuard(const TemporaryFileGuard&) = delete;
  TemporaryFileGuard& operator=(const TemporaryFileGuard&) = delete;
};

// A temporary file beside the target, renamed over it: a reader never sees half a file, and a
// failure leaves the old one as it was.
void replace_atomically(const Destination& destination, const std::string& path, std::string_view bytes) {
  static unsigned counter = 0;
  const std::string directory = parent_of(destination.path);
  std::string temporary;
  std::optional<TemporaryFileGuard> guard;
  int fd = -1;
  for (int attempt = 0; attempt < 100 && fd < 0; ++attempt) {
    // Short and hidden, whatever the target's name: a long name plus a suffix may not fit.
    temporary = fmt::format("{}/.mhacheck-{}-{}.tmp", directory, ::getpid(), counter++);
    if (temporary.size() >= sizeof pending_temporary) throw write_error(path, std::strerror(ENAMETOOLONG));
    guard.emplace(temporary);
    fd = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd < 0) {
      int error = errno;
      guard.reset();
      if (error != EEXIST) throw write_error(path, std::strerror(error));
    }
  }
  if (fd < 0) throw write_error(path, "no free temporary file name");
  auto fail = [&](const std::string& what, int error) {
    if (fd >= 0) ::close(fd);
    ::unlink(temporary.c_str());
    return write_error(path, fmt::format("{}: {}", what, std::strerror(error)));
  };
  if (destination.existing) {
    // Owner first: chown may clear the set-id bits that chmod then restores. Only root (or the
    // owner keeping its own group) may set them; otherwise the new file is ours, as with any
    // program that replaces a file.
    const struct stat& old = *destination.existing;
    if (::fchown(fd, old.st_uid, old.st_gid) != 0 && errno != EPERM) throw fail("fchown failed", errno);
    if (::fchmod(fd, old.st_mode & 07777) != 0) throw fail("fchmod failed", errno);
  }
  if (int error = write_all(fd, bytes)) throw fail("write failed", error);
  if (::fsync(fd) != 0) throw fail("fsync failed", errno);
  int closed = ::close(fd);
  fd = -1;
  if (closed != 0) throw fail("close failed", errno);
  if (::rename(temporary.c_str(), destination.path.c_str()) != 0) throw fail("rename failed", errno);
}

}  // namespace

void write_output(const std::string& path, std::string_view bytes) {
  Destination destination = find_destination(path);
  if (destination.kind == Destination::Kind::RegularFile) {
    replace_atomically(destination, path, bytes);
  } else {
    write_directly(destination, path, bytes);
  }
}

void refuse_unsafe_outputs(const std::vector<std::string>& outputs, const std::vector<std::string>& inputs) {
  // A file that exists is known by its inode; one still to be made, by its absolute path.
  auto identity = [](const std::string& path) -> std::optional<std::string> {
    if (path.empty() || path == "-") return std::nullopt;
    if (std::optional<struct stat> info = stat_of(path)) {
      if (!S_ISREG(info->st_mode)) return std::nullopt;
      return fmt::format("inode {}:{}", info->st_dev, info->st_ino);
    }
    std::error_code ignored;
    return "path " + std::filesystem::weakly_canonical(std::filesystem::absolute(path, ignored), ignored).string();
  };
  std::vector<std::string> read;
  for (const std::string& input : inputs) {
    std::optional<std::string> known = identity(input);
    if (known && known->starts_with("inode")) read.push_back(*known);
  }
  std::vector<std::string> written;
  for (const std::string& output : outputs) {
    std::optional<std::string> known = identity(output);
    if (!known) continue;
    if (std::find(read.begin(), read.end(), *known) != read.end()) {
      throw path_error(output, fmt::format("refusing to overwrite an input: {}", output));
    }
    if (std::find(written.begin(), written.end(), *known) != written.end()) {
      throw path_error(output, fmt::format("{} is given as two outputs", output));
    }
    written.push_back(*known);
  }
}

}  // namespace mhacheck
