#include <warren/route/router.hpp>  // first: proves the header stands alone
#include <catch2/catch_test_macros.hpp>

#include "route/packets.hpp"

#include <warren/packet/ip_packet.hpp>

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

using namespace std::chrono_literals;
using namespace warren::test::route_packets;
using warren::time_point;
using warren::packet::parse_ip;
using warren::packet::verify;
using warren::route::action;
using warren::route::address_pair;
using warren::route::decision;
using warren::route::errc;
using warren::route::policy;
using warren::route::router;
using warren::route::rule;
using warren::route::target_binding;

namespace {

const time_point t0{std::chrono::hours(10)};

warren::packet::ip_prefix pfx(std::string_view text) { return *warren::packet::ip_prefix::parse(text); }

// The shape: one TUN address; prefix A (198.18.1.0/24) to region "uk", prefix B
// (198.18.2.0/24) to region "fr"; everything else dropped.
policy two_regions() {
  std::vector<rule> rules(2);
  rules[0].destinations = {pfx("198.18.1.0/24"), pfx("fd00:a::/32")};
  rules[0].then = action::tunnel("uk");
  rules[1].destinations = {pfx("198.18.2.0/24")};
  rules[1].then = action::tunnel("fr");
  return *policy::make(rules);
}

address_pair tun_addresses() { return {ip("10.0.0.1").v4(), ip("fd00::1").v6()}; }
address_pair uk_addresses() { return {ip("10.100.0.2").v4(), ip("fd00:100::2").v6()}; }
address_pair fr_addresses() { return {ip("10.101.0.2").v4(), std::nullopt}; }

warren::packet::ip_packet parsed(const bytes& b) {
  auto p = parse_ip(b, verify::checksums);
  REQUIRE(p);
  return *p;
}

// A DNS response for `name` (type A) with one address.
bytes dns_answer(const std::string& name, std::uint8_t a, std::uint8_t b, std::uint8_t c, std::uint8_t d) {
  bytes m;
  auto put = [&](std::initializer_list<int> v) {
    for (int x : v) m.push_back(std::byte(x));
  };
  put({0x12, 0x34, 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0});
  std::size_t start = 0;
  while (start <= name.size()) {
    const auto dot = std::min(name.find('.', start), name.size());
    m.push_back(std::byte(dot - start));
    for (std::size_t i = start; i < dot; ++i) m.push_back(std::byte(name[i]));
    start = dot + 1;
  }
  put({0, 0, 1, 0, 1});                        // end of name, type A, class IN
  put({0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 1, 0x2c, 0, 4, a, b, c, d});  // TTL 300
  return m;
}

}  // namespace

