// Fuzz target for warren::route::router: a sequence of packets from the TUN and from tunnels,
// with time steps, tunnels that close and come back, and a policy that changes, against one
// router per input.
//
// The world: the TUN is 10.0.0.1 / fd00::1. Tunnel "uk" got 10.100.0.2 / fd00:100::2 from its
// server, tunnel "fr" only 10.101.0.2 (so IPv6 sent its way is a family mismatch). The policy
// has selector rules (TCP to ports 7000-7999 -> fr; 10.0.0.1 to UDP ports 5000-5010 -> direct;
// UDP to a name under sel.example.net -> uk), destination prefixes (198.18.0.0/15 and
// fd00:a::/32 -> uk, 198.18.2.0/24 -> fr, 203.0.113.0/24 and 2001:db8:bad::/48 -> drop,
// 198.51.100.0/24 and 2001:db8:cafe::/48 -> "de", 192.0.2.128/25 -> "gone") and domains
// (example.com -> fr, pending.test -> de). "de" is never bound, so its flows are `pending`;
// "gone" is bound to drop. The default action comes from the input's first byte.
//
// Input: byte 0 picks the default action (bits 0-1: uk, direct, drop, de). Then records, each
//   [ctl] [length: 2 bytes, big-endian] [length bytes of packet]
// ctl bits 3-7 step the clock by (n*n) * 100 ms first (flows and names expire: the timeouts are
// short here); bits 0-2 say what the record is:
//   0-2  a packet from the TUN (on_outbound)
//   3    the same, 70 times, its destination port (ICMP: echo identifier) counted up with the
//        checksum kept right, which overflows the 64-flow table
//   4, 5 a packet from tunnel uk, fr (on_inbound; an id no tunnel has if that one is closed)
//   6    a packet from a tunnel id that never existed
//   7    bits 3-4: close or reopen uk (0) or fr (1) and bind its target again, swap between
//        two policies (2), or a DNS message for learn_dns (3)
//
// Properties: no crash or sanitizer report; a packet returned as kind::tunnel still parses,
// and verifies with verify::checksums after if it did before (NAT's incremental checksums);
// outbound, its source is the chosen tunnel's address and its destination unchanged; inbound,
// its destination is the TUN's address and its source unchanged; a direct, dropped or pending
// packet is byte for byte unchanged; pending only for a target with no binding, and only
// outbound; flow_count() never exceeds max_flows and names() never its bound; the stats and
// each tunnel's counters agree with the decisions seen; on_timeout(now) leaves no deadline at
// or before now.
#include <warren/packet/checksum.hpp>
#include <warren/packet/ip_address.hpp>
#include <warren/packet/ip_packet.hpp>
#include <warren/route/router.hpp>

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <source_location>
#include <string>
#include <string_view>
#include <vector>

