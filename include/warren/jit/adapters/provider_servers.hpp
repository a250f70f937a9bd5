#pragma once
// From a provider to the servers a client_engine target may use: fetch the provider's list,
// keep the servers of a region, and turn each one's generated tunnel config into a
// server_entry (keys, endpoint, keepalive, MTU, and the addresses the server assigns us).
//
// Endpoints must be IP addresses: a host name would need a resolver on the datapath's thread,
// which this step does not run; such a server is refused with a clear reason (and the others
// of the region are still used).

#include <warren/core/clock.hpp>
#include <warren/core/expected.hpp>
#include <warren/jit/adapters/client_engine.hpp>
#include <warren/packet/ip_address.hpp>
#include <warren/provider/provider.hpp>
#include <warren/provider/server.hpp>
#include <warren/provider/tunnel_config.hpp>

#include <chrono>
#include <string>
#include <utility>
#include <vector>

namespace warren::jit {

// The server_entry for a generated config, or a sentence saying what is missing.
inline expected<server_entry, std::string> server_entry_from(const provider::tunnel_config& c, double load = 0.0) {
  const auto& wg = c.wireguard;
  if (!wg.interface.private_key) return unexpected(std::string("the config has no PrivateKey"));
  if (wg.peers.size() != 1) return unexpected("the config has " + std::to_string(wg.peers.size()) + " peers, not one");
  const auto& peer = wg.peers.front();
  if (!peer.endpoint) return unexpected(std::string("the peer has no Endpoint"));
  const auto address = peer.endpoint->address();
  if (!address)
    return unexpected("the endpoint '" + peer.endpoint->to_string() + "' is a host name; give an IP address");
  server_entry e;
  e.id = c.server_id;
  e.load = load;
  e.tunnel.private_key = *wg.interface.private_key;
  e.tunnel.server_key = peer.public_key;
  if (peer.preshared_key) e.tunnel.preshared_key = *peer.preshared_key;
  e.tunnel.server = {*address, peer.endpoint->port};
  e.tunnel.persistent_keepalive = std::chrono::seconds(peer.persistent_keepalive.value_or(0));
  e.tunnel.allowed_ips = peer.allowed_ips;
  if (wg.interface.mtu) e.tunnel.mtu = *wg.interface.mtu;
  for (const auto& a : wg.interface.addresses) {
    if (a.address.is_v4() && !e.addresses.v4) e.addresses.v4 = a.address.v4();
    if (a.address.is_v6() && !e.addresses.v6) e.addresses.v6 = a.address.v6();
  }
  if (!e.addresses.v4 && !e.addresses.v6) return unexpected(std::string("the config has no Address"));
  return e;
}

struct region_servers {
  std::vector<server_entry> servers;
  std::vector<std::string> refused;  // "id: why", for servers of the region that cannot be used
};

// The region's servers of provider `p`, ready for a target_servers. Errors: the provider's
// (its diagnostic() says more).
template <provider::provider P>
result<region_servers> servers_for(P& p, const provider::region_request& request, time_point now) {
  auto all = p.fetch_servers(now);
  if (!all) return unexpected(all.error());
  region_servers out;
  for (const auto& s : *all) {
    if (!request.matches(s)) continue;
    auto config = p.generate_config(s);
    if (!config) {
      out.refused.push_back(s.id + ": " + std::string(p.diagnostic().empty() ? config.error().message() : p.diagnostic()));
      continue;
    }
    auto e = server_entry_from(*config, s.load ? *s.load : 0.0);
    if (!e) {
      out.refused.push_back(s.id + ": " + e.error());
      continue;
    }
    out.servers.push_back(std::move(*e));
  }
  return out;
}

}  // namespace warren::jit