TEST_CASE("router: a flow waits for its target's tunnel, then goes through it with the tunnel's address", "[route]") {
  router r(two_regions(), tun_addresses());
  bytes to_a = udp("10.0.0.1", 5000, "198.18.1.7", 7);
  const bytes original = to_a;

  decision d = r.on_outbound(to_a, t0);
  REQUIRE(d.what == decision::kind::pending);
  REQUIRE(r.target_name(d.target) == "uk");
  REQUIRE(to_a == original);  // untouched while pending
  REQUIRE(r.flow_count() == 0);

  const auto uk = r.add_tunnel(uk_addresses());
  const auto fr = r.add_tunnel(fr_addresses());
  REQUIRE(uk != fr);
  REQUIRE(r.bind("uk", target_binding::to_tunnel(uk)));
  REQUIRE(r.bind("fr", target_binding::to_tunnel(fr)));

  d = r.on_outbound(to_a, t0);
  REQUIRE(d.what == decision::kind::tunnel);
  REQUIRE(d.tunnel == uk);
  REQUIRE(parsed(to_a).source() == ip("10.100.0.2"));

  bytes to_b = tcp("10.0.0.1", 40000, "198.18.2.9", 80, warren::packet::tcp_flags::syn);
  d = r.on_outbound(to_b, t0);
  REQUIRE(d.what == decision::kind::tunnel);
  REQUIRE(d.tunnel == fr);
  REQUIRE(parsed(to_b).source() == ip("10.101.0.2"));

  SECTION("replies come back to the TUN's address") {
    bytes reply = udp("198.18.1.7", 7, "10.100.0.2", 5000);
    d = r.on_inbound(uk, reply, t0 + 1ms);
    REQUIRE(d.what == decision::kind::tunnel);
    REQUIRE(parsed(reply).destination() == ip("10.0.0.1"));
    REQUIRE(r.counters(uk)->packets_in == 1);
    REQUIRE(r.counters(uk)->packets_out == 1);
    REQUIRE(r.counters(uk)->last_activity == t0 + 1ms);
  }
  SECTION("a tunnel may not deliver to another tunnel's address, nor into another tunnel's flow") {
    bytes stray = udp("198.18.1.7", 7, "10.100.0.2", 5000);
    d = r.on_inbound(fr, stray, t0);
    REQUIRE(d.what == decision::kind::drop);
    REQUIRE(d.reason == errc::foreign_destination);
    bytes injected = udp("198.18.1.7", 7, "10.101.0.2", 5000);  // fr's address, uk's flow
    d = r.on_inbound(fr, injected, t0);
    REQUIRE(d.what == decision::kind::drop);
    REQUIRE(d.reason == errc::wrong_tunnel);
    REQUIRE(r.stats().foreign_destination == 1);
    REQUIRE(r.stats().wrong_tunnel == 1);
  }
  SECTION("changed rules leave running flows where they are") {
    std::vector<rule> rules(1);
    rules[0].destinations = {pfx("198.18.0.0/15")};
    rules[0].then = action::tunnel("fr");
    r.set_policy(*policy::make(rules));
    bytes again = udp("10.0.0.1", 5000, "198.18.1.7", 7);
    REQUIRE(r.on_outbound(again, t0).tunnel == uk);
    bytes fresh = udp("10.0.0.1", 5001, "198.18.1.7", 7);
    REQUIRE(r.on_outbound(fresh, t0).tunnel == fr);  // "fr" kept its binding across policies
  }
  SECTION("closing a tunnel forgets its flows, and its target's next flow waits again") {
    REQUIRE(r.remove_tunnel(uk) == 1);
    REQUIRE_FALSE(r.has_tunnel(uk));
    bytes again = udp("10.0.0.1", 5000, "198.18.1.7", 7);
    REQUIRE(r.on_outbound(again, t0).what == decision::kind::pending);
    bytes late = udp("198.18.1.7", 7, "10.100.0.2", 5000);
    REQUIRE(r.on_inbound(uk, late, t0).reason == errc::unknown_tunnel);
    bytes more_b = tcp("10.0.0.1", 40000, "198.18.2.9", 80);
    REQUIRE(r.on_outbound(more_b, t0).tunnel == fr);  // the other tunnel is untouched
  }
  SECTION("idle flows expire; the next packet decides afresh") {
    REQUIRE(r.next_deadline() == t0 + warren::route::conntrack_options{}.udp_timeout);
    r.on_timeout(t0 + 5min);
    REQUIRE(r.flow_count() == 1);  // the TCP flow lives on
  }
}

TEST_CASE("router: IPv6 flows take the tunnel's IPv6 address, or are refused if it has none", "[route]") {
  router r(two_regions(), tun_addresses());
  const auto uk = r.add_tunnel(uk_addresses());
  REQUIRE(r.bind("uk", target_binding::to_tunnel(uk)));
  bytes ping = echo_request("fd00::1", "fd00:a::5", 77);
  decision d = r.on_outbound(ping, t0);
  REQUIRE(d.what == decision::kind::tunnel);
  REQUIRE(parsed(ping).source() == ip("fd00:100::2"));
  bytes pong = echo_request("fd00:a::5", "fd00:100::2", 77);  // same identifier: same flow
  REQUIRE(r.on_inbound(uk, pong, t0).what == decision::kind::tunnel);
  REQUIRE(parsed(pong).destination() == ip("fd00::1"));
  REQUIRE(r.flow_count() == 1);

  SECTION("a tunnel without an IPv6 address cannot carry IPv6") {
    router r2(two_regions(), tun_addresses());
    const auto fr = r2.add_tunnel(fr_addresses());
    REQUIRE(r2.bind("uk", target_binding::to_tunnel(fr)));
    bytes p = echo_request("fd00::1", "fd00:a::5", 1);
    d = r2.on_outbound(p, t0);
    REQUIRE(d.what == decision::kind::drop);
    REQUIRE(d.reason == errc::family_mismatch);
  }
}

TEST_CASE("router: what is not ours, or not IP, is dropped and counted", "[route]") {
  router r(two_regions(), tun_addresses());
  bytes other_source = udp("10.0.0.99", 1, "198.18.1.1", 2);
  REQUIRE(r.on_outbound(other_source, t0).reason == errc::foreign_source);
  bytes junk(30, std::byte{0x45});
  REQUIRE(r.on_outbound(junk, t0).what == decision::kind::drop);
  bytes nowhere = udp("10.0.0.1", 1, "192.0.2.1", 2);
  decision d = r.on_outbound(nowhere, t0);
  REQUIRE(d.reason == errc::no_route);
  REQUIRE(r.stats().foreign_source == 1);
  REQUIRE(r.stats().malformed == 1);
  REQUIRE(r.stats().policy_drops == 1);
  REQUIRE(r.on_inbound(42, nowhere, t0).reason == errc::unknown_tunnel);
}

