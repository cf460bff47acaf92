// Writing output files so that a reader never sees half of one: a temporary file next to the
// target, fsync'ed, then renamed over it. On failure the target is untouched and the temporary
// file removed.
#pragma once

#include <string>
#include <string_view>

namespace mhacheck {

// Throws InputError ("<path>: cannot write: <reason>") when the file cannot be written.
void write_file_atomically(const std::string& path, std::string_view bytes);

}  // namespace mhacheck
