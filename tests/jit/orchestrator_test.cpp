#include <warren/jit/orchestrator.hpp>  // first: proves the header stands alone
#include <catch2/catch_test_macros.hpp>

#include "route/packets.hpp"

#include <warren/packet/ip_packet.hpp>

#include <algorithm>
#include <chrono>
#include <string>
#include <vector>

using namespace std::chrono_literals;
using namespace warren::test::route_packets;
using warren::packet_buffer;
using warren::time_point;
using warren::jit::candidate;
using warren::jit::orchestrator;
using warren::jit::orchestrator_options;
using warren::jit::output;
using warren::jit::target_options;
using warren::jit::tunnel_state;
using warren::route::action;
using warren::route::address_pair;
using warren::route::policy;
using warren::route::rule;

namespace {

const time_point t0{std::chrono::hours(100)};

policy regions(bool fr_fallback_direct = false) {
  std::vector<rule> rules(2);
  rules[0].destinations = {*warren::packet::ip_prefix::parse("198.18.1.0/24")};
  rules[0].then = action::tunnel("uk");
  rules[1].destinations = {*warren::packet::ip_prefix::parse("198.18.2.0/24")};
  rules[1].then = action::tunnel("fr", fr_fallback_direct);
  return *policy::make(rules);
}

std::vector<target_options> servers() {
  return {{"uk", {{"uk-1", 10}, {"uk-2", 60}}, false}, {"fr", {{"fr-1", 0}}, false}};
}

address_pair tun() { return {ip("10.0.0.1").v4(), std::nullopt}; }

packet_buffer pkt(const bytes& b) { return packet_buffer::copy_of(b); }

warren::probe::candidate measured(std::string id, int median_ms, std::size_t received = 5) {
  warren::probe::candidate c;
  c.id = std::move(id);
  c.stats.sent = 5;
  c.stats.received = received;
  c.stats.loss = 1.0 - static_cast<double>(received) / 5.0;
  c.stats.median = c.stats.min = c.stats.mean = std::chrono::milliseconds(median_ms);
  return c;
}

std::vector<std::string> transitions(const output& out) {
  std::vector<std::string> v;
  for (const auto& e : out.events)
    v.push_back(e.target + ":" + std::string(to_string(e.from)) + ">" + std::string(to_string(e.to)));
  return v;
}

warren::packet::ip_address source_of(const packet_buffer& b) { return warren::packet::parse_ip(b.bytes())->source(); }

}  // namespace

