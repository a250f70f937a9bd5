#include <warren/crypto/mbedtls_backend.hpp>  // first: proves the header stands alone
#include <catch2/catch_test_macros.hpp>

#include "crypto/vectors.hpp"

#include <warren/crypto/fast_backend.hpp>

#include <cstddef>
#include <cstdint>
#include <random>
#include <vector>

using warren::byte_view;
using warren::mutable_byte_view;
using warren::crypto::fast_backend;
using warren::crypto::mbedtls_backend;
namespace t = warren::crypto::test;
namespace crypto = warren::crypto;

TEST_CASE("mbedtls_backend reproduces the RFC 8439 ChaCha20-Poly1305 vectors", "[crypto]") {
  mbedtls_backend b;
  t::check_chacha20_poly1305_vectors(b);
  REQUIRE(b.mbedtls_failures() == 0);
}

TEST_CASE("mbedtls_backend reproduces the XChaCha20-Poly1305 vector", "[crypto]") {
  mbedtls_backend b;
  t::check_xchacha20_poly1305_vectors(b);
}

TEST_CASE("mbedtls_backend reproduces the RFC 7748 X25519 vectors and refuses low-order points", "[crypto]") {
  mbedtls_backend b;
  t::check_x25519_vectors(b);
  REQUIRE(b.mbedtls_failures() == 0);  // every answer came from mbedTLS, not the libsodium fallback
}

TEST_CASE("mbedtls_backend reproduces the BLAKE2s-256 vectors and WireGuard's initial hashes", "[crypto]") {
  mbedtls_backend b;
  t::check_blake2s_vectors(b);
}

TEST_CASE("mbedtls_backend reproduces the keyed BLAKE2s-128 vectors", "[crypto]") {
  mbedtls_backend b;
  t::check_keyed_blake2s_vectors(b);
}

TEST_CASE("mbedtls_backend reproduces the HMAC-BLAKE2s vectors", "[crypto]") {
  mbedtls_backend b;
  t::check_hmac_blake2s_vectors(b);
}

TEST_CASE("mbedtls_backend round-trips, and refuses anything tampered with", "[crypto]") {
  mbedtls_backend b;
  t::check_aead_properties(b);
  REQUIRE(b.mbedtls_failures() == 0);
}

TEST_CASE("mbedtls_backend generates clamped, distinct keys that agree", "[crypto]") {
  mbedtls_backend b;
  t::check_key_properties(b);
  REQUIRE(b.mbedtls_failures() == 0);
}

// The two backends wrap different libraries; WireGuard peers using either must interoperate, so
// every output must match byte for byte on inputs nobody chose.
TEST_CASE("fast_backend and mbedtls_backend give identical outputs for the same inputs", "[crypto]") {
  fast_backend f;
  mbedtls_backend m;
  std::mt19937_64 rng(1420);

  SECTION("ChaCha20-Poly1305 at every size, and each opens the other's packets") {
    for (std::size_t n : t::aead_sizes) {
      for (int round = 0; round < 4; ++round) {
        CAPTURE(n, round);
        const auto key = t::pseudo_random_key(rng);
        const auto pt = t::pseudo_random_bytes(rng, n);
        const auto aad = t::pseudo_random_bytes(rng, static_cast<std::size_t>(rng() % 40));
        const std::uint64_t counter = rng();
        std::vector<std::byte> a(n + crypto::tag_size);
        std::vector<std::byte> c(n + crypto::tag_size);
        f.seal(key, counter, pt, aad, a);
        m.seal(key, counter, pt, aad, c);
        REQUIRE(a == c);
        std::vector<std::byte> back(n);
        REQUIRE(m.open(key, counter, a, aad, back));
        REQUIRE(back == pt);
        REQUIRE(f.open(key, counter, c, aad, back));
        REQUIRE(back == pt);
      }
    }
  }
  SECTION("XChaCha20-Poly1305") {
    for (std::size_t n : {std::size_t{0}, std::size_t{16}, std::size_t{1420}}) {
      const auto key = t::pseudo_random_key(rng);
      crypto::xnonce nonce{};
      for (auto& x : nonce) x = static_cast<std::byte>(rng());
      const auto pt = t::pseudo_random_bytes(rng, n);
      const auto aad = t::pseudo_random_bytes(rng, 32);
      std::vector<std::byte> a(n + crypto::tag_size);
      std::vector<std::byte> c(n + crypto::tag_size);
      f.xseal(key, nonce, pt, aad, a);
      m.xseal(key, nonce, pt, aad, c);
      REQUIRE(a == c);
    }
  }
  SECTION("X25519 on random scalars and random u-coordinates (on the curve or its twist)") {
    for (int i = 0; i < 16; ++i) {
      CAPTURE(i);
      const auto priv = t::pseudo_random_key(rng);
      crypto::public_key u{};
      for (auto& x : u) x = static_cast<std::byte>(rng());
      crypto::symmetric_key a;
      crypto::symmetric_key c;
      const bool fa = f.x25519(a, priv, u);
      const bool fc = m.x25519(c, priv, u);
      REQUIRE(fa == fc);
      REQUIRE(a == c);
      crypto::public_key pa{};
      crypto::public_key pc{};
      f.x25519_public(pa, priv);
      m.x25519_public(pc, priv);
      REQUIRE(pa == pc);
    }
    REQUIRE(m.mbedtls_failures() == 0);
  }
  SECTION("BLAKE2s, keyed BLAKE2s and HMAC-BLAKE2s over random parts and key lengths") {
    for (std::size_t n : t::aead_sizes) {
      CAPTURE(n);
      const auto msg = t::pseudo_random_bytes(rng, n);
      const std::size_t cut = n == 0 ? 0 : static_cast<std::size_t>(rng() % n);
      const byte_view parts[] = {byte_view(msg).first(cut), byte_view(msg).subspan(cut)};
      const auto key = t::pseudo_random_bytes(rng, 1 + static_cast<std::size_t>(rng() % 32));
      crypto::hash_value ha{};
      crypto::hash_value hc{};
      f.hash(ha, parts);
      m.hash(hc, parts);
      REQUIRE(ha == hc);
      crypto::mac_value ma{};
      crypto::mac_value mc{};
      f.mac(ma, key, parts);
      m.mac(mc, key, parts);
      REQUIRE(ma == mc);
      f.hmac(ha, key, parts);
      m.hmac(hc, key, parts);
      REQUIRE(ha == hc);
    }
  }
}

TEST_CASE("mbedtls_backend keeps working after a move", "[crypto]") {
  mbedtls_backend a;
  mbedtls_backend b(std::move(a));
  const auto alice = t::hex_key("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a");
  const auto expected = t::hex_array<crypto::key_size>("8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a");
  crypto::public_key pub{};
  b.x25519_public(pub, alice);
  REQUIRE(pub == expected);
  pub = {};
  a.x25519_public(pub, alice);  // NOLINT(bugprone-use-after-move): falls back to libsodium, documented
  REQUIRE(pub == expected);
}