namespace {

namespace pk = warren::packet;
namespace route = warren::route;
using namespace std::chrono_literals;
using bytes = std::vector<std::byte>;

void check(bool ok, std::source_location at = std::source_location::current()) {
  if (ok) return;
  std::fprintf(stderr, "fuzz invariant broken at %s:%u\n", at.file_name(), static_cast<unsigned>(at.line()));
  __builtin_trap();
}

constexpr std::size_t max_flows = 64;
constexpr std::size_t max_names = 8;
constexpr std::size_t max_records = 64;
constexpr std::size_t burst = 70;

pk::ip_address ip(std::string_view s) { return *pk::ip_address::parse(s); }
pk::ip_prefix pfx(std::string_view s) { return *pk::ip_prefix::parse(s); }

const route::address_pair tun_addresses{ip("10.0.0.1").v4(), ip("fd00::1").v6()};
const std::array<route::address_pair, 2> tunnel_addresses{
    route::address_pair{ip("10.100.0.2").v4(), ip("fd00:100::2").v6()},
    route::address_pair{ip("10.101.0.2").v4(), std::nullopt},
};
const std::array<std::string_view, 2> tunnel_names{"uk", "fr"};

route::action default_action(std::uint8_t choice) {
  switch (choice & 3) {
    case 0: return route::action::tunnel("uk");
    case 1: return route::action::direct();
    case 2: return route::action::drop();
    default: return route::action::tunnel("de");
  }
}

route::policy full_policy(std::uint8_t choice) {
  std::vector<route::rule> rules(10);
  rules[0].protocol = pk::ip_protocol::tcp;
  rules[0].destination_ports = route::port_range{7000, 7999};
  rules[0].then = route::action::tunnel("fr");
  rules[1].sources = {pfx("10.0.0.1/32")};
  rules[1].protocol = pk::ip_protocol::udp;
  rules[1].destination_ports = route::port_range{5000, 5010};
  rules[1].then = route::action::direct();
  rules[2].protocol = pk::ip_protocol::udp;
  rules[2].domains = {"sel.example.net"};
  rules[2].then = route::action::tunnel("uk");
  rules[3].destinations = {pfx("198.18.0.0/15"), pfx("fd00:a::/32")};
  rules[3].then = route::action::tunnel("uk");
  rules[4].destinations = {pfx("198.18.2.0/24")};
  rules[4].then = route::action::tunnel("fr");
  rules[5].destinations = {pfx("203.0.113.0/24"), pfx("2001:db8:bad::/48")};
  rules[5].then = route::action::drop();
  rules[6].destinations = {pfx("198.51.100.0/24"), pfx("2001:db8:cafe::/48")};
  rules[6].then = route::action::tunnel("de");
  rules[7].destinations = {pfx("192.0.2.128/25")};
  rules[7].then = route::action::tunnel("gone");
  rules[8].domains = {"Example.COM."};
  rules[8].then = route::action::tunnel("fr");
  rules[9].domains = {"pending.test"};
  rules[9].then = route::action::tunnel("de");
  auto p = route::policy::make(std::move(rules), default_action(choice));
  check(p.has_value());
  return std::move(*p);
}

// The other policy: prefixes only (so no DNS is learned), the targets swapped around.
route::policy prefix_policy(std::uint8_t choice) {
  std::vector<route::rule> rules(3);
  rules[0].destinations = {pfx("198.18.0.0/15")};
  rules[0].then = route::action::tunnel("fr");
  rules[1].destinations = {pfx("fd00:a::/32"), pfx("2001:db8:cafe::/48")};
  rules[1].then = route::action::tunnel("uk");
  rules[2].destinations = {pfx("198.51.100.0/24")};
  rules[2].then = route::action::tunnel("de");
  auto p = route::policy::make(std::move(rules), default_action(choice));
  check(p.has_value());
  return std::move(*p);
}

route::router_options options() {
  route::router_options o;
  o.flows.max_flows = max_flows;
  o.flows.tcp_timeout = 300s;
  o.flows.tcp_closing_timeout = 20s;
  o.flows.udp_timeout = 60s;
  o.flows.other_timeout = 10s;
  o.names.max_entries = max_names;
  o.names.min_ttl = 5s;
  o.names.max_ttl = 600s;
  o.names_sweep_interval = 30s;
  return o;
}

struct world {
  std::uint8_t choice;
  route::router r;
  warren::time_point now{std::chrono::hours(10)};
  std::array<std::optional<route::tunnel_id>, 2> ids{};
  std::array<std::uint64_t, 2> out{}, in{};  // tunnel decisions since the tunnel was opened
  std::uint64_t pending = 0, direct = 0, drops = 0;
  bool full = true;

  explicit world(std::uint8_t c) : choice(c), r(full_policy(c), tun_addresses, options()) {
    for (std::size_t k = 0; k < 2; ++k) open(k);
    check(r.bind("gone", route::target_binding::drop()).has_value());
  }