TEST_CASE("jit: nothing connects before the first packet; then one probe, the nearest server, a flush in order", "[jit]") {
  orchestrator o(regions(), tun(), servers());
  output out;
  o.on_timeout(t0, out);
  REQUIRE(out.empty());
  REQUIRE(o.state_of("uk") == tunnel_state::armed);

  // Two flows start at once: both wait, one probe goes out.
  o.on_tun_packet(pkt(udp("10.0.0.1", 1000, "198.18.1.7", 7)), t0, out);
  o.on_tun_packet(pkt(udp("10.0.0.1", 1001, "198.18.1.8", 7)), t0, out);
  o.on_tun_packet(pkt(udp("10.0.0.1", 1000, "198.18.1.7", 7, warren::as_byte_view("the second packet"))), t0, out);
  REQUIRE(out.probes.size() == 1);
  REQUIRE(out.probes[0].target == "uk");
  REQUIRE(out.probes[0].candidates.size() == 2);
  REQUIRE(out.connects.empty());
  REQUIRE(out.to_tunnel.empty());
  REQUIRE(o.status()[0].waiting_packets == 3);
  REQUIRE(transitions(out) == std::vector<std::string>{"uk:armed>probing"});
  out.clear();

  // uk-2 answers sooner.
  const std::vector<warren::probe::candidate> results{measured("uk-1", 40), measured("uk-2", 12)};
  o.on_probe_results("uk", results, t0 + 1s, out);
  REQUIRE(out.connects.size() == 1);
  REQUIRE(out.connects[0].server == "uk-2");
  const auto connection = out.connects[0].connection;
  out.clear();

  o.on_connected(connection, {ip("10.100.0.2").v4(), std::nullopt}, t0 + 2s, out);
  REQUIRE(transitions(out) == std::vector<std::string>{"uk:connecting>connected"});
  REQUIRE(out.to_tunnel.size() == 3);
  for (const auto& [c, p] : out.to_tunnel) {
    REQUIRE(c == connection);
    REQUIRE(source_of(p) == ip("10.100.0.2"));
    REQUIRE(warren::packet::parse_ip(p.bytes(), warren::packet::verify::checksums));
  }
  // Flow by flow, each in order: 1000's two packets, then 1001's.
  auto port_of = [](const packet_buffer& p) { return warren::packet::parse_ip(p.bytes())->udp->source_port(); };
  REQUIRE(port_of(out.to_tunnel[0].second) == 1000);
  REQUIRE(out.to_tunnel[1].second.size() > out.to_tunnel[0].second.size());
  REQUIRE(port_of(out.to_tunnel[2].second) == 1001);
  REQUIRE(o.stats().flushed == 3);
  REQUIRE(o.status()[0].latency->median == 12ms);
  out.clear();

  // Later packets go straight through, and replies come back to the TUN's address.
  o.on_tun_packet(pkt(udp("10.0.0.1", 1002, "198.18.1.9", 7)), t0 + 3s, out);
  REQUIRE(out.to_tunnel.size() == 1);
  o.on_tunnel_packet(connection, pkt(udp("198.18.1.9", 7, "10.100.0.2", 1002)), t0 + 3s, out);
  REQUIRE(out.to_tun.size() == 1);
  REQUIRE(warren::packet::parse_ip(out.to_tun[0].bytes())->destination() == ip("10.0.0.1"));
  out.clear();

  SECTION("an idle tunnel closes, and the next packet arms it again") {
    REQUIRE(o.next_deadline() <= t0 + 3s + 5min);
    o.on_timeout(t0 + 3s + 5min - 1ms, out);
    REQUIRE(out.closes.empty());
    o.on_timeout(t0 + 3s + 5min, out);
    REQUIRE(out.closes.size() == 1);
    REQUIRE(out.closes[0].connection == connection);
    REQUIRE(transitions(out) == std::vector<std::string>{"uk:connected>idle", "uk:idle>armed"});
    out.clear();
    o.on_tun_packet(pkt(udp("10.0.0.1", 1003, "198.18.1.9", 7)), t0 + 6min, out);
    REQUIRE(out.probes.size() == 1);
    REQUIRE(o.stats().tunnels_closed_idle == 1);
  }
  SECTION("a lost server is passed over: the next packet fails over to the other") {
    o.on_tunnel_lost(connection, "no reply for 15 s", t0 + 10s, out);
    REQUIRE(out.closes.size() == 1);
    REQUIRE(o.state_of("uk") == tunnel_state::armed);
    out.clear();
    o.on_tun_packet(pkt(udp("10.0.0.1", 1004, "198.18.1.9", 7)), t0 + 11s, out);
    // One server is left to try, so there is nothing to probe.
    REQUIRE(out.probes.empty());
    REQUIRE(out.connects.size() == 1);
    REQUIRE(out.connects[0].server == "uk-1");
    REQUIRE(o.stats().tunnels_lost == 1);
  }
  SECTION("the other region comes up on its own, at the same time, with its own address") {
    o.on_tun_packet(pkt(udp("10.0.0.1", 2000, "198.18.2.1", 7)), t0 + 4s, out);
    REQUIRE(out.probes.empty());  // one candidate: no probing
    REQUIRE(out.connects.size() == 1);
    REQUIRE(out.connects[0].server == "fr-1");
    const auto fr = out.connects[0].connection;
    out.clear();
    o.on_connected(fr, {ip("10.101.0.2").v4(), std::nullopt}, t0 + 5s, out);
    REQUIRE(out.to_tunnel.size() == 1);
    REQUIRE(source_of(out.to_tunnel[0].second) == ip("10.101.0.2"));
    out.clear();
    o.on_tun_packet(pkt(udp("10.0.0.1", 1002, "198.18.1.9", 7)), t0 + 6s, out);
    REQUIRE(out.to_tunnel[0].first == connection);
  }
}

TEST_CASE("jit: failed connections retry with backoff, then the next server, then the target fails", "[jit]") {
  orchestrator_options opt;
  opt.attempts_per_server = 2;
  opt.retry_backoff = 1s;
  opt.failed_hold = 30s;
  orchestrator o(regions(), tun(), servers(), opt);
  output out;
  o.on_tun_packet(pkt(udp("10.0.0.1", 1000, "198.18.1.7", 7)), t0, out);
  o.on_probe_results("uk", std::vector{measured("uk-1", 5), measured("uk-2", 50)}, t0, out);
  REQUIRE(out.connects.back().server == "uk-1");
  auto c = out.connects.back().connection;
  out.clear();

  o.on_connect_failed(c, "refused", t0 + 1s, out);
  REQUIRE(out.connects.empty());
  REQUIRE(o.next_deadline() == t0 + 2s);
  o.on_timeout(t0 + 2s, out);
  REQUIRE(out.connects.size() == 1);
  REQUIRE(out.connects[0].server == "uk-1");  // attempt 2 on the same server
  c = out.connects[0].connection;
  out.clear();

  // No answer at all: the connect timeout ends the attempt, and uk-2 is next.
  o.on_timeout(t0 + 2s + opt.connect_timeout, out);
  REQUIRE(out.closes.size() == 1);
  REQUIRE(out.closes[0].connection == c);
  REQUIRE(out.connects.size() == 1);
  REQUIRE(out.connects[0].server == "uk-2");
  const auto late = c;
  c = out.connects[0].connection;
  out.clear();

  // The abandoned attempt reports late: it is told to close, nothing else changes.
  o.on_connected(late, {ip("10.100.0.2").v4(), std::nullopt}, t0 + 13s, out);
  REQUIRE(out.closes.size() == 1);
  REQUIRE(out.to_tunnel.empty());
  REQUIRE(o.state_of("uk") == tunnel_state::connecting);
  out.clear();

  o.on_connect_failed(c, "refused", t0 + 14s, out);
  o.on_timeout(t0 + 15s, out);
  c = out.connects.back().connection;
  o.on_connect_failed(c, "refused", t0 + 16s, out);
  REQUIRE(o.state_of("uk") == tunnel_state::failed);
  REQUIRE(o.stats().dropped_waiting == 1);  // the waiting packet: dropped and counted
  REQUIRE(o.queues().total_packets() == 0);
  out.clear();

  // While failed, packets for the target are dropped at once; after the hold it is armed again.
  o.on_tun_packet(pkt(udp("10.0.0.1", 1001, "198.18.1.7", 7)), t0 + 20s, out);
  REQUIRE(out.to_tunnel.empty());
  REQUIRE(out.probes.empty());
  REQUIRE(o.router().stats().unavailable == 1);
  o.on_timeout(t0 + 16s + opt.failed_hold, out);
  REQUIRE(o.state_of("uk") == tunnel_state::armed);
  out.clear();
  o.on_tun_packet(pkt(udp("10.0.0.1", 1001, "198.18.1.7", 7)), t0 + 50s, out);
  REQUIRE(out.probes.size() == 1);
}

