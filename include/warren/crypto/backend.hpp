#pragma once
// The crypto backend concept: the primitives WireGuard is built from, and nothing else.
// warren never implements a primitive itself; a backend wraps a well-kept library.
//
//   ChaCha20-Poly1305 (RFC 8439) with WireGuard's nonce: 32 zero bits then the 64-bit counter,
//     little-endian (WireGuard paper §5.4.6).
//   XChaCha20-Poly1305 (draft-irtf-cfrg-xchacha) for cookie replies.
//   X25519 (RFC 7748).
//   BLAKE2s-256 (RFC 7693), keyed BLAKE2s-128 for mac1/mac2, HMAC-BLAKE2s (RFC 2104) for HKDF.
//   A cryptographically secure random source.
//
// Contract for a backend `b`:
//   b.seal(key, counter, plaintext, aad, out)   out.size() == plaintext.size() + tag_size;
//                                               out may start at plaintext.data() (in place).
//   b.open(key, counter, ciphertext, aad, out)  ciphertext holds the tag at its end;
//                                               out.size() == ciphertext.size() - tag_size; may
//                                               alias ciphertext in place. Returns false if the
//                                               tag does not verify, and then out is garbage.
//   b.xseal / b.xopen                           the same with a 24-byte nonce.
//   b.x25519(shared, priv, pub)                 false if the shared secret is all zeros (a
//                                               low-order public key): the caller must refuse.
//   b.x25519_public(pub, priv)                  the public key of a private key.
//   b.generate_private_key(priv)                random and clamped (RFC 7748 §5).
//   b.hash(out, parts)                          BLAKE2s-256 of the parts, concatenated.
//   b.mac(out, key, parts)                      keyed BLAKE2s with a 16-byte output; the key has
//                                               1 to 32 bytes (32 for mac1, the 16-byte cookie
//                                               for mac2).
//   b.hmac(out, key, parts)                     HMAC-BLAKE2s with a 32-byte output; the key has
//                                               32 bytes (HKDF's chaining key or its output).
//   b.random(out)                               fills out from a CSPRNG.
// Sizes that break the contract are the caller's bug (asserted), not an input error.
// Threads: a backend object may keep per-object contexts; use one object per thread.

#include <warren/core/bytes.hpp>
#include <warren/crypto/secret.hpp>

#include <concepts>
#include <cstdint>
#include <span>

namespace warren::crypto {

template <class B>
concept backend = requires(B& b, const symmetric_key& key, std::uint64_t counter, byte_view in, byte_view aad,
                           mutable_byte_view out, const xnonce& nonce, symmetric_key& shared,
                           const private_key& cpriv, private_key& priv, public_key& pub, const public_key& cpub,
                           hash_value& hash_out, mac_value& mac_out, std::span<const byte_view> parts,
                           byte_view mac_key) {
  { b.seal(key, counter, in, aad, out) } -> std::same_as<void>;
  { b.open(key, counter, in, aad, out) } -> std::same_as<bool>;
  { b.xseal(key, nonce, in, aad, out) } -> std::same_as<void>;
  { b.xopen(key, nonce, in, aad, out) } -> std::same_as<bool>;
  { b.x25519(shared, cpriv, cpub) } -> std::same_as<bool>;
  { b.x25519_public(pub, cpriv) } -> std::same_as<void>;
  { b.generate_private_key(priv) } -> std::same_as<void>;
  { b.hash(hash_out, parts) } -> std::same_as<void>;
  { b.mac(mac_out, mac_key, parts) } -> std::same_as<void>;
  { b.hmac(hash_out, mac_key, parts) } -> std::same_as<void>;
  { b.random(out) } -> std::same_as<void>;
};

}  // namespace warren::crypto