  void open(std::size_t k) {
    const auto id = r.add_tunnel(tunnel_addresses[k]);
    check(r.has_tunnel(id) && *r.tunnel_addresses(id) == tunnel_addresses[k]);
    check(r.counters(id)->packets_out == 0 && r.counters(id)->packets_in == 0);
    check(r.bind(tunnel_names[k], route::target_binding::to_tunnel(id)).has_value());
    ids[k] = id;
    out[k] = in[k] = 0;
  }
  void close(std::size_t k) {
    const std::size_t flows = r.flow_count();
    const std::size_t forgotten = r.remove_tunnel(*ids[k]);
    check(!r.has_tunnel(*ids[k]) && r.counters(*ids[k]) == nullptr);
    check(r.flow_count() == flows - forgotten);
    // Its target is unbound now, and binding a closed tunnel is refused.
    check(!r.bind(tunnel_names[k], route::target_binding::to_tunnel(*ids[k])));
    if (auto t = r.rules().find_target(tunnel_names[k])) check(r.binding(*t).what == route::target_binding::kind::none);
    ids[k].reset();
  }

  std::optional<std::size_t> which(route::tunnel_id id) const {
    for (std::size_t k = 0; k < 2; ++k)
      if (ids[k] == id) return k;
    return std::nullopt;
  }

  void advance(std::uint8_t steps) {
    now += std::chrono::milliseconds(100) * (int{steps} * int{steps});
    if (auto d = r.next_deadline(); d && *d <= now) {
      r.on_timeout(now);
      auto next = r.next_deadline();
      check(!next || *next > now);
    }
  }

  void outbound(bytes& packet) {
    const bytes original = packet;
    const auto before = pk::parse_ip(original);
    const bool verified = pk::parse_ip(original, pk::verify::checksums).has_value();
    const auto d = r.on_outbound(packet, now);
    switch (d.what) {
      case route::decision::kind::tunnel: {
        check(before.has_value());
        const auto k = which(d.tunnel);
        check(k.has_value());
        ++out[*k];
        auto after = pk::parse_ip(packet);
        check(after.has_value());
        if (verified) check(pk::parse_ip(packet, pk::verify::checksums).has_value());
        const auto want = tunnel_addresses[*k].of_family(after->is_v6());
        check(want && after->source() == *want);
        check(after->destination() == before->destination());
        check(after->protocol() == before->protocol());
        break;
      }
      case route::decision::kind::direct:
        check(packet == original);
        ++direct;
        break;
      case route::decision::kind::drop:
        check(packet == original);
        check(static_cast<bool>(d.reason));
        ++drops;
        break;
      case route::decision::kind::pending:
        check(packet == original);
        check(d.target < r.rules().targets().size());
        check(r.binding(d.target).what == route::target_binding::kind::none);
        ++pending;
        break;
    }
  }

  void inbound(route::tunnel_id id, bytes& packet) {
    const bytes original = packet;
    const auto before = pk::parse_ip(original);
    const bool verified = pk::parse_ip(original, pk::verify::checksums).has_value();
    const bool live = r.has_tunnel(id);
    const auto d = r.on_inbound(id, packet, now);
    check(d.what == route::decision::kind::tunnel || d.what == route::decision::kind::drop);
    if (d.what == route::decision::kind::drop) {
      check(packet == original);
      check(live || d.reason == route::errc::unknown_tunnel);
      ++drops;
      return;
    }
    check(live && before.has_value() && d.tunnel == id);
    const auto k = which(id);
    check(k.has_value());
    ++in[*k];
    auto after = pk::parse_ip(packet);
    check(after.has_value());
    if (verified) check(pk::parse_ip(packet, pk::verify::checksums).has_value());
    const auto own = tun_addresses.of_family(after->is_v6());
    check(own && after->destination() == *own);
    check(after->source() == before->source());
    check(after->protocol() == before->protocol());
  }

