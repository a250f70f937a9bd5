#pragma once
// The life of a just-in-time tunnel, one per target (a region, a provider, a named tunnel):
//
//   armed ──first packet──▶ probing ──results──▶ connecting ──handshake──▶ connected
//     ▲                        │ (one candidate: skipped)  │ retries, then the next server
//     │                        ▼                           ▼
//     └──── hold expires ──── failed ◀── every server failed (or: direct, if the rule allows)
//     ▲
//     └──── idle ◀── no traffic for idle_timeout (the tunnel is closed), or the server is lost
//
// Every change is reported as a state_event with a reason a person can read.

#include <warren/core/clock.hpp>

#include <string>
#include <string_view>

namespace warren::jit {

enum class tunnel_state {
  armed,       // no tunnel; the first packet for the target starts one
  probing,     // measuring the candidate servers' latency
  connecting,  // handshaking with the chosen server (retrying, or trying the next)
  connected,   // packets flow
  idle,        // closing after no traffic for the idle timeout (or after the server was lost)
  failed,      // no server could be reached: packets are dropped (or sent direct) for a while
};

inline std::string_view to_string(tunnel_state s) noexcept {
  switch (s) {
    case tunnel_state::armed: return "armed";
    case tunnel_state::probing: return "probing";
    case tunnel_state::connecting: return "connecting";
    case tunnel_state::connected: return "connected";
    case tunnel_state::idle: return "idle";
    case tunnel_state::failed: return "failed";
  }
  return "unknown";
}

struct state_event {
  std::string target;
  tunnel_state from = tunnel_state::armed;
  tunnel_state to = tunnel_state::armed;
  std::string server;  // the server concerned, if any
  std::string reason;  // why, in words: "first packet", "handshake timed out (attempt 2 of 2)", ...
  time_point at{};
};

}  // namespace warren::jit
