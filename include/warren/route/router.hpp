#pragma once
// router: the sans-IO core between one TUN and any number of tunnels. It decides where each
// packet from the TUN goes, rewrites addresses so that one TUN address can use many tunnels
// that each got their own address from their server, and checks what comes back.
//
// A packet from the TUN (on_outbound):
//   1. parse it (structure only); its source must be the TUN's address of its family;
//   2. look its flow up in the connection tracker; a known flow keeps its tunnel or direct path,
//      whatever the rules say now;
//   3. a new flow is matched against the policy (with the name its destination was learned
//      under from DNS); a tunnel action needs the target to be bound to a live tunnel: if it
//      is, the flow is pinned to it; if not, the decision is `pending` and the caller (the jit
//      layer) holds the packet, brings a tunnel up, binds the target and offers the packet
//      again;
//   4. a packet for a tunnel has its source rewritten to the tunnel's address (route/nat.hpp).
// A packet from a tunnel (on_inbound):
//   1. parse it; its destination must be the address that tunnel assigned;
//   2. rewrite the destination to the TUN's address;
//   3. the flow, if new, is pinned to this tunnel (a server-initiated flow's replies go back
//      the way it came); a packet for a flow pinned to another tunnel is dropped;
//   4. a DNS answer (UDP from port 53) teaches learned_names the names the policy cares about.
// Tunnels come and go without touching the TUN: add_tunnel gives an id, bind points a target at
// it, remove_tunnel forgets it and the flows pinned to it.
//
// Errors are decisions with a reason (decision::kind::drop) and counted in router_stats; the
// packet is never half-rewritten. Thread-safety: none; one thread (or strand) owns a router.
// Time comes in as arguments; on_timeout(now) runs expiry, at or after next_deadline().

#include <warren/core/bytes.hpp>
#include <warren/core/clock.hpp>
#include <warren/core/expected.hpp>
#include <warren/packet/dns.hpp>
#include <warren/packet/flow_key.hpp>
#include <warren/packet/ip_address.hpp>
#include <warren/packet/ip_packet.hpp>
#include <warren/packet/tcp.hpp>
#include <warren/route/conntrack.hpp>
#include <warren/route/error.hpp>
#include <warren/route/learned_names.hpp>
#include <warren/route/nat.hpp>
#include <warren/route/policy.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <system_error>
#include <unordered_map>
#include <utility>
#include <vector>

namespace warren::route {

using tunnel_id = std::uint32_t;

// An address of each family, either optional: the TUN's own, or what a server assigned.
struct address_pair {
  std::optional<packet::ipv4_address> v4;
  std::optional<packet::ipv6_address> v6;

  std::optional<packet::ip_address> of_family(bool v6_family) const noexcept {
    if (v6_family) return v6 ? std::optional<packet::ip_address>(*v6) : std::nullopt;
    return v4 ? std::optional<packet::ip_address>(*v4) : std::nullopt;
  }
  friend bool operator==(const address_pair&, const address_pair&) = default;
};

// Where a target leads now. `none`: nowhere yet (flows for it are pending).
struct target_binding {
  enum class kind : std::uint8_t { none, tunnel, direct, drop };
  kind what = kind::none;
  tunnel_id tunnel = 0;

