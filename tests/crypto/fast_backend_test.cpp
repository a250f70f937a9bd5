#include <warren/crypto/fast_backend.hpp>  // first: proves the header stands alone
#include <catch2/catch_test_macros.hpp>

#include "crypto/vectors.hpp"

#include <warren/crypto/default_backend.hpp>
#include <warren/crypto/secret.hpp>

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <new>
#include <random>
#include <type_traits>
#include <utility>
#include <vector>

using warren::byte_view;
using warren::crypto::fast_backend;
namespace t = warren::crypto::test;
namespace crypto = warren::crypto;

namespace {
// The two AEAD paths, each forced for every size, and the default split between them.
fast_backend gcrypt_only() { return fast_backend(crypto::fast_backend_options{.gcrypt_min_size = 0}); }
fast_backend libsodium_only() { return fast_backend(crypto::fast_backend_options{.gcrypt_min_size = SIZE_MAX}); }
}  // namespace

TEST_CASE("fast_backend reproduces the RFC 8439 ChaCha20-Poly1305 vectors on both AEAD paths", "[crypto]") {
  SECTION("libgcrypt") {
    auto b = gcrypt_only();
    REQUIRE(b.uses_gcrypt_aead());
    t::check_chacha20_poly1305_vectors(b);
    REQUIRE(b.gcrypt_failures() == 0);
  }
  SECTION("libsodium") {
    auto b = libsodium_only();
    REQUIRE_FALSE(b.uses_gcrypt_aead());
    t::check_chacha20_poly1305_vectors(b);
  }
  SECTION("the default split") {
    fast_backend b;
    REQUIRE(b.uses_gcrypt_aead());
    t::check_chacha20_poly1305_vectors(b);
  }
}

TEST_CASE("fast_backend reproduces the XChaCha20-Poly1305 vector", "[crypto]") {
  fast_backend b;
  t::check_xchacha20_poly1305_vectors(b);
}

TEST_CASE("fast_backend reproduces the RFC 7748 X25519 vectors and refuses low-order points", "[crypto]") {
  fast_backend b;
  t::check_x25519_vectors(b);
}

TEST_CASE("fast_backend reproduces the BLAKE2s-256 vectors and WireGuard's initial hashes", "[crypto]") {
  fast_backend b;
  t::check_blake2s_vectors(b);
  REQUIRE(b.gcrypt_failures() == 0);
}

TEST_CASE("fast_backend reproduces the keyed BLAKE2s-128 vectors", "[crypto]") {
  fast_backend b;
  t::check_keyed_blake2s_vectors(b);
}

TEST_CASE("fast_backend reproduces the HMAC-BLAKE2s vectors", "[crypto]") {
  fast_backend b;
  t::check_hmac_blake2s_vectors(b);
}

TEST_CASE("fast_backend round-trips, and refuses anything tampered with, on both AEAD paths", "[crypto]") {
  SECTION("libgcrypt") {
    auto b = gcrypt_only();
    t::check_aead_properties(b);
    REQUIRE(b.gcrypt_failures() == 0);
  }
  SECTION("libsodium") {
    auto b = libsodium_only();
    t::check_aead_properties(b);
  }
  SECTION("the default split") {
    fast_backend b;
    t::check_aead_properties(b);
    REQUIRE(b.gcrypt_failures() == 0);
  }
}

TEST_CASE("fast_backend's two AEAD paths give identical outputs at every size", "[crypto]") {
  auto o = gcrypt_only();
  auto l = libsodium_only();
  std::mt19937_64 rng(11);
  for (std::size_t n : t::aead_sizes) {
    CAPTURE(n);
    const auto key = t::pseudo_random_key(rng);
    const auto pt = t::pseudo_random_bytes(rng, n);
    const auto aad = t::pseudo_random_bytes(rng, n % 33);
    const std::uint64_t counter = rng();
    std::vector<std::byte> x(n + crypto::tag_size);
    std::vector<std::byte> y(n + crypto::tag_size);
    o.seal(key, counter, pt, aad, x);
    l.seal(key, counter, pt, aad, y);
    REQUIRE(x == y);
    std::vector<std::byte> back(n);
    REQUIRE(o.open(key, counter, y, aad, back));
    REQUIRE(back == pt);
    REQUIRE(l.open(key, counter, x, aad, back));
    REQUIRE(back == pt);
  }
  REQUIRE(o.gcrypt_failures() == 0);
}

