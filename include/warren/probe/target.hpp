#pragma once
// target: one candidate to probe, its address and the kind of probe:
//
//   tcp_probe        the time connect() takes to the address (tcp_connect.hpp)
//   udp_echo_probe   a request to an echo responder and its exact echo (udp_echo.hpp)
//   wireguard_probe  a WireGuard handshake initiation and its response (wireguard_handshake.hpp)
//
// Pick the kind the server supports: TCP works against any open (or closed, see
// tcp_probe::count_refused) port; UDP echo needs the responder on the server; WireGuard needs
// the server to know our key, and measures exactly the tunnel's path.

#include <warren/core/clock.hpp>
#include <warren/probe/tcp_connect.hpp>
#include <warren/probe/udp_echo.hpp>
#include <warren/probe/wireguard_handshake.hpp>
#include <warren/wireguard/endpoint.hpp>

#include <cstddef>
#include <string>
#include <variant>

namespace warren::probe {

// An address and port. The same type the WireGuard core uses, so a server's endpoint from a
// provider's list goes in unchanged.
using endpoint = wireguard::endpoint;

struct udp_echo_probe {
  std::size_t size = echo_min_size;  // datagram size, echo_min_size .. echo_max_size
};

using probe_kind = std::variant<tcp_probe, udp_echo_probe, wireguard_probe>;

// `id` names the candidate in results and in selection (selection.hpp's candidate::id), and
// should stay the same from one round of probing to the next.
struct target {
  std::string id;
  endpoint address;
  probe_kind kind;
};

// The least time between one sample's end and the next send that the kind allows.
inline duration min_gap(const probe_kind& kind) noexcept {
  return std::holds_alternative<wireguard_probe>(kind) ? wireguard_min_gap : duration{};
}

}  // namespace warren::probe
