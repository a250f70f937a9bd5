#include <warren/jit/adapters/client_engine.hpp>  // first: proves the header stands alone
#include <catch2/catch_test_macros.hpp>

#include "route/packets.hpp"
#include "support/wireguard_echo_server.hpp"

#include <warren/packet/ip_packet.hpp>
#include <warren/tun/fd_device.hpp>

#include <asio/io_context.hpp>

#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

// The client engine with real parts but no root: the TUN is one end of a SOCK_SEQPACKET
// socketpair (one packet per message, as a TUN), the servers are WireGuard echo servers on
// 127.0.0.1 (support/wireguard_echo_server.hpp), and probing, handshakes and tunnels are real.
// The namespace test with warren-client, warren-wg and wireguard-go comes on top of this.

using namespace std::chrono_literals;
using namespace warren::test::route_packets;
using warren::packet_buffer;
using warren::jit::client_engine;
using warren::jit::client_engine_options;
using warren::jit::server_entry;
using warren::jit::state_event;
using warren::jit::target_servers;
using warren::jit::tunnel_state;
using warren::route::action;
using warren::route::policy;
using warren::route::rule;
using warren::test::wireguard_echo_server;
namespace crypto = warren::crypto;

namespace {

struct fixture {
  asio::io_context io;
  crypto::default_backend c;
  crypto::private_key key;
  crypto::public_key pub{};
  int app_side = -1;
  std::unique_ptr<wireguard_echo_server> uk_far, uk_near, fr;
  std::unique_ptr<client_engine<warren::tun::fd_device>> engine;
  std::vector<state_event> events;

  explicit fixture(client_engine_options options = {}) {
    c.generate_private_key(key);
    c.x25519_public(pub, key);
    uk_far = std::make_unique<wireguard_echo_server>(io, pub, pfx("10.100.0.2/32"), 60ms);
    uk_near = std::make_unique<wireguard_echo_server>(io, pub, pfx("10.102.0.2/32"));
    fr = std::make_unique<wireguard_echo_server>(io, pub, pfx("10.101.0.2/32"));

    int fds[2];
    REQUIRE(::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds) == 0);
    app_side = fds[1];
    auto dev = warren::tun::fd_device::adopt(fds[0], 1420);
    REQUIRE(dev);
    auto tun = warren::tun::asio_device<warren::tun::fd_device>::create(io.get_executor(), std::move(*dev));
    REQUIRE(tun);

    std::vector<rule> rules(2);
    rules[0].destinations = {pfx("198.18.1.0/24")};
    rules[0].then = action::tunnel("uk");
    rules[1].destinations = {pfx("198.18.2.0/24")};
    rules[1].then = action::tunnel("fr");
    std::vector<target_servers> targets{
        {"uk", {entry("uk-far", *uk_far, "10.100.0.2"), entry("uk-near", *uk_near, "10.102.0.2")}, false},
        {"fr", {entry("fr-1", *fr, "10.101.0.2")}, false}};
    engine = std::make_unique<client_engine<warren::tun::fd_device>>(
        io.get_executor(), std::move(*tun), *policy::make(rules), warren::route::address_pair{ip("10.0.0.1").v4(), {}},
        targets, options);
    engine->on_event([this](const state_event& e) { events.push_back(e); });
    engine->start();
  }
  ~fixture() {
    engine.reset();
    ::close(app_side);
  }

  static warren::packet::ip_prefix pfx(std::string_view t) { return *warren::packet::ip_prefix::parse(t); }
  server_entry entry(std::string id, const wireguard_echo_server& s, std::string_view address) {
    server_entry e;
    e.id = std::move(id);
    e.tunnel.private_key = key;
    e.tunnel.server_key = s.pub;
    e.tunnel.server = s.where();
    e.addresses.v4 = ip(address).v4();
    return e;
  }

  void app_send(const bytes& b) { REQUIRE(::send(app_side, b.data(), b.size(), 0) == static_cast<ssize_t>(b.size())); }
  // Packets the engine wrote to the TUN, read until `count` arrived or 5 s passed.
  std::vector<bytes> app_receive(std::size_t count) {
    std::vector<bytes> got;
    const auto limit = std::chrono::steady_clock::now() + 5s;
    while (got.size() < count && std::chrono::steady_clock::now() < limit) {
      io.run_for(5ms);
      bytes b(2000);
      for (;;) {
        const ssize_t n = ::recv(app_side, b.data(), b.size(), 0);
        if (n <= 0) break;
        got.emplace_back(b.begin(), b.begin() + n);
      }
    }
    return got;
  }
  template <class F>
  bool run_until(F done, std::chrono::milliseconds limit = 5000ms) {
    const auto end = std::chrono::steady_clock::now() + limit;
    while (!done() && std::chrono::steady_clock::now() < end) io.run_for(5ms);
    return done();
  }
  bool saw(std::string_view target, tunnel_state to) const {
    for (const auto& e : events)
      if (e.target == target && e.to == to) return true;
    return false;
  }
};

