#pragma once
// fast_backend: the default crypto backend on Linux. Each primitive comes from the library that
// measured best for it (docs/crypto.md has the numbers):
//
//   ChaCha20-Poly1305  OpenSSL 3 EVP for packets of openssl_min_size bytes and more (one
//                      EVP_CIPHER_CTX per object, re-keyed on every call); libsodium below that,
//                      where OpenSSL's ~0.6 us fixed cost per call loses to libsodium
//   X25519             libsodium crypto_scalarmult (twice OpenSSL's rate with per-call keys)
//   XChaCha20-Poly1305 libsodium (OpenSSL 3.0 has none)
//   BLAKE2s-256, keyed BLAKE2s-128, HMAC-BLAKE2s
//                      libb2: level with OpenSSL's EVP_MD and EVP_MAC BLAKE2SMAC (within 2%),
//                      30% faster than EVP_MAC HMAC, and its state is wiped after every call
//                      (an EVP context would hold chaining-key material until the next one)
//   random             libsodium randombytes_buf (getrandom(2) on Linux)
// Both AEAD paths compute the same function; the tests check them against the same vectors
// and against each other.
//
// Ownership and threads: the object owns its OpenSSL cipher context and reuses it for every
// call rather than creating one per packet; that makes each call mutate the object. Use one object per
// thread (a datapath worker keeps its own). Movable, not copyable.
//
// Failure policy. The concept's seal returns void: a WireGuard packet is sealed with a key and
// counter that are already committed, and there is nobody to hand an error to. So a seal always
// produces the right ciphertext or, never, plaintext:
//   - if OpenSSL lacks ChaCha20-Poly1305 (a FIPS-only provider configuration), the constructor
//     leaves the context empty and every packet goes through libsodium, which computes the same
//     function and cannot fail;
//   - if an EVP call fails before the output was written, or the output is a separate buffer,
//     the packet is redone with libsodium: same bytes, just slower;
//   - if it fails after an in-place seal began overwriting the plaintext, the output is zeroed:
//     the peer drops the packet (its tag cannot verify), and no plaintext leaves.
// Each EVP failure is counted in openssl_failures(). No assert fires (the environment, not our
// code, would be at fault) and nothing aborts. An open whose EVP call fails is redone with
// libsodium, or reports false (a dropped packet) if an in-place open had begun writing. A
// forged packet is not a failure: open returns false and the output is zeroed.
//
// Key material: OpenSSL keeps the last key used inside the cipher context until the next
// OpenSSL-sized packet re-keys it or the object is destroyed (EVP_CIPHER_CTX_free cleanses it).
// Wiping the context after each packet would add a second EVP init (~0.2 us) per packet; the data
// key lives in the session anyway. libb2 states and HMAC pads are wiped before each call
// returns; libsodium keeps no state.
//
// Default state: ready to use. A moved-from object is still usable: its OpenSSL context is gone,
// so it seals and opens everything through libsodium.

#include <warren/core/bytes.hpp>
#include <warren/crypto/backend.hpp>
#include <warren/crypto/detail/aead_checks.hpp>
#include <warren/crypto/detail/aead_nonce.hpp>
#include <warren/crypto/detail/byte_cast.hpp>
#include <warren/crypto/detail/libb2.hpp>
#include <warren/crypto/detail/libsodium.hpp>
#include <warren/crypto/detail/x25519_clamp.hpp>
#include <warren/crypto/secret.hpp>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <sodium.h>

#include <array>
#include <climits>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>

