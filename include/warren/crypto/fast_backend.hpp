#pragma once
// fast_backend: the default crypto backend on Linux. Each primitive comes from the library that
// measured best for it (docs/crypto.md has the numbers):
//
//   ChaCha20-Poly1305  libgcrypt (AVX-512/AVX2 ChaCha20 and Poly1305, and a plain C API with
//                      no per-call parameter layer): faster than OpenSSL 3.0's EVP and than
//                      libsodium at every packet size measured, 64 B to 1420 B. libsodium
//                      computes the same function and is the fallback (see below)
//   X25519             libsodium crypto_scalarmult (twice OpenSSL's rate with per-call keys)
//   XChaCha20-Poly1305 libsodium (libgcrypt and OpenSSL 3.0 have none)
//   BLAKE2s-256, keyed BLAKE2s-128, HMAC-BLAKE2s
//                      libb2: level with OpenSSL's EVP_MD and EVP_MAC BLAKE2SMAC (within 2%),
//                      30% faster than EVP_MAC HMAC, and its state is wiped after every call
//                      (an EVP context would hold chaining-key material until the next one)
//   random             libsodium randombytes_buf (getrandom(2) on Linux)
// Both AEAD paths compute the same function; the tests check them against the same vectors
// and against each other.
//
// Ownership and threads: the object owns two libgcrypt cipher handles (one seals, one opens)
// and reuses them for every call rather than opening one per packet; that makes each call
// mutate the object. Use one object per thread (a datapath worker keeps its own). Movable, not
// copyable.
//
// Failure policy. The concept's seal returns void: a WireGuard packet is sealed with a key and
// counter that are already committed, and there is nobody to hand an error to. So a seal always
// produces the right ciphertext or, never, plaintext:
//   - if libgcrypt cannot be initialised or lacks ChaCha20-Poly1305 (a FIPS-mode build), the
//     constructor leaves the handles empty and every packet goes through libsodium, which
//     computes the same function and cannot fail;
//   - if a libgcrypt call fails before the output was written, or the output is a separate
//     buffer, the packet is redone with libsodium: same bytes, just slower;
//   - if it fails after an in-place seal began overwriting the plaintext, the output is zeroed:
//     the peer drops the packet (its tag cannot verify), and no plaintext leaves.
// Each such failure is counted in gcrypt_failures(). No assert fires (the environment, not our
// code, would be at fault) and nothing aborts. An open whose libgcrypt call fails is redone
// with libsodium, or reports false (a dropped packet) if an in-place open had begun writing. A
// forged packet is not a failure: open returns false and the output is zeroed (libgcrypt, like
// OpenSSL, decrypts before it checks the tag).
//
// Key material: a handle keeps the last key it was given (and its key schedule) until another
// key replaces it or the object is destroyed (gcry_cipher_close wipes it). Re-keying only when
// the key changes saves a key setup per packet; the session holds the same key anyway. libb2
// states and HMAC pads are wiped before each call returns; libsodium keeps no state.
//
// Default state: ready to use. A moved-from object is still usable: its handles are gone, so it
// seals and opens everything through libsodium.

#include <warren/core/bytes.hpp>
#include <warren/crypto/backend.hpp>
#include <warren/crypto/detail/aead_checks.hpp>
#include <warren/crypto/detail/aead_nonce.hpp>
#include <warren/crypto/detail/byte_cast.hpp>
#include <warren/crypto/detail/libb2.hpp>
#include <warren/crypto/detail/libgcrypt.hpp>
#include <warren/crypto/detail/libsodium.hpp>
#include <warren/crypto/detail/x25519_clamp.hpp>
#include <warren/crypto/secret.hpp>

#include <gcrypt.h>
#include <sodium.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>

namespace warren::crypto {

struct fast_backend_options {
  // Packets (plaintext or ciphertext without tag) of at least this many bytes go through
  // libgcrypt, shorter ones through libsodium. 0 (the default: libgcrypt was the faster at every
  // size measured) sends everything to libgcrypt, SIZE_MAX nothing; tests use both to check one
  // path against the other.
  std::size_t gcrypt_min_size = 0;
};

class fast_backend {
 public:
  fast_backend() : fast_backend(fast_backend_options{}) {}
  explicit fast_backend(const fast_backend_options& options) : gcrypt_min_size_(options.gcrypt_min_size) {
    detail::ensure_sodium();
    if (gcrypt_min_size_ == SIZE_MAX || !detail::ensure_gcrypt()) return;  // libsodium does it all
    if (!seal_.open_chacha_poly1305() || !open_.open_chacha_poly1305()) {
      seal_.reset();  // both or neither: uses_gcrypt_aead() speaks for both
      open_.reset();
    }
  }

