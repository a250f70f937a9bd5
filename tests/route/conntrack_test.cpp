#include <warren/route/conntrack.hpp>  // first: proves the header stands alone
#include <catch2/catch_test_macros.hpp>

#include "buffer/allocation_counter.hpp"

#include <chrono>
#include <cstdint>
#include <map>
#include <random>
#include <tuple>

using namespace std::chrono_literals;
using warren::time_point;
using warren::packet::flow_key;
using warren::packet::ip_address;
using warren::packet::ip_protocol;
using warren::packet::ipv4_address;
using warren::route::conntrack;
using warren::route::conntrack_options;
using warren::route::flow_kind;

namespace {

flow_key flow(std::uint32_t n, ip_protocol proto = ip_protocol::udp) {
  return flow_key::make(ipv4_address::from_uint(0x0a000001), ipv4_address::from_uint(0xc0000200 + (n >> 16)), proto,
                        static_cast<std::uint16_t>(n), 443);
}

const time_point t0{std::chrono::hours(1000)};

}  // namespace

TEST_CASE("conntrack: a flow keeps its value until it is erased", "[route]") {
  conntrack<int> ct;
  REQUIRE(ct.find(flow(1)) == nullptr);
  ct.insert(flow(1), 10, t0, flow_kind::udp);
  ct.insert(flow(2), 20, t0, flow_kind::tcp);
  REQUIRE(*ct.find(flow(1)) == 10);
  REQUIRE(*ct.find(flow(2)) == 20);
  REQUIRE(ct.find(flow(1).reversed()) == nullptr);  // keys are directional
  ct.insert(flow(1), 11, t0, flow_kind::udp);       // replaces
  REQUIRE(*ct.find(flow(1)) == 11);
  REQUIRE(ct.size() == 2);
  REQUIRE(ct.erase(flow(1)));
  REQUIRE_FALSE(ct.erase(flow(1)));
  REQUIRE(ct.find(flow(1)) == nullptr);
  REQUIRE(*ct.find(flow(2)) == 20);
  REQUIRE(ct.stats().inserted == 2);
}

TEST_CASE("conntrack: each kind of flow expires after its own idle time", "[route]") {
  conntrack_options o;
  conntrack<int> ct(o);
  ct.insert(flow(1), 1, t0, flow_kind::udp);
  ct.insert(flow(2), 2, t0, flow_kind::tcp);
  ct.insert(flow(3), 3, t0, flow_kind::other);
  ct.insert(flow(4), 4, t0, flow_kind::tcp);
  REQUIRE(ct.next_expiry() == t0 + o.other_timeout);

  REQUIRE(ct.expire(t0 + o.other_timeout - 1ns) == 0);
  REQUIRE(ct.expire(t0 + o.other_timeout) == 1);  // ICMP first
  REQUIRE(ct.find(flow(3)) == nullptr);

  SECTION("touching a flow restarts its timer") {
    REQUIRE(ct.touch(flow(1), t0 + 4min, flow_kind::udp) != nullptr);
    REQUIRE(ct.expire(t0 + o.udp_timeout) == 0);
    REQUIRE(ct.expire(t0 + 4min + o.udp_timeout) == 1);
  }
  SECTION("a TCP flow that saw FIN expires sooner than an open one") {
    REQUIRE(*ct.touch(flow(2), t0 + 1min - 1s, flow_kind::tcp_closing) == 2);
    REQUIRE(*ct.touch(flow(2), t0 + 1min, flow_kind::tcp) == 2);  // the last ACK: still closing
    REQUIRE(ct.expire(t0 + 1min + o.tcp_closing_timeout) == 2);  // flow 2, and flow 1 (UDP, 5 min)
    REQUIRE(ct.find(flow(2)) == nullptr);
    REQUIRE(ct.find(flow(4)) != nullptr);
    REQUIRE(ct.next_expiry() == t0 + o.tcp_timeout);
    REQUIRE(ct.expire(t0 + o.tcp_timeout) == 1);
    REQUIRE(ct.empty());
    REQUIRE_FALSE(ct.next_expiry());
  }
  REQUIRE(ct.stats().expired >= 1);
}

TEST_CASE("conntrack: a full table evicts the flow closest to expiry, never grows", "[route]") {
  conntrack_options o;
  o.max_flows = 100;
  conntrack<std::uint32_t> ct(o);
  for (std::uint32_t i = 0; i < 100; ++i) ct.insert(flow(i), i, t0 + std::chrono::seconds(i), flow_kind::udp);
  // Flow 0 was busy lately: it is not the one to go.
  ct.touch(flow(0), t0 + 200s, flow_kind::udp);
  for (std::uint32_t i = 100; i < 1000; ++i) {
    ct.insert(flow(i), i, t0 + std::chrono::seconds(i), flow_kind::udp);
    REQUIRE(ct.size() == 100);
  }
  REQUIRE(ct.stats().evicted == 900);
  REQUIRE(ct.find(flow(0)) == nullptr);  // its turn came once 200 s was the oldest
  for (std::uint32_t i = 900; i < 1000; ++i) REQUIRE(ct.find(flow(i)) != nullptr);
  SECTION("a long-lived TCP flow outlives busier UDP flows that expire sooner") {
    conntrack<int> mixed(o);
    mixed.insert(flow(5000, ip_protocol::tcp), 1, t0, flow_kind::tcp);
    for (std::uint32_t i = 0; i < 500; ++i) mixed.insert(flow(i), 2, t0 + std::chrono::seconds(i), flow_kind::udp);
    REQUIRE(mixed.find(flow(5000, ip_protocol::tcp)) != nullptr);
  }
}