  static target_binding to_tunnel(tunnel_id t) { return {kind::tunnel, t}; }
  static target_binding direct() { return {kind::direct, 0}; }
  static target_binding drop() { return {kind::drop, 0}; }
  friend bool operator==(const target_binding&, const target_binding&) = default;
};

struct decision {
  enum class kind : std::uint8_t {
    tunnel,   // send through `tunnel` (outbound) or deliver to the TUN (inbound); rewritten
    direct,   // outbound only: the flow bypasses the tunnels; the packet is unchanged
    drop,     // `reason` says why; counted
    pending,  // outbound only: `target` has no tunnel yet; hold the packet and offer it again
  };
  kind what = kind::drop;
  tunnel_id tunnel = 0;
  target_id target = 0;
  std::error_code reason{};
};

struct tunnel_counters {
  std::uint64_t packets_out = 0, bytes_out = 0;
  std::uint64_t packets_in = 0, bytes_in = 0;
  time_point last_activity{};  // the last packet either way, for idle timeouts
};

struct router_stats {
  std::uint64_t malformed = 0;            // did not parse as IP
  std::uint64_t foreign_source = 0;
  std::uint64_t foreign_destination = 0;
  std::uint64_t wrong_tunnel = 0;
  std::uint64_t unknown_tunnel = 0;
  std::uint64_t family_mismatch = 0;
  std::uint64_t policy_drops = 0;         // a rule or the default said drop
  std::uint64_t unavailable = 0;          // the target was bound to drop
  std::uint64_t pending = 0;              // decisions to hold a packet for a target
  std::uint64_t direct = 0;
  std::uint64_t dns_answers = 0;          // DNS answers read for names
  std::uint64_t names_learned = 0;        // addresses remembered under a rule's name
};

struct router_options {
  conntrack_options flows{};
  learned_names_options names{};
  bool learn_dns = true;
  std::uint16_t dns_port = 53;
  duration names_sweep_interval = std::chrono::seconds(30);
  // Seeds the connection tracker's hash, so that remote peers cannot aim flows at one bucket.
  // 0: a random seed from std::random_device at construction.
  std::uint64_t flow_hash_seed = 0;
};

class router {
 public:
  router(policy rules, address_pair tun_addresses, router_options options = {})
      : options_(options), tun_(tun_addresses), flows_(options.flows, seed(options.flow_hash_seed)), names_(options.names) {
    set_policy(std::move(rules));
  }

  // -- configuration ----------------------------------------------------------------------

  // Replaces the rules. Flows already tracked keep their tunnel or direct path; targets keep
  // their bindings by name.
  void set_policy(policy rules) {
    policy_ = std::move(rules);
    rule_targets_.assign(policy_.rules().size(), no_target);
    for (std::size_t i = 0; i < policy_.rules().size(); ++i) rule_targets_[i] = target_of(policy_.rules()[i].then);
    default_target_ = target_of(policy_.default_action());
    bindings_.assign(policy_.targets().size(), target_binding{});
    for (std::size_t i = 0; i < policy_.targets().size(); ++i) {
      if (auto it = by_name_.find(policy_.targets()[i]); it != by_name_.end()) bindings_[i] = it->second;
    }
  }
  const policy& rules() const noexcept { return policy_; }

  void set_tun_addresses(address_pair a) noexcept { tun_ = a; }
  const address_pair& tun_addresses() const noexcept { return tun_; }

  // A tunnel that is up, with the addresses its server assigned; returns its id. Ids of removed
  // tunnels are reused.
  tunnel_id add_tunnel(address_pair assigned) {
    tunnel_id id = 0;
    while (id < tunnels_.size() && tunnels_[id].live) ++id;
    if (id == tunnels_.size()) tunnels_.emplace_back();
    tunnels_[id] = tunnel{true, assigned, {}};
    return id;
  }
  // The tunnel is gone: targets bound to it become unbound (their next flows are pending) and
  // the flows pinned to it are forgotten. Returns how many flows were.
  std::size_t remove_tunnel(tunnel_id id) {
    if (!has_tunnel(id)) return 0;
    tunnels_[id].live = false;
    for (auto& b : bindings_)
      if (b.what == target_binding::kind::tunnel && b.tunnel == id) b = {};
    for (auto& [name, b] : by_name_)
      if (b.what == target_binding::kind::tunnel && b.tunnel == id) b = {};
    return flows_.erase_if([id](const packet::flow_key&, const flow_route& r) {
      return r.what == flow_route::kind::tunnel && r.tunnel == id;
    });
  }
  bool has_tunnel(tunnel_id id) const noexcept { return id < tunnels_.size() && tunnels_[id].live; }
  const address_pair* tunnel_addresses(tunnel_id id) const noexcept {
    return has_tunnel(id) ? &tunnels_[id].assigned : nullptr;
  }
  const tunnel_counters* counters(tunnel_id id) const noexcept {
    return has_tunnel(id) ? &tunnels_[id].counters : nullptr;
  }