warren::packet::ip_packet parsed(const bytes& b) {
  auto p = warren::packet::parse_ip(b, warren::packet::verify::checksums);
  REQUIRE(p);
  return *p;
}

}  // namespace

TEST_CASE("client engine: armed until the first packet, which comes back through the nearer server", "[jit]") {
  fixture f;
  f.io.run_for(200ms);
  REQUIRE(f.uk_far->handshakes() + f.uk_near->handshakes() + f.fr->handshakes() == 0);  // armed: nothing yet
  REQUIRE(f.events.empty());

  f.app_send(udp("10.0.0.1", 5000, "198.18.1.7", 7, warren::as_byte_view("first")));
  auto got = f.app_receive(1);
  REQUIRE(got.size() == 1);  // buffered while the tunnel came up, not lost
  auto p = parsed(got[0]);
  REQUIRE(p.destination() == ip("10.0.0.1"));
  REQUIRE(p.source() == ip("198.18.1.7"));
  REQUIRE(f.uk_near->echoed == 1);  // the server that answers probes sooner
  REQUIRE(f.uk_far->echoed == 0);
  REQUIRE(f.saw("uk", tunnel_state::probing));
  REQUIRE(f.saw("uk", tunnel_state::connected));
  REQUIRE(f.engine->status()[0].server == "uk-near");

  // Both regions at once, each through its own tunnel with its own address.
  for (int i = 0; i < 5; ++i) {
    f.app_send(udp("10.0.0.1", 5000, "198.18.1.7", 7));
    f.app_send(tcp("10.0.0.1", 40000, "198.18.2.9", 80, warren::packet::tcp_flags::syn));
  }
  got = f.app_receive(10);
  REQUIRE(got.size() == 10);
  for (const auto& g : got) REQUIRE(parsed(g).destination() == ip("10.0.0.1"));
  REQUIRE(f.fr->echoed == 5);
  REQUIRE(f.uk_near->echoed == 6);
  REQUIRE(f.fr->handshakes() == 1);
  REQUIRE(f.uk_near->handshakes() >= 1);
}

TEST_CASE("client engine: a dead server is left for the other one of its region", "[jit]") {
  client_engine_options o;
  o.check_after = 200ms;
  o.dead_after = 400ms;
  fixture f(o);
  f.app_send(udp("10.0.0.1", 5000, "198.18.1.7", 7));
  REQUIRE(f.app_receive(1).size() == 1);
  REQUIRE(f.uk_near->echoed == 1);
  f.uk_near->stop();
  // Keep sending, as a ping does, until answers come again: through uk-far.
  std::vector<bytes> got;
  const auto limit = std::chrono::steady_clock::now() + 8s;
  while (got.empty() && std::chrono::steady_clock::now() < limit) {
    f.app_send(udp("10.0.0.1", 5000, "198.18.1.7", 7));
    got = f.app_receive(1);
  }
  REQUIRE_FALSE(got.empty());
  REQUIRE(f.uk_far->echoed >= 1);
  bool lost = false;
  for (const auto& e : f.events) lost = lost || e.reason.find("lost") != std::string::npos;
  REQUIRE(lost);
  REQUIRE(f.engine->status()[0].server == "uk-far");
}

TEST_CASE("client engine: an idle tunnel closes and the next packet brings one up again", "[jit]") {
  client_engine_options o;
  o.orchestrator.idle_timeout = 300ms;
  fixture f(o);
  f.app_send(udp("10.0.0.1", 6000, "198.18.2.1", 7));
  REQUIRE(f.app_receive(1).size() == 1);
  REQUIRE(f.run_until([&] { return f.saw("fr", tunnel_state::idle); }));
  REQUIRE(f.engine->status()[1].state == tunnel_state::armed);
  f.app_send(udp("10.0.0.1", 6001, "198.18.2.1", 7));
  REQUIRE(f.app_receive(1).size() == 1);
  REQUIRE(f.fr->echoed == 2);
  REQUIRE(f.fr->handshakes() == 2);
}

TEST_CASE("client engine: stop closes every tunnel and stops reading", "[jit]") {
  fixture f;
  f.app_send(udp("10.0.0.1", 6000, "198.18.2.1", 7));
  REQUIRE(f.app_receive(1).size() == 1);
  f.engine->stop();
  REQUIRE(f.engine->status()[1].state == tunnel_state::armed);
  f.app_send(udp("10.0.0.1", 6000, "198.18.2.1", 7));
  REQUIRE(f.app_receive(1).empty());
  REQUIRE(f.fr->echoed == 1);
}
