// Whether the process can still allocate a number of bytes, asked before allocating them: `run`
// refuses a run its memory cannot hold instead of failing halfway (or, inside OpenBLAS, never
// returning: its buffer allocation retries forever).
#pragma once

#include <cstdint>

namespace mhacheck {

// True when `blocks` mappings of `block_bytes` each can be made now: they are mapped read-write,
// never touched (no page is made), and unmapped again. A mapping fails where an allocation would:
// past the address-space limit (ulimit -v, RLIMIT_AS), past the commit limit
// (vm.overcommit_memory=2) or, under the kernel's default heuristic, one larger than RAM and swap.
bool memory_room(std::uint64_t block_bytes, std::uint64_t blocks = 1);

// The address-space limit (ulimit -v) in bytes; 0 when there is none.
std::uint64_t address_space_limit();

}  // namespace mhacheck
