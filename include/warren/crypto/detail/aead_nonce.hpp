#pragma once
// The 96-bit ChaCha20-Poly1305 nonce (RFC 8439 §2.8) and WireGuard's way of filling it from a
// message counter: 32 zero bits, then the counter as 64 bits little-endian (WireGuard paper
// §5.4.6). seal_ietf/open_ietf take a raw nonce for known-answer tests and non-WireGuard users.

#include <array>
#include <cstddef>
#include <cstdint>

namespace warren::crypto::detail {

inline constexpr std::size_t ietf_nonce_size = 12;
using ietf_nonce = std::array<std::byte, ietf_nonce_size>;

inline constexpr ietf_nonce wireguard_nonce(std::uint64_t counter) noexcept {
  ietf_nonce n{};
  for (std::size_t i = 0; i < 8; ++i) n[4 + i] = static_cast<std::byte>(counter >> (8 * i));
  return n;
}

}  // namespace warren::crypto::detail
