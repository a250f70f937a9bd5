#pragma once
// The WireGuard handshake probe: one real handshake initiation to the server, timed until its
// handshake response (or, from a server under load, its cookie reply) arrives and verifies.
// It measures the server's own WireGuard port, the path the tunnel will take, through
// firewalls that pass nothing else. A WireGuard server stays silent to anyone it does not know
// (paper §5.1): it answers only an initiation from a configured peer, so the probe takes our
// private key and the server's public key, as the tunnel would.
//
// Each attempt is its own wireguard::engine with the server as its only peer: a packet for the
// server starts the handshake as the first packet of a tunnel would, and the initiation the
// engine hands out is what the adapter sends. The packet itself is never sent: the probe stops
// at the response, and the engine (its keys, its staged packet) is dropped with the attempt.
// A fresh engine per attempt means a late response from an earlier attempt finds no session
// index here and is ignored, as the sampler requires.
//
// Pacing: a server drops an initiation that comes within 20 ms of the previous one from the
// same key (wireguard::initiation_rate_interval), and one whose TAI64N timestamp is not newer
// (timestamps are whitened to 16.8 ms); keep attempts at least wireguard_min_gap apart, which
// the prober does.
//
// Caution: probing the server of a live tunnel with that tunnel's key makes the server take
// the probe's socket as the peer's new endpoint (roaming, paper §5.4.6) until the tunnel's
// next packet; probe that server with the tunnel's own socket or another probe kind.
//
// Ownership: holds a reference to the crypto backend, which must outlive the attempt. Movable;
// not thread-safe.

#include <warren/core/bytes.hpp>
#include <warren/core/clock.hpp>
#include <warren/core/expected.hpp>
#include <warren/core/packet_buffer.hpp>
#include <warren/crypto/backend.hpp>
#include <warren/crypto/secret.hpp>
#include <warren/packet/ip_address.hpp>
#include <warren/probe/error.hpp>
#include <warren/wireguard/constants.hpp>
#include <warren/wireguard/endpoint.hpp>
#include <warren/wireguard/engine.hpp>
#include <warren/wireguard/messages.hpp>

#include <chrono>
#include <cstring>
#include <memory>

namespace warren::probe {

struct wireguard_keys {
  crypto::private_key private_key;         // ours: the server must list its public key
  crypto::public_key server_public_key{};
  crypto::symmetric_key preshared_key{};   // zeros: none
};

struct wireguard_probe {
  wireguard_keys keys;
};

// Least time from one attempt's end to the next initiation: twice the server's rate limit,
// so arrival jitter of up to 20 ms does not get the next initiation dropped as a flood.
inline constexpr duration wireguard_min_gap = 2 * std::chrono::duration_cast<duration>(wireguard::initiation_rate_interval);

enum class wireguard_reply {
  handshake_response,  // the server knows our key and completed the handshake
  cookie_reply,        // the server is under load and asks for a cookie: it is alive and
                       // knows our key (it checked mac1), so the round trip counts
};

template <crypto::backend Crypto>
class wireguard_handshake {
 public:
  // Builds the initiation at monotonic `now`, when the wall clock read `wall_now` (for the
  // TAI64N timestamp). errc::bad_target if the keys give no initiation (our public key is the
  // server's, or the server's key is a low-order point).
  static result<wireguard_handshake> start(Crypto& crypto, const wireguard_keys& keys, time_point now,
                                           std::chrono::system_clock::time_point wall_now) {
    auto eng = std::make_unique<wireguard::engine<Crypto>>(
        crypto, wireguard::engine_options{.wall_anchor = wall_now, .mono_anchor = now});
    eng->set_private_key(keys.private_key);
    auto bad = unexpected(make_error_code(errc::bad_target));
    if (!eng->set_peer({.public_key = keys.server_public_key,
                        .preshared_key = keys.preshared_key,
                        .endpoint = server_placeholder(),
                        .allowed_ips = {packet::ip_prefix{trigger_destination(), 32}}}))
      return bad;
    wireguard::engine_output out;
    if (!eng->on_packet(trigger_packet(), now, out)) return bad;
    if (out.datagrams.size() != 1) return bad;
    auto type = wireguard::classify(out.datagrams[0].bytes.bytes());
    if (!type || *type != wireguard::message_type::initiation) return bad;
    return wireguard_handshake(std::move(eng), std::move(out.datagrams[0].bytes));
  }

  // The datagram to send to the server's WireGuard port.
  byte_view initiation() const noexcept { return initiation_.bytes(); }

  // A datagram from the server. An error means it is not the answer to this initiation
  // (errc::bad_reply for another message type or a second answer, or the wireguard::errc that
  // rejected it: a forged, corrupted or stale reply): ignore it and keep waiting.
  // Read `now` when the datagram arrived, before calling: the check costs two X25519
  // operations, which are not network time.
  result<wireguard_reply> on_datagram(byte_view d, time_point now) {
    auto type = wireguard::classify(d);
    bool answer = type && (*type == wireguard::message_type::response || *type == wireguard::message_type::cookie_reply);
    if (!answer || answered_) return unexpected(make_error_code(errc::bad_reply));
    auto completed = engine_->counters().handshakes_completed;
    wireguard::engine_output out;  // the keepalive or staged packet that would follow: dropped
    auto r = engine_->on_datagram(server_placeholder(), packet_buffer::copy_of(d), now, out);
    if (!r) return unexpected(r.error());
    if (*type == wireguard::message_type::response) {
      if (engine_->counters().handshakes_completed == completed) return unexpected(make_error_code(errc::bad_reply));
      answered_ = true;
      return wireguard_reply::handshake_response;
    }
    answered_ = true;
    return wireguard_reply::cookie_reply;
  }

 private:
  wireguard_handshake(std::unique_ptr<wireguard::engine<Crypto>> eng, packet_buffer initiation)
      : engine_(std::move(eng)), initiation_(std::move(initiation)) {}

  // The engine wants the peer's address; the adapter owns the real one, so any will do.
  static wireguard::endpoint server_placeholder() noexcept {
    return {packet::ipv4_address{{192, 0, 2, 1}}, 51820};
  }
  // A documentation address (RFC 5737) routed to the server inside the engine only.
  static packet::ip_address trigger_destination() noexcept { return packet::ipv4_address{{192, 0, 2, 2}}; }

  // The smallest packet the engine routes: a bare IPv4 header to trigger_destination().
  static packet_buffer trigger_packet() {
    auto pkt = packet_buffer::allocate();
    auto room = pkt.append(20);
    std::memset(room->data(), 0, 20);
    store_u8(room->data(), 0x45);       // version 4, 5-word header
    store_be16(room->data() + 2, 20);   // total length
    std::memcpy(room->data() + 16, trigger_destination().bytes().data(), 4);
    return pkt;
  }

  std::unique_ptr<wireguard::engine<Crypto>> engine_;
  packet_buffer initiation_;
  bool answered_ = false;
};

}  // namespace warren::probe
