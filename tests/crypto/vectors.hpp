#pragma once
// Known answers every crypto backend must reproduce, as check functions templated on the
// backend: fast_backend_test.cpp and mbedtls_backend_test.cpp call each one from a test case of
// their own. The properties at the end (round trips, tampering, key generation) are shared the
// same way. Sources (published vectors, copied byte for byte):
//   RFC 8439 §2.8.2 and Appendix A.5          ChaCha20-Poly1305
//   draft-irtf-cfrg-xchacha-03 §A.3.1          XChaCha20-Poly1305
//   RFC 7748 §5.2 (incl. the iterated test), §6.1 and libsodium's list of low-order points
//   RFC 7693 Appendix B, and BLAKE2s-256("")   BLAKE2s-256
//   golang.org/x/crypto blake2s_test.go hashes128 (key 00..1f, message 00..i-1, 16-byte
//     digest; the same values Python's hashlib.blake2s(digest_size=16) gives)
//   HMAC-BLAKE2s of RFC 4231's inputs, as published by several independent libraries
//     (digestif, vlib, Python's hmac + hashlib) and reproduced with Python here
//   WireGuard's initial chaining key and hash (the constants boringtun and wireguard-rs
//     hard-code: Hash(Construction) and Hash(C || Identifier), WireGuard paper §5.4)

#include <warren/core/bytes.hpp>
#include <warren/crypto/backend.hpp>
#include <warren/crypto/detail/aead_nonce.hpp>
#include <warren/crypto/secret.hpp>

#include "support/bytes.hpp"

#include <catch2/catch_test_macros.hpp>

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <random>
#include <span>
#include <string_view>
#include <vector>

