#include "core/runtime_library.hpp"

#include <fmt/format.h>

namespace mhacheck {

InputError runtime_library_missing(const std::string& library, const std::string& problem, std::string help) {
  return InputError(Location{}, fmt::format("cannot load {}: {}", library, problem), std::move(help),
                    InputError::Kind::Environment);
}

}  // namespace mhacheck
