#pragma once
// X25519 scalar clamping (RFC 7748 §5, decodeScalar25519): clear the three low bits and the top
// bit, set bit 254. Private keys are stored clamped; backends whose library does not clamp
// (mbedTLS checks instead) clamp a copy before use.

#include <cstddef>
#include <span>

namespace warren::crypto::detail {

inline void clamp_x25519_scalar(std::span<std::byte, 32> k) noexcept {
  k[0] &= std::byte{0xf8};
  k[31] &= std::byte{0x7f};
  k[31] |= std::byte{0x40};
}

}  // namespace warren::crypto::detail
