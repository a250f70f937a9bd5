#pragma once
// Internals of wireguard::engine: the state it keeps per peer and per session.

#include <warren/core/clock.hpp>
#include <warren/core/packet_buffer.hpp>
#include <warren/crypto/secret.hpp>
#include <warren/wireguard/constants.hpp>
#include <warren/wireguard/cookie.hpp>
#include <warren/wireguard/endpoint.hpp>
#include <warren/wireguard/noise.hpp>
#include <warren/wireguard/replay_window.hpp>
#include <warren/wireguard/tai64n.hpp>

#include <chrono>
#include <cstdint>
#include <deque>
#include <optional>
#include <vector>

namespace warren::wireguard::detail {

// One direction-pair of transport keys (paper §5.4.5) and what is tracked while using them.
struct keypair {
  crypto::symmetric_key send;
  crypto::symmetric_key receive;
  std::uint32_t local_index = 0;
  std::uint32_t remote_index = 0;
  bool initiator = false;
  time_point created{};
  std::uint64_t send_counter = 0;
  replay_window replay;

  static keypair from(session_keys&& k, time_point now) {
    keypair p;
    p.send = k.send;
    p.receive = k.receive;
    p.local_index = k.local_index;
    p.remote_index = k.remote_index;
    p.initiator = k.initiator;
    p.created = now;
    return p;
  }
  bool expired(time_point now) const noexcept {
    return now - created >= reject_after_time || send_counter >= reject_after_messages;
  }
};

struct peer {
  remote_identity id;
  std::vector<packet::ip_prefix> allowed_ips;
  std::optional<endpoint> ep;
  std::chrono::seconds persistent_keepalive{0};

  handshake_state handshake;
  cookie_jar cookies;
  std::optional<keypair> previous, current, next;  // next: responder's, until the peer uses it
  std::optional<tai64n> last_timestamp;
  std::optional<time_point> last_initiation_consumed;
  std::deque<packet_buffer> staged;  // packets waiting for a session

  // Timers (paper §6); nullopt when not running.
  std::optional<time_point> handshake_started;  // first initiation of the current attempt
  std::optional<time_point> last_initiation_sent;
  std::optional<time_point> retransmit_at;
  std::optional<time_point> keepalive_at;
  std::optional<time_point> new_handshake_at;
  std::optional<time_point> zero_keys_at;
  std::optional<time_point> persistent_keepalive_at;

  // What `wg show` reports.
  std::uint64_t rx_bytes = 0;
  std::uint64_t tx_bytes = 0;
  std::optional<std::chrono::system_clock::time_point> last_handshake;

  bool handshake_in_progress() const noexcept { return retransmit_at.has_value(); }

  std::optional<time_point> earliest_deadline() const noexcept {
    std::optional<time_point> d;
    for (const auto& t : {retransmit_at, keepalive_at, new_handshake_at, zero_keys_at, persistent_keepalive_at})
      if (t && (!d || *t < *d)) d = t;
    return d;
  }
};

}  // namespace warren::wireguard::detail
