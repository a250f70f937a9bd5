// The two crypto backends side by side, on the operations WireGuard's datapath and handshake
// make, plus the alternatives fast_backend's choices were measured against:
//   crypto/<backend>/seal/<n>      ChaCha20-Poly1305 seal of n bytes: 64 (a TCP ACK), 576 (the
//                                  IPv4 minimum datagram), 1420 (a full WireGuard MTU)
//   crypto/<backend>/open/1420     open of a full packet (tag verified)
//   crypto/<backend>/x25519        one shared secret (a handshake makes four per side)
//   crypto/<backend>/blake2s/148   BLAKE2s-256 of a handshake-sized input
//   crypto/<backend>/mac/116       keyed BLAKE2s-128 over an initiation's mac1 span
//   crypto/<backend>/hmac/32       HMAC-BLAKE2s of 32 bytes under a 32-byte key (one HKDF step)
//   crypto/<backend>/xseal/16      XChaCha20-Poly1305 of a 16-byte cookie
//   crypto/compare/...             the same operation through the alternatives fast_backend was
//                                  measured against: ChaCha20-Poly1305 through libgcrypt (the
//                                  default), libsodium and OpenSSL's EVP at each size; OpenSSL's
//                                  X25519, EVP_MD BLAKE2s, EVP_MAC BLAKE2SMAC and HMAC
// Numbers are per call on one core; run with --benchmark_repetitions and compare medians.
#include <warren/crypto/fast_backend.hpp>
#include <warren/crypto/mbedtls_backend.hpp>

#include <warren/crypto/detail/libb2.hpp>

#include <benchmark/benchmark.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <sodium.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <vector>

namespace {

using namespace warren::crypto;
using warren::byte_view;
namespace detail = warren::crypto::detail;

std::vector<std::byte> pattern(std::size_t n) {
  std::vector<std::byte> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = static_cast<std::byte>(i * 131 + 7);
  return v;
}
symmetric_key bench_key() {
  std::array<std::byte, key_size> k{};
  for (std::size_t i = 0; i < k.size(); ++i) k[i] = static_cast<std::byte>(i + 1);
  return symmetric_key(k);
}

template <class B>
void seal_bench(benchmark::State& state) {
  B b;
  const auto n = static_cast<std::size_t>(state.range(0));
  const auto key = bench_key();
  const auto pt = pattern(n);
  std::vector<std::byte> out(n + tag_size);
  std::uint64_t counter = 0;
  for (auto _ : state) {
    b.seal(key, counter++, pt, byte_view{}, out);
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) * state.range(0));
}

template <class B>
void open_bench(benchmark::State& state) {
  B b;
  const auto n = static_cast<std::size_t>(state.range(0));
  const auto key = bench_key();
  std::vector<std::byte> sealed(n + tag_size);
  b.seal(key, 7, pattern(n), byte_view{}, sealed);
  std::vector<std::byte> out(n);
  for (auto _ : state) {
    if (!b.open(key, 7, sealed, byte_view{}, out)) state.SkipWithError("open failed");
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) * state.range(0));
}