  // ChaCha20-Poly1305 with WireGuard's counter nonce.
  void seal(const symmetric_key& key, std::uint64_t counter, byte_view plaintext, byte_view aad,
            mutable_byte_view out) noexcept {
    seal_ietf(key, detail::wireguard_nonce(counter), plaintext, aad, out);
  }
  bool open(const symmetric_key& key, std::uint64_t counter, byte_view ciphertext, byte_view aad,
            mutable_byte_view out) noexcept {
    return open_ietf(key, detail::wireguard_nonce(counter), ciphertext, aad, out);
  }

  // Not part of the backend concept: RFC 8439 AEAD with a caller-chosen 96-bit nonce, for
  // known-answer tests and non-WireGuard protocols. Same buffer rules as seal/open.
  void seal_ietf(const symmetric_key& key, const detail::ietf_nonce& nonce, byte_view plaintext, byte_view aad,
                 mutable_byte_view out) noexcept {
    if (!detail::seal_shape_ok(plaintext, out)) return detail::zero_output(out);
    switch (gcrypt_seal(key, nonce, plaintext, aad, out)) {
      case step::done:
        return;
      case step::forged:  // not produced by gcrypt_seal
      case step::not_started:
        break;
      case step::failed_after_write:
        if (out.data() == plaintext.data()) return detail::zero_output(out);  // the plaintext is gone
        break;
    }
    detail::sodium_chacha_seal(key, nonce, plaintext, aad, out);
  }
  bool open_ietf(const symmetric_key& key, const detail::ietf_nonce& nonce, byte_view ciphertext, byte_view aad,
                 mutable_byte_view out) noexcept {
    if (!detail::open_shape_ok(ciphertext, out)) {
      detail::zero_output(out);
      return false;
    }
    bool ok = false;
    switch (gcrypt_open(key, nonce, ciphertext, aad, out)) {
      case step::done:
        return true;
      case step::forged:
        break;
      case step::not_started:
        ok = detail::sodium_chacha_open(key, nonce, ciphertext, aad, out);
        break;
      case step::failed_after_write:
        ok = out.data() != ciphertext.data() && detail::sodium_chacha_open(key, nonce, ciphertext, aad, out);
        break;
    }
    if (!ok) detail::zero_output(out);  // libgcrypt decrypts before it verifies
    return ok;
  }

  void xseal(const symmetric_key& key, const xnonce& nonce, byte_view plaintext, byte_view aad,
             mutable_byte_view out) noexcept {
    detail::checked_xseal(key, nonce, plaintext, aad, out);
  }
  bool xopen(const symmetric_key& key, const xnonce& nonce, byte_view ciphertext, byte_view aad,
             mutable_byte_view out) noexcept {
    return detail::checked_xopen(key, nonce, ciphertext, aad, out);
  }

  // libsodium clamps the scalar itself and refuses the low-order points that give all zeros;
  // the zero check is repeated here because the contract depends on it.
  bool x25519(symmetric_key& shared, const private_key& priv, const public_key& pub) noexcept {
    const int rc = crypto_scalarmult(detail::uc(shared.data()), detail::uc(priv.data()), detail::uc(pub.data()));
    if (rc != 0 || shared.is_zero()) {
      shared.wipe();
      return false;
    }
    return true;
  }
  void x25519_public(public_key& pub, const private_key& priv) noexcept {
    if (crypto_scalarmult_base(detail::uc(pub.data()), detail::uc(priv.data())) != 0) pub = {};
  }
  void generate_private_key(private_key& priv) noexcept {
    detail::sodium_random(priv.bytes());
    detail::clamp_x25519_scalar(priv.bytes());
  }

