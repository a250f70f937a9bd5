#pragma once
// mbedtls_backend: the portable crypto backend, for embedded and mobile builds where libgcrypt is
// unwelcome (docs/crypto.md compares it with fast_backend).
//
//   ChaCha20-Poly1305  mbedTLS 2.28 mbedtls_chachapoly_*
//   X25519             mbedTLS 2.28 mbedtls_ecp_mul on MBEDTLS_ECP_DP_CURVE25519
//   BLAKE2s, keyed BLAKE2s-128, HMAC-BLAKE2s   libb2 (HMAC is the RFC 2104 construction)
//   XChaCha20-Poly1305 libsodium (mbedTLS 2.28 has none)
//   random             libsodium randombytes_buf (also feeds mbedTLS's ECP blinding)
//
// Ownership and threads: the object owns a loaded Curve25519 group, which mbedtls_ecp_mul may
// modify; use one object per thread. Movable, not copyable. A moved-from object computes X25519
// through libsodium.
//
// Failure policy: the same as fast_backend's. mbedTLS fails only on misuse or when it cannot
// allocate (its bignums live on the heap): a seal that fails is redone with libsodium when the
// plaintext is still intact and zeroed otherwise; an X25519 that fails for any reason but an
// invalid key is redone with libsodium. Such failures are counted in mbedtls_failures().
//
// Key material: each AEAD call uses a stack context that is zeroised (mbedtls_chachapoly_free)
// before it returns, so no key outlives the call here. X25519 clamps a wiped copy of the
// scalar; mbedTLS zeroises the limbs of every bignum it frees, ours included.
//
// Byte order: RFC 7748 encodes scalars and u-coordinates little-endian. mbedTLS's bignums are
// numbers, not byte strings; mbedtls_mpi_read_binary_le/_write_binary_le and
// mbedtls_ecp_point_read_binary (which reads Curve25519 points little-endian and masks bit 255,
// as RFC 7748 §5 asks) do the conversion, checked by the RFC 7748 vectors in the tests.

#include <warren/core/bytes.hpp>
#include <warren/crypto/backend.hpp>
#include <warren/crypto/detail/aead_checks.hpp>
#include <warren/crypto/detail/aead_nonce.hpp>
#include <warren/crypto/detail/byte_cast.hpp>
#include <warren/crypto/detail/libb2.hpp>
#include <warren/crypto/detail/libsodium.hpp>
#include <warren/crypto/detail/x25519_clamp.hpp>
#include <warren/crypto/secret.hpp>

#include <mbedtls/bignum.h>
#include <mbedtls/chachapoly.h>
#include <mbedtls/ecp.h>
#include <sodium.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>

namespace warren::crypto {

namespace detail {

struct ecp_group_free {
  void operator()(mbedtls_ecp_group* g) const noexcept {
    mbedtls_ecp_group_free(g);
    delete g;
  }
};

// The RNG mbedtls_ecp_mul uses to randomise its projective coordinates (side-channel blinding).
inline int mbedtls_rng(void*, unsigned char* out, std::size_t n) noexcept {
  randombytes_buf(out, n);
  return 0;
}

// A ChaCha20-Poly1305 context that lives for one call and is zeroised when it ends.
class chachapoly_scope {
 public:
  chachapoly_scope() noexcept { mbedtls_chachapoly_init(&ctx_); }
  ~chachapoly_scope() { mbedtls_chachapoly_free(&ctx_); }
  chachapoly_scope(const chachapoly_scope&) = delete;
  chachapoly_scope& operator=(const chachapoly_scope&) = delete;
  mbedtls_chachapoly_context* get() noexcept { return &ctx_; }

