// route::router: the per-packet decision, in ns per packet, for IPv4/UDP packets of 1420 bytes.
//
//   route/router/outbound/established/flows:<n>  on_outbound for a flow the tracker knows: parse,
//                                               conntrack touch (a hit), source NAT. The common
//                                               case. n flows are tracked and every iteration
//                                               takes the next one of them in a shuffled ring,
//                                               so a big table also measures cache misses.
//   route/router/inbound/established/flows:<n>   on_inbound for those flows' replies: parse,
//                                               conntrack touch of the reversed key, destination
//                                               NAT.
//   route/router/outbound/new_flow/flows:<n>     on_outbound for a flow seen for the first time
//                                               by a table full at its bound of n flows: parse,
//                                               conntrack miss, policy match, insert (evicting
//                                               the flow closest to its expiry), source NAT. A
//                                               ring of 2n distinct flows, so each comes back
//                                               after it has been evicted. This is the steady
//                                               state of a busy router: every flow inserted is
//                                               removed once, here by eviction instead of by
//                                               expire().
//   route/router/policy_decide                   policy::decide alone for those new flows.
//   route/router/baseline_header_copy/flows:<n>  the re-priming each loop above does, alone.
//
// The policy: three selector rules (no SMTP; direct for another source subnet; direct for
// mDNS) that a new flow checks and fails first, then 1000 disjoint destination prefixes of
// mixed lengths (/16 to /32) spread over four rules, each to its own target ("uk", "fr", "de",
// "us") bound to its own tunnel. No domain rules: with them a new flow also looks its
// destination up in learned_names.
//
// Re-priming: on_outbound rewrites the packet's source (and on_inbound its destination) in
// place, so the next iteration must start again from a packet with the TUN's source. NAT
// changes only the 28 bytes of IPv4 and UDP header (payload untouched), so each iteration
// copies the next flow's pristine 28-byte header over the packet, and that copy is inside the
// timed loop. baseline_header_copy is that copy alone (the same ring, the same reads), about a
// nanosecond: subtract it from the figures above for the router alone.
//
// Each iteration checks the decision (kind::tunnel, through the tunnel the flow's prefix maps
// to); the outbound established run swaps in rules that drop everything once its flows are
// open, so only a conntrack hit can pass. After the loop the flow counters must show that an
// established run created no flow (a reply whose key the router got wrong would start one)
// and a new-flow run created and evicted one per packet, and the last packet must equal, byte
// for byte, one built from scratch with the rewritten address.
#include <warren/route/router.hpp>

#include <warren/core/packet_buffer.hpp>
#include <warren/packet/flow_key.hpp>
#include <warren/packet/ip_address.hpp>
#include <warren/packet/ipv4.hpp>
#include <warren/packet/udp.hpp>

#include <benchmark/benchmark.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <unordered_set>
#include <utility>
#include <vector>

