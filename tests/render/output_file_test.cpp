// The "Output paths" table of docs/limits.md: write_output never destroys what is at a path.
// Devices are made with mknod in a temporary directory (CI runs as root); the machine's own /dev
// entries are never written.
#include <catch2/catch.hpp>

#include <csignal>
#include <functional>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "mhacheck/location.hpp"
#include "mhacheck/output_file.hpp"
#include "test_support.hpp"

using namespace mhacheck;
using mhacheck::test::read_file;
using mhacheck::test::run_cli;
using mhacheck::test::TempDir;
namespace fs = std::filesystem;

namespace {

std::string error_of(const std::function<void()>& action) {
  try {
    action();
  } catch (const InputError& error) {
    return error.what();
  }
  return "(no error)";
}

struct stat lstat_of(const std::string& path) {
  struct stat info {};
  REQUIRE(::lstat(path.c_str(), &info) == 0);
  return info;
}

// A character device node like the machine's /dev/null (1, 3) or /dev/full (1, 7).
std::string make_device(const TempDir& dir, const std::string& name, unsigned minor) {
  std::string path = dir.file(name);
  INFO("mknod needs root, as CI runs");
  REQUIRE(::mknod(path.c_str(), S_IFCHR | 0666, makedev(1, minor)) == 0);
  return path;
}

bool is_device(const std::string& path, unsigned minor) {
  struct stat info = lstat_of(path);
  return S_ISCHR(info.st_mode) && info.st_rdev == makedev(1, minor);
}

// Reads a FIFO (or a connected socket) to its end on another thread.
struct Reader {
  std::string received;
  std::string fifo;  // for a FIFO reader
  std::thread thread;
  explicit Reader(std::function<int()> open_descriptor, std::string fifo_path = {})
      : fifo(std::move(fifo_path)), thread([this, open_descriptor] {
          int fd = open_descriptor();
          if (fd < 0) return;
          char buffer[4096];
          for (ssize_t n; (n = ::read(fd, buffer, sizeof buffer)) > 0;) received.append(buffer, static_cast<std::size_t>(n));
          ::close(fd);
        }) {}
  std::string finish() {
    // Should the writer never have opened the FIFO, the reader still waits in open(): a writer
    // that opens and closes at once lets it see the end instead of hanging the test.
    if (!fifo.empty()) {
      int writer = ::open(fifo.c_str(), O_WRONLY | O_NONBLOCK);
      if (writer >= 0) ::close(writer);
    }
    thread.join();
    return received;
  }
};

Reader fifo_reader(const std::string& fifo) {
  return Reader([fifo] { return ::open(fifo.c_str(), O_RDONLY); }, fifo);
}

}  // namespace

TEST_CASE("output: a character device is written directly and stays a device", "[output]") {
  TempDir dir;
  std::string null = make_device(dir, "null", 3);
  write_output(null, "report\n");
  CHECK(is_device(null, 3));
  CHECK(dir.names() == std::vector<std::string>{"null"});
}

TEST_CASE("output: a full device is an ENOSPC error, and stays a device", "[output]") {
  TempDir dir;
  std::string full = make_device(dir, "full", 7);
  CHECK(error_of([&] { write_output(full, "report\n"); }) == full + ": cannot write: write failed: No space left on device");
  CHECK(is_device(full, 7));
  CHECK(dir.names() == std::vector<std::string>{"full"});
}

TEST_CASE("output: a FIFO's reader gets the bytes and the FIFO stays a FIFO", "[output]") {
  TempDir dir;
  std::string fifo = dir.file("fifo");
  REQUIRE(::mkfifo(fifo.c_str(), 0644) == 0);
  Reader reader = fifo_reader(fifo);
  std::string bytes(1 << 20, 'x');  // more than a pipe holds: the writer waits for the reader
  write_output(fifo, bytes);
  CHECK(reader.finish() == bytes);
  CHECK(S_ISFIFO(lstat_of(fifo).st_mode));
  CHECK(dir.names() == std::vector<std::string>{"fifo"});
}

