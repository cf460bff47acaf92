#pragma once

#include <optional>

#include <nlohmann/json.hpp>

#include "call_context.hpp"

namespace mhacheck {

// The patch that inserts `inserted` (an op and its arguments) right after `producer`, reading
// its first output under a new name and giving the old name back, so that every later reader
// gets the changed tensor; nullopt when the producer's outputs are not written in the spec.
std::optional<nlohmann::json> insert_after_producer(const CallContext& ctx, const CallDecl& producer, nlohmann::json inserted);

}  // namespace mhacheck
