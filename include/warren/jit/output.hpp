#pragma once
// What the orchestrator (jit/orchestrator.hpp) asks of its adapter after each input: packets to
// send or deliver, and commands to probe, connect and close, plus the state changes to report.
// The adapter carries them out with real sockets and tunnels and reports back through the
// orchestrator's on_* calls, quoting the connection id of the command.

#include <warren/core/packet_buffer.hpp>
#include <warren/jit/tunnel_state.hpp>
#include <warren/probe/selection.hpp>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace warren::jit {

// One attempt to bring a tunnel up; ids are never reused, so a late report about an abandoned
// attempt is recognised and ignored.
using connection_id = std::uint64_t;

// A server the target may use. The adapter knows how to probe and connect to it by id (from a
// provider's server list and generated config).
struct candidate {
  std::string server;
  double load = 0.0;  // percent, 0..100, as the provider publishes it
};

struct probe_command {
  std::string target;
  std::vector<candidate> candidates;
};
struct connect_command {
  connection_id connection = 0;
  std::string target;
  std::string server;
};
struct close_command {
  connection_id connection = 0;
  std::string reason;
};

struct output {
  std::vector<std::pair<connection_id, packet_buffer>> to_tunnel;  // encrypt and send
  std::vector<packet_buffer> to_tun;                                // write to the TUN
  std::vector<packet_buffer> direct;                                // the rule said direct
  std::vector<probe_command> probes;
  std::vector<connect_command> connects;
  std::vector<close_command> closes;
  std::vector<state_event> events;

  void clear() {
    to_tunnel.clear();
    to_tun.clear();
    direct.clear();
    probes.clear();
    connects.clear();
    closes.clear();
    events.clear();
  }
  bool empty() const noexcept {
    return to_tunnel.empty() && to_tun.empty() && direct.empty() && probes.empty() && connects.empty() &&
           closes.empty() && events.empty();
  }
};

}  // namespace warren::jit