namespace {

using namespace warren;
namespace pk = warren::packet;
namespace rt = warren::route;

using bytes = std::vector<std::byte>;

constexpr std::size_t packet_size = 1420;
constexpr std::size_t header_size = 28;  // IPv4 + UDP: all that NAT changes
constexpr std::size_t target_count = 4;
constexpr std::size_t selector_rules = 3;
constexpr std::size_t prefix_count = 1000;
const char* const target_names[target_count] = {"uk", "fr", "de", "us"};

const time_point now{std::chrono::hours(10)};
const pk::ipv4_address tun4{{10, 0, 0, 1}};
// Tunnel k's address, as its server assigned it: 10.100.k.2.
pk::ipv4_address tunnel_address(std::size_t k) {
  return pk::ipv4_address::from_uint(0x0a640002u + static_cast<std::uint32_t>(k << 8));
}

bytes udp_packet(pk::ipv4_address src, std::uint16_t sport, pk::ipv4_address dst, std::uint16_t dport) {
  auto buf = packet_buffer::allocate();
  if (auto room = buf.append(packet_size - header_size)) {
    for (std::size_t i = 0; i < room->size(); ++i) (*room)[i] = static_cast<std::byte>(i * 131 + 7);
  }
  (void)pk::write_udp_header(buf, src, dst, sport, dport);
  (void)pk::write_ipv4_header(buf, {.source = src, .destination = dst, .protocol = pk::ip_protocol::udp});
  return {buf.bytes().begin(), buf.bytes().end()};
}

std::uint32_t to_uint(const pk::ipv4_address& a) {
  return std::uint32_t{a.octets[0]} << 24 | std::uint32_t{a.octets[1]} << 16 | std::uint32_t{a.octets[2]} << 8 |
         std::uint32_t{a.octets[3]};
}

// 1000 disjoint IPv4 prefixes: 5% /16, 10% /20, 60% /24, 25% /32, outside 0/8, 10/8, 127/8 and
// 224/3. Disjoint, so the prefix a flow's destination was drawn from is the one that matches.
const std::vector<pk::ip_prefix>& prefixes() {
  static const std::vector<pk::ip_prefix> all = [] {
    std::mt19937_64 rng(0x2007'0001);
    std::vector<pk::ip_prefix> v;
    while (v.size() < prefix_count) {
      const auto r = rng() % 20;
      const std::uint8_t length = r < 1 ? 16 : r < 3 ? 20 : r < 15 ? 24 : 32;
      auto a = static_cast<std::uint32_t>(rng());
      const auto first = a >> 24;
      if (first == 0 || first == 10 || first == 127 || first >= 224) continue;
      const pk::ip_prefix p = pk::ip_prefix{pk::ipv4_address::from_uint(a), length}.network();
      const bool overlaps = std::any_of(v.begin(), v.end(), [&](const pk::ip_prefix& q) {
        return q.contains(p.address) || p.contains(q.address);
      });
      if (!overlaps) v.push_back(p);
    }
    return v;
  }();
  return all;
}

// Prefix j goes to rule selector_rules + j % 4, whose target is target j % 4.
std::optional<rt::policy> make_policy() {
  std::vector<rt::rule> rules(selector_rules + target_count);
  rules[0].protocol = pk::ip_protocol::tcp;
  rules[0].destination_ports = rt::port_range{25, 25};
  rules[0].then = rt::action::drop();
  rules[1].sources = {pk::ip_prefix{pk::ipv4_address{{10, 9, 0, 0}}, 16}};
  rules[1].then = rt::action::direct();
  rules[2].protocol = pk::ip_protocol::udp;
  rules[2].destination_ports = rt::port_range{5353, 5353};
  rules[2].then = rt::action::direct();
  for (std::size_t k = 0; k < target_count; ++k) {
    rules[selector_rules + k].name = target_names[k];
    rules[selector_rules + k].then = rt::action::tunnel(target_names[k]);
  }
  const auto& all = prefixes();
  for (std::size_t j = 0; j < all.size(); ++j) rules[selector_rules + j % target_count].destinations.push_back(all[j]);
  auto p = rt::policy::make(std::move(rules));
  if (!p) return std::nullopt;
  return std::move(*p);
}

// A router with that policy and tunnel k bound to target k; null if any step fails.
std::unique_ptr<rt::router> make_router(std::size_t max_flows) {
  auto p = make_policy();
  if (!p) return nullptr;
  rt::router_options options;
  options.flows.max_flows = max_flows;
  auto r = std::make_unique<rt::router>(std::move(*p), rt::address_pair{tun4, std::nullopt}, options);
  for (std::size_t k = 0; k < target_count; ++k) {
    if (r->add_tunnel(rt::address_pair{tunnel_address(k), std::nullopt}) != k) return nullptr;
    if (!r->bind(target_names[k], rt::target_binding::to_tunnel(static_cast<rt::tunnel_id>(k)))) return nullptr;
  }
  return r;
}

// One UDP flow from the TUN to port 443 of a host inside one of the prefixes.
struct flow {
  std::array<std::byte, header_size> out;  // the first 28 bytes of its outbound packet
  std::array<std::byte, header_size> in;   // ... and of its reply through the tunnel
  rt::tunnel_id tunnel = 0;                // where it must go
  std::size_t rule = 0;                    // the rule that must match it
  pk::ipv4_address destination;
  std::uint16_t source_port = 0;
  pk::flow_key key;
};
constexpr std::uint16_t destination_port = 443;

struct flow_set {
  std::vector<flow> flows;  // in the order they are first sent
  std::vector<flow> ring;   // the same flows shuffled: the order established runs visit them
  bytes packet;             // a whole packet (the payload every header above was summed with)
};

flow_set make_flows(std::size_t count) {
  std::mt19937_64 rng(0x2007'0002 + count);
  const auto& all = prefixes();
  flow_set s;
  std::unordered_set<pk::flow_key> seen;
  while (s.flows.size() < count) {
    const std::size_t j = rng() % all.size();
    const pk::ip_prefix& p = all[j];
    const std::uint32_t host_mask = p.length == 32 ? 0 : 0xffffffffu >> p.length;
    flow f;
    f.destination = pk::ipv4_address::from_uint(to_uint(p.address.v4()) | (static_cast<std::uint32_t>(rng()) & host_mask));
    f.source_port = static_cast<std::uint16_t>(1024 + rng() % 64000);
    f.key = pk::flow_key::make(tun4, f.destination, pk::ip_protocol::udp, f.source_port, destination_port);
    if (!seen.insert(f.key).second) continue;
    const std::size_t k = j % target_count;
    f.tunnel = static_cast<rt::tunnel_id>(k);
    f.rule = selector_rules + k;
    const bytes out = udp_packet(tun4, f.source_port, f.destination, destination_port);
    const bytes in = udp_packet(f.destination, destination_port, tunnel_address(k), f.source_port);
    std::memcpy(f.out.data(), out.data(), header_size);
    std::memcpy(f.in.data(), in.data(), header_size);
    if (s.packet.empty()) s.packet = out;
    s.flows.push_back(f);
  }
  s.ring = s.flows;
  std::shuffle(s.ring.begin(), s.ring.end(), rng);
  return s;
}

// Google Benchmark calls each function several times while it settles the iteration count;
// the flows are made once per count and kept.
const flow_set& cached(std::size_t count) {
  static std::map<std::size_t, flow_set> sets;
  auto [it, fresh] = sets.try_emplace(count);
  if (fresh) it->second = make_flows(count);
  return it->second;
}

bool is_through(const rt::decision& d, const flow& f) {
  return d.what == rt::decision::kind::tunnel && d.tunnel == f.tunnel;
}

// Sends each flow's first packet; false unless every one went through its tunnel.
bool open_flows(rt::router& r, bytes& pkt, const flow* first, const flow* last) {
  for (const flow* f = first; f != last; ++f) {
    std::memcpy(pkt.data(), f->out.data(), header_size);
    if (!is_through(r.on_outbound(pkt, now), *f)) return false;
  }
  return true;
}

void set_rates(benchmark::State& state) {
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) * static_cast<std::int64_t>(packet_size));
}

void outbound_established(benchmark::State& state) {
  const auto n = static_cast<std::size_t>(state.range(0));
  const flow_set& fs = cached(n);
  auto r = make_router(std::max<std::size_t>(n, rt::conntrack_options{}.max_flows));
  if (!r) return state.SkipWithError("the router could not be set up");
  bytes pkt = fs.packet;
  if (!open_flows(*r, pkt, fs.flows.data(), fs.flows.data() + n) || r->flow_count() != n)
    return state.SkipWithError("a flow's first packet did not go through its tunnel");
  // Rules that drop everything: tracked flows keep their tunnel (router.hpp), so a packet the
  // tracker failed to recognise would be dropped, and fail the check below, instead of quietly
  // paying for a new decision.
  r->set_policy(rt::policy{});

  std::size_t i = 0;
  const flow* last = nullptr;
  for (auto _ : state) {
    const flow& f = fs.ring[i];
    if (++i == fs.ring.size()) i = 0;
    std::memcpy(pkt.data(), f.out.data(), header_size);
    if (!is_through(r->on_outbound(pkt, now), f)) {
      state.SkipWithError("a packet of an established flow did not go through its tunnel");
      break;
    }
    last = &f;
  }
  if (!state.error_occurred()) {
    if (r->flow_stats().inserted != n || r->flow_stats().evicted != 0)
      state.SkipWithError("a packet of an established flow was taken for a new flow");
    else if (last && pkt != udp_packet(tunnel_address(last->tunnel), last->source_port, last->destination, destination_port))
      state.SkipWithError("the rewritten packet differs from one built with the tunnel's address");
  }
  set_rates(state);
}
BENCHMARK(outbound_established)->Name("route/router/outbound/established")->ArgName("flows")->Arg(1)->Arg(1000)->Arg(100000);

void inbound_established(benchmark::State& state) {
  const auto n = static_cast<std::size_t>(state.range(0));
  const flow_set& fs = cached(n);
  auto r = make_router(std::max<std::size_t>(n, rt::conntrack_options{}.max_flows));
  if (!r) return state.SkipWithError("the router could not be set up");
  bytes pkt = fs.packet;
  if (!open_flows(*r, pkt, fs.flows.data(), fs.flows.data() + n) || r->flow_count() != n)
    return state.SkipWithError("a flow's first packet did not go through its tunnel");

  std::size_t i = 0;
  const flow* last = nullptr;
  for (auto _ : state) {
    const flow& f = fs.ring[i];
    if (++i == fs.ring.size()) i = 0;
    std::memcpy(pkt.data(), f.in.data(), header_size);
    if (!is_through(r->on_inbound(f.tunnel, pkt, now), f)) {
      state.SkipWithError("a reply did not come back through its flow's tunnel");
      break;
    }
    last = &f;
  }
  if (!state.error_occurred()) {
    if (r->flow_stats().inserted != n || r->flow_stats().evicted != 0)
      state.SkipWithError("a reply was taken for a new flow");
    else if (last && pkt != udp_packet(last->destination, destination_port, tun4, last->source_port))
      state.SkipWithError("the rewritten reply differs from one built with the TUN's address");
  }
  set_rates(state);
}
BENCHMARK(inbound_established)->Name("route/router/inbound/established")->ArgName("flows")->Arg(1)->Arg(1000)->Arg(100000);

void outbound_new_flow(benchmark::State& state) {
  const auto bound = static_cast<std::size_t>(state.range(0));
  const flow_set& fs = cached(2 * bound);
  auto r = make_router(bound);
  if (!r) return state.SkipWithError("the router could not be set up");
  bytes pkt = fs.packet;
  if (!open_flows(*r, pkt, fs.flows.data(), fs.flows.data() + bound) || r->flow_count() != bound)
    return state.SkipWithError("a flow's first packet did not go through its tunnel");

  // The next flow is one the table has never held or evicted 2n - n packets ago.
  std::size_t i = bound;
  const flow* last = nullptr;
  for (auto _ : state) {
    const flow& f = fs.flows[i];
    if (++i == fs.flows.size()) i = 0;
    std::memcpy(pkt.data(), f.out.data(), header_size);
    if (!is_through(r->on_outbound(pkt, now), f)) {
      state.SkipWithError("a new flow did not go through the tunnel its prefix maps to");
      break;
    }
    last = &f;
  }
  if (!state.error_occurred()) {
    const auto iterations = static_cast<std::uint64_t>(state.iterations());
    if (r->flow_stats().inserted != bound + iterations || r->flow_stats().evicted != iterations ||
        r->flow_count() != bound)
      state.SkipWithError("a packet was not a new flow, or a new flow did not evict one");
    else if (last && pkt != udp_packet(tunnel_address(last->tunnel), last->source_port, last->destination, destination_port))
      state.SkipWithError("the rewritten packet differs from one built with the tunnel's address");
  }
  set_rates(state);
}
BENCHMARK(outbound_new_flow)->Name("route/router/outbound/new_flow")->ArgName("flows")->Arg(1000)->Arg(100000);

void policy_decide(benchmark::State& state) {
  const flow_set& fs = cached(2000);
  const auto p = make_policy();
  if (!p) return state.SkipWithError("the policy could not be made");
  std::size_t i = 0;
  for (auto _ : state) {
    const flow& f = fs.flows[i];
    if (++i == fs.flows.size()) i = 0;
    const rt::match m = p->decide(f.key);
    if (m.rule != f.rule) {
      state.SkipWithError("a flow matched the wrong rule");
      break;
    }
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}
BENCHMARK(policy_decide)->Name("route/router/policy_decide");

void baseline_header_copy(benchmark::State& state) {
  const flow_set& fs = cached(static_cast<std::size_t>(state.range(0)));
  bytes pkt = fs.packet;
  std::size_t i = 0;
  for (auto _ : state) {
    const flow& f = fs.ring[i];
    if (++i == fs.ring.size()) i = 0;
    std::memcpy(pkt.data(), f.out.data(), header_size);
    benchmark::DoNotOptimize(pkt.data());
    benchmark::DoNotOptimize(f.tunnel);
    benchmark::ClobberMemory();
  }
  set_rates(state);
}
BENCHMARK(baseline_header_copy)->Name("route/router/baseline_header_copy")->ArgName("flows")->Arg(1)->Arg(1000)->Arg(100000);

}  // namespace