TEST_CASE("output: a FIFO whose reader leaves is an EPIPE error, not death by SIGPIPE", "[output]") {
  TempDir dir;
  std::string fifo = dir.file("fifo");
  REQUIRE(::mkfifo(fifo.c_str(), 0644) == 0);
  std::thread reader([&] { ::close(::open(fifo.c_str(), O_RDONLY)); });
  std::string bytes(1 << 22, 'x');
  std::string error = error_of([&] { write_output(fifo, bytes); });
  reader.join();
  CHECK(error == fifo + ": cannot write: write failed: Broken pipe");
  CHECK(S_ISFIFO(lstat_of(fifo).st_mode));
}

TEST_CASE("output: a Unix socket is connected to and written", "[output]") {
  TempDir dir;
  std::string path = dir.file("socket");
  int listener = ::socket(AF_UNIX, SOCK_STREAM, 0);
  REQUIRE(listener >= 0);
  struct sockaddr_un address {};
  address.sun_family = AF_UNIX;
  REQUIRE(path.size() < sizeof address.sun_path);
  std::copy(path.begin(), path.end(), address.sun_path);
  REQUIRE(::bind(listener, reinterpret_cast<struct sockaddr*>(&address), sizeof address) == 0);
  REQUIRE(::listen(listener, 1) == 0);
  Reader reader([listener] { return ::accept(listener, nullptr, nullptr); });
  write_output(path, "over a socket\n");
  CHECK(reader.finish() == "over a socket\n");
  ::close(listener);
  CHECK(S_ISSOCK(lstat_of(path).st_mode));
}

TEST_CASE("output: a symlink is followed, its target replaced, the link kept", "[output]") {
  TempDir dir;
  fs::create_directories(dir.path / "sub");
  std::string target = dir.write("target.txt", "old\n");
  REQUIRE(::chmod(target.c_str(), 0640) == 0);
  // A chain of relative links through another directory: link.txt -> sub/hop -> ../target.txt
  fs::create_symlink("sub/hop", dir.path / "link.txt");
  fs::create_symlink("../target.txt", dir.path / "sub" / "hop");
  write_output(dir.file("link.txt"), "new\n");
  CHECK(fs::is_symlink(dir.path / "link.txt"));
  CHECK(fs::is_symlink(dir.path / "sub" / "hop"));
  CHECK(read_file(target) == "new\n");
  CHECK((lstat_of(target).st_mode & 07777) == 0640);
  CHECK(dir.names() == std::vector<std::string>{"link.txt", "sub", "target.txt"});

  // A dangling link: its target is created, the link kept.
  fs::create_symlink("made.txt", dir.path / "dangling");
  write_output(dir.file("dangling"), "made\n");
  CHECK(fs::is_symlink(dir.path / "dangling"));
  CHECK(read_file(dir.file("made.txt")) == "made\n");

  // A loop of links is an error, and nothing is written.
  fs::create_symlink("loop-b", dir.path / "loop-a");
  fs::create_symlink("loop-a", dir.path / "loop-b");
  CHECK(error_of([&] { write_output(dir.file("loop-a"), "x"); }) ==
        dir.file("loop-a") + ": cannot write: Too many levels of symbolic links");
}

TEST_CASE("output: an existing file keeps its mode and owner", "[output]") {
  TempDir dir;
  std::string report = dir.write("report.txt", "old\n");
  REQUIRE(::chmod(report.c_str(), 0640) == 0);
  bool root = ::geteuid() == 0;
  if (root) REQUIRE(::chown(report.c_str(), 1234, 4321) == 0);
  write_output(report, "new\n");
  struct stat info = lstat_of(report);
  CHECK((info.st_mode & 07777) == 0640);
  CHECK(info.st_uid == (root ? 1234u : ::geteuid()));
  CHECK(read_file(report) == "new\n");
  // A new file gets the usual mode: 0666 less the umask.
  mode_t mask = ::umask(022);
  write_output(dir.file("fresh.txt"), "fresh\n");
  ::umask(mask);
  CHECK((lstat_of(dir.file("fresh.txt")).st_mode & 07777) == 0644);
}

