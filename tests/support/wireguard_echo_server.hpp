#pragma once
// A WireGuard server for tests: the engine on a real UDP socket on 127.0.0.1, one peer, that
// echoes every packet it receives back with source and destination swapped (which keeps every
// checksum valid: the pseudo-header sum does not depend on the order of the addresses). It can
// hold every datagram it sends for `delay` (a far server) and be stopped (a dead one).
// Free of any test framework, so benchmarks use it too: a setup step that fails throws
// std::runtime_error (which fails a Catch2 test case it escapes from).

#include <warren/core/clock.hpp>
#include <warren/core/packet_buffer.hpp>
#include <warren/crypto/default_backend.hpp>
#include <warren/packet/ip_address.hpp>
#include <warren/packet/ip_packet.hpp>
#include <warren/wireguard/adapters/udp_socket.hpp>
#include <warren/wireguard/engine.hpp>

#include <asio/io_context.hpp>
#include <asio/steady_timer.hpp>

#include <cstring>
#include <memory>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

namespace warren::test {

struct wireguard_echo_server {
  asio::io_context& io;
  crypto::default_backend c;
  wireguard::engine<crypto::default_backend> engine{c};
  std::optional<wireguard::udp_socket> socket;
  crypto::private_key key;
  crypto::public_key pub{};
  duration delay{};
  bool running = true;
  bool echo = true;  // false: take packets in silently (a flow whose last packet needs no answer)
  std::size_t echoed = 0, received = 0;

  wireguard_echo_server(asio::io_context& context, const crypto::public_key& client, const packet::ip_prefix& client_address,
                        duration reply_delay = {})
      : io(context), delay(reply_delay) {
    c.generate_private_key(key);
    c.x25519_public(pub, key);
    engine.set_private_key(key);
    if (auto r = engine.set_peer({.public_key = client, .allowed_ips = {client_address}}); !r)
      throw std::runtime_error("wireguard_echo_server: the engine refused the client as its peer: " + r.error().message());
    auto s = wireguard::udp_socket::open(io.get_executor(), false, 0);
    if (!s) throw std::runtime_error("wireguard_echo_server: could not open its UDP socket: " + s.error().message());
    socket.emplace(std::move(*s));
    wait();
  }
  wireguard::endpoint where() const { return {packet::ipv4_address{{127, 0, 0, 1}}, socket->port()}; }
  std::uint64_t handshakes() const { return engine.counters().handshakes_completed; }

  void wait() {
    socket->async_wait_readable([this](std::error_code ec) {
      if (ec || !running) return;
      while (serve_batch()) {
      }
      wait();
    });
  }
  // One batch; false once the socket had nothing left (the reads are non-blocking).
  bool serve_batch() {
    std::vector<packet_buffer> batch(8);
    for (auto& b : batch) b = packet_buffer::allocate();
    std::vector<wireguard::endpoint> from(batch.size());
    auto n = socket->receive_batch(batch, from);
    if (!n || *n == 0) return false;
    auto out = std::make_shared<wireguard::engine_output>();
    const time_point now = steady_clock_source{}.now();
    for (std::size_t i = 0; i < *n; ++i) (void)engine.on_datagram(from[i], std::move(batch[i]), now, *out);
    std::vector<packet_buffer> replies;
    received += out->packets.size();
    if (!echo) out->packets.clear();
    for (auto& p : out->packets) {
      auto parsed = packet::parse_ip(p.bytes());
      if (!parsed || parsed->is_v6()) continue;
      const auto src = parsed->source(), dst = parsed->destination();
      std::memcpy(p.data() + 12, dst.bytes().data(), 4);
      std::memcpy(p.data() + 16, src.bytes().data(), 4);
      replies.push_back(std::move(p));
      ++echoed;
    }
    out->packets.clear();
    for (auto& r : replies) (void)engine.on_packet(std::move(r), now, *out);
    if (delay == duration{}) {
      send(*out);
    } else {
      auto t = std::make_shared<asio::steady_timer>(io, delay);
      t->async_wait([this, t, out](std::error_code ec) {
        if (!ec && running) send(*out);
      });
    }
    return true;
  }
  void send(wireguard::engine_output& out) {
    std::vector<wireguard::datagram*> list;
    for (auto& d : out.datagrams) list.push_back(&d);
    socket->send_batch(std::span(list));
    out.datagrams.clear();
  }
  void stop() {
    running = false;
    socket->close();
  }
};

}  // namespace warren::test
