#pragma once
// The buffer contract every backend's seal/open checks before touching memory (backend.hpp):
// sizes differ by exactly the tag, and the output is either the input itself (in place) or
// does not overlap it. A broken contract is the caller's bug: it is asserted, and in a release
// build the call becomes a safe no-op (seal writes zeros, open returns false) instead of
// reading or writing out of bounds.

#include <warren/core/bytes.hpp>
#include <warren/crypto/secret.hpp>

#include <cassert>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <cstdint>

namespace warren::crypto::detail {

inline bool disjoint_or_same(const std::byte* a, std::size_t an, const std::byte* b, std::size_t bn) noexcept {
  if (a == b) return true;
  auto x = reinterpret_cast<std::uintptr_t>(a);
  auto y = reinterpret_cast<std::uintptr_t>(b);
  return x + an <= y || y + bn <= x;
}

inline bool seal_shape_ok(byte_view in, mutable_byte_view out) noexcept {
  bool ok = out.size() == in.size() + tag_size && in.size() < out.size() &&  // no wrap-around
            disjoint_or_same(in.data(), in.size(), out.data(), out.size());
  assert(ok && "seal: out must be in.size() + tag_size bytes, in place or not overlapping");
  return ok;
}

inline bool open_shape_ok(byte_view in, mutable_byte_view out) noexcept {
  bool ok = in.size() >= tag_size && out.size() == in.size() - tag_size &&
            disjoint_or_same(in.data(), in.size(), out.data(), out.size());
  assert(ok && "open: out must be in.size() - tag_size bytes, in place or not overlapping");
  return ok;
}

// Leaves no plaintext behind: used when a seal cannot finish and when an open fails. A plain
// memset is enough: the caller still owns and may read the buffer, so it cannot be elided.
// The size bound is always true for a real span; it tells g++ (-Wstringop-overflow at -O2)
// that a size computed as "ciphertext - tag" by an inlined caller cannot be a wrapped-around one.
// The empty asm hides where the pointer came from: after an in-place test (out.data() ==
// plaintext.data()) g++ 12 would otherwise bound the memset by the plaintext's allocation and
// warn (-Warray-bounds) about the tag bytes that legitimately follow it.
inline void zero_output(mutable_byte_view out) noexcept {
  std::byte* p = out.data();
  asm("" : "+r"(p));
  if (!out.empty() && out.size() <= static_cast<std::size_t>(PTRDIFF_MAX)) std::memset(p, 0, out.size());
}

}  // namespace warren::crypto::detail
