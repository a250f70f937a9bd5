#pragma once
// Counts every call to the global operator new, so a test can prove a code path does not touch
// the heap (tailscale's wrap_test.go does the same with testing.AllocsPerRun).
//
// The replacement operators must exist exactly once in the test executable: exactly one .cpp
// defines WARREN_DEFINE_ALLOCATION_COUNTER before including this header; the others include it
// plainly. Counting is global and atomic; read it around a code path with no Catch2 assertion
// inside (Catch2 allocates while it records), then assert on the difference.

#include <atomic>
#include <cstddef>
#include <cstdint>

namespace warren::test {

inline std::atomic<std::uint64_t> allocation_counter{0};

// Calls to any form of operator new so far.
inline std::uint64_t allocations() noexcept { return allocation_counter.load(std::memory_order_relaxed); }

// Allocations made while running f().
template <class F>
std::uint64_t allocations_during(F&& f) {
  const std::uint64_t before = allocations();
  f();
  return allocations() - before;
}

}  // namespace warren::test

#ifdef WARREN_DEFINE_ALLOCATION_COUNTER

#include <cstdlib>
#include <new>

namespace warren::test::detail {
inline void* counted_alloc(std::size_t size, std::size_t align) noexcept {
  allocation_counter.fetch_add(1, std::memory_order_relaxed);
  if (size == 0) size = 1;
  if (align <= alignof(std::max_align_t)) return std::malloc(size);
  // aligned_alloc wants a size that is a multiple of the alignment.
  return std::aligned_alloc(align, (size + align - 1) / align * align);
}
inline void* counted_alloc_or_throw(std::size_t size, std::size_t align) {
  if (void* p = counted_alloc(size, align)) return p;
  throw std::bad_alloc();
}
}  // namespace warren::test::detail

// Every replaceable form, so nothing reaches the default operators and pairs always match.
void* operator new(std::size_t n) { return warren::test::detail::counted_alloc_or_throw(n, 0); }
void* operator new[](std::size_t n) { return warren::test::detail::counted_alloc_or_throw(n, 0); }
void* operator new(std::size_t n, std::align_val_t a) {
  return warren::test::detail::counted_alloc_or_throw(n, static_cast<std::size_t>(a));
}
void* operator new[](std::size_t n, std::align_val_t a) {
  return warren::test::detail::counted_alloc_or_throw(n, static_cast<std::size_t>(a));
}
void* operator new(std::size_t n, const std::nothrow_t&) noexcept { return warren::test::detail::counted_alloc(n, 0); }
void* operator new[](std::size_t n, const std::nothrow_t&) noexcept { return warren::test::detail::counted_alloc(n, 0); }
void* operator new(std::size_t n, std::align_val_t a, const std::nothrow_t&) noexcept {
  return warren::test::detail::counted_alloc(n, static_cast<std::size_t>(a));
}
void* operator new[](std::size_t n, std::align_val_t a, const std::nothrow_t&) noexcept {
  return warren::test::detail::counted_alloc(n, static_cast<std::size_t>(a));
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
void operator delete(void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete(void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }
void operator delete(void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete(void* p, std::align_val_t, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete[](void* p, std::align_val_t, const std::nothrow_t&) noexcept { std::free(p); }

#endif  // WARREN_DEFINE_ALLOCATION_COUNTER
