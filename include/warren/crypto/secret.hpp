#pragma once
// secret<N>: N bytes of key material that are wiped when they go out of scope and compared in
// constant time. Keys, chaining keys and shared secrets live in these; public keys do not need
// to (public_key is a plain array).
//
// Ownership: a value type. Copies are allowed (a handshake copies chaining keys) and each copy
// wipes itself. Not thread-safe. Default state: all zeros.

#include <warren/core/bytes.hpp>

#include <array>
#include <cstddef>
#include <span>

namespace warren::crypto {

// Overwrites n bytes in a way the optimiser may not remove (the bytes are dead afterwards, so
// a plain memset could be elided).
inline void secure_wipe(void* p, std::size_t n) noexcept {
  auto* v = static_cast<volatile std::byte*>(p);
  for (std::size_t i = 0; i < n; ++i) v[i] = std::byte{0};
  asm volatile("" ::"r"(p) : "memory");
}

// Equality in time that depends on the length only: for tags, MACs and cookies an attacker
// controls one side of, an early exit would tell how many leading bytes matched.
inline bool constant_time_equal(byte_view a, byte_view b) noexcept {
  if (a.size() != b.size()) return false;
  unsigned diff = 0;
  for (std::size_t i = 0; i < a.size(); ++i) diff |= std::to_integer<unsigned>(a[i] ^ b[i]);
  return diff == 0;
}

template <std::size_t N>
class secret {
 public:
  static constexpr std::size_t size() noexcept { return N; }

  secret() noexcept = default;
  explicit secret(std::span<const std::byte, N> bytes) noexcept {
    for (std::size_t i = 0; i < N; ++i) bytes_[i] = bytes[i];
  }
  secret(const secret&) noexcept = default;
  secret& operator=(const secret&) noexcept = default;
  ~secret() { wipe(); }

  std::byte* data() noexcept { return bytes_.data(); }
  const std::byte* data() const noexcept { return bytes_.data(); }
  std::span<std::byte, N> bytes() noexcept { return bytes_; }
  std::span<const std::byte, N> bytes() const noexcept { return bytes_; }
  void wipe() noexcept { secure_wipe(bytes_.data(), N); }
  bool is_zero() const noexcept {
    unsigned acc = 0;
    for (auto b : bytes_) acc |= std::to_integer<unsigned>(b);
    return acc == 0;
  }

  friend bool operator==(const secret& a, const secret& b) noexcept {
    return constant_time_equal(a.bytes_, b.bytes_);
  }

 private:
  std::array<std::byte, N> bytes_{};
};

inline constexpr std::size_t key_size = 32;     // ChaCha20-Poly1305 keys, X25519 keys
inline constexpr std::size_t tag_size = 16;     // Poly1305 tag
inline constexpr std::size_t hash_size = 32;    // BLAKE2s-256
inline constexpr std::size_t mac_size = 16;     // keyed BLAKE2s-128 (WireGuard's mac1, mac2)
inline constexpr std::size_t xnonce_size = 24;  // XChaCha20-Poly1305 nonce

using symmetric_key = secret<key_size>;
using private_key = secret<key_size>;
using public_key = std::array<std::byte, key_size>;
using xnonce = std::array<std::byte, xnonce_size>;
using hash_value = std::array<std::byte, hash_size>;
using mac_value = std::array<std::byte, mac_size>;

}  // namespace warren::crypto
