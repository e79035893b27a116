// A global operator new that counts, for tests that prove a path allocates nothing.
// In a file of its own: seen inline beside its callers, g++ 12 reports free() after
// operator new as a mismatch (-Wmismatched-new-delete).
#include <atomic>
#include <cstdlib>
#include <new>

namespace horizons::testing {
namespace {
std::atomic<std::size_t> allocations{0};
}  // namespace

/// How many times operator new ran in this process.
std::size_t allocation_count() { return allocations.load(std::memory_order_relaxed); }
}  // namespace horizons::testing

void* operator new(std::size_t size) {
  horizons::testing::allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(size == 0 ? 1 : size)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
