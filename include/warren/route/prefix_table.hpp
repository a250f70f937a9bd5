#pragma once
// Longest-prefix tables for IPv4 and IPv6. The router's destination table, the policy's prefix
// rules and WireGuard's cryptokey routing (wireguard::allowed_ips) are all this one type; the
// data structure and its costs are described in detail/prefix_trie.hpp.

#include <warren/packet/ip_address.hpp>
#include <warren/route/detail/prefix_trie.hpp>

#include <algorithm>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

namespace warren::route {

// A longest-prefix table: prefixes of both families, each mapped to one Value (a tunnel id, a
// peer index, a pointer, a handle; any movable type). lookup() returns the value of the longest
// stored prefix that contains the address. IPv4 and IPv6 are separate tables:
// ::/0 does not match an IPv4 address, and an IPv4-mapped IPv6 address is an IPv6 address.
//
// Ownership: values are stored in the table. A pointer from lookup() or find() stays valid
// until the next insert, remove, remove_value or clear. Thread-safety: const members only read,
// so lookups may run concurrently with each other, but not with any change; give writers
// exclusive access (a shared_mutex), or build a new table and swap it in. Default state: empty,
// every lookup misses.
template <class Value>
class prefix_table {
 public:
  // Routes `prefix` to `value`. Host bits are cleared first (10.0.0.7/24 is 10.0.0.0/24), and a
  // length beyond the family's is taken as the full length. A prefix routes to exactly one
  // value: inserting one already present moves it to `value`, as `ip route replace` does, or as
  // `wg set ... allowed-ips` moves a range from one peer to another. True if the prefix was new.
  bool insert(const packet::ip_prefix& prefix, Value value) {
    const packet::ip_prefix p = normalise(prefix);
    if (p.address.is_v4()) return v4_.insert(detail::key_of(p.address.v4()), p.length, std::move(value));
    return v6_.insert(detail::key_of(p.address.v6()), p.length, std::move(value));
  }

  // Removes the prefix (normalised as in insert); false if it was not present.
  bool remove(const packet::ip_prefix& prefix) {
    const packet::ip_prefix p = normalise(prefix);
    if (p.address.is_v4()) return v4_.erase(detail::key_of(p.address.v4()), p.length);
    return v6_.erase(detail::key_of(p.address.v6()), p.length);
  }

  // Removes every prefix routed to `value`, as when a peer or a tunnel is removed; returns how many.
  std::size_t remove_value(const Value& value)
    requires std::equality_comparable<Value>
  {
    const std::vector<packet::ip_prefix> doomed = prefixes_of(value);
    for (const auto& p : doomed) remove(p);
    return doomed.size();
  }

  // The value for the longest prefix containing `address`, or null. Never allocates.
  const Value* lookup(const packet::ipv4_address& address) const noexcept {
    return v4_.lookup(detail::key_of(address));
  }
  const Value* lookup(const packet::ipv6_address& address) const noexcept {
    return v6_.lookup(detail::key_of(address));
  }
  const Value* lookup(const packet::ip_address& address) const noexcept {
    return address.is_v4() ? lookup(address.v4()) : lookup(address.v6());
  }

  // The value stored for exactly this prefix (normalised as in insert), or null.
  const Value* find(const packet::ip_prefix& prefix) const noexcept {
    const packet::ip_prefix p = normalise(prefix);
    if (p.address.is_v4()) return v4_.find(detail::key_of(p.address.v4()), p.length);
    return v6_.find(detail::key_of(p.address.v6()), p.length);
  }

  // The prefixes routed to `value`, IPv4 first, each family in address order (for a UAPI get).
  std::vector<packet::ip_prefix> prefixes_of(const Value& value) const
    requires std::equality_comparable<Value>
  {
    std::vector<packet::ip_prefix> out;
    for_each([&](const packet::ip_prefix& p, const Value& v) {
      if (v == value) out.push_back(p);
    });
    return out;
  }

  // Calls f(const ip_prefix&, const Value&) for every entry, in the order of prefixes_of().
  template <class F>
  void for_each(F&& f) const {
    v4_.for_each([&](std::uint32_t key, unsigned length, const Value& v) {
      f(packet::ip_prefix{packet::ipv4_address::from_uint(key), static_cast<std::uint8_t>(length)}, v);
    });
    v6_.for_each([&](detail::uint128 key, unsigned length, const Value& v) {
      f(packet::ip_prefix{detail::ipv6_of(key), static_cast<std::uint8_t>(length)}, v);
    });
  }

  void clear() noexcept {
    v4_.clear();
    v6_.clear();
  }
  // Stored prefixes, both families.
  std::size_t size() const noexcept { return v4_.size() + v6_.size(); }
  bool empty() const noexcept { return size() == 0; }
  // Trie nodes and leaves in use, both families: at most 2 * size(). Memory is about that many
  // nodes or leaves (a node 136 bytes for IPv4 and 160 for IPv6 plus 60 bytes kept apart, a leaf
  // 12 or 32) plus one Value per prefix. Freed nodes are reused; clear() keeps the capacity, and
  // assigning an empty table returns it.
  std::size_t node_count() const noexcept { return v4_.node_count() + v6_.node_count(); }

 private:
  static packet::ip_prefix normalise(packet::ip_prefix p) noexcept {
    p.length = static_cast<std::uint8_t>(std::min<unsigned>(p.length, p.max_length()));
    return p.network();
  }

  detail::prefix_trie<std::uint32_t, Value> v4_;
  detail::prefix_trie<detail::uint128, Value> v6_;
};

}  // namespace warren::route
