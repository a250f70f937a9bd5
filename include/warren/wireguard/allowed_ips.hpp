#pragma once
// Cryptokey routing (WireGuard paper §2): the table from inner IP address to peer. On send, the
// destination of a packet from the TUN picks the peer to encrypt for; on receive, the source of
// a decrypted packet must map back to the peer it came from, or the packet is dropped.
//
// It is a longest-prefix table, the same one the router uses (route::prefix_table): inserting a
// prefix that another peer holds moves it, as `wg set ... allowed-ips` does, and remove_value
// drops a removed peer's prefixes.

#include <warren/route/prefix_table.hpp>

namespace warren::wireguard {

template <class Value>
using allowed_ips = route::prefix_table<Value>;

}  // namespace warren::wireguard