namespace warren::crypto {

namespace detail {
struct evp_free {
  void operator()(EVP_CIPHER* p) const noexcept { EVP_CIPHER_free(p); }
  void operator()(EVP_CIPHER_CTX* p) const noexcept { EVP_CIPHER_CTX_free(p); }
};
}  // namespace detail

struct fast_backend_options {
  // Packets (plaintext or ciphertext without tag) of at least this many bytes go through
  // OpenSSL, shorter ones through libsodium. Where OpenSSL starts to win differs by CPU: about
  // 1.1 KB on the AVX-512 Xeon of docs/crypto.md, about 270 B on the Zen 5 of TOOLCHAIN.md. 512
  // sits between, so on both the small packets (ACKs, keepalives) and the full-MTU ones that
  // carry the bytes take their faster path; only mid-sized packets may take the slower one. 0
  // sends everything to OpenSSL, SIZE_MAX nothing.
  std::size_t openssl_min_size = 512;
};

class fast_backend {
 public:
  fast_backend() : fast_backend(fast_backend_options{}) {}
  explicit fast_backend(const fast_backend_options& options) : openssl_min_size_(options.openssl_min_size) {
    detail::ensure_sodium();
    if (openssl_min_size_ == SIZE_MAX) return;  // OpenSSL would never be used
    cipher_.reset(EVP_CIPHER_fetch(nullptr, "ChaCha20-Poly1305", nullptr));
    if (cipher_) {
      cipher_ctx_.reset(EVP_CIPHER_CTX_new());
      // Bind the cipher once; each call then only sets key and nonce.
      if (cipher_ctx_ && EVP_CipherInit_ex2(cipher_ctx_.get(), cipher_.get(), nullptr, nullptr, 1, nullptr) != 1)
        cipher_ctx_.reset();
      open_ctx_.reset(EVP_CIPHER_CTX_new());
      if (!open_ctx_ || EVP_CipherInit_ex2(open_ctx_.get(), cipher_.get(), nullptr, nullptr, 0, nullptr) != 1) {
        open_ctx_.reset();
        cipher_ctx_.reset();  // both or neither: uses_openssl_aead() speaks for both
      }
    }
    if (!cipher_ctx_) ERR_clear_error();  // handled: libsodium does the work
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
    switch (evp_seal(key, nonce, plaintext, aad, out)) {
      case evp_result::done:
        return;
      case evp_result::forged:  // not produced by evp_seal
      case evp_result::not_started:
        break;
      case evp_result::failed_after_write:
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
    switch (evp_open(key, nonce, ciphertext, aad, out)) {
      case evp_result::done:
        return true;
      case evp_result::forged:
        break;
      case evp_result::not_started:
        ok = detail::sodium_chacha_open(key, nonce, ciphertext, aad, out);
        break;
      case evp_result::failed_after_write:
        ok = out.data() != ciphertext.data() && detail::sodium_chacha_open(key, nonce, ciphertext, aad, out);
        break;
    }
    if (!ok) detail::zero_output(out);  // OpenSSL decrypts before it verifies
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

  // EVP calls that failed and were redone through libsodium/libb2 (or zeroed, see above).
  std::uint64_t openssl_failures() const noexcept { return openssl_failures_; }
  // False when OpenSSL offers no ChaCha20-Poly1305 here, when openssl_min_size is SIZE_MAX, or
  // after a move: all AEAD work then goes through libsodium.
  bool uses_openssl_aead() const noexcept { return cipher_ctx_ != nullptr; }

 private:
  enum class evp_result { done, forged, not_started, failed_after_write };

  evp_result fail(evp_result r) noexcept {
    ++openssl_failures_;
    ERR_clear_error();  // leave no stale errors for other OpenSSL users on this thread
    return r;
  }

  evp_result evp_seal(const symmetric_key& key, const detail::ietf_nonce& nonce, byte_view in, byte_view aad,
                      mutable_byte_view out) noexcept {
    EVP_CIPHER_CTX* c = cipher_ctx_.get();
    if (c == nullptr || in.size() < openssl_min_size_) return evp_result::not_started;
    if (in.size() > INT_MAX || aad.size() > INT_MAX) return evp_result::not_started;  // EVP counts in int
    int len = 0;
    if (EVP_EncryptInit_ex2(c, nullptr, rekey(seal_key_, key), detail::uc(nonce.data()), nullptr) != 1) {
      seal_key_.reset();
      return fail(evp_result::not_started);
    }
    if (!aad.empty() &&
        EVP_EncryptUpdate(c, nullptr, &len, detail::uc(aad.data()), static_cast<int>(aad.size())) != 1)
      return fail(evp_result::not_started);
    std::byte* tag = out.data() + in.size();
    if (!in.empty() && (EVP_EncryptUpdate(c, detail::uc(out.data()), &len, detail::uc(in.data()),
                                          static_cast<int>(in.size())) != 1 ||
                        static_cast<std::size_t>(len) != in.size()))
      return fail(evp_result::failed_after_write);
    if (EVP_EncryptFinal_ex(c, detail::uc(tag), &len) != 1 ||
        EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_GET_TAG, static_cast<int>(tag_size), tag) != 1)
      return fail(evp_result::failed_after_write);
    return evp_result::done;
  }

  // done: authentic. forged: the tag did not verify (OpenSSL reports that as a failed Final; an
  // internal error at that point would look the same and also drop the packet). not_started and
  // failed_after_write: an EVP error before or after decryption began writing out.
  evp_result evp_open(const symmetric_key& key, const detail::ietf_nonce& nonce, byte_view in, byte_view aad,
                      mutable_byte_view out) noexcept {
    const std::size_t n = in.size() - tag_size;
    EVP_CIPHER_CTX* c = open_ctx_.get();
    if (c == nullptr || n < openssl_min_size_) return evp_result::not_started;
    if (in.size() > INT_MAX || aad.size() > INT_MAX) return evp_result::not_started;
    // A copy: EVP wants a mutable pointer for the tag, and in may be const memory.
    std::array<std::byte, tag_size> tag;
    for (std::size_t i = 0; i < tag_size; ++i) tag[i] = in[n + i];
    int len = 0;
    if (EVP_DecryptInit_ex2(c, nullptr, rekey(open_key_, key), detail::uc(nonce.data()), nullptr) != 1 ||
        EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_SET_TAG, static_cast<int>(tag_size), tag.data()) != 1) {
      open_key_.reset();
      return fail(evp_result::not_started);
    }
    if (!aad.empty() &&
        EVP_DecryptUpdate(c, nullptr, &len, detail::uc(aad.data()), static_cast<int>(aad.size())) != 1)
      return fail(evp_result::not_started);
    if (n != 0 && (EVP_DecryptUpdate(c, detail::uc(out.data()), &len, detail::uc(in.data()),
                                     static_cast<int>(n)) != 1 ||
                   static_cast<std::size_t>(len) != n))
      return fail(evp_result::failed_after_write);
    std::byte unused[1];
    if (EVP_DecryptFinal_ex(c, detail::uc(unused), &len) != 1) {
      ERR_clear_error();  // a forgery is routine input, not an OpenSSL failure: do not count it
      return evp_result::forged;
    }
    return evp_result::done;
  }

  std::unique_ptr<EVP_CIPHER, detail::evp_free> cipher_;
  // The key a context was last given, or nothing. Giving a context a key it already holds costs
  // a ChaCha20 key setup and a trip through OpenSSL's parameter layer per packet (~8% of a
  // tunnel's CPU in a profile), and a session uses one key for thousands of packets in a row.
  // A nonce-only init keeps the key. Wiped with the object, as the contexts are.
  const unsigned char* rekey(std::optional<symmetric_key>& loaded, const symmetric_key& key) noexcept {
    if (loaded && constant_time_equal(byte_view(loaded->data(), key_size), byte_view(key.data(), key_size)))
      return nullptr;
    loaded = key;
    return detail::uc(key.data());
  }

  std::unique_ptr<EVP_CIPHER_CTX, detail::evp_free> cipher_ctx_;  // seals
  std::unique_ptr<EVP_CIPHER_CTX, detail::evp_free> open_ctx_;
  std::optional<symmetric_key> seal_key_, open_key_;
  std::size_t openssl_min_size_;
  std::uint64_t openssl_failures_ = 0;
};

static_assert(backend<fast_backend>);

}  // namespace warren::crypto