TEST_CASE("jit: a rule with a direct fallback sends its waiting packets direct when no server answers", "[jit]") {
  orchestrator_options opt;
  opt.attempts_per_server = 1;
  orchestrator o(regions(true), tun(), servers(), opt);
  output out;
  o.on_tun_packet(pkt(udp("10.0.0.1", 1000, "198.18.2.7", 7)), t0, out);
  o.on_tun_packet(pkt(udp("10.0.0.1", 1000, "198.18.2.7", 7)), t0, out);
  REQUIRE(out.connects.size() == 1);
  const auto c = out.connects[0].connection;
  out.clear();
  o.on_connect_failed(c, "unreachable", t0 + 1s, out);
  REQUIRE(o.state_of("fr") == tunnel_state::failed);
  REQUIRE(out.direct.size() == 2);
  REQUIRE(source_of(out.direct[0]) == ip("10.0.0.1"));  // unchanged
  REQUIRE(o.stats().dropped_waiting == 0);
  REQUIRE(out.events.back().reason.find("sending direct") != std::string::npos);
}

TEST_CASE("jit: a target without servers fails at once and drops what waits", "[jit]") {
  orchestrator o(regions(), tun(), {{"uk", {{"uk-1", 0}}, false}});
  output out;
  o.on_tun_packet(pkt(udp("10.0.0.1", 1000, "198.18.2.7", 7)), t0, out);
  REQUIRE(o.state_of("fr") == tunnel_state::failed);
  REQUIRE(out.events.back().reason == "no servers for this target");
  REQUIRE(o.stats().dropped_waiting == 1);
}

TEST_CASE("jit: shutting down closes tunnels and releases every waiting packet", "[jit]") {
  orchestrator o(regions(), tun(), servers());
  output out;
  o.on_tun_packet(pkt(udp("10.0.0.1", 2000, "198.18.2.1", 7)), t0, out);
  const auto fr = out.connects[0].connection;
  o.on_connected(fr, {ip("10.101.0.2").v4(), std::nullopt}, t0, out);
  o.on_tun_packet(pkt(udp("10.0.0.1", 1000, "198.18.1.7", 7)), t0, out);  // uk: probing, waiting
  out.clear();
  o.close_all("shutting down", t0 + 1s, out);
  REQUIRE(out.closes.size() == 1);
  REQUIRE(out.closes[0].connection == fr);
  REQUIRE(o.queues().total_packets() == 0);
  REQUIRE(o.state_of("uk") == tunnel_state::armed);
  REQUIRE(o.state_of("fr") == tunnel_state::armed);
}

TEST_CASE("jit: new rules that drop a target close its tunnel; the others keep theirs", "[jit]") {
  orchestrator o(regions(), tun(), servers());
  output out;
  o.on_tun_packet(pkt(udp("10.0.0.1", 2000, "198.18.2.1", 7)), t0, out);
  const auto fr = out.connects[0].connection;
  o.on_connected(fr, {ip("10.101.0.2").v4(), std::nullopt}, t0, out);
  out.clear();
  std::vector<rule> rules(1);
  rules[0].destinations = {*warren::packet::ip_prefix::parse("198.18.1.0/24")};
  rules[0].then = action::tunnel("uk");
  o.set_policy(*policy::make(rules), t0 + 1s, out);
  REQUIRE(out.closes.size() == 1);
  REQUIRE(out.closes[0].connection == fr);
  REQUIRE_FALSE(o.state_of("fr"));
  REQUIRE(o.router().counters(0) == nullptr);  // the router forgot the tunnel
  out.clear();
  o.on_tun_packet(pkt(udp("10.0.0.1", 2000, "198.18.2.1", 7)), t0 + 2s, out);
  REQUIRE(out.to_tunnel.empty());  // no rule: the default drops it
  REQUIRE(out.connects.empty());
}