  // Points a target (by name, as the rules spell it) at a tunnel, the direct path, a drop, or
  // nothing. A target the current rules do not name is remembered for later policies.
  // Errors: unknown_tunnel.
  result<void> bind(std::string_view target, target_binding b) {
    if (b.what == target_binding::kind::tunnel && !has_tunnel(b.tunnel))
      return unexpected(make_error_code(errc::unknown_tunnel));
    by_name_[std::string(target)] = b;
    if (auto id = policy_.find_target(target)) bindings_[*id] = b;
    return {};
  }
  target_binding binding(target_id id) const noexcept { return id < bindings_.size() ? bindings_[id] : target_binding{}; }
  const std::string& target_name(target_id id) const { return policy_.targets().at(id); }

  // -- packets ----------------------------------------------------------------------------

  // A packet read from the TUN. For kind::tunnel its source has been rewritten in place.
  decision on_outbound(mutable_byte_view bytes, time_point now) {
    auto parsed = packet::parse_ip(bytes);
    if (!parsed) return drop(parsed.error(), stats_.malformed);
    const bool v6 = parsed->is_v6();
    const auto own = tun_.of_family(v6);
    if (!own || parsed->source() != *own) return drop(errc::foreign_source, stats_.foreign_source);

    // An ICMP error belongs to the flow it reports on: this host received the quoted packet
    // (remote → us), so the flow's outbound key is the quote's, reversed.
    const bool icmp_error = is_icmp_error(*parsed);
    const auto quoted = icmp_error ? quoted_flow(*parsed) : std::nullopt;
    const packet::flow_key key = quoted ? quoted->reversed() : packet::flow_key::of(*parsed);
    if (flow_route* r = icmp_error ? flows_.find(key) : flows_.touch(key, now, kind_of(*parsed))) {
      if (r->what == flow_route::kind::direct) return direct_decision();
      return through(r->tunnel, bytes, *parsed, now);
    }

    const std::string_view name = policy_.has_domains() ? names_.lookup(parsed->destination(), now) : std::string_view{};
    const match m = policy_.decide(key, name);
    switch (m.then->what) {
      case action::kind::drop:
        return drop(m.rule ? errc::policy_drop : errc::no_route, stats_.policy_drops);
      case action::kind::direct:
        if (!icmp_error) flows_.insert(key, flow_route{flow_route::kind::direct, 0}, now, kind_of(*parsed));
        return direct_decision();
      case action::kind::tunnel: break;
    }
    const target_id target = m.rule ? rule_targets_[*m.rule] : default_target_;
    const target_binding b = bindings_[target];
    switch (b.what) {
      case target_binding::kind::none: {
        ++stats_.pending;
        decision d;
        d.what = decision::kind::pending;
        d.target = target;
        return d;
      }
      case target_binding::kind::drop:
        return drop(errc::target_unavailable, stats_.unavailable);
      case target_binding::kind::direct:
        if (!icmp_error) flows_.insert(key, flow_route{flow_route::kind::direct, 0}, now, kind_of(*parsed));
        return direct_decision();
      case target_binding::kind::tunnel: break;
    }
    if (!tunnels_[b.tunnel].assigned.of_family(v6)) return drop(errc::family_mismatch, stats_.family_mismatch);
    if (!icmp_error) flows_.insert(key, flow_route{flow_route::kind::tunnel, b.tunnel}, now, kind_of(*parsed));
    decision d = through(b.tunnel, bytes, *parsed, now);
    d.target = target;
    return d;
  }

