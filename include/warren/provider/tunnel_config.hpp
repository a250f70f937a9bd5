#pragma once
// tunnel_config: what a provider hands back for a chosen server, ready to bring a tunnel up.
// For WireGuard it is a wg-quick config: the interface (private key, addresses, DNS, MTU) and
// one peer (the server's public key, endpoint, allowed IPs and keepalive). An app writes it
// with wg_quick::write for wg-quick, or applies it to warren's own engine.

#include <warren/provider/wg_quick.hpp>

#include <string>

namespace warren::provider {

// A value type; it holds the interface's private key (wiped on destruction).
struct tunnel_config {
  std::string server_id;      // the server it was generated for
  wg_quick::config wireguard;

  friend bool operator==(const tunnel_config&, const tunnel_config&) = default;
};

}  // namespace warren::provider