  // The packet 70 times, one flow each (when it has ports or an echo identifier).
  void outbound_burst(const bytes& packet) {
    const auto parsed = pk::parse_ip(packet);
    std::size_t field = 0, sum = 0;
    bool udp = false;
    if (parsed) {
      const std::size_t t = parsed->transport_offset();
      if (parsed->tcp) {
        field = t + 2;
        sum = t + 16;
      } else if (parsed->udp) {
        field = t + 2;
        sum = t + 6;
        udp = true;
      } else if (parsed->icmpv4 || parsed->icmpv6) {
        field = t + 4;
        sum = t + 2;
      }
    }
    for (std::size_t i = 0; i < burst; ++i) {
      bytes copy = packet;
      if (field != 0) {
        const std::uint16_t old = warren::load_be16(copy.data() + field);
        const auto now_value = static_cast<std::uint16_t>(old + i);
        warren::store_be16(copy.data() + field, now_value);
        const std::uint16_t c = warren::load_be16(copy.data() + sum);
        if (!(udp && c == 0)) {
          std::uint16_t updated = pk::checksum_update(c, old, now_value);
          if (udp && updated == 0) updated = 0xffff;
          warren::store_be16(copy.data() + sum, updated);
        }
      }
      outbound(copy);
      after_each();
    }
  }

  void control(std::uint8_t what, const bytes& payload) {
    switch (what & 3) {
      case 0:
      case 1: {
        const std::size_t k = what & 1u;
        if (ids[k]) close(k);
        else open(k);
        break;
      }
      case 2:
        full = !full;
        r.set_policy(full ? full_policy(choice) : prefix_policy(choice));
        // Bindings follow the targets by name.
        for (std::size_t k = 0; k < 2; ++k) {
          auto t = r.rules().find_target(tunnel_names[k]);
          if (!t) continue;
          const auto b = r.binding(*t);
          if (ids[k]) check(b == route::target_binding::to_tunnel(*ids[k]));
          else check(b.what == route::target_binding::kind::none);
        }
        break;
      default:
        r.learn_dns(payload, now);
        break;
    }
  }

  void after_each() {
    check(r.flow_count() <= max_flows);
    check(r.names().size() <= max_names);
    const auto& s = r.stats();
    check(s.pending == pending);
    check(s.direct == direct);
    check(s.malformed + s.foreign_source + s.foreign_destination + s.wrong_tunnel + s.unknown_tunnel +
              s.family_mismatch + s.policy_drops + s.unavailable ==
          drops);
    check(r.names().learned() <= s.names_learned);
    for (std::size_t k = 0; k < 2; ++k) {
      if (!ids[k]) continue;
      const auto* c = r.counters(*ids[k]);
      check(c != nullptr && c->packets_out == out[k] && c->packets_in == in[k]);
    }
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  world w(data[0]);
  std::size_t at = 1;
  for (std::size_t n = 0; n < max_records && at + 3 <= size; ++n) {
    const std::uint8_t ctl = data[at];
    std::size_t length = std::size_t{data[at + 1]} << 8 | data[at + 2];
    at += 3;
    if (length > size - at) length = size - at;
    const auto* first = reinterpret_cast<const std::byte*>(data + at);
    bytes packet(first, first + length);
    at += length;

    w.advance(static_cast<std::uint8_t>(ctl >> 3));
    switch (ctl & 7) {
      case 0:
      case 1:
      case 2: w.outbound(packet); break;
      case 3: w.outbound_burst(packet); break;
      case 4:
      case 5: {
        const std::size_t k = ctl & 1u;
        // A closed tunnel's id may belong to the other one by now; 9 belongs to nobody.
        w.inbound(w.ids[k].value_or(9), packet);
        break;
      }
      case 6: w.inbound(static_cast<route::tunnel_id>(2 + (ctl >> 6)), packet); break;
      default: w.control(static_cast<std::uint8_t>(ctl >> 3), packet); break;
    }
    w.after_each();
  }
  return 0;
}