template <class B>
void x25519_bench(benchmark::State& state) {
  B b;
  private_key mine;
  private_key theirs;
  b.generate_private_key(mine);
  b.generate_private_key(theirs);
  public_key pub{};
  b.x25519_public(pub, theirs);
  symmetric_key shared;
  for (auto _ : state) {
    if (!b.x25519(shared, mine, pub)) state.SkipWithError("x25519 failed");
    benchmark::DoNotOptimize(shared.data());
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}

template <class B>
void blake2s_bench(benchmark::State& state) {
  B b;
  const auto msg = pattern(static_cast<std::size_t>(state.range(0)));
  const byte_view parts[] = {msg};
  hash_value out{};
  for (auto _ : state) {
    b.hash(out, parts);
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}

template <class B>
void mac_bench(benchmark::State& state) {
  B b;
  const auto msg = pattern(static_cast<std::size_t>(state.range(0)));
  const auto key = pattern(key_size);
  const byte_view parts[] = {msg};
  mac_value out{};
  for (auto _ : state) {
    b.mac(out, key, parts);
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}

template <class B>
void hmac_bench(benchmark::State& state) {
  B b;
  const auto msg = pattern(static_cast<std::size_t>(state.range(0)));
  const auto key = pattern(key_size);
  const byte_view parts[] = {msg};
  hash_value out{};
  for (auto _ : state) {
    b.hmac(out, key, parts);
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}

template <class B>
void xseal_bench(benchmark::State& state) {
  B b;
  const auto n = static_cast<std::size_t>(state.range(0));
  const auto key = bench_key();
  const auto pt = pattern(n);
  xnonce nonce{};
  std::vector<std::byte> out(n + tag_size);
  for (auto _ : state) {
    b.xseal(key, nonce, pt, byte_view{}, out);
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}

#define WARREN_BACKEND_BENCHMARKS(B, name)                                                        \
  BENCHMARK_TEMPLATE(seal_bench, B)->Name("crypto/" name "/seal")->Arg(64)->Arg(576)->Arg(1420);        \
  BENCHMARK_TEMPLATE(open_bench, B)->Name("crypto/" name "/open")->Arg(1420);                           \
  BENCHMARK_TEMPLATE(x25519_bench, B)->Name("crypto/" name "/x25519");                                  \
  BENCHMARK_TEMPLATE(blake2s_bench, B)->Name("crypto/" name "/blake2s")->Arg(148);                      \
  BENCHMARK_TEMPLATE(mac_bench, B)->Name("crypto/" name "/mac")->Arg(116);                              \
  BENCHMARK_TEMPLATE(hmac_bench, B)->Name("crypto/" name "/hmac")->Arg(32);                             \
  BENCHMARK_TEMPLATE(xseal_bench, B)->Name("crypto/" name "/xseal")->Arg(16)

WARREN_BACKEND_BENCHMARKS(fast_backend, "fast");
WARREN_BACKEND_BENCHMARKS(mbedtls_backend, "mbedtls");

// ---- What fast_backend chose against -----------------------------------------------------

void libsodium_seal(benchmark::State& state) {
  if (sodium_init() < 0) std::abort();
  const auto n = static_cast<std::size_t>(state.range(0));
  const auto key = bench_key();
  const auto pt = pattern(n);
  std::vector<std::byte> out(n + tag_size);
  std::uint64_t counter = 0;
  for (auto _ : state) {
    detail::sodium_chacha_seal(key, detail::wireguard_nonce(counter++), pt, byte_view{}, out);
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) * state.range(0));
}
BENCHMARK(libsodium_seal)->Name("crypto/compare/seal_libsodium")->Arg(64)->Arg(256)->Arg(512)->Arg(576)->Arg(1024)->Arg(1420);

// What an OpenSSL X25519 backend call would cost: both keys change from handshake to handshake,
// so each call builds its EVP_PKEYs and derive context.
void openssl_x25519(benchmark::State& state) {
  fast_backend b;
  private_key mine;
  private_key theirs;
  b.generate_private_key(mine);
  b.generate_private_key(theirs);
  public_key pub{};
  b.x25519_public(pub, theirs);
  std::array<unsigned char, key_size> shared{};
  for (auto _ : state) {
    EVP_PKEY* priv = EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, nullptr, detail::uc(mine.data()), key_size);
    EVP_PKEY* peer = EVP_PKEY_new_raw_public_key(EVP_PKEY_X25519, nullptr, detail::uc(pub.data()), key_size);
    EVP_PKEY_CTX* ctx = EVP_PKEY_CTX_new(priv, nullptr);
    std::size_t len = shared.size();
    if (ctx == nullptr || EVP_PKEY_derive_init(ctx) != 1 || EVP_PKEY_derive_set_peer(ctx, peer) != 1 ||
        EVP_PKEY_derive(ctx, shared.data(), &len) != 1)
      state.SkipWithError("OpenSSL X25519 failed");
    EVP_PKEY_CTX_free(ctx);
    EVP_PKEY_free(peer);
    EVP_PKEY_free(priv);
    benchmark::DoNotOptimize(shared.data());
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}
BENCHMARK(openssl_x25519)->Name("crypto/compare/x25519_openssl");

void libb2_blake2s(benchmark::State& state) {
  const auto msg = pattern(static_cast<std::size_t>(state.range(0)));
  const byte_view parts[] = {msg};
  hash_value out{};
  for (auto _ : state) {
    detail::libb2_hash(out, parts);
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}
BENCHMARK(libb2_blake2s)->Name("crypto/compare/blake2s_libb2")->Arg(148);

// EVP_MD with a context kept across calls, as fast_backend used it before libb2 measured faster.
void evp_blake2s(benchmark::State& state) {
  EVP_MD* md = EVP_MD_fetch(nullptr, "BLAKE2S-256", nullptr);
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  const auto msg = pattern(static_cast<std::size_t>(state.range(0)));
  hash_value out{};
  unsigned int len = 0;
  if (md == nullptr || ctx == nullptr) state.SkipWithError("no BLAKE2S-256 in this OpenSSL");
  for (auto _ : state) {
    if (EVP_DigestInit_ex2(ctx, md, nullptr) != 1 || EVP_DigestUpdate(ctx, msg.data(), msg.size()) != 1 ||
        EVP_DigestFinal_ex(ctx, detail::uc(out.data()), &len) != 1)
      state.SkipWithError("EVP digest failed");
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  EVP_MD_CTX_free(ctx);
  EVP_MD_free(md);
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}
BENCHMARK(evp_blake2s)->Name("crypto/compare/blake2s_evp")->Arg(148);

// ChaCha20-Poly1305 through OpenSSL 3's EVP as fast_backend used it before libgcrypt measured
// faster: one context, the key kept, a nonce-only init, update, final and GET_TAG per packet.
void openssl_seal(benchmark::State& state) {
  EVP_CIPHER* cipher = EVP_CIPHER_fetch(nullptr, "ChaCha20-Poly1305", nullptr);
  EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
  const auto n = static_cast<std::size_t>(state.range(0));
  const auto key = bench_key();
  const auto pt = pattern(n);
  std::vector<std::byte> out(n + tag_size);
  std::uint64_t counter = 0;
  if (cipher == nullptr || ctx == nullptr ||
      EVP_CipherInit_ex2(ctx, cipher, detail::uc(key.data()), nullptr, 1, nullptr) != 1)
    state.SkipWithError("no ChaCha20-Poly1305 in this OpenSSL");
  for (auto _ : state) {
    auto nonce = detail::wireguard_nonce(counter++);
    int len = 0;
    if (EVP_EncryptInit_ex2(ctx, nullptr, nullptr, detail::uc(nonce.data()), nullptr) != 1 ||
        EVP_EncryptUpdate(ctx, detail::uc(out.data()), &len, detail::uc(pt.data()), static_cast<int>(n)) != 1 ||
        EVP_EncryptFinal_ex(ctx, detail::uc(out.data() + n), &len) != 1 ||
        EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, static_cast<int>(tag_size), out.data() + n) != 1)
      state.SkipWithError("EVP seal failed");
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  EVP_CIPHER_CTX_free(ctx);
  EVP_CIPHER_free(cipher);
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) * state.range(0));
}
BENCHMARK(openssl_seal)->Name("crypto/compare/seal_openssl")->Arg(64)->Arg(256)->Arg(512)->Arg(576)->Arg(1024)->Arg(1420);

// fast_backend's libgcrypt path forced for every size (what the default does).
void gcrypt_seal(benchmark::State& state) {
  fast_backend b(fast_backend_options{.gcrypt_min_size = 0});
  const auto n = static_cast<std::size_t>(state.range(0));
  const auto key = bench_key();
  const auto pt = pattern(n);
  std::vector<std::byte> out(n + tag_size);
  std::uint64_t counter = 0;
  for (auto _ : state) {
    b.seal(key, counter++, pt, byte_view{}, out);
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) * state.range(0));
}
BENCHMARK(gcrypt_seal)->Name("crypto/compare/seal_libgcrypt")->Arg(64)->Arg(256)->Arg(512)->Arg(576)->Arg(1024)->Arg(1420);

// EVP_MAC with a context kept across calls, re-keyed each time, as a backend would use it.
struct evp_mac_bench {
  EVP_MAC* mac = nullptr;
  EVP_MAC_CTX* ctx = nullptr;
  evp_mac_bench(const char* name, OSSL_PARAM* params) {
    mac = EVP_MAC_fetch(nullptr, name, nullptr);
    if (mac != nullptr) ctx = EVP_MAC_CTX_new(mac);
    if (ctx != nullptr && EVP_MAC_CTX_set_params(ctx, params) != 1) {
      EVP_MAC_CTX_free(ctx);
      ctx = nullptr;
    }
  }
  ~evp_mac_bench() {
    EVP_MAC_CTX_free(ctx);
    EVP_MAC_free(mac);
  }
  evp_mac_bench(const evp_mac_bench&) = delete;
  evp_mac_bench& operator=(const evp_mac_bench&) = delete;

  bool run(byte_view key, byte_view msg, std::byte* out, std::size_t out_size) {
    std::size_t len = 0;
    return EVP_MAC_init(ctx, detail::uc(key.data()), key.size(), nullptr) == 1 &&
           EVP_MAC_update(ctx, detail::uc(msg.data()), msg.size()) == 1 &&
           EVP_MAC_final(ctx, detail::uc(out), &len, out_size) == 1 && len == out_size;
  }
};

void evp_blake2s_mac(benchmark::State& state) {
  unsigned int size = mac_size;
  OSSL_PARAM params[] = {OSSL_PARAM_construct_uint(OSSL_MAC_PARAM_SIZE, &size), OSSL_PARAM_construct_end()};
  evp_mac_bench m("BLAKE2SMAC", params);
  if (m.ctx == nullptr) return state.SkipWithError("no BLAKE2SMAC in this OpenSSL");
  const auto msg = pattern(static_cast<std::size_t>(state.range(0)));
  const auto key = pattern(key_size);
  mac_value out{};
  mac_value expected{};
  const byte_view parts[] = {msg};
  detail::libb2_mac(expected, key, parts);
  if (!m.run(key, msg, out.data(), out.size()) || out != expected)
    return state.SkipWithError("EVP BLAKE2SMAC disagrees with libb2");
  for (auto _ : state) {
    if (!m.run(key, msg, out.data(), out.size())) state.SkipWithError("EVP_MAC failed");
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}
BENCHMARK(evp_blake2s_mac)->Name("crypto/compare/mac_evp")->Arg(116);

void evp_hmac(benchmark::State& state) {
  char digest[] = "BLAKE2S-256";
  OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
                         OSSL_PARAM_construct_end()};
  evp_mac_bench m("HMAC", params);
  if (m.ctx == nullptr) return state.SkipWithError("no HMAC-BLAKE2s in this OpenSSL");
  const auto msg = pattern(static_cast<std::size_t>(state.range(0)));
  const auto key = pattern(key_size);
  hash_value out{};
  hash_value expected{};
  const byte_view parts[] = {msg};
  detail::libb2_hmac(expected, key, parts);
  if (!m.run(key, msg, out.data(), out.size()) || out != expected)
    return state.SkipWithError("EVP HMAC-BLAKE2s disagrees with libb2");
  for (auto _ : state) {
    if (!m.run(key, msg, out.data(), out.size())) state.SkipWithError("EVP_MAC failed");
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}
BENCHMARK(evp_hmac)->Name("crypto/compare/hmac_evp")->Arg(32);

}  // namespace