  void hash(hash_value& out, std::span<const byte_view> parts) noexcept { detail::libb2_hash(out, parts); }
  void mac(mac_value& out, byte_view key, std::span<const byte_view> parts) noexcept {
    detail::libb2_mac(out, key, parts);
  }
  void hmac(hash_value& out, byte_view key, std::span<const byte_view> parts) noexcept {
    detail::libb2_hmac(out, key, parts);
  }
  void random(mutable_byte_view out) noexcept { detail::sodium_random(out); }

  // libgcrypt calls that failed and were redone through libsodium (or zeroed, see above).
  std::uint64_t gcrypt_failures() const noexcept { return gcrypt_failures_; }
  // False when libgcrypt offers no ChaCha20-Poly1305 here, when gcrypt_min_size is SIZE_MAX, or
  // after a move: all AEAD work then goes through libsodium.
  bool uses_gcrypt_aead() const noexcept { return static_cast<bool>(seal_); }

 private:
  enum class step { done, forged, not_started, failed_after_write };

  step fail(step r) noexcept {
    ++gcrypt_failures_;
    return r;
  }

  // Gives the handle `key` unless it holds it already; false if libgcrypt refused it.
  static bool rekey(detail::gcrypt_handle& h, std::optional<symmetric_key>& loaded, const symmetric_key& key) noexcept {
    if (loaded && constant_time_equal(byte_view(loaded->data(), key_size), byte_view(key.data(), key_size)))
      return true;
    loaded.reset();
    if (gcry_cipher_setkey(h.h, key.data(), key_size) != 0) return false;
    loaded = key;
    return true;
  }

  // setiv starts a new message: it derives the Poly1305 key and resets the tag state.
  step gcrypt_seal(const symmetric_key& key, const detail::ietf_nonce& nonce, byte_view in, byte_view aad,
                   mutable_byte_view out) noexcept {
    if (!seal_ || in.size() < gcrypt_min_size_) return step::not_started;
    if (!rekey(seal_, seal_key_, key) || gcry_cipher_setiv(seal_.h, nonce.data(), nonce.size()) != 0 ||
        (!aad.empty() && gcry_cipher_authenticate(seal_.h, aad.data(), aad.size()) != 0))
      return fail(step::not_started);
    // In place: libgcrypt takes in == out; a null input would mean "in place" too, so pass both.
    if (gcry_cipher_encrypt(seal_.h, out.data(), in.size(), in.data(), in.size()) != 0)
      return fail(step::failed_after_write);
    if (gcry_cipher_gettag(seal_.h, out.data() + in.size(), tag_size) != 0) return fail(step::failed_after_write);
    return step::done;
  }

  // done: authentic. forged: the tag did not verify. not_started and failed_after_write: a
  // libgcrypt error before or after decryption began writing out.
  step gcrypt_open(const symmetric_key& key, const detail::ietf_nonce& nonce, byte_view in, byte_view aad,
                   mutable_byte_view out) noexcept {
    const std::size_t n = in.size() - tag_size;
    if (!open_ || n < gcrypt_min_size_) return step::not_started;
    if (!rekey(open_, open_key_, key) || gcry_cipher_setiv(open_.h, nonce.data(), nonce.size()) != 0 ||
        (!aad.empty() && gcry_cipher_authenticate(open_.h, aad.data(), aad.size()) != 0))
      return fail(step::not_started);
    // A copy of the tag: an in-place decryption must not depend on bytes it may overwrite.
    std::array<std::byte, tag_size> tag;
    for (std::size_t i = 0; i < tag_size; ++i) tag[i] = in[n + i];
    if (gcry_cipher_decrypt(open_.h, out.data(), n, in.data(), n) != 0) return fail(step::failed_after_write);
    gcry_error_t verdict = gcry_cipher_checktag(open_.h, tag.data(), tag_size);
    if (verdict == 0) return step::done;
    if (gcry_err_code(verdict) == GPG_ERR_CHECKSUM) return step::forged;  // routine input, not a failure
    return fail(step::failed_after_write);
  }

  detail::gcrypt_handle seal_, open_;
  std::optional<symmetric_key> seal_key_, open_key_;  // what each handle holds, wiped with it
  std::size_t gcrypt_min_size_;
  std::uint64_t gcrypt_failures_ = 0;
};

static_assert(backend<fast_backend>);

}  // namespace warren::crypto
