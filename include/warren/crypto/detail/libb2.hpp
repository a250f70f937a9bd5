#pragma once
// BLAKE2s over libb2 (the BLAKE2 authors' optimised C): the hash, the keyed MAC and
// HMAC-BLAKE2s (RFC 2104 over BLAKE2s-256; HMAC is a construction, not a primitive). Every
// state and key block that held key material is wiped before returning.

#include <warren/core/bytes.hpp>
#include <warren/crypto/detail/byte_cast.hpp>
#include <warren/crypto/secret.hpp>

#include <blake2.h>

#include <array>
#include <cassert>
#include <cstddef>
#include <span>

namespace warren::crypto::detail {

inline constexpr std::size_t blake2s_block_size = BLAKE2S_BLOCKBYTES;  // 64, HMAC's B

// The inputs are valid by construction (lengths within BLAKE2s' limits, checked by callers),
// so libb2's int results carry no information here.
inline void b2_update(blake2s_state& s, std::span<const byte_view> parts) noexcept {
  for (auto part : parts)
    if (!part.empty()) blake2s_update(&s, uc(part.data()), part.size());
}

inline void libb2_hash(hash_value& out, std::span<const byte_view> parts) noexcept {
  blake2s_state s;
  blake2s_init(&s, hash_size);
  b2_update(s, parts);
  blake2s_final(&s, uc(out.data()), hash_size);
  secure_wipe(&s, sizeof s);  // the state of a hash over secrets (a chaining key) is secret too
}

// Keyed BLAKE2s with a 16-byte digest (RFC 7693 §2.5): WireGuard's mac1 (32-byte key) and mac2
// (the 16-byte cookie as key). Keys of 1 to 32 bytes; an empty key gives the unkeyed 16-byte
// digest.
inline void libb2_mac(mac_value& out, byte_view key, std::span<const byte_view> parts) noexcept {
  assert(key.size() <= BLAKE2S_KEYBYTES && "mac: BLAKE2s keys are at most 32 bytes");
  if (key.size() > BLAKE2S_KEYBYTES) {  // the caller's bug; in a release build, no MAC anyone could match
    out = {};
    return;
  }
  blake2s_state s;
  if (key.empty())
    blake2s_init(&s, mac_size);
  else
    blake2s_init_key(&s, mac_size, key.data(), key.size());
  b2_update(s, parts);
  blake2s_final(&s, uc(out.data()), mac_size);
  secure_wipe(&s, sizeof s);
}

// HMAC-BLAKE2s (RFC 2104): H((K ^ opad) || H((K ^ ipad) || text)), K zero-padded to the 64-byte
// block, or hashed first if longer.
inline void libb2_hmac(hash_value& out, byte_view key, std::span<const byte_view> parts) noexcept {
  std::array<std::byte, blake2s_block_size> pad{};
  if (key.size() > pad.size()) {
    hash_value hashed_key;
    const byte_view k[] = {key};
    libb2_hash(hashed_key, k);
    for (std::size_t i = 0; i < hashed_key.size(); ++i) pad[i] = hashed_key[i];
    secure_wipe(hashed_key.data(), hashed_key.size());
  } else {
    for (std::size_t i = 0; i < key.size(); ++i) pad[i] = key[i];
  }

  blake2s_state s;
  hash_value inner;
  for (auto& b : pad) b ^= std::byte{0x36};
  blake2s_init(&s, hash_size);
  blake2s_update(&s, uc(pad.data()), pad.size());
  b2_update(s, parts);
  blake2s_final(&s, uc(inner.data()), hash_size);

  for (auto& b : pad) b ^= std::byte{0x36 ^ 0x5c};
  blake2s_init(&s, hash_size);
  blake2s_update(&s, uc(pad.data()), pad.size());
  blake2s_update(&s, uc(inner.data()), inner.size());
  blake2s_final(&s, uc(out.data()), hash_size);

  secure_wipe(&s, sizeof s);
  secure_wipe(pad.data(), pad.size());
  secure_wipe(inner.data(), inner.size());
}

}  // namespace warren::crypto::detail