TEST_CASE("output: a directory or a block device is refused, untouched", "[output]") {
  TempDir dir;
  fs::create_directories(dir.path / "folder");
  CHECK(error_of([&] { write_output(dir.file("folder"), "x"); }) == dir.file("folder") + ": cannot write: Is a directory");
  std::string block = dir.file("block");
  REQUIRE(::mknod(block.c_str(), S_IFBLK | 0600, makedev(7, 0)) == 0);
  CHECK_THAT(error_of([&] { write_output(block, "x"); }), Catch::Contains("is a block device"));
  CHECK(S_ISBLK(lstat_of(block).st_mode));
  CHECK(dir.names() == std::vector<std::string>{"block", "folder"});
}

TEST_CASE("output: a link to an open descriptor writes through it, a file behind one is appended to", "[output]") {
  TempDir dir;
  std::string log = dir.write("log.txt", "earlier line\n");
  int fd = ::open(log.c_str(), O_WRONLY | O_APPEND);
  REQUIRE(fd >= 0);
  write_output("/proc/self/fd/" + std::to_string(fd), "report\n");
  ::close(fd);
  CHECK(read_file(log) == "earlier line\nreport\n");
  CHECK(dir.names() == std::vector<std::string>{"log.txt"});
}

// SIGINT and SIGTERM while a big file is being written: the process dies by the signal, as it
// would have without mhacheck's handler, the old file is untouched and no temporary file is left.
// On a loaded machine the child may finish the write before the signal arrives; that attempt says
// nothing about the handler, so it is made again (a few times at most).
TEST_CASE("output: SIGTERM or SIGINT during a write leaves the old file and no temporary file", "[output]") {
  for (int signal : {SIGTERM, SIGINT}) {
    bool interrupted = false;
    for (int attempt = 0; attempt < 5 && !interrupted; ++attempt) {
      TempDir dir;
      std::string target = dir.write("out.npz", "old\n");
      pid_t child = ::fork();
      REQUIRE(child >= 0);
      if (child == 0) {
        std::string big(std::size_t{768} << 20, 'x');
        try {
          write_output(target, big);
        } catch (...) {
        }
        ::_exit(0);
      }
      bool temporary_seen = false;
      for (int wait = 0; wait < 20000 && !temporary_seen; ++wait) {
        temporary_seen = dir.names().size() > 1;
        if (!temporary_seen) ::usleep(1000);
      }
      ::kill(child, signal);
      int status = 0;
      REQUIRE(::waitpid(child, &status, 0) == child);
      CHECK(temporary_seen);
      interrupted = WIFSIGNALED(status);
      if (!interrupted) {
        // The write won the race: it must then be complete, with nothing left behind.
        CHECK(WIFEXITED(status));
        CHECK(fs::file_size(target) == std::size_t{768} << 20);
        CHECK(dir.names() == std::vector<std::string>{"out.npz"});
        continue;
      }
      CHECK(WTERMSIG(status) == signal);
      CHECK(dir.names() == std::vector<std::string>{"out.npz"});
      CHECK(read_file(target) == "old\n");
    }
    CHECK(interrupted);
  }
}

TEST_CASE("output: outputs that are inputs, or each other, are refused", "[output]") {
  TempDir dir;
  std::string spec = dir.write("spec.json", "{}");
  fs::create_symlink("spec.json", dir.path / "link.json");
  fs::create_hard_link(spec, dir.path / "hard.json");
  for (const std::string& output : {spec, dir.file("link.json"), dir.file("hard.json")}) {
    CHECK(error_of([&] { refuse_unsafe_outputs({output}, {spec}); }) == "refusing to overwrite an input: " + output);
  }
  CHECK(error_of([&] { refuse_unsafe_outputs({dir.file("new.json"), dir.file("./new.json")}, {spec}); }) ==
        dir.file("./new.json") + " is given as two outputs");
  // Devices, "-" and new files never collide with an input.
  std::string null = make_device(dir, "null", 3);
  CHECK(error_of([&] { refuse_unsafe_outputs({"-", null, "", dir.file("report.json")}, {spec, null, "-"}); }) == "(no error)");
}