  // A packet that came out of tunnel `id`. For kind::tunnel its destination has been rewritten
  // to the TUN's address, and it is ready to write to the TUN.
  decision on_inbound(tunnel_id id, mutable_byte_view bytes, time_point now) {
    if (!has_tunnel(id)) return drop(errc::unknown_tunnel, stats_.unknown_tunnel);
    tunnel& t = tunnels_[id];
    auto parsed = packet::parse_ip(bytes);
    if (!parsed) return drop(parsed.error(), stats_.malformed);
    const bool v6 = parsed->is_v6();
    const auto assigned = t.assigned.of_family(v6);
    if (!assigned || parsed->destination() != *assigned)
      return drop(errc::foreign_destination, stats_.foreign_destination);
    const auto own = tun_.of_family(v6);
    if (!own) return drop(errc::family_mismatch, stats_.family_mismatch);

    // The flow's key as the TUN side sees it outbound: this packet's, reversed, with our end at
    // the TUN's address. An ICMP error quotes our packet as it left the tunnel (source: the
    // tunnel's address): its key, with the TUN's address as the source.
    const bool icmp_error = is_icmp_error(*parsed);
    const auto quoted = icmp_error ? quoted_flow(*parsed) : std::nullopt;
    packet::flow_key key = quoted ? *quoted : packet::flow_key::of(*parsed).reversed();
    key.source = own->raw();
    if (flow_route* r = icmp_error ? flows_.find(key) : flows_.touch(key, now, kind_of(*parsed))) {
      if (r->what != flow_route::kind::tunnel || r->tunnel != id) return drop(errc::wrong_tunnel, stats_.wrong_tunnel);
    } else if (!icmp_error) {
      flows_.insert(key, flow_route{flow_route::kind::tunnel, id}, now, kind_of(*parsed));
    }
    if (auto r = rewrite_destination(bytes, *parsed, *own); !r) return drop(r.error(), stats_.family_mismatch);
    t.counters.packets_in += 1;
    t.counters.bytes_in += bytes.size();
    t.counters.last_activity = now;
    if (parsed->udp && parsed->udp->source_port() == options_.dns_port && options_.learn_dns && policy_.has_domains())
      learn_dns(parsed->udp->payload(), now);
    decision d;
    d.what = decision::kind::tunnel;
    d.tunnel = id;
    return d;
  }

  // Learns names from a DNS message seen elsewhere (an app's own resolver, DNS over HTTPS).
  // Only names some rule covers are kept. Malformed messages are ignored.
  void learn_dns(byte_view message, time_point now) {
    auto msg = packet::dns_message_view::parse(message);
    if (!msg || !msg->is_response()) return;
    ++stats_.dns_answers;
    for (const auto& r : packet::resolved_addresses(*msg)) {
      if (!policy_.covers_name(r.name)) continue;
      names_.learn(r.address, r.name, std::chrono::seconds(r.ttl), now);
      ++stats_.names_learned;
    }
  }

  // -- time -------------------------------------------------------------------------------

  void on_timeout(time_point now) {
    flows_.expire(now);
    if (now >= next_names_sweep_) {
      names_.expire(now);
      next_names_sweep_ = now + options_.names_sweep_interval;
    }
  }
  std::optional<time_point> next_deadline() const noexcept {
    std::optional<time_point> t = flows_.next_expiry();
    if (names_.size() != 0 && (!t || next_names_sweep_ < *t)) t = next_names_sweep_;
    return t;
  }

  const router_stats& stats() const noexcept { return stats_; }
  std::size_t flow_count() const noexcept { return flows_.size(); }
  const conntrack_stats& flow_stats() const noexcept { return flows_.stats(); }
  const learned_names& names() const noexcept { return names_; }

 private:
  static constexpr target_id no_target = 0xffff'ffffu;

  struct flow_route {
    enum class kind : std::uint8_t { tunnel, direct };
    kind what = kind::direct;
    tunnel_id tunnel = 0;
  };
  struct tunnel {
    bool live = false;
    address_pair assigned;
    tunnel_counters counters;
  };

  static std::uint64_t seed(std::uint64_t given) {
    if (given != 0) return given;
    std::random_device rd;
    return std::uint64_t{rd()} << 32 | rd();
  }

  target_id target_of(const action& a) const noexcept {
    if (a.what != action::kind::tunnel) return no_target;
    return policy_.find_target(a.target).value_or(no_target);
  }

