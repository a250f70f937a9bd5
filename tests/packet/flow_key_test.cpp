#include <warren/packet/flow_key.hpp>

#include "support/bytes.hpp"

#include <catch2/catch_test_macros.hpp>

#include <set>
#include <unordered_set>

using namespace warren;
using namespace warren::packet;
using warren::test::hex;

TEST_CASE("flow key of a parsed packet", "[packet][flow]") {
  auto b = hex(warren::test::samples::udp4);
  auto p = parse_ip(b);
  REQUIRE(p);
  auto k = flow_key::of(*p);
  CHECK(k.source_address().to_string() == "192.0.2.1");
  CHECK(k.destination_address().to_string() == "192.0.2.2");
  CHECK(k.source_port == 40000);
  CHECK(k.destination_port == 7);
  CHECK(k.ip_proto() == ip_protocol::udp);
  CHECK(k.family == 4);
  auto r = k.reversed();
  CHECK(r.source_port == 7);
  CHECK(r.destination_address().to_string() == "192.0.2.1");
  CHECK(r.reversed() == k);
  CHECK(r != k);

  auto echo = hex(warren::test::samples::echo4);
  auto e = flow_key::of(*parse_ip(echo));
  CHECK(e.source_port == 0x1234);
  CHECK(e.destination_port == 0x1234);
}

TEST_CASE("flow key hash spreads nearby keys and depends on the seed", "[packet][flow]") {
  auto src = *ip_address::parse("10.0.0.1");
  auto dst = *ip_address::parse("10.0.0.2");
  std::set<std::uint64_t> hashes;
  std::set<std::uint64_t> low_bits;
  for (std::uint16_t port = 0; port < 4096; ++port) {
    auto h = flow_key::make(src, dst, ip_protocol::tcp, port, 443).hash();
    hashes.insert(h);
    low_bits.insert(h & 0xfff);
  }
  CHECK(hashes.size() == 4096);
  // A good hash fills most of 4096 buckets with 4096 keys (about 63% expected).
  CHECK(low_bits.size() > 2300);
  auto k = flow_key::make(src, dst, ip_protocol::udp, 1, 2);
  CHECK(k.hash(1) != k.hash(2));
  CHECK(k.hash(7) == k.hash(7));
  std::unordered_set<flow_key, flow_key_hash> table(16, flow_key_hash{12345});
  table.insert(k);
  CHECK(table.count(k) == 1);
  CHECK(table.count(k.reversed()) == 0);
  CHECK(std::hash<flow_key>{}(k) == k.hash());
}

TEST_CASE("IPv4 and IPv6 keys never collide by layout", "[packet][flow]") {
  auto v4 = flow_key::make(*ip_address::parse("0.0.0.0"), *ip_address::parse("0.0.0.0"), ip_protocol::udp, 1, 1);
  auto v6 = flow_key::make(*ip_address::parse("::"), *ip_address::parse("::"), ip_protocol::udp, 1, 1);
  CHECK(v4 != v6);
}