 private:
  mbedtls_chachapoly_context ctx_;
};

}  // namespace detail

class mbedtls_backend {
 public:
  mbedtls_backend() {
    detail::ensure_sodium();
    auto* g = new mbedtls_ecp_group;
    mbedtls_ecp_group_init(g);
    group_.reset(g);
    if (mbedtls_ecp_group_load(g, MBEDTLS_ECP_DP_CURVE25519) != 0) group_.reset();  // libsodium then
  }

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
    const std::size_t n = plaintext.size();
    detail::chachapoly_scope c;
    if (mbedtls_chachapoly_setkey(c.get(), detail::uc(key.data())) != 0) {
      ++failures_;
      return detail::sodium_chacha_seal(key, nonce, plaintext, aad, out);
    }
    if (mbedtls_chachapoly_encrypt_and_tag(c.get(), n, detail::uc(nonce.data()), detail::uc(aad.data()),
                                           aad.size(), nonempty(plaintext), detail::uc(out.data()),
                                           detail::uc(out.data() + n)) != 0) {
      ++failures_;
      if (out.data() == plaintext.data()) return detail::zero_output(out);  // the plaintext is gone
      detail::sodium_chacha_seal(key, nonce, plaintext, aad, out);
    }
  }
  // mbedTLS compares the tag in constant time and zeroises the output of a forgery itself.
  bool open_ietf(const symmetric_key& key, const detail::ietf_nonce& nonce, byte_view ciphertext, byte_view aad,
                 mutable_byte_view out) noexcept {
    if (!detail::open_shape_ok(ciphertext, out)) {
      detail::zero_output(out);
      return false;
    }
    const std::size_t n = ciphertext.size() - tag_size;
    detail::chachapoly_scope c;
    int rc = mbedtls_chachapoly_setkey(c.get(), detail::uc(key.data()));
    if (rc == 0)
      rc = mbedtls_chachapoly_auth_decrypt(c.get(), n, detail::uc(nonce.data()), detail::uc(aad.data()),
                                           aad.size(), detail::uc(ciphertext.data() + n), nonempty(ciphertext),
                                           detail::uc(out.data()));
    if (rc == 0) return true;
    if (rc != MBEDTLS_ERR_CHACHAPOLY_AUTH_FAILED) ++failures_;  // misuse or internal: drop the packet
    detail::zero_output(out);
    return false;
  }

  void xseal(const symmetric_key& key, const xnonce& nonce, byte_view plaintext, byte_view aad,
             mutable_byte_view out) noexcept {
    detail::checked_xseal(key, nonce, plaintext, aad, out);
  }
  bool xopen(const symmetric_key& key, const xnonce& nonce, byte_view ciphertext, byte_view aad,
             mutable_byte_view out) noexcept {
    return detail::checked_xopen(key, nonce, ciphertext, aad, out);
  }

  // mbedTLS refuses the low-order points (its check_pubkey lists them) with
  // MBEDTLS_ERR_ECP_INVALID_KEY; the zero check is repeated because the contract depends on it.
  bool x25519(symmetric_key& shared, const private_key& priv, const public_key& pub) noexcept {
    int rc = scalar_mult(shared.bytes(), priv, pub.data());
    if (rc != 0 && rc != MBEDTLS_ERR_ECP_INVALID_KEY) {
      ++failures_;
      rc = crypto_scalarmult(detail::uc(shared.data()), detail::uc(priv.data()), detail::uc(pub.data()));
    }
    if (rc != 0 || shared.is_zero()) {
      shared.wipe();
      return false;
    }
    return true;
  }
  void x25519_public(public_key& pub, const private_key& priv) noexcept {
    if (scalar_mult(pub, priv, nullptr) == 0) return;
    ++failures_;
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

  // mbedTLS calls that failed for a reason other than bad input (see the failure policy).
  std::uint64_t mbedtls_failures() const noexcept { return failures_; }

 private:
  // mbedTLS validates its pointer arguments in some configurations even for zero lengths.
  static const unsigned char* nonempty(byte_view v) noexcept {
    static const unsigned char none = 0;
    return v.empty() ? &none : detail::uc(v.data());
  }

  // out = clamp(priv) * u, with u a little-endian u-coordinate, or the base point if null.
  int scalar_mult(std::span<std::byte, key_size> out, const private_key& priv, const std::byte* u) noexcept {
    mbedtls_ecp_group* g = group_.get();
    if (g == nullptr) return MBEDTLS_ERR_ECP_FEATURE_UNAVAILABLE;
    private_key k = priv;  // wiped by its destructor
    detail::clamp_x25519_scalar(k.bytes());
    mbedtls_mpi d;
    mbedtls_ecp_point p;
    mbedtls_ecp_point r;
    mbedtls_mpi_init(&d);
    mbedtls_ecp_point_init(&p);
    mbedtls_ecp_point_init(&r);
    int rc = mbedtls_mpi_read_binary_le(&d, detail::uc(k.data()), key_size);
    if (rc == 0 && u != nullptr) rc = mbedtls_ecp_point_read_binary(g, &p, detail::uc(u), key_size);
    if (rc == 0) rc = mbedtls_ecp_mul(g, &r, &d, u != nullptr ? &p : &g->G, detail::mbedtls_rng, nullptr);
    if (rc == 0) rc = mbedtls_mpi_write_binary_le(&r.X, detail::uc(out.data()), key_size);
    mbedtls_mpi_free(&d);  // zeroises the limbs
    mbedtls_ecp_point_free(&p);
    mbedtls_ecp_point_free(&r);
    return rc;
  }

  std::unique_ptr<mbedtls_ecp_group, detail::ecp_group_free> group_;
  std::uint64_t failures_ = 0;
};

static_assert(backend<mbedtls_backend>);

}  // namespace warren::crypto
