#pragma once
// flow_key: the 5-tuple (addresses, ports, protocol) that names a flow, with a fast seeded hash
// for the connection tracker and the per-flow queues. ICMP echo uses its identifier in place
// of both ports, so each ping session is its own flow.
//
// Layout: 40 bytes with no padding holes, hashed as five 64-bit words. The hash takes a seed so
// that a table can pick a random one at start: flows are chosen by remote peers, and a fixed
// hash would let them aim collisions at one bucket.

#include <warren/packet/ip_address.hpp>
#include <warren/packet/ip_packet.hpp>
#include <warren/packet/ip_protocol.hpp>

#include <array>
#include <cstdint>
#include <cstring>
#include <functional>
#include <optional>

namespace warren::packet {

struct flow_key {
  std::array<std::uint8_t, 16> source{};       // IPv4 in the first 4 bytes, zeros behind
  std::array<std::uint8_t, 16> destination{};
  std::uint16_t source_port = 0;
  std::uint16_t destination_port = 0;
  std::uint8_t protocol = 0;
  std::uint8_t family = 0;                     // 4 or 6
  std::uint16_t reserved_ = 0;                 // keeps the struct free of padding

  static flow_key make(const ip_address& src, const ip_address& dst, ip_protocol proto,
                       std::uint16_t sport, std::uint16_t dport) noexcept {
    flow_key k;
    k.source = src.raw();
    k.destination = dst.raw();
    k.source_port = sport;
    k.destination_port = dport;
    k.protocol = static_cast<std::uint8_t>(proto);
    k.family = src.is_v6() ? 6 : 4;
    return k;
  }
  // The key of a parsed packet. Fragments and protocols without ports key on addresses and
  // protocol alone (ports zero).
  static flow_key of(const ip_packet& pkt) noexcept {
    std::uint16_t sport = 0, dport = 0;
    if (pkt.is_fragment()) {
      // Later fragments carry no ports: key every fragment alike so they stay in one flow.
    } else if (pkt.tcp) {
      sport = pkt.tcp->source_port();
      dport = pkt.tcp->destination_port();
    } else if (pkt.udp) {
      sport = pkt.udp->source_port();
      dport = pkt.udp->destination_port();
    } else if (pkt.icmpv4 && pkt.icmpv4->is_echo()) {
      sport = dport = pkt.icmpv4->identifier();
    } else if (pkt.icmpv6 && pkt.icmpv6->is_echo()) {
      sport = dport = pkt.icmpv6->identifier();
    }
    return make(pkt.source(), pkt.destination(), pkt.protocol(), sport, dport);
  }

  ip_address source_address() const noexcept { return address(source); }
  ip_address destination_address() const noexcept { return address(destination); }
  ip_protocol ip_proto() const noexcept { return static_cast<ip_protocol>(protocol); }
  // The key of the reply direction.
  flow_key reversed() const noexcept {
    flow_key k = *this;
    std::swap(k.source, k.destination);
    std::swap(k.source_port, k.destination_port);
    return k;
  }

  std::uint64_t hash(std::uint64_t seed = 0) const noexcept {
    std::uint64_t w[5];
    std::memcpy(w, this, sizeof w);
    // Two rounds of 64x64->128 multiply-folds: every input bit reaches every output bit.
    constexpr std::uint64_t k0 = 0x9e3779b97f4a7c15u, k1 = 0xbf58476d1ce4e5b9u,
                            k2 = 0x94d049bb133111ebu, k3 = 0x2545f4914f6cdd1du;
    std::uint64_t a = mix(w[0] ^ k0 ^ seed, w[1] ^ k1);
    std::uint64_t b = mix(w[2] ^ k2, w[3] ^ k3 ^ seed);
    std::uint64_t c = mix(w[4] ^ k1 ^ seed, a ^ k0);
    return mix(b ^ k3, c ^ k2);
  }

  friend bool operator==(const flow_key&, const flow_key&) = default;

 private:
  static std::uint64_t mix(std::uint64_t x, std::uint64_t y) noexcept {
    __extension__ using u128 = unsigned __int128;  // -Wpedantic: a GNU extension, on purpose
    u128 r = static_cast<u128>(x) * y;
    return static_cast<std::uint64_t>(r) ^ static_cast<std::uint64_t>(r >> 64);
  }
  ip_address address(const std::array<std::uint8_t, 16>& a) const noexcept {
    if (family == 6) return ip_address(ipv6_address{a});
    return ip_address(ipv4_address{{a[0], a[1], a[2], a[3]}});
  }
};
static_assert(sizeof(flow_key) == 40, "flow_key is hashed as five 64-bit words");

// A hasher for unordered containers, holding the table's seed.
struct flow_key_hash {
  std::uint64_t seed = 0;
  std::size_t operator()(const flow_key& k) const noexcept { return static_cast<std::size_t>(k.hash(seed)); }
};

}  // namespace warren::packet

template <>
struct std::hash<warren::packet::flow_key> {
  std::size_t operator()(const warren::packet::flow_key& k) const noexcept { return static_cast<std::size_t>(k.hash()); }
};
