#include <warren/packet/ip_address.hpp>

#include <catch2/catch_test_macros.hpp>

using namespace warren::packet;

TEST_CASE("addresses parse and print", "[packet][address]") {
  CHECK(ipv4_address::parse("192.0.2.1")->to_string() == "192.0.2.1");
  CHECK(ipv4_address::parse("192.0.2.1")->to_uint() == 0xc0000201u);
  CHECK(ipv4_address::from_uint(0xc0000201u) == *ipv4_address::parse("192.0.2.1"));
  CHECK(ipv6_address::parse("2001:db8::1")->to_string() == "2001:db8::1");
  CHECK_FALSE(ipv4_address::parse("192.0.2"));
  CHECK_FALSE(ipv4_address::parse("192.0.2.256"));
  CHECK_FALSE(ipv6_address::parse("2001:db8:::1"));
  CHECK_FALSE(ipv4_address::parse(std::string(100, '1')));
  auto a = ip_address::parse("fd00::2");
  REQUIRE(a);
  CHECK(a->is_v6());
  CHECK(a->bytes().size() == 16);
  CHECK(ip_address::parse("192.0.2.9")->bytes().size() == 4);
  CHECK(ip_address(*ipv4_address::parse("0.0.0.0")) != ip_address(*ipv6_address::parse("::")));
}

TEST_CASE("prefixes parse, contain and mask", "[packet][address]") {
  auto p = ip_prefix::parse("10.100.0.2/16");
  REQUIRE(p);
  CHECK(p->length == 16);
  CHECK(p->to_string() == "10.100.0.2/16");
  CHECK(p->network().to_string() == "10.100.0.0/16");
  CHECK(p->contains(*ip_address::parse("10.100.255.1")));
  CHECK_FALSE(p->contains(*ip_address::parse("10.101.0.1")));
  CHECK_FALSE(p->contains(*ip_address::parse("fd00::1")));
  auto q = ip_prefix::parse("fd00:1:2:3::9/57");
  REQUIRE(q);
  CHECK(q->network().to_string() == "fd00:1:2::/57");
  CHECK(q->contains(*ip_address::parse("fd00:1:2:7f::1")));
  CHECK_FALSE(q->contains(*ip_address::parse("fd00:1:2:80::1")));
  CHECK(ip_prefix::parse("192.0.2.1")->length == 32);
  CHECK_FALSE(ip_prefix::parse("192.0.2.1/33"));
  CHECK_FALSE(ip_prefix::parse("192.0.2.1/"));
  CHECK_FALSE(ip_prefix::parse("192.0.2.1/2x"));
  CHECK(ip_prefix::parse("0.0.0.0/0")->contains(*ip_address::parse("203.0.113.5")));
}

TEST_CASE("a hand-built prefix longer than its family allows acts as a host prefix", "[packet][address]") {
  // Found by the fuzz work: contains() read past the 16 address bytes for length > 128.
  auto a = *ip_address::parse("fd00::1");
  ip_prefix p{a, 200};
  CHECK(p.contains(a));
  CHECK_FALSE(p.contains(*ip_address::parse("fd00::2")));
  ip_prefix q{*ip_address::parse("192.0.2.1"), 99};
  CHECK(q.contains(*ip_address::parse("192.0.2.1")));
  CHECK(q.network().address == q.address);
}
