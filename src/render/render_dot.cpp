#include "mhacheck/render_dot.hpp"

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <vector>

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fmt/format.h>


extern char** environ;

namespace mhacheck {
namespace {

constexpr const char* kErrorColor = "red";
constexpr const char* kSkippedColor = "grey50";

// A double-quoted DOT string (an id or a label).
// Built by appending: GCC 12 warns falsely (-Wrestrict) on "\"" + std::string.
std::string dot_string(const std::string& text) {
  std::string quoted = "\"";
  quoted += dot_escape(text);
  quoted += '"';
  return quoted;
}

const Diagnostic* first_error(const Report& report, const std::string& call_id) {
  for (const Diagnostic& diagnostic : report.diagnostics) {
    if (diagnostic.call == call_id && diagnostic.severity() == Severity::Error) return &diagnostic;
  }
  return nullptr;
}

std::string tensor_label(const std::string& title, const Shape& shape, const std::optional<DType>& dtype) {
  std::string label = title + "\n" + tuple_str(shape);
  if (dtype) label += fmt::format(" {}", dtype_name(*dtype));
  return label;
}

class DotWriter {
 public:
  explicit DotWriter(const Report& report) : report_(report) {}

  std::string write() {
    out_ += "digraph mhacheck {\n";
    out_ += "  graph [rankdir=TB, fontname=\"Helvetica\"];\n";
    out_ += "  node [fontname=\"Helvetica\", fontsize=11];\n";
    out_ += "  edge [fontname=\"Helvetica\", fontsize=10];\n";
    for (const DeclaredTensor& tensor : report_.tensors) {
      out_ += fmt::format("  {} [shape=ellipse, label={}];\n", dot_string("tensor:" + tensor.name),
                          dot_string(tensor_label(tensor.name, tensor.shape, tensor.dtype)));
    }
    for (const CallReport& call : report_.calls) write_call(call);
    out_ += "}\n";
    return out_;
  }

 private:
  void write_call(const CallReport& call) {
    std::string node = "call:" + call.id;
    const Diagnostic* error = first_error(report_, call.id);

    std::string label = fmt::format("call \"{}\"\n{}", call.id, call.module_text);
    std::string attributes = "shape=box";
    for (const NamedOutput& output : call.outputs) label += "\n" + output.name + " " + tuple_str(output.shape);
    if (!call.skipped_because.empty()) {
      label += fmt::format("\nskipped: an input comes from failing call \"{}\"", call.skipped_because);
      attributes += fmt::format(", style=dashed, color={0}, fontcolor={0}", kSkippedColor);
    }
    if (error != nullptr) {
      label += fmt::format("\n{}[{}]: {}", severity_name(Severity::Error), error->info().code, error->message);
      attributes += fmt::format(", color={0}, fontcolor={0}, penwidth=2", kErrorColor);
    }
    out_ += fmt::format("  {} [{}, label={}];\n", dot_string(node), attributes, dot_string(label));

    // The tensor arguments given, in PyTorch's order as the check resolved them, so edges leave
    // their sources in a stable order.
    for (const ResolvedArgument& argument : call.arguments) {
      bool offending = error != nullptr && error->argument == argument.name;
      write_argument_edge(argument, node, offending);
    }
  }

  void write_argument_edge(const ResolvedArgument& argument, const std::string& call_node, bool offending) {
    const ArgumentSource& source = argument.source;
    std::string producer;
    switch (source.kind) {
      case ArgumentSource::Kind::Declared:
        producer = "tensor:" + source.name;
        break;
      case ArgumentSource::Kind::Output:
        producer = "call:" + source.call;
        break;
      case ArgumentSource::Kind::Inline:
      case ArgumentSource::Kind::Causal: {
        std::string title = argument.name + (source.kind == ArgumentSource::Kind::Causal ? " (causal mask)" : " (inline)");
        producer = "inline:" + source.written->pointer;
        out_ += fmt::format("  {} [shape=ellipse, label={}];\n", dot_string(producer),
                            dot_string(tensor_label(title, argument.written(), source.written->dtype)));
        break;
      }
    }
    // The output of a call that failed has no shape to show.
    std::string label = argument.name + (source.failed ? "" : ": " + tuple_str(argument.written()));
    std::string attributes = "label=" + dot_string(label);
    if (offending) attributes += fmt::format(", color={0}, fontcolor={0}, penwidth=2", kErrorColor);
    out_ += fmt::format("  {} -> {} [{}];\n", dot_string(producer), dot_string(call_node), attributes);
  }

