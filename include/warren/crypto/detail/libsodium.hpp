#pragma once
// libsodium for what both backends take from it: XChaCha20-Poly1305 (neither libgcrypt 1.10 nor
// mbedTLS 2.28 has it), the CSPRNG, and a ChaCha20-Poly1305 that cannot fail, which
// fast_backend falls back to when libgcrypt does. sodium_init() is idempotent and thread-safe;
// each backend calls it from its constructor.

#include <warren/core/bytes.hpp>
#include <warren/crypto/detail/aead_checks.hpp>
#include <warren/crypto/detail/aead_nonce.hpp>
#include <warren/crypto/detail/byte_cast.hpp>
#include <warren/crypto/secret.hpp>

#include <sodium.h>

#include <stdexcept>

namespace warren::crypto::detail {

// Throws only if libsodium cannot initialise (it cannot take its internal lock): nothing in
// this module can work then, and a constructor is the one place that may say so.
inline void ensure_sodium() {
  if (sodium_init() < 0) throw std::runtime_error("warren.crypto: sodium_init failed");
}

// The shapes were checked by the caller (aead_checks.hpp); libsodium allows in == out.
inline void sodium_chacha_seal(const symmetric_key& key, const ietf_nonce& nonce, byte_view in, byte_view aad,
                               mutable_byte_view out) noexcept {
  crypto_aead_chacha20poly1305_ietf_encrypt_detached(uc(out.data()), uc(out.data() + in.size()), nullptr,
                                                     uc(in.data()), in.size(), uc(aad.data()), aad.size(),
                                                     nullptr, uc(nonce.data()), uc(key.data()));
}

// Verifies the tag before decrypting anything, so a forgery leaves out untouched.
inline bool sodium_chacha_open(const symmetric_key& key, const ietf_nonce& nonce, byte_view in, byte_view aad,
                               mutable_byte_view out) noexcept {
  const std::size_t n = in.size() - tag_size;
  return crypto_aead_chacha20poly1305_ietf_decrypt_detached(uc(out.data()), nullptr, uc(in.data()), n,
                                                            uc(in.data() + n), uc(aad.data()), aad.size(),
                                                            uc(nonce.data()), uc(key.data())) == 0;
}

inline void sodium_xchacha_seal(const symmetric_key& key, const xnonce& nonce, byte_view in, byte_view aad,
                                mutable_byte_view out) noexcept {
  crypto_aead_xchacha20poly1305_ietf_encrypt_detached(uc(out.data()), uc(out.data() + in.size()), nullptr,
                                                      uc(in.data()), in.size(), uc(aad.data()), aad.size(),
                                                      nullptr, uc(nonce.data()), uc(key.data()));
}

inline bool sodium_xchacha_open(const symmetric_key& key, const xnonce& nonce, byte_view in, byte_view aad,
                                mutable_byte_view out) noexcept {
  const std::size_t n = in.size() - tag_size;
  return crypto_aead_xchacha20poly1305_ietf_decrypt_detached(uc(out.data()), nullptr, uc(in.data()), n,
                                                             uc(in.data() + n), uc(aad.data()), aad.size(),
                                                             uc(nonce.data()), uc(key.data())) == 0;
}

// The backends' xseal/xopen: both take XChaCha20-Poly1305 from libsodium (mbedTLS 2.28 has
// none), with the buffer contract checked and a failed open leaving no plaintext behind.
inline void checked_xseal(const symmetric_key& key, const xnonce& nonce, byte_view plaintext, byte_view aad,
                          mutable_byte_view out) noexcept {
  if (!seal_shape_ok(plaintext, out)) return zero_output(out);
  sodium_xchacha_seal(key, nonce, plaintext, aad, out);
}
inline bool checked_xopen(const symmetric_key& key, const xnonce& nonce, byte_view ciphertext, byte_view aad,
                          mutable_byte_view out) noexcept {
  bool ok = open_shape_ok(ciphertext, out) && sodium_xchacha_open(key, nonce, ciphertext, aad, out);
  if (!ok) zero_output(out);
  return ok;
}

inline void sodium_random(mutable_byte_view out) noexcept {
  if (!out.empty()) randombytes_buf(out.data(), out.size());
}

}  // namespace warren::crypto::detail