namespace warren::crypto::test {

using warren::test::hex;

template <std::size_t N>
std::array<std::byte, N> hex_array(std::string_view text) {
  auto v = hex(text);
  REQUIRE(v.size() == N);
  std::array<std::byte, N> a{};
  for (std::size_t i = 0; i < N; ++i) a[i] = v[i];
  return a;
}
inline secret<key_size> hex_key(std::string_view text) { return secret<key_size>(hex_array<key_size>(text)); }
inline std::vector<std::byte> ascii(std::string_view s) {
  auto v = as_byte_view(s);
  return {v.begin(), v.end()};
}
template <std::size_t N>
std::vector<std::byte> to_vector(std::span<const std::byte, N> s) {
  return {s.begin(), s.end()};
}
inline std::vector<std::byte> concat(const std::vector<std::byte>& a, const std::vector<std::byte>& b) {
  auto v = a;
  v.insert(v.end(), b.begin(), b.end());
  return v;
}

// ---- ChaCha20-Poly1305 -------------------------------------------------------------------

namespace rfc8439_2_8_2 {
inline constexpr std::string_view key = "808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f";
inline constexpr std::string_view nonce = "070000004041424344454647";  // not WireGuard's form
inline constexpr std::string_view aad = "50515253c0c1c2c3c4c5c6c7";
inline constexpr std::string_view plaintext =
    "Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the future, "
    "sunscreen would be it.";
inline constexpr std::string_view ciphertext =
    "d31a8d34648e60db7b86afbc53ef7ec2a4aded51296e08fea9e2b5a736ee62d6"
    "3dbea45e8ca9671282fafb69da92728b1a71de0a9e060b2905d6a5b67ecd3b36"
    "92ddbd7f2d778b8c9803aee328091b58fab324e4fad675945585808b4831d7bc"
    "3ff4def08e4b7a9de576d26586cec64b6116";
inline constexpr std::string_view tag = "1ae10b594f09e26a7e902ecbd0600691";
}  // namespace rfc8439_2_8_2

// Its nonce is 00000000 0102030405060708: WireGuard's form, with counter 0x0807060504030201.
namespace rfc8439_a5 {
inline constexpr std::string_view key = "1c9240a5eb55d38af333888604f6b5f0473917c1402b80099dca5cbc207075c0";
inline constexpr std::uint64_t counter = 0x0807060504030201;
inline constexpr std::string_view aad = "f33388860000000000004e91";
inline constexpr std::string_view plaintext =
    "496e7465726e65742d4472616674732061726520647261667420646f63756d65"
    "6e74732076616c696420666f722061206d6178696d756d206f6620736978206d"
    "6f6e74687320616e64206d617920626520757064617465642c207265706c6163"
    "65642c206f72206f62736f6c65746564206279206f7468657220646f63756d65"
    "6e747320617420616e792074696d652e20497420697320696e617070726f7072"
    "6961746520746f2075736520496e7465726e65742d4472616674732061732072"
    "65666572656e6365206d6174657269616c206f7220746f206369746520746865"
    "6d206f74686572207468616e206173202fe2809c776f726b20696e2070726f67"
    "726573732e2fe2809d";
inline constexpr std::string_view ciphertext =
    "64a0861575861af460f062c79be643bd5e805cfd345cf389f108670ac76c8cb2"
    "4c6cfc18755d43eea09ee94e382d26b0bdb7b73c321b0100d4f03b7f355894cf"
    "332f830e710b97ce98c8a84abd0b948114ad176e008d33bd60f982b1ff37c855"
    "9797a06ef4f0ef61c186324e2b3506383606907b6a7c02b0f9f6157b53c867e4"
    "b9166c767b804d46a59b5216cde7a4e99040c5a40433225ee282a1b0a06c523e"
    "af4534d7f83fa1155b0047718cbc546a0d072b04b3564eea1b422273f548271a"
    "0bb2316053fa76991955ebd63159434ecebb4e466dae5a1073a6727627097a10"
    "49e617d91d361094fa68f0ff77987130305beaba2eda04df997b714d6c6f2c29"
    "a6ad5cb4022b02709b";
inline constexpr std::string_view tag = "eead9d67890cbb22392336fea1851f38";
}  // namespace rfc8439_a5

// B needs seal_ietf/open_ietf (both backends have them) for the vector whose nonce is not of
// WireGuard's form.
template <class B>
void check_chacha20_poly1305_vectors(B& b) {
  SECTION("RFC 8439 §2.8.2 seals to the published ciphertext and tag, with the raw nonce") {
    namespace v = rfc8439_2_8_2;
    const auto key = hex_key(v::key);
    const auto nonce = hex_array<detail::ietf_nonce_size>(v::nonce);
    const auto pt = ascii(v::plaintext);
    const auto expected = concat(hex(v::ciphertext), hex(v::tag));
    std::vector<std::byte> out(pt.size() + tag_size);
    b.seal_ietf(key, nonce, pt, hex(v::aad), out);
    REQUIRE(out == expected);

    std::vector<std::byte> back(pt.size());
    REQUIRE(b.open_ietf(key, nonce, expected, hex(v::aad), back));
    REQUIRE(back == pt);
  }
  SECTION("RFC 8439 A.5 opens through the WireGuard counter API, and seals back") {
    namespace v = rfc8439_a5;
    const auto key = hex_key(v::key);
    const auto sealed = concat(hex(v::ciphertext), hex(v::tag));
    const auto pt = hex(v::plaintext);
    REQUIRE(pt.size() == 265);
    std::vector<std::byte> back(pt.size());
    REQUIRE(b.open(key, v::counter, sealed, hex(v::aad), back));
    REQUIRE(back == pt);

    std::vector<std::byte> out(pt.size() + tag_size);
    b.seal(key, v::counter, pt, hex(v::aad), out);
    REQUIRE(out == sealed);
  }
  SECTION("the counter is little-endian after four zero bytes") {
    REQUIRE(detail::wireguard_nonce(rfc8439_a5::counter) ==
            hex_array<detail::ietf_nonce_size>("000000000102030405060708"));
  }
}

// ---- XChaCha20-Poly1305 ------------------------------------------------------------------

template <class B>
void check_xchacha20_poly1305_vectors(B& b) {
  // draft-irtf-cfrg-xchacha-03 §A.3.1: the §2.8.2 key, AAD and plaintext with a 24-byte nonce.
  const auto key = hex_key("808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f");
  const auto nonce = hex_array<xnonce_size>("404142434445464748494a4b4c4d4e4f5051525354555657");
  const auto aad = hex("50515253c0c1c2c3c4c5c6c7");
  const auto pt = ascii(rfc8439_2_8_2::plaintext);
  const auto expected = concat(hex("bd6d179d3e83d43b9576579493c0e939572a1700252bfaccbed2902c21396cbb"
                                   "731c7f1b0b4aa6440bf3a82f4eda7e39ae64c6708c54c216cb96b72e1213b452"
                                   "2f8c9ba40db5d945b11b69b982c1bb9e3f3fac2bc369488f76b2383565d3fff9"
                                   "21f9664c97637da9768812f615c68b13b52e"),
                               hex("c0875924c1c7987947deafd8780acf49"));
  std::vector<std::byte> out(pt.size() + tag_size);
  b.xseal(key, nonce, pt, aad, out);
  REQUIRE(out == expected);

  std::vector<std::byte> back(pt.size());
  REQUIRE(b.xopen(key, nonce, expected, aad, back));
  REQUIRE(back == pt);

  auto forged = expected;
  forged[3] ^= std::byte{0x01};
  REQUIRE_FALSE(b.xopen(key, nonce, forged, aad, back));
}

// ---- X25519 ------------------------------------------------------------------------------

// A shared secret from hex scalar and u-coordinate, through the backend.
template <class B>
std::vector<std::byte> x25519_of(B& b, std::string_view scalar, std::string_view u, bool* ok = nullptr) {
  symmetric_key shared;
  const bool r = b.x25519(shared, hex_key(scalar), hex_array<key_size>(u));
  if (ok != nullptr) *ok = r;
  return to_vector<key_size>(shared.bytes());
}

// libsodium's list of u-coordinates that give an all-zero result for every scalar.
inline constexpr std::array<std::string_view, 7> low_order_points = {
    "0000000000000000000000000000000000000000000000000000000000000000",  // 0
    "0100000000000000000000000000000000000000000000000000000000000000",  // 1
    "e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800",  // order 8
    "5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157",  // order 8
    "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",  // p - 1
    "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",  // p
    "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",  // p + 1
};

template <class B>
void check_x25519_vectors(B& b) {
  SECTION("RFC 7748 §5.2 scalar multiplication (unclamped scalars, u with bit 255 set)") {
    bool ok = false;
    REQUIRE(x25519_of(b, "a546e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449ac4",
                      "e6db6867583030db3594c1a424b15f7c726624ec26b3353b10a903a6d0ab1c4c", &ok) ==
            hex("c3da55379de9c6908e94ea4df28d084f32eccf03491c71f754b4075577a28552"));
    REQUIRE(ok);
    REQUIRE(x25519_of(b, "4b66e9d4d1b4673c5ad22691957d6af5c11b6421e0ea01d42ca4169e7918ba0d",
                      "e5210f12786811d3f4b7959d0538ae2c31dbe7106fc03c3efc4cd549c715a493", &ok) ==
            hex("95cbde9476e8907d7aade45cb4b873f88b595a68799fa152e6f8f7647aac7957"));
    REQUIRE(ok);
  }
  SECTION("RFC 7748 §5.2 iterated: after 1 and 1000 iterations") {
    // k = u = 9; then repeatedly k, u = X25519(k, u), k.
    auto k = hex_array<key_size>("0900000000000000000000000000000000000000000000000000000000000000");
    auto u = k;
    for (int i = 1; i <= 1000; ++i) {
      symmetric_key r;
      REQUIRE(b.x25519(r, private_key(k), u));
      u = k;
      for (std::size_t j = 0; j < key_size; ++j) k[j] = r.bytes()[j];
      if (i == 1) REQUIRE(to_vector<key_size>(k) == hex("422c8e7a6227d7bca1350b3e2bb7279f7897b87bb6854b783c60e80311ae3079"));
    }
    REQUIRE(to_vector<key_size>(k) == hex("684cf59ba83309552800ef566f2f4d3c1c3887c49360e3875f2eb94d99532c51"));
  }
  SECTION("RFC 7748 §6.1 Diffie-Hellman: public keys and the shared secret") {
    const auto alice = hex_key("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a");
    const auto bob = hex_key("5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb");
    public_key alice_pub{};
    public_key bob_pub{};
    b.x25519_public(alice_pub, alice);
    b.x25519_public(bob_pub, bob);
    REQUIRE(alice_pub == hex_array<key_size>("8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a"));
    REQUIRE(bob_pub == hex_array<key_size>("de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f"));
    symmetric_key s1;
    symmetric_key s2;
    REQUIRE(b.x25519(s1, alice, bob_pub));
    REQUIRE(b.x25519(s2, bob, alice_pub));
    REQUIRE(to_vector<key_size>(s1.bytes()) == hex("4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742"));
    REQUIRE(s1 == s2);
  }
  SECTION("low-order points give false and a zeroed secret, with or without bit 255") {
    const auto alice = "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a";
    for (auto point : low_order_points) {
      for (bool high_bit : {false, true}) {
        auto u = hex_array<key_size>(point);
        if (high_bit) u[31] |= std::byte{0x80};
        symmetric_key shared(hex_array<key_size>("ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"));
        CAPTURE(point, high_bit);
        REQUIRE_FALSE(b.x25519(shared, hex_key(alice), u));
        REQUIRE(shared.is_zero());
      }
    }
  }
  SECTION("non-canonical u-coordinates are reduced: p + 9 and 9 + 2^255 act as the base point 9") {
    // RFC 7748 §5: implementations accept u >= p and mask bit 255.
    private_key priv;
    b.generate_private_key(priv);
    public_key pub{};
    b.x25519_public(pub, priv);
    for (auto u : {"f6ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",    // 2^255 - 19 + 9
                   "0900000000000000000000000000000000000000000000000000000000000080"}) {  // 9 + 2^255
      symmetric_key shared;
      CAPTURE(u);
      REQUIRE(b.x25519(shared, priv, hex_array<key_size>(u)));
      REQUIRE(to_vector<key_size>(shared.bytes()) == to_vector<key_size>(pub));
    }
  }
}

// ---- BLAKE2s -----------------------------------------------------------------------------

template <class B>
hash_value hash_of(B& b, std::initializer_list<byte_view> parts) {
  hash_value out{};
  b.hash(out, std::span<const byte_view>(parts.begin(), parts.size()));
  return out;
}

template <class B>
void check_blake2s_vectors(B& b) {
  SECTION("RFC 7693 Appendix B: BLAKE2s-256(\"abc\")") {
    const auto abc = ascii("abc");
    REQUIRE(hash_of(b, {abc}) ==
            hex_array<hash_size>("508c5e8c327c14e2e1a72ba34eeb452f37458b209ed63a294d999b4c86675982"));
  }
  SECTION("the empty message, with no parts and with empty parts") {
    const auto expected = hex_array<hash_size>("69217a3079908094e11121d042354a7c1f55b6482ca1a51e1b250dfd1ed0eef9");
    REQUIRE(hash_of(b, {}) == expected);
    REQUIRE(hash_of(b, {byte_view{}, byte_view{}}) == expected);
  }
  SECTION("parts are hashed as their concatenation") {
    const auto abc = ascii("abc");
    const byte_view all(abc);
    REQUIRE(hash_of(b, {all.first(1), byte_view{}, all.subspan(1)}) == hash_of(b, {all}));
  }
  SECTION("WireGuard's initial chaining key and hash (WireGuard paper §5.4)") {
    const auto construction = ascii("Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s");
    const auto identifier = ascii("WireGuard v1 zx2c4 Jason@zx2c4.com");
    const auto ck = hash_of(b, {construction});
    REQUIRE(ck == hex_array<hash_size>("60e26daef327efc02ec335e2a025d2d016eb4206f87277f52d38d1988b78cd36"));
    REQUIRE(hash_of(b, {ck, identifier}) ==
            hex_array<hash_size>("2211b361081ac566691243db458ad5322d9c6c662293e8b70ee19c65ba079ef3"));
  }
}

template <class B>
mac_value mac_of(B& b, byte_view key, std::initializer_list<byte_view> parts) {
  mac_value out{};
  b.mac(out, key, std::span<const byte_view>(parts.begin(), parts.size()));
  return out;
}

template <class B>
void check_keyed_blake2s_vectors(B& b) {
  std::vector<std::byte> key(32);
  std::vector<std::byte> msg(255);
  for (std::size_t i = 0; i < key.size(); ++i) key[i] = static_cast<std::byte>(i);
  for (std::size_t i = 0; i < msg.size(); ++i) msg[i] = static_cast<std::byte>(i);
  const byte_view m(msg);

  SECTION("x/crypto hashes128: 32-byte key, messages of 0..3 bytes and around one block") {
    struct known {
      std::size_t length;
      std::string_view digest;
    };
    for (auto k : {known{0, "9536f9b267655743dee97b8a670f9f53"}, known{1, "13bacfb85b48a1223c595f8c1e7e82cb"},
                   known{2, "d47a9b1645e2feae501cd5fe44ce6333"}, known{3, "1e2a79436a7796a3e9826bfedf07659f"},
                   known{63, "ece382a8bd5018f1de5da44b72cea75b"}, known{64, "f1efa90d2547036841ecd3627fafbc36"},
                   known{65, "811ff8686d23a435ecbd0bdafcd27b1b"}, known{255, "cd075928ab7e6883e697fe7fd3ac43ee"}}) {
      CAPTURE(k.length);
      REQUIRE(mac_of(b, key, {m.first(k.length)}) == hex_array<mac_size>(k.digest));
    }
  }
  SECTION("split parts give the same MAC as one") {
    REQUIRE(mac_of(b, key, {m.first(10), m.subspan(10, 54), m.subspan(64, 1)}) ==
            hex_array<mac_size>("811ff8686d23a435ecbd0bdafcd27b1b"));
  }
  SECTION("a 16-byte key, as mac2 uses the cookie (hashlib.blake2s(key=00..0f, digest_size=16))") {
    REQUIRE(mac_of(b, byte_view(key).first(16), {ascii("abc")}) ==
            hex_array<mac_size>("75296c2d2c0f51210b383f386bc8b1ff"));
  }
}

template <class B>
hash_value hmac_of(B& b, byte_view key, std::initializer_list<byte_view> parts) {
  hash_value out{};
  b.hmac(out, key, std::span<const byte_view>(parts.begin(), parts.size()));
  return out;
}

// RFC 2104 written out with the backend's own hash, as an independent check of the construction.
template <class B>
hash_value rfc2104_hmac(B& b, byte_view key, byte_view text) {
  std::array<std::byte, 64> k0{};
  if (key.size() > k0.size()) {
    auto h = hash_of(b, {key});
    for (std::size_t i = 0; i < h.size(); ++i) k0[i] = h[i];
  } else {
    for (std::size_t i = 0; i < key.size(); ++i) k0[i] = key[i];
  }
  auto ipad = k0;
  auto opad = k0;
  for (auto& x : ipad) x ^= std::byte{0x36};
  for (auto& x : opad) x ^= std::byte{0x5c};
  const auto inner = hash_of(b, {ipad, text});
  return hash_of(b, {opad, inner});
}

template <class B>
void check_hmac_blake2s_vectors(B& b) {
  SECTION("RFC 4231 case 2 inputs (\"Jefe\")") {
    REQUIRE(hmac_of(b, ascii("Jefe"), {ascii("what do ya want for nothing?")}) ==
            hex_array<hash_size>("90b6281e2f3038c9056af0b4a7e763cae6fe5d9eb4386a0ec95237890c104ff0"));
  }
  SECTION("a key longer than the block is hashed first (RFC 4231 case 6 inputs)") {
    const std::vector<std::byte> key(131, std::byte{0xaa});
    REQUIRE(hmac_of(b, key, {ascii("Test Using Larger Than Block-Size Key - Hash Key First")}) ==
            hex_array<hash_size>("d23d79394f53d536a096e6514447eeaabb05ded01be32c1937da6a8f7103bc4e"));
  }
  SECTION("a 32-byte key as WireGuard's HKDF uses (0x0b x 32, \"Hi There\")") {
    const std::vector<std::byte> key(32, std::byte{0x0b});
    REQUIRE(hmac_of(b, key, {ascii("Hi There")}) ==
            hex_array<hash_size>("0a22725a2d3d42c8f0515617bf249fcd1aaec274c7e94a5058549a5691941426"));
  }
  SECTION("agrees with RFC 2104 written out over the backend's hash, for keys of 0..100 bytes") {
    std::vector<std::byte> key(100);
    for (std::size_t i = 0; i < key.size(); ++i) key[i] = static_cast<std::byte>(i * 7 + 1);
    const auto text = ascii("WireGuard HKDF feeds chaining keys and DH results through here");
    for (std::size_t n : {0u, 1u, 16u, 32u, 63u, 64u, 65u, 100u}) {
      CAPTURE(n);
      const byte_view k = byte_view(key).first(n);
      REQUIRE(hmac_of(b, k, {byte_view(text).first(5), byte_view(text).subspan(5)}) == rfc2104_hmac(b, k, text));
    }
  }
}

// ---- Properties every backend must have --------------------------------------------------

// Deterministic test inputs (a fixed seed, so a failure reproduces).
inline std::vector<std::byte> pseudo_random_bytes(std::mt19937_64& rng, std::size_t n) {
  std::vector<std::byte> v(n);
  for (auto& x : v) x = static_cast<std::byte>(rng() >> 56);
  return v;
}
inline secret<key_size> pseudo_random_key(std::mt19937_64& rng) {
  std::array<std::byte, key_size> a{};
  for (auto& x : a) x = static_cast<std::byte>(rng() >> 56);
  return secret<key_size>(a);
}

// Sizes around ChaCha20's 64-byte block and Poly1305's 16-byte block, around fast_backend's
// old default switch between the AEAD libraries (512), and a full WireGuard MTU.
inline constexpr std::array<std::size_t, 14> aead_sizes = {0, 1, 15, 16, 17, 63, 64, 65, 255, 511, 512, 513, 576, 1420};

template <class B>
void check_aead_properties(B& b) {
  std::mt19937_64 rng(20240601);
  const auto key = pseudo_random_key(rng);
  const auto aad = pseudo_random_bytes(rng, 16);
  const std::uint64_t counter = rng();

  SECTION("seal then open round-trips, out of place and in place, at every size") {
    for (std::size_t n : aead_sizes) {
      CAPTURE(n);
      const auto pt = pseudo_random_bytes(rng, n);
      std::vector<std::byte> sealed(n + tag_size);
      b.seal(key, counter, pt, aad, sealed);
      if (n >= 16) REQUIRE_FALSE(std::equal(pt.begin(), pt.end(), sealed.begin()));  // it was encrypted

      std::vector<std::byte> buf = pt;  // in place: plaintext, then room for the tag
      buf.resize(n + tag_size);
      b.seal(key, counter, byte_view(buf).first(n), aad, buf);
      REQUIRE(buf == sealed);

      std::vector<std::byte> back(n);
      REQUIRE(b.open(key, counter, sealed, aad, back));
      REQUIRE(back == pt);
      REQUIRE(b.open(key, counter, buf, aad, mutable_byte_view(buf).first(n)));
      REQUIRE(std::equal(pt.begin(), pt.end(), buf.begin()));
    }
  }
  SECTION("the counter is part of the nonce: another counter gives another ciphertext") {
    const auto pt = pseudo_random_bytes(rng, 64);
    std::vector<std::byte> a(pt.size() + tag_size);
    std::vector<std::byte> c(pt.size() + tag_size);
    b.seal(key, counter, pt, aad, a);
    b.seal(key, counter + 1, pt, aad, c);
    REQUIRE(a != c);
  }
  SECTION("tampering makes open fail and leaves no plaintext in the output") {
    for (std::size_t n : {std::size_t{0}, std::size_t{1}, std::size_t{1420}}) {
      CAPTURE(n);
      const auto pt = pseudo_random_bytes(rng, n);
      std::vector<std::byte> sealed(n + tag_size);
      b.seal(key, counter, pt, aad, sealed);
      std::vector<std::byte> out(n, std::byte{0xee});
      auto expect_refused = [&](const symmetric_key& k, std::uint64_t ctr, byte_view ct, byte_view ad) {
        std::fill(out.begin(), out.end(), std::byte{0xee});
        REQUIRE_FALSE(b.open(k, ctr, ct, ad, out));
        REQUIRE(std::all_of(out.begin(), out.end(), [](std::byte x) { return x == std::byte{0}; }));
      };
      if (n > 0) {
        auto bad = sealed;
        bad[n / 2] ^= std::byte{0x01};  // a ciphertext bit
        expect_refused(key, counter, bad, aad);
      }
      auto bad_tag = sealed;
      bad_tag[n + tag_size - 1] ^= std::byte{0x80};
      expect_refused(key, counter, bad_tag, aad);
      auto bad_aad = aad;
      bad_aad[0] ^= std::byte{0x01};
      expect_refused(key, counter, sealed, bad_aad);
      expect_refused(key, counter, sealed, byte_view{});  // AAD dropped
      expect_refused(key, counter + 1, sealed, aad);
      expect_refused(key, counter ^ (std::uint64_t{1} << 63), sealed, aad);
      auto other_key = key;
      other_key.data()[0] ^= std::byte{0x01};
      expect_refused(other_key, counter, sealed, aad);
    }
  }
  SECTION("XChaCha20-Poly1305 round-trips in place and refuses another nonce") {
    auto nonce = hex_array<xnonce_size>("000102030405060708090a0b0c0d0e0f1011121314151617");
    const auto pt = pseudo_random_bytes(rng, 16);  // a cookie's size
    std::vector<std::byte> buf = pt;
    buf.resize(pt.size() + tag_size);
    b.xseal(key, nonce, byte_view(buf).first(pt.size()), aad, buf);
    const auto sealed = buf;
    REQUIRE(b.xopen(key, nonce, buf, aad, mutable_byte_view(buf).first(pt.size())));
    REQUIRE(std::equal(pt.begin(), pt.end(), buf.begin()));
    nonce[23] ^= std::byte{0x01};
    std::vector<std::byte> out(pt.size());
    REQUIRE_FALSE(b.xopen(key, nonce, sealed, aad, out));
  }
}

template <class B>
void check_key_properties(B& b) {
  SECTION("generated private keys are clamped and differ from call to call") {
    private_key a;
    private_key c;
    b.generate_private_key(a);
    b.generate_private_key(c);
    for (const auto* k : {&a, &c}) {
      const auto first = std::to_integer<unsigned>(k->bytes()[0]);
      const auto last = std::to_integer<unsigned>(k->bytes()[31]);
      REQUIRE((first & 7u) == 0);
      REQUIRE((last & 0x80u) == 0);
      REQUIRE((last & 0x40u) == 0x40u);
    }
    REQUIRE_FALSE(a == c);
  }
  SECTION("two generated key pairs agree on their shared secret") {
    private_key a;
    private_key c;
    b.generate_private_key(a);
    b.generate_private_key(c);
    public_key pa{};
    public_key pc{};
    b.x25519_public(pa, a);
    b.x25519_public(pc, c);
    REQUIRE(pa != pc);
    symmetric_key s1;
    symmetric_key s2;
    REQUIRE(b.x25519(s1, a, pc));
    REQUIRE(b.x25519(s2, c, pa));
    REQUIRE(s1 == s2);
    REQUIRE_FALSE(s1.is_zero());
  }
  SECTION("random fills the whole buffer with fresh bytes") {
    std::array<std::byte, 64> r1{};
    std::array<std::byte, 64> r2{};
    b.random(r1);
    b.random(r2);
    REQUIRE(r1 != r2);
    // 64 random bytes all zero in either half is a 2^-256 event: a buffer left unfilled.
    REQUIRE(std::any_of(r1.begin() + 32, r1.end(), [](std::byte x) { return x != std::byte{0}; }));
    b.random(mutable_byte_view{});  // an empty request is fine
  }
}

}  // namespace warren::crypto::test
