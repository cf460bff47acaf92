// Libraries that mhacheck loads on first use (dlopen) rather than at start-up: OpenBLAS for the
// forward pass (src/forward/blas.cpp), libzip for .npz files (src/input/zip_library.cpp). One the
// machine lacks is the environment's fault, not the input's: MHA106, exit code 2.
#pragma once

#include <string>

#include "mhacheck/location.hpp"

namespace mhacheck {

// "cannot load OpenBLAS (libopenblas.so.0): <problem>", with `help` saying what to install.
InputError runtime_library_missing(const std::string& library, const std::string& problem, std::string help);

}  // namespace mhacheck