  decision through(tunnel_id id, mutable_byte_view bytes, const packet::ip_packet& parsed, time_point now) {
    tunnel& t = tunnels_[id];
    const auto to = t.assigned.of_family(parsed.is_v6());
    if (!to) return drop(errc::family_mismatch, stats_.family_mismatch);
    if (auto r = rewrite_source(bytes, parsed, *to); !r) return drop(r.error(), stats_.family_mismatch);
    t.counters.packets_out += 1;
    t.counters.bytes_out += bytes.size();
    t.counters.last_activity = now;
    decision d;
    d.what = decision::kind::tunnel;
    d.tunnel = id;
    return d;
  }

  decision direct_decision() {
    ++stats_.direct;
    decision d;
    d.what = decision::kind::direct;
    return d;
  }
  template <class E>
  static decision drop(E e, std::uint64_t& counter) {
    ++counter;
    decision d;
    d.what = decision::kind::drop;
    d.reason = make_error_code(e);
    return d;
  }
  static decision drop(std::error_code e, std::uint64_t& counter) {
    ++counter;
    decision d;
    d.what = decision::kind::drop;
    d.reason = e;
    return d;
  }

  static bool is_icmp_error(const packet::ip_packet& p) noexcept {
    return (p.icmpv4 && p.icmpv4->is_error()) || (p.icmpv6 && p.icmpv6->is_error());
  }

  // The key of the packet an ICMP error quotes, as quoted; nullopt when the quote is too short
  // to name its flow or is a later fragment.
  static std::optional<packet::flow_key> quoted_flow(const packet::ip_packet& p) noexcept {
    packet::ip_address src, dst;
    packet::ip_protocol proto{};
    byte_view upper;
    if (p.icmpv4) {
      auto q = p.icmpv4->quoted_packet();
      if (!q || q->fragment_offset() != 0) return std::nullopt;
      src = q->source();
      dst = q->destination();
      proto = q->protocol();
      upper = q->payload();
    } else {
      auto q = p.icmpv6->quoted_packet();
      if (!q || (q->fragment() && q->fragment()->offset != 0)) return std::nullopt;
      src = q->source();
      dst = q->destination();
      proto = q->upper_protocol();
      upper = q->upper_payload();
    }
    std::uint16_t sport = 0, dport = 0;
    if (proto == packet::ip_protocol::tcp || proto == packet::ip_protocol::udp) {
      if (upper.size() < 4) return std::nullopt;
      sport = load_be16(upper.data());
      dport = load_be16(upper.data() + 2);
    } else if (proto == packet::ip_protocol::icmp || proto == packet::ip_protocol::icmpv6) {
      if (upper.size() < 8) return std::nullopt;
      const auto type = load_u8(upper.data());
      const bool echo = proto == packet::ip_protocol::icmp ? (type == 8 || type == 0) : (type == 128 || type == 129);
      if (echo) sport = dport = load_be16(upper.data() + 4);
    }
    return packet::flow_key::make(src, dst, proto, sport, dport);
  }

  static flow_kind kind_of(const packet::ip_packet& p) noexcept {
    if (p.tcp) {
      const auto flags = p.tcp->flags();
      return flags & (packet::tcp_flags::fin | packet::tcp_flags::rst) ? flow_kind::tcp_closing : flow_kind::tcp;
    }
    if (p.protocol() == packet::ip_protocol::tcp) return flow_kind::tcp;  // a later fragment
    if (p.protocol() == packet::ip_protocol::udp) return flow_kind::udp;
    return flow_kind::other;
  }

  router_options options_;
  policy policy_;
  address_pair tun_;
  std::vector<target_id> rule_targets_;
  target_id default_target_ = no_target;
  std::vector<target_binding> bindings_;                       // by target_id of policy_
  std::unordered_map<std::string, target_binding> by_name_;   // survives set_policy
  std::vector<tunnel> tunnels_;
  conntrack<flow_route> flows_;
  learned_names names_;
  time_point next_names_sweep_{};
  router_stats stats_;
};

}  // namespace warren::route
