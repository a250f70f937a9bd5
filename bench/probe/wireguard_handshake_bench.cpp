// wireguard_handshake: the client's CPU cost of one WireGuard probe sample, which the round trip
// it reports leaves out. "initiation" builds a fresh engine and its initiation (our public key,
// the static-static and ephemeral X25519 operations); "sample" adds verifying the server's
// response (two more X25519). The server's side runs outside the timed region. Items per second
// is how many samples one core can take: with hundreds of candidates, the probe's own CPU, not
// the network, may bound how fast a round can go.
#include <warren/probe/wireguard_handshake.hpp>

#include <warren/crypto/default_backend.hpp>
#include <warren/wireguard/engine.hpp>

#include <benchmark/benchmark.h>

#include <chrono>

namespace {

using namespace warren;
using backend = crypto::default_backend;

struct keys_fixture {
  backend crypto;
  crypto::private_key client_key, server_key;
  crypto::public_key client_pub{}, server_pub{};
  keys_fixture() {
    crypto.generate_private_key(client_key);
    crypto.generate_private_key(server_key);
    crypto.x25519_public(client_pub, client_key);
    crypto.x25519_public(server_pub, server_key);
  }
  probe::wireguard_keys keys() const { return {client_key, server_pub, {}}; }
};

void BM_wireguard_probe_initiation(benchmark::State& state) {
  keys_fixture f;
  time_point now{};
  auto wall = std::chrono::system_clock::now();
  for (auto _ : state) {
    auto a = probe::wireguard_handshake<backend>::start(f.crypto, f.keys(), now, wall);
    if (!a) state.SkipWithError("no initiation");
    benchmark::DoNotOptimize(a);
    now += std::chrono::milliseconds(50);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_wireguard_probe_initiation);

void BM_wireguard_probe_sample(benchmark::State& state) {
  keys_fixture f;
  backend server_crypto;
  wireguard::engine<backend> server(server_crypto);
  server.set_private_key(f.server_key);
  if (!server.set_peer({.public_key = f.client_pub})) state.SkipWithError("no peer");
  const auto from = *wireguard::endpoint::parse("198.51.100.7:40000");
  time_point now{};
  auto wall = std::chrono::system_clock::now();
  for (auto _ : state) {
    // Timestamps and the server's rate limit want 50 ms between initiations; time is a value.
    now += std::chrono::milliseconds(50);
    wall += std::chrono::milliseconds(50);
    auto a = probe::wireguard_handshake<backend>::start(f.crypto, f.keys(), now, wall);
    state.PauseTiming();
    wireguard::engine_output out;
    if (a) (void)server.on_datagram(from, packet_buffer::copy_of(a->initiation()), now, out);
    state.ResumeTiming();
    if (!a || out.datagrams.size() != 1 || !a->on_datagram(out.datagrams[0].bytes.bytes(), now)) {
      state.SkipWithError("no handshake response");
      break;
    }
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_wireguard_probe_sample);

}  // namespace
