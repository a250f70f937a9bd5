// jit::client_engine: first-packet-to-flush time on loopback, in wall-clock time (manual timing).
//
//   jit/client_engine/first_packet/servers:1   one server for the target, so no probing: the
//                                               first packet of a flow waits while the engine
//                                               does a WireGuard handshake with the server, then
//                                               is flushed through the new tunnel.
//   jit/client_engine/first_packet/servers:2   two servers: the engine probes both (a WireGuard
//                                               handshake per sample, with its default probe
//                                               options: 3 samples 50 ms apart), picks one, and
//                                               then connects as above.
//   jit/client_engine/connected_round_trip     for contrast, a packet on a tunnel that is already
//                                               up: the steady-state round trip.
//
// Each timed region is exactly: the app writes the packet into its end of the "TUN" → the
// engine reads it (and, for a first packet, holds it, probes, connects) → it goes through the
// tunnel → the echo server answers → the reply, decrypted and NATed back, arrives on the app's
// end. The clock stops when recv() on the app's end returns the reply; the io_context is run one
// handler at a time and the app's end checked after each, so the stop is not quantised by a
// polling interval. The reply must come within 5 s and be the echo (from 198.18.1.7 to
// 10.0.0.1), else the benchmark fails with SkipWithError.
//
// The fixture is the one of tests/jit/client_engine_test.cpp: the TUN is one end of a
// SOCK_SEQPACKET socketpair (one packet per message, as a TUN), the servers are WireGuard echo
// servers on 127.0.0.1 (tests/support/wireguard_echo_server.hpp), and the engine, its prober and
// its tunnels are the real ones. Everything runs on one io_context on this thread, servers
// included, so their handshake and echo work is inside the figures (on a real network it runs
// on another machine, in parallel with nothing of ours). The first-packet runs build a fresh
// fixture per iteration (fresh keys, servers, sockets and an armed engine) outside the timed
// region and destroy it after; the connected run keeps one whose tunnel the warm-up packet
// brought up. The servers are warmed up (fixture::warm) as a long-running server would be, so
// that what remains is the client's side; the client's tunnel socket is new with each connect,
// so its own first receive (the handshake response) sets up its 2 MiB GRO buffer inside the
// timed region, as it does for an app.
//
// The time column is the mean per iteration, which an odd slow iteration (a page-faulting
// allocation, another process on the core) pulls up; the counters give the distribution over
// the iterations of the run, in seconds (so "141m" reads 141 ms and "850u" 850 us):
//   median, min, max   of the whole first-packet-to-reply time;
//   intake             median from the write to the orchestrator's first decision (probing or
//                      connecting): the engine's read of the TUN;
//   probe              median probing → connecting (servers:2 only): the probe round;
//   connect            median connecting → connected: opening the tunnel and the handshake
//                      (both sides' crypto, the new socket's first receive), plus, after probing,
//                      the engine's wait until probe::wireguard_min_gap (40 ms) after the probe
//                      round ended, for the server's replay check and initiation rate limit;
//   flush              median connected → reply: the held packet through the tunnel and back.
// (State changes are timed by the `now` the orchestrator was given, see the fixture.)
// For the spread of the means, add --benchmark_repetitions=5 (Google Benchmark then also
// reports their median). Example:
//   warren_bench --benchmark_filter=client_engine
#include <warren/jit/adapters/client_engine.hpp>

#include "route/packets.hpp"
#include "support/wireguard_echo_server.hpp"

#include <warren/crypto/default_backend.hpp>
#include <warren/packet/ip_packet.hpp>
#include <warren/route/policy.hpp>
#include <warren/tun/adapters/asio_device.hpp>
#include <warren/tun/fd_device.hpp>

#include <asio/io_context.hpp>

#include <benchmark/benchmark.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstddef>
#include <exception>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace {

using namespace std::chrono_literals;
using namespace warren::test::route_packets;
using warren::jit::client_engine;
using warren::jit::server_entry;
using warren::jit::state_event;
using warren::jit::target_servers;
using warren::jit::tunnel_state;
using warren::test::wireguard_echo_server;
namespace crypto = warren::crypto;
using wall = std::chrono::steady_clock;
using engine_type = client_engine<warren::tun::fd_device>;

constexpr auto reply_limit = 5s;
constexpr std::string_view app_address = "10.0.0.1";
constexpr std::string_view far_address = "198.18.1.7";  // inside the rule's 198.18.1.0/24

warren::packet::ip_prefix pfx(std::string_view t) { return *warren::packet::ip_prefix::parse(t); }

// Closes its descriptor, also when the fixture's constructor throws.
struct owned_fd {
  int fd = -1;
  owned_fd() = default;
  owned_fd(const owned_fd&) = delete;
  owned_fd& operator=(const owned_fd&) = delete;
  ~owned_fd() {
    if (fd >= 0) ::close(fd);
  }
};