  const Report& report_;
  std::string out_;
};

// Closes a descriptor when it goes out of scope.
struct Descriptor {
  int fd = -1;
  ~Descriptor() {
    if (fd >= 0) close(fd);
  }
};

}  // namespace

std::string dot_escape(const std::string& text) {
  std::string escaped;
  escaped.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '\\': escaped += "\\\\"; break;
      case '"': escaped += "\\\""; break;
      case '\n': escaped += "\\n"; break;
      case '\r': break;  // \r would be Graphviz's right-justified line break; drop it
      default: escaped += c;
    }
  }
  return escaped;
}

std::string render_dot(const Report& report) { return DotWriter(report).write(); }

std::optional<std::string> find_graphviz_dot() {
  const char* path = std::getenv("PATH");
  std::string directories = path != nullptr ? path : "/usr/local/bin:/usr/bin:/bin";
  std::size_t start = 0;
  while (start <= directories.size()) {
    std::size_t end = directories.find(':', start);
    if (end == std::string::npos) end = directories.size();
    std::string directory = directories.substr(start, end - start);
    std::string candidate = (directory.empty() ? "." : directory) + "/dot";
    if (access(candidate.c_str(), X_OK) == 0) return candidate;
    start = end + 1;
  }
  return std::nullopt;
}

std::string dot_to_svg(const std::string& dot_program, const std::string& dot) {
  // The graph goes through an anonymous temporary file rather than a pipe: dot reads all of it
  // before writing, so feeding and draining one process needs no poll loop, and a dot that dies
  // early cannot SIGPIPE us.
  std::unique_ptr<FILE, int (*)(FILE*)> input(std::tmpfile(), &std::fclose);
  if (!input) throw std::runtime_error(fmt::format("cannot create a temporary file: {}", std::strerror(errno)));
  if (std::fwrite(dot.data(), 1, dot.size(), input.get()) != dot.size() || std::fflush(input.get()) != 0 ||
      lseek(fileno(input.get()), 0, SEEK_SET) != 0) {
    throw std::runtime_error(fmt::format("cannot write a temporary file: {}", std::strerror(errno)));
  }
  int pipe_fds[2];
  if (pipe2(pipe_fds, O_CLOEXEC) != 0) throw std::runtime_error(fmt::format("cannot create a pipe: {}", std::strerror(errno)));
  Descriptor read_end{pipe_fds[0]}, write_end{pipe_fds[1]};

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, fileno(input.get()), STDIN_FILENO);
  posix_spawn_file_actions_adddup2(&actions, write_end.fd, STDOUT_FILENO);
  std::vector<std::string> words = {dot_program, "-Tsvg"};
  std::vector<char*> argv;
  for (std::string& word : words) argv.push_back(word.data());
  argv.push_back(nullptr);
  pid_t pid = 0;
  int spawned = posix_spawn(&pid, dot_program.c_str(), &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (spawned != 0) throw std::runtime_error(fmt::format("cannot run {}: {}", dot_program, std::strerror(spawned)));
  close(write_end.fd);
  write_end.fd = -1;

  std::string svg;
  int read_error = 0;
  char buffer[65536];
  while (true) {
    ssize_t n = read(read_end.fd, buffer, sizeof buffer);
    if (n > 0) {
      svg.append(buffer, static_cast<std::size_t>(n));
    } else if (n == 0 || errno != EINTR) {
      if (n < 0) read_error = errno;
      break;
    }
  }
  close(read_end.fd);  // a dot still writing gets EPIPE rather than blocking forever
  read_end.fd = -1;
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (read_error != 0) throw std::runtime_error(fmt::format("cannot read {}'s output: {}", dot_program, std::strerror(read_error)));
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    throw std::runtime_error(fmt::format("{} -Tsvg failed (exit status {})", dot_program,
                                         WIFEXITED(status) ? WEXITSTATUS(status) : -1));
  }
  return svg;
}

}  // namespace mhacheck