TEST_CASE("conntrack: erase_if drops the flows of one tunnel", "[route]") {
  conntrack<int> ct;
  for (std::uint32_t i = 0; i < 300; ++i) ct.insert(flow(i), static_cast<int>(i % 3), t0, i % 2 ? flow_kind::tcp : flow_kind::udp);
  REQUIRE(ct.erase_if([](const flow_key&, int tunnel) { return tunnel == 1; }) == 100);
  REQUIRE(ct.size() == 200);
  for (std::uint32_t i = 0; i < 300; ++i) REQUIRE((ct.find(flow(i)) == nullptr) == (i % 3 == 1));
}

TEST_CASE("conntrack agrees with a map under random churn", "[route]") {
  // A small table with a fixed seed packs probe runs tightly, so removals shift entries across
  // the index's wrap-around; the model catches a lost or duplicated flow.
  conntrack_options o;
  o.max_flows = 48;
  o.udp_timeout = 100s + 1ns;  // never ties with a TCP flow's expiry on a millisecond clock
  o.tcp_timeout = 300s;
  conntrack<std::uint32_t> ct(o, 7);
  std::map<std::uint32_t, std::tuple<std::uint32_t, time_point, flow_kind>> model;  // flow → value, last seen, kind
  std::mt19937 rng(99);
  time_point now = t0;
  auto timeout = [&](flow_kind k) { return k == flow_kind::tcp ? o.tcp_timeout : o.udp_timeout; };
  for (int step = 0; step < 40000; ++step) {
    now += std::chrono::milliseconds(1 + rng() % 200);  // no two events at one instant: no ties
    const auto f = static_cast<std::uint32_t>(rng() % 96);
    const flow_kind kind = f % 2 ? flow_kind::tcp : flow_kind::udp;
    switch (rng() % 5) {
      case 0:
      case 1: {
        if (model.size() == o.max_flows && !model.contains(f)) {
          // The model evicts what the table must: the soonest to expire.
          auto victim = model.begin();
          for (auto it = model.begin(); it != model.end(); ++it) {
            const auto at = std::get<1>(it->second) + timeout(std::get<2>(it->second));
            if (at < std::get<1>(victim->second) + timeout(std::get<2>(victim->second))) victim = it;
          }
          model.erase(victim);
        }
        ct.insert(flow(f), f * 7 + 1, now, kind);
        model[f] = {f * 7 + 1, now, kind};
        break;
      }
      case 2: {
        const bool hit = ct.touch(flow(f), now, kind) != nullptr;
        REQUIRE(hit == model.contains(f));
        if (hit) std::get<1>(model[f]) = now;
        break;
      }
      case 3:
        REQUIRE(ct.erase(flow(f)) == (model.erase(f) == 1));
        break;
      default: {
        const std::size_t gone = ct.expire(now);
        const auto dead = std::erase_if(model, [&](const auto& m) {
          return std::get<1>(m.second) + timeout(std::get<2>(m.second)) <= now;
        });
        REQUIRE(gone == dead);
      }
    }
    REQUIRE(ct.size() == model.size());
    for (std::uint32_t g = 0; g < 96; g += 7) {
      const std::uint32_t* v = ct.find(flow(g));
      REQUIRE((v != nullptr) == model.contains(g));
      if (v) REQUIRE(*v == std::get<0>(model[g]));
    }
  }
}

TEST_CASE("conntrack: a warm table tracks new flows without allocating", "[route]") {
  conntrack_options o;
  o.max_flows = 1024;
  conntrack<int> ct(o);
  for (std::uint32_t i = 0; i < 2048; ++i) ct.insert(flow(i), 1, t0, flow_kind::udp);  // entries grown to the bound
  std::uint32_t next = 5000;
  const auto allocations = warren::test::allocations_during([&] {
    for (int i = 0; i < 10000; ++i) {
      ct.insert(flow(next++), 2, t0 + std::chrono::seconds(i), flow_kind::udp);
      ct.touch(flow(next - 3), t0 + std::chrono::seconds(i), flow_kind::udp);
      if (i % 100 == 0) ct.expire(t0 + std::chrono::seconds(i));
      if (i % 7 == 0) ct.erase(flow(next - 5));
    }
  });
  REQUIRE(allocations == 0);
  REQUIRE(ct.size() <= 1024);
}