// An armed engine with one target, "uk" (198.18.1.0/24), served by `server_count` echo servers;
// server i assigns the client 10.(100 + i).0.2. Throws std::runtime_error if a step fails.
struct fixture {
  asio::io_context io;
  crypto::default_backend c;
  crypto::private_key key;
  crypto::public_key pub{};
  owned_fd app;  // the app's end of the "TUN"
  std::vector<std::unique_ptr<wireguard_echo_server>> servers;
  std::unique_ptr<engine_type> engine;  // destroyed first: before the servers, the TUN and io
  std::vector<std::pair<tunnel_state, wall::time_point>> events;  // each change, when decided

  explicit fixture(std::size_t server_count) {
    c.generate_private_key(key);
    c.x25519_public(pub, key);
    std::vector<server_entry> entries;
    for (std::size_t i = 0; i < server_count; ++i) {
      const std::string address = "10." + std::to_string(100 + i) + ".0.2";
      servers.push_back(std::make_unique<wireguard_echo_server>(io, pub, pfx(address + "/32")));
      warm(*servers.back());
      server_entry e;
      e.id = "uk-" + std::to_string(i);
      e.tunnel.private_key = key;
      e.tunnel.server_key = servers.back()->pub;
      e.tunnel.server = servers.back()->where();
      e.addresses.v4 = ip(address).v4();
      entries.push_back(std::move(e));
    }

    int fds[2];
    if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds) != 0)
      throw std::runtime_error("no SOCK_SEQPACKET socketpair for the TUN");
    app.fd = fds[1];
    auto dev = warren::tun::fd_device::adopt(fds[0], 1420);
    if (!dev) throw std::runtime_error("fd_device::adopt failed: " + dev.error().message());
    auto tun = warren::tun::asio_device<warren::tun::fd_device>::create(io.get_executor(), std::move(*dev));
    if (!tun) throw std::runtime_error("asio_device::create failed: " + tun.error().message());

    std::vector<warren::route::rule> rules(1);
    rules[0].destinations = {pfx("198.18.1.0/24")};
    rules[0].then = warren::route::action::tunnel("uk");
    auto rules_made = warren::route::policy::make(rules);
    if (!rules_made) throw std::runtime_error("the rules were refused");
    engine = std::make_unique<engine_type>(io.get_executor(), std::move(*tun), std::move(*rules_made),
                                           warren::route::address_pair{ip(app_address).v4(), {}},
                                           std::vector<target_servers>{{"uk", std::move(entries), false}});
    // When the orchestrator decided (the `now` it was given), not when the engine got round to
    // reporting it: the engine reports a change after carrying out the commands that came with
    // it, such as opening the tunnel and building its handshake initiation.
    engine->on_event([this](const state_event& e) {
      events.emplace_back(e.to, wall::time_point(std::chrono::duration_cast<wall::duration>(e.at.time_since_epoch())));
    });
    engine->start();
    io.poll();  // whatever start() posted: the engine is armed and waiting on the TUN
  }
  fixture(const fixture&) = delete;
  fixture& operator=(const fixture&) = delete;

  // A server that has been running has received before; a fresh one's first receive sets up
  // its socket's GRO buffer (udp_socket::read_gro: 32 slots of 64 KiB, zero-filled), which costs
  // about a millisecond of page faults. One junk datagram (dropped by the engine) does that here.
  static void warm(wireguard_echo_server& s) {
    const int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) throw std::runtime_error("no UDP socket to warm the echo server up with");
    sockaddr_in to{};
    to.sin_family = AF_INET;
    to.sin_port = htons(s.where().port);
    to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    const std::array<std::byte, 32> junk{};  // message type 0: no WireGuard message
    const ssize_t sent = ::sendto(fd, junk.data(), junk.size(), 0, reinterpret_cast<const sockaddr*>(&to), sizeof to);
    ::close(fd);
    if (sent != static_cast<ssize_t>(junk.size()) || !s.serve_batch())
      throw std::runtime_error("the echo server did not receive the warm-up datagram");
  }

  std::optional<wall::time_point> first(tunnel_state s) const {
    for (const auto& [to, at] : events)
      if (to == s) return at;
    return std::nullopt;
  }
};

struct trip {
  std::string error;  // empty: the echo came back
  wall::time_point start{}, end{};
};

