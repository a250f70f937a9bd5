#pragma once
// echo_responder: the sans-IO server side of the UDP echo probe (udp_echo.hpp). A VPN server
// runs one (adapters/udp_echo_responder.hpp) so that clients can measure the round trip to it
// with the same path and port class as their tunnel traffic, without root and without ICMP.
//
// It answers requests only, with a reply of exactly the request's size: an attacker who spoofs
// a victim's address gets no amplification. A token bucket bounds the replies per second in
// all, so a flood of spoofed requests costs the victim at most that rate; a client probing at
// a few samples a second is far below it. Anything else is counted and dropped unanswered.
//
// A value type; not thread-safe.

#include <warren/core/bytes.hpp>
#include <warren/core/clock.hpp>
#include <warren/probe/udp_echo.hpp>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <optional>

namespace warren::probe {

struct echo_responder_options {
  double replies_per_second = 1000;  // sustained rate, over all clients
  double burst = 100;                // replies allowed at once after a quiet spell
};

struct echo_responder_counters {
  std::uint64_t echoed = 0;
  std::uint64_t not_requests = 0;  // wrong magic, type or size: never answered
  std::uint64_t rate_limited = 0;  // requests above the rate: dropped
};

class echo_responder {
 public:
  explicit echo_responder(echo_responder_options options = {}) : options_(options), tokens_(options.burst) {}

  // A datagram arrived at `now`. True if it is a request within the rate: it has been turned
  // into its reply in place, to be sent back to where it came from.
  bool on_datagram(mutable_byte_view d, time_point now) {
    if (!is_echo_request(d)) {
      ++counters_.not_requests;
      return false;
    }
    refill(now);
    if (tokens_ < 1) {
      ++counters_.rate_limited;
      return false;
    }
    tokens_ -= 1;
    (void)make_echo_reply(d);
    ++counters_.echoed;
    return true;
  }

  const echo_responder_counters& counters() const noexcept { return counters_; }

 private:
  void refill(time_point now) {
    if (last_ && now > *last_) {
      double seconds = std::chrono::duration<double>(now - *last_).count();
      tokens_ = std::min(options_.burst, tokens_ + seconds * options_.replies_per_second);
    }
    if (!last_ || now > *last_) last_ = now;
  }

  echo_responder_options options_;
  double tokens_;
  std::optional<time_point> last_;
  echo_responder_counters counters_;
};

}  // namespace warren::probe
