#include "core/memory_room.hpp"

#include <sys/mman.h>
#include <sys/resource.h>

#include <vector>

namespace mhacheck {

bool memory_room(std::uint64_t block_bytes, std::uint64_t blocks) {
  if (block_bytes == 0 || blocks == 0) return true;
  if (block_bytes > SIZE_MAX) return false;
  std::vector<void*> mapped;
  bool room = true;
  for (std::uint64_t i = 0; i < blocks && room; ++i) {
    // Not MAP_NORESERVE: the kernel then skips the commit accounting this asks about.
    void* block = mmap(nullptr, static_cast<std::size_t>(block_bytes), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (block == MAP_FAILED) {
      room = false;
    } else {
      mapped.push_back(block);
    }
  }
  for (void* block : mapped) munmap(block, static_cast<std::size_t>(block_bytes));
  return room;
}

std::uint64_t address_space_limit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_AS, &limit) != 0 || limit.rlim_cur == RLIM_INFINITY) return 0;
  return limit.rlim_cur;
}

}  // namespace mhacheck