// The timed region: writes `pkt` into the app's end and runs the engine until the reply is read
// back from it, or reply_limit has passed.
trip round_trip(fixture& f, const bytes& pkt) {
  trip t;
  std::array<std::byte, 2048> buf{};
  t.start = wall::now();
  if (::send(f.app.fd, pkt.data(), pkt.size(), 0) != static_cast<ssize_t>(pkt.size())) {
    t.error = "the app could not write its packet into the TUN";
    return t;
  }
  const auto limit = t.start + reply_limit;
  for (;;) {
    const ssize_t n = ::recv(f.app.fd, buf.data(), buf.size(), 0);
    if (n > 0) {
      t.end = wall::now();
      const auto p = warren::packet::parse_ip(std::span(buf).first(static_cast<std::size_t>(n)),
                                              warren::packet::verify::checksums);
      if (!p) t.error = "the reply on the TUN is not a valid IP packet";
      else if (p->destination() != ip(app_address) || p->source() != ip(far_address))
        t.error = "the reply on the TUN is not the echo (to 10.0.0.1 from 198.18.1.7)";
      return t;
    }
    const auto now = wall::now();
    if (now >= limit) {
      t.error = "no reply on the TUN within 5 s";
      return t;
    }
    if (f.io.stopped()) f.io.restart();
    f.io.run_one_for(limit - now);
  }
}

double seconds(wall::duration d) { return std::chrono::duration<double>(d).count(); }

double median(std::vector<double> v) {
  if (v.empty()) return 0.0;
  std::sort(v.begin(), v.end());
  const std::size_t m = v.size() / 2;
  return v.size() % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
}

void report(benchmark::State& state, const std::vector<double>& total) {
  if (total.empty()) return;
  state.counters["median"] = median(total);
  state.counters["min"] = *std::min_element(total.begin(), total.end());
  state.counters["max"] = *std::max_element(total.begin(), total.end());
}

// A flow's first packet, each iteration with a fresh armed engine.
void first_packet(benchmark::State& state) {
  const auto server_count = static_cast<std::size_t>(state.range(0));
  const bool probes = server_count > 1;
  const bytes pkt = udp(app_address, 5000, far_address, 7, warren::as_byte_view("first"));
  std::vector<double> total, intake, probe, connect, flush;
  for (auto _ : state) {
    std::unique_ptr<fixture> f;
    try {
      f = std::make_unique<fixture>(server_count);
    } catch (const std::exception& e) {
      state.SkipWithError(("the fixture could not be set up: " + std::string(e.what())).c_str());
      break;
    }
    const trip t = round_trip(*f, pkt);
    if (!t.error.empty()) {
      state.SkipWithError(t.error.c_str());
      break;
    }
    state.SetIterationTime(seconds(t.end - t.start));

    const auto probing = f->first(tunnel_state::probing);
    const auto connecting = f->first(tunnel_state::connecting);
    const auto connected = f->first(tunnel_state::connected);
    if (!connecting || !connected || probing.has_value() != probes) {
      state.SkipWithError(probes ? "the target did not go armed → probing → connecting → connected"
                                 : "the target did not go armed → connecting → connected");
      break;
    }
    total.push_back(seconds(t.end - t.start));
    intake.push_back(seconds((probing ? *probing : *connecting) - t.start));
    if (probing) probe.push_back(seconds(*connecting - *probing));
    connect.push_back(seconds(*connected - *connecting));
    flush.push_back(seconds(t.end - *connected));
    f.reset();  // destroyed here, outside the timed region, before the next one is made
  }
  if (state.error_occurred()) return;
  report(state, total);
  state.counters["intake"] = median(intake);
  if (probes) state.counters["probe"] = median(probe);
  state.counters["connect"] = median(connect);
  state.counters["flush"] = median(flush);
}
BENCHMARK(first_packet)
    ->Name("jit/client_engine/first_packet")
    ->ArgName("servers")
    ->Arg(1)
    ->Arg(2)
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond)
    ->Iterations(20);

// A packet of a flow whose tunnel is up: the warm-up packet brought it up, outside the loop.
void connected_round_trip(benchmark::State& state) {
  std::unique_ptr<fixture> f;
  try {
    f = std::make_unique<fixture>(1);
  } catch (const std::exception& e) {
    return state.SkipWithError(("the fixture could not be set up: " + std::string(e.what())).c_str());
  }
  const bytes pkt = udp(app_address, 5000, far_address, 7, warren::as_byte_view("steady"));
  if (const trip warm = round_trip(*f, pkt); !warm.error.empty())
    return state.SkipWithError(("warm-up: " + warm.error).c_str());
  if (!f->first(tunnel_state::connected)) return state.SkipWithError("warm-up: the target did not connect");

  std::vector<double> total;
  for (auto _ : state) {
    const trip t = round_trip(*f, pkt);
    if (!t.error.empty()) {
      state.SkipWithError(t.error.c_str());
      break;
    }
    state.SetIterationTime(seconds(t.end - t.start));
    total.push_back(seconds(t.end - t.start));
  }
  if (state.error_occurred()) return;
  if (f->servers[0]->handshakes() != 1) return state.SkipWithError("the tunnel handshook again while connected");
  report(state, total);
}
BENCHMARK(connected_round_trip)
    ->Name("jit/client_engine/connected_round_trip")
    ->UseManualTime()
    ->Unit(benchmark::kMicrosecond)
    ->Iterations(200);

}  // namespace
