// The one routine every output goes through (-o, --save, --plot): it writes what the user asked
// for without destroying what is at the path (docs/limits.md, "Output paths").
//
// - "-" is standard output.
// - A character device, FIFO or socket is opened (a socket: connected) and written directly: no
//   temporary file, no rename, so /dev/null stays a device and a FIFO's reader gets the bytes.
//   So is a link to an open descriptor (/dev/stdout, /dev/fd/N, /proc/self/fd/N): a regular file
//   behind one is appended to, as the shell's `>>` would.
// - A regular file is replaced atomically: a temporary file beside it, fsync'ed, renamed over it.
//   An existing file keeps its mode (and owner, where the process may set it); a symlink is
//   followed and its target replaced, the link kept. A failed write, or SIGINT/SIGTERM/SIGHUP
//   during one, leaves the old file untouched and no temporary file behind.
// - A directory or a block device is refused.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace mhacheck {

// Throws InputError ("<path>: cannot write: <reason>") when the bytes cannot all be written;
// ENOSPC on a device is such a failure.
void write_output(const std::string& path, std::string_view bytes);

// Throws InputError when one of `outputs` (empty ones are ignored) is the same file as one of
// `inputs`, through symlinks and hard links too ("refusing to overwrite an input: PATH"), or the
// same file as another output ("PATH is given as two outputs"). Only regular files can be
// overwritten, so devices, FIFOs, sockets and "-" never collide.
void refuse_unsafe_outputs(const std::vector<std::string>& outputs, const std::vector<std::string>& inputs);

}  // namespace mhacheck