TEST_CASE("router: selector rules come first, then domains, then the longest prefix", "[route]") {
  std::vector<rule> rules(4);
  rules[0].destinations = {pfx("198.18.0.0/15")};
  rules[0].then = action::tunnel("uk");
  rules[1].destinations = {pfx("198.18.4.0/24")};
  rules[1].then = action::tunnel("fr");
  rules[2].domains = {"Example.COM."};
  rules[2].then = action::tunnel("fr");
  rules[3].sources = {pfx("10.0.0.1/32")};
  rules[3].destination_ports = warren::route::port_range{5000, 5010};
  rules[3].then = action::direct();
  router r(*policy::make(rules, action::direct()), tun_addresses());
  const auto uk = r.add_tunnel(uk_addresses());
  const auto fr = r.add_tunnel(fr_addresses());
  REQUIRE(r.bind("uk", target_binding::to_tunnel(uk)));
  REQUIRE(r.bind("fr", target_binding::to_tunnel(fr)));

  bytes p = udp("10.0.0.1", 1, "198.18.4.4", 53);
  REQUIRE(r.on_outbound(p, t0).tunnel == fr);  // the /24 beats the /15
  p = udp("10.0.0.1", 1, "198.18.5.5", 53);
  REQUIRE(r.on_outbound(p, t0).tunnel == uk);
  p = udp("10.0.0.1", 1, "198.18.5.5", 5005);
  REQUIRE(r.on_outbound(p, t0).what == decision::kind::direct);  // the selector rule first
  p = udp("10.0.0.1", 1, "192.0.2.1", 53);
  REQUIRE(r.on_outbound(p, t0).what == decision::kind::direct);  // the default

  // A DNS answer through the uk tunnel teaches that www.example.com is 198.18.9.9.
  const bytes answer = dns_answer("www.example.com", 198, 18, 9, 9);
  bytes dns = udp("198.18.0.53", 53, "10.100.0.2", 33333, answer);
  REQUIRE(r.on_inbound(uk, dns, t0).what == decision::kind::tunnel);
  REQUIRE(r.stats().names_learned == 1);
  p = tcp("10.0.0.1", 40001, "198.18.9.9", 443, warren::packet::tcp_flags::syn);
  REQUIRE(r.on_outbound(p, t0).tunnel == fr);  // the domain rule beats the /15
  // A name no rule covers is not remembered.
  bytes other = udp("198.18.0.53", 53, "10.100.0.2", 33334, dns_answer("example.org", 198, 18, 9, 10));
  REQUIRE(r.on_inbound(uk, other, t0).what == decision::kind::tunnel);
  REQUIRE(r.stats().names_learned == 1);
  REQUIRE(r.names().size() == 1);
}

TEST_CASE("router: bad rules are refused when the policy is built", "[route]") {
  std::vector<rule> rules(1);
  SECTION("a rule that matches nothing in particular") {
    rules[0].then = action::direct();
  }
  SECTION("a tunnel with no target") {
    rules[0].destinations = {pfx("198.18.0.0/15")};
    rules[0].then = action::tunnel("");
  }
  SECTION("a backwards port range") {
    rules[0].destination_ports = warren::route::port_range{10, 5};
  }
  SECTION("a domain that is no DNS name") {
    rules[0].domains = {"exa mple.com"};
  }
  SECTION("one prefix claimed twice") {
    rules.resize(2);
    rules[0].destinations = {pfx("198.18.0.0/15")};
    rules[1].destinations = {pfx("198.18.0.0/15")};
  }
  auto p = policy::make(rules);
  REQUIRE_FALSE(p);
  REQUIRE(p.error() == errc::bad_rule);
}

TEST_CASE("router: an ICMP error follows the flow it reports on, with the quote rewritten", "[route]") {
  router r(two_regions(), tun_addresses());
  const auto uk = r.add_tunnel(uk_addresses());
  const auto fr = r.add_tunnel(fr_addresses());
  REQUIRE(r.bind("uk", target_binding::to_tunnel(uk)));
  REQUIRE(r.bind("fr", target_binding::to_tunnel(fr)));
  // A server behind fr opens a flow to us (198.18.1.50 is in uk's prefix: the rules would send
  // our reply to uk, but the flow came in through fr).
  bytes inbound = udp("198.18.1.50", 9999, "10.101.0.2", 7777);
  REQUIRE(r.on_inbound(fr, inbound, t0).what == decision::kind::tunnel);
  // Nothing listens: the host answers "port unreachable", quoting what it received.
  bytes error = port_unreachable("10.0.0.1", "198.18.1.50", inbound);
  decision d = r.on_outbound(error, t0);
  REQUIRE(d.what == decision::kind::tunnel);
  REQUIRE(d.tunnel == fr);
  auto p = parsed(error);
  REQUIRE(p.source() == ip("10.101.0.2"));
  auto quote = p.icmpv4->quoted_packet();
  REQUIRE(quote);
  REQUIRE(warren::packet::ip_address(quote->destination()) == ip("10.101.0.2"));
  REQUIRE(quote->checksum_valid());
  REQUIRE(r.flow_count() == 1);  // errors never start flows
}
