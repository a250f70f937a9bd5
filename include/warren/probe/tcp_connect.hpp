#pragma once
// The TCP handshake probe: the time connect() takes is one round trip (SYN out, SYN-ACK back;
// the kernel sends the final ACK without waiting). It needs no root, unlike ICMP echo, and it
// reaches servers that drop ping. The adapter opens a socket per sample and closes it as soon
// as connect() returns, so the server sees a connection that ends at once.
//
// A closed port on a live host answers the SYN with an RST, which also takes one round trip:
// by default that counts as a measured sample (noted errc::refused), so a server whose probed
// port is closed can still be ranked. Turn count_refused off when the RST may come from a
// middlebox near the client (some firewalls reject on the servers' behalf), which would make a
// far server look near.

#include <warren/probe/error.hpp>

#include <system_error>

namespace warren::probe {

struct tcp_probe {
  bool count_refused = true;
};

// How a finished connect() counts: as a round trip or as a loss, and why.
struct connect_outcome {
  bool measured = false;
  std::error_code error;  // the loss's reason; for a measured refusal, errc::refused as a note
};

// `ec` is connect()'s result in the system or generic category.
inline connect_outcome classify_connect(std::error_code ec, const tcp_probe& p) noexcept {
  if (!ec) return {true, {}};
  auto why = classify_socket_error(ec);
  if (why == errc::refused) return {p.count_refused, why};
  return {false, why};
}

}  // namespace warren::probe