TEST_CASE("fast_backend's libgcrypt path keeps a key across packets and notices every change", "[crypto]") {
  // The libgcrypt handles skip re-keying when given the key they hold; libsodium has no such
  // state, so it is the reference for a run that repeats, alternates and edits keys.
  auto o = gcrypt_only();
  auto l = libsodium_only();
  std::mt19937_64 rng(12);
  for (std::size_t n : t::aead_sizes) {
    CAPTURE(n);
    auto a = t::pseudo_random_key(rng);
    const auto b = t::pseudo_random_key(rng);
    const auto pt = t::pseudo_random_bytes(rng, n);
    std::vector<std::byte> x(n + crypto::tag_size), y(n + crypto::tag_size), back(n);
    for (int i = 0; i < 24; ++i) {
      CAPTURE(i);
      if (i == 16) a.data()[7] ^= std::byte{1};  // the same object, new contents
      const auto& key = (i % 3 == 2) ? b : a;
      const std::uint64_t counter = static_cast<std::uint64_t>(i) * 977;
      o.seal(key, counter, pt, {}, x);
      l.seal(key, counter, pt, {}, y);
      REQUIRE(x == y);
      REQUIRE(o.open(key, counter, x, {}, back));
      REQUIRE(back == pt);
      // The other key must not open it, even right after the context held the right one.
      REQUIRE_FALSE(o.open((i % 3 == 2) ? a : b, counter, x, {}, back));
    }
  }
  REQUIRE(o.gcrypt_failures() == 0);
}

TEST_CASE("fast_backend generates clamped, distinct keys that agree", "[crypto]") {
  fast_backend b;
  t::check_key_properties(b);
}

TEST_CASE("a moved-from fast_backend keeps working, and agrees with the one it moved to", "[crypto]") {
  auto a = gcrypt_only();
  fast_backend b(std::move(a));
  REQUIRE(b.uses_gcrypt_aead());
  REQUIRE_FALSE(a.uses_gcrypt_aead());  // NOLINT(bugprone-use-after-move): documented behaviour
  std::mt19937_64 rng(7);
  const auto key = t::pseudo_random_key(rng);
  const auto pt = t::pseudo_random_bytes(rng, 1420);
  std::vector<std::byte> x(pt.size() + crypto::tag_size);
  std::vector<std::byte> y(pt.size() + crypto::tag_size);
  a.seal(key, 42, pt, byte_view{}, x);  // NOLINT(bugprone-use-after-move)
  b.seal(key, 42, pt, byte_view{}, y);
  REQUIRE(x == y);
  crypto::hash_value h1{};
  crypto::hash_value h2{};
  const byte_view parts[] = {pt};
  a.hash(h1, parts);  // NOLINT(bugprone-use-after-move)
  b.hash(h2, parts);
  REQUIRE(h1 == h2);
}

TEST_CASE("a forged packet is refused, leaves no plaintext, and is not counted as a failure", "[crypto]") {
  auto b = gcrypt_only();
  std::mt19937_64 rng(9);
  const auto key = t::pseudo_random_key(rng);
  std::vector<std::byte> sealed(100 + crypto::tag_size);
  b.seal(key, 1, t::pseudo_random_bytes(rng, 100), byte_view{}, sealed);
  sealed[0] ^= std::byte{1};
  std::vector<std::byte> out(100);
  std::fill(out.begin(), out.end(), std::byte{0x5a});
  REQUIRE_FALSE(b.open(key, 1, sealed, byte_view{}, out));
  for (auto x : out) REQUIRE(x == std::byte{0});
  REQUIRE(b.gcrypt_failures() == 0);
  SECTION("in place too") {
    std::vector<std::byte> in_place = sealed;
    REQUIRE_FALSE(b.open(key, 1, in_place, byte_view{}, std::span(in_place).first(100)));
    for (std::size_t i = 0; i < 100; ++i) REQUIRE(in_place[i] == std::byte{0});
  }
}

TEST_CASE("default_backend is fast_backend", "[crypto]") {
  STATIC_REQUIRE(std::is_same_v<crypto::default_backend, fast_backend>);
}

// secret.hpp has no test file of its own; its wiping is what the backends' key handling rests on.
TEST_CASE("secret<> wipes its bytes on wipe() and on destruction", "[crypto]") {
  const auto ones = t::hex_array<crypto::key_size>("ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff");
  SECTION("wipe()") {
    crypto::symmetric_key k(ones);
    REQUIRE_FALSE(k.is_zero());
    k.wipe();
    REQUIRE(k.is_zero());
    for (auto x : k.bytes()) REQUIRE(x == std::byte{0});
  }
  SECTION("the destructor, observed through the storage the secret lived in") {
    alignas(crypto::symmetric_key) std::array<std::byte, sizeof(crypto::symmetric_key)> storage{};
    auto* k = ::new (storage.data()) crypto::symmetric_key(ones);
    REQUIRE(storage[0] == std::byte{0xff});  // the key really lives in this storage
    k->~secret();
    for (auto x : storage) REQUIRE(x == std::byte{0});
  }
  SECTION("copies are equal in constant time and wiped independently") {
    crypto::symmetric_key a(ones);
    crypto::symmetric_key c = a;
    REQUIRE(a == c);
    a.wipe();
    REQUIRE_FALSE(a == c);
    REQUIRE_FALSE(c.is_zero());
  }
}