// The same cases through the command line, on check, run and graph.
TEST_CASE("cli: -o, --save and --plot never destroy what is at the path", "[output][cli]") {
  TempDir dir;
  std::string null = make_device(dir, "null", 3), full = make_device(dir, "full", 7);
  auto run = [](const std::string& args) { return run_cli(args); };

  CHECK(run("check -o " + null + " examples/seed_example3.json").status == 0);
  CHECK(run("graph -o " + null + " examples/seed_example1.json").status == 1);
  CHECK(run("run examples/run_example.json --save " + null + " --plot " + dir.file("w.svg")).status == 0);
  CHECK(is_device(null, 3));

  auto on_full = run("run examples/run_example.json --save " + full);
  CHECK(on_full.status == 2);
  CHECK_THAT(on_full.err, Catch::Contains(full + ": cannot write: write failed: No space left on device"));
  auto report_on_full = run("check -o " + full + " examples/seed_example3.json");
  CHECK(report_on_full.status == 2);
  CHECK(report_on_full.err == "mhacheck: " + full + ": cannot write: write failed: No space left on device\n");
  CHECK(is_device(full, 7));

  // -o - and -o /dev/stdout are standard output (here the test's pipe).
  auto dash = run("check --format json -o - examples/seed_example3.json");
  CHECK(nlohmann::json::parse(dash.out)["ok"] == true);
  auto stdout_link = run("check --format json -o /dev/stdout examples/seed_example3.json");
  CHECK(nlohmann::json::parse(stdout_link.out)["ok"] == true);

  std::string fifo = dir.file("fifo");
  REQUIRE(::mkfifo(fifo.c_str(), 0644) == 0);
  Reader reader = fifo_reader(fifo);
  CHECK(run("check --format json -o " + fifo + " examples/seed_example3.json").status == 0);
  CHECK(nlohmann::json::parse(reader.finish())["ok"] == true);
  CHECK(S_ISFIFO(lstat_of(fifo).st_mode));

  std::string kept = dir.write("kept.txt", "old\n");
  REQUIRE(::chmod(kept.c_str(), 0640) == 0);
  fs::create_symlink("kept.txt", dir.path / "kept-link.txt");
  CHECK(run("check -o " + dir.file("kept-link.txt") + " examples/seed_example3.json").status == 0);
  CHECK(fs::is_symlink(dir.path / "kept-link.txt"));
  CHECK_THAT(read_file(kept), Catch::Contains("seed_example3.json"));
  CHECK((lstat_of(kept).st_mode & 07777) == 0640);
}

TEST_CASE("cli: an output onto an input is refused before anything is written", "[output][cli]") {
  TempDir dir;
  const fs::path examples = fs::path(MHACHECK_SOURCE_DIR) / "examples";
  fs::copy(examples / "run_example.json", dir.path / "spec.json");
  fs::copy(examples / "run", dir.path / "run");
  const std::string spec = dir.file("spec.json"), inputs = dir.file("run/inputs.npz"), weights = dir.file("run/mha_e8_h2.npz");
  const std::string spec_before = read_file(spec), inputs_before = read_file(inputs), weights_before = read_file(weights);

  struct Case {
    std::string args, refused;
  };
  const std::vector<Case> cases{
      {"check " + spec + " -o " + spec, spec},
      {"check --format json " + spec + " -o " + inputs, inputs},  // named by the spec
      {"graph " + spec + " -o " + spec, spec},
      {"graph " + spec + " -o " + weights, weights},
      {"run " + spec + " -o " + spec, spec},
      {"run " + spec + " --save " + inputs, inputs},
      {"run " + spec + " --plot " + weights, weights},
      {"run --module 'nn.MultiheadAttention(8, 2)' --query '(3, 2, 8)' --random-inputs --weights " + weights +
           " --save " + weights,
       weights},
  };
  for (const Case& refused : cases) {
    INFO(refused.args);
    auto result = run_cli(refused.args);
    CHECK(result.status == 2);
    CHECK(result.out.empty());
    CHECK(result.err == "mhacheck: refusing to overwrite an input: " + refused.refused + "\n");
  }
  auto twice = run_cli("run " + spec + " --save " + dir.file("out.npz") + " -o " + dir.file("out.npz"));
  CHECK(twice.status == 2);
  CHECK(twice.err == "mhacheck: " + dir.file("out.npz") + " is given as two outputs\n");
  CHECK(read_file(spec) == spec_before);
  CHECK(read_file(inputs) == inputs_before);
  CHECK(read_file(weights) == weights_before);
  CHECK(dir.names() == std::vector<std::string>{"run", "spec.json"});
}
