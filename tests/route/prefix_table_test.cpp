#include <warren/route/prefix_table.hpp>  // first: proves the header stands alone
#include <catch2/catch_test_macros.hpp>

// The one translation unit of warren_route_tests that replaces global operator new/delete;
// other route tests include "buffer/allocation_counter.hpp" without the define.
#define WARREN_DEFINE_ALLOCATION_COUNTER
#include "buffer/allocation_counter.hpp"

#include <algorithm>
#include <cstdint>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <string_view>
#include <vector>

using warren::packet::ip_address;
using warren::packet::ip_prefix;
using warren::packet::ipv4_address;
using warren::packet::ipv6_address;
using warren::route::prefix_table;

namespace {

ip_prefix pfx(std::string_view text) {
  auto p = ip_prefix::parse(text);
  REQUIRE(p);
  return *p;
}
ip_address addr(std::string_view text) {
  auto a = ip_address::parse(text);
  REQUIRE(a);
  return *a;
}
// The value for `text`, or -1 for a miss.
int route(const prefix_table<int>& t, std::string_view text) {
  const int* v = t.lookup(addr(text));
  return v ? *v : -1;
}
std::vector<std::string> strings(const std::vector<ip_prefix>& ps) {
  std::vector<std::string> out;
  for (const auto& p : ps) out.push_back(p.to_string());
  return out;
}

}  // namespace

TEST_CASE("prefix table: an empty table routes nothing", "[route]") {
  prefix_table<int> t;
  REQUIRE(t.empty());
  REQUIRE(t.size() == 0);
  REQUIRE(route(t, "10.0.0.1") == -1);
  REQUIRE(route(t, "::") == -1);
  REQUIRE_FALSE(t.remove(pfx("10.0.0.0/8")));
  REQUIRE(t.find(pfx("0.0.0.0/0")) == nullptr);
}

TEST_CASE("prefix table: the longest IPv4 prefix wins", "[route]") {
  prefix_table<int> t;
  // Inserted in an order that makes later, shorter prefixes go above existing nodes.
  REQUIRE(t.insert(pfx("10.1.2.3/32"), 32));
  REQUIRE(t.insert(pfx("10.1.2.0/24"), 24));
  REQUIRE(t.insert(pfx("10.0.0.0/8"), 8));
  REQUIRE(t.insert(pfx("10.1.0.0/16"), 16));
  REQUIRE(t.insert(pfx("0.0.0.0/0"), 0));
  REQUIRE(t.size() == 5);

  REQUIRE(route(t, "10.1.2.3") == 32);
  REQUIRE(route(t, "10.1.2.2") == 24);
  REQUIRE(route(t, "10.1.2.255") == 24);
  REQUIRE(route(t, "10.1.3.0") == 16);
  REQUIRE(route(t, "10.1.255.255") == 16);
  REQUIRE(route(t, "10.2.0.0") == 8);
  REQUIRE(route(t, "10.255.255.255") == 8);
  REQUIRE(route(t, "11.0.0.0") == 0);
  REQUIRE(route(t, "9.255.255.255") == 0);
  REQUIRE(route(t, "255.255.255.255") == 0);

  SECTION("without the default route, outside addresses miss") {
    REQUIRE(t.remove(pfx("0.0.0.0/0")));
    REQUIRE(route(t, "11.0.0.0") == -1);
    REQUIRE(route(t, "10.1.2.3") == 32);
  }
  SECTION("removing a middle prefix falls back to the next shorter one") {
    REQUIRE(t.remove(pfx("10.1.0.0/16")));
    REQUIRE(route(t, "10.1.3.0") == 8);
    REQUIRE(route(t, "10.1.2.9") == 24);
    REQUIRE(t.size() == 4);
  }
  SECTION("removing the /32 leaves the /24 for that address") {
    REQUIRE(t.remove(pfx("10.1.2.3/32")));
    REQUIRE(route(t, "10.1.2.3") == 24);
    REQUIRE_FALSE(t.remove(pfx("10.1.2.3/32")));
  }
}

TEST_CASE("prefix table: prefixes that differ in the middle of a byte", "[route]") {
  prefix_table<int> t;
  t.insert(pfx("192.168.0.0/23"), 1);   // 192.168.0.0 - 192.168.1.255
  t.insert(pfx("192.168.2.0/23"), 2);   // 192.168.2.0 - 192.168.3.255
  t.insert(pfx("192.168.1.128/25"), 3);
  t.insert(pfx("192.168.1.0/31"), 4);
  REQUIRE(route(t, "192.168.0.200") == 1);
  REQUIRE(route(t, "192.168.1.127") == 1);
  REQUIRE(route(t, "192.168.1.128") == 3);
  REQUIRE(route(t, "192.168.1.1") == 4);
  REQUIRE(route(t, "192.168.1.2") == 1);
  REQUIRE(route(t, "192.168.3.255") == 2);
  REQUIRE(route(t, "192.168.4.0") == -1);
  REQUIRE(route(t, "192.169.0.0") == -1);
}

TEST_CASE("prefix table: the longest IPv6 prefix wins", "[route]") {
  prefix_table<int> t;
  t.insert(pfx("2001:db8:1:2::5/128"), 128);
  t.insert(pfx("::/0"), 0);
  t.insert(pfx("2001:db8:1:2::/64"), 64);
  t.insert(pfx("2001:db8:1::/48"), 48);
  REQUIRE(t.size() == 4);

  REQUIRE(route(t, "2001:db8:1:2::5") == 128);
  REQUIRE(route(t, "2001:db8:1:2::4") == 64);
  REQUIRE(route(t, "2001:db8:1:2:ffff:ffff:ffff:ffff") == 64);
  REQUIRE(route(t, "2001:db8:1:3::5") == 48);
  REQUIRE(route(t, "2001:db8:1:ffff::") == 48);
  REQUIRE(route(t, "2001:db8:2::") == 0);
  REQUIRE(route(t, "fe80::1") == 0);
  // The low 64 bits decide here: a key split into halves must compare both.
  t.insert(pfx("2001:db8:1:2:8000::/65"), 65);
  REQUIRE(route(t, "2001:db8:1:2:8000::1") == 65);
  REQUIRE(route(t, "2001:db8:1:2:7fff::1") == 64);
  t.insert(pfx("2001:db8:1:2::4/127"), 127);
  REQUIRE(route(t, "2001:db8:1:2::4") == 127);
  REQUIRE(route(t, "2001:db8:1:2::5") == 128);
  REQUIRE(route(t, "2001:db8:1:2::6") == 64);
}

TEST_CASE("prefix table: IPv4 and IPv6 never cross", "[route]") {
  prefix_table<int> t;
  t.insert(pfx("::/0"), 6);
  REQUIRE(route(t, "0.0.0.0") == -1);
  REQUIRE(route(t, "10.0.0.1") == -1);
  t.insert(pfx("0.0.0.0/0"), 4);
  REQUIRE(route(t, "10.0.0.1") == 4);
  REQUIRE(route(t, "::") == 6);
  // An IPv4-mapped IPv6 address is IPv6, and the same leading bytes in IPv6 do not match IPv4.
  t.insert(pfx("10.0.0.0/8"), 48);
  REQUIRE(route(t, "::ffff:10.0.0.1") == 6);
  REQUIRE(route(t, "a00::1") == 6);
  REQUIRE(t.remove(pfx("::/0")));
  REQUIRE(route(t, "a00::1") == -1);
  REQUIRE(route(t, "10.9.9.9") == 48);
  REQUIRE_FALSE(t.remove(pfx("::/0")));
}

TEST_CASE("prefix table: inserting a present prefix moves it to the new value", "[route]") {
  prefix_table<int> t;
  REQUIRE(t.insert(pfx("10.0.0.0/24"), 1));
  REQUIRE(t.insert(pfx("10.0.1.0/24"), 1));
  REQUIRE_FALSE(t.insert(pfx("10.0.0.0/24"), 2));  // not new: moved
  REQUIRE(t.size() == 2);
  REQUIRE(route(t, "10.0.0.9") == 2);
  REQUIRE(route(t, "10.0.1.9") == 1);
  REQUIRE(strings(t.prefixes_of(1)) == std::vector<std::string>{"10.0.1.0/24"});
  REQUIRE(strings(t.prefixes_of(2)) == std::vector<std::string>{"10.0.0.0/24"});
  SECTION("host bits are cleared before a prefix is stored") {
    REQUIRE(t.insert(pfx("10.9.8.77/22"), 4));
    REQUIRE(strings(t.prefixes_of(4)) == std::vector<std::string>{"10.9.8.0/22"});
    REQUIRE(t.insert(pfx("fd00::1:2:3/64"), 4));
    REQUIRE(strings(t.prefixes_of(4)) == std::vector<std::string>{"10.9.8.0/22", "fd00::/64"});
  }
  SECTION("host bits are cleared, so 10.0.0.77/24 names the same prefix") {
    REQUIRE_FALSE(t.insert(pfx("10.0.0.77/24"), 3));
    REQUIRE(t.size() == 2);
    REQUIRE(route(t, "10.0.0.1") == 3);
    REQUIRE(*t.find(pfx("10.0.0.200/24")) == 3);
    REQUIRE(t.remove(pfx("10.0.0.1/24")));
    REQUIRE(route(t, "10.0.0.1") == -1);
  }
  SECTION("a prefix that exists only as a branch point becomes an entry") {
    // 10.0.0.0/23 is where the two /24s part ways; the trie holds it without a value.
    REQUIRE(t.find(pfx("10.0.0.0/23")) == nullptr);
    REQUIRE(t.insert(pfx("10.0.0.0/23"), 7));
    REQUIRE(t.size() == 3);
    REQUIRE(*t.find(pfx("10.0.0.0/23")) == 7);
    REQUIRE(route(t, "10.0.1.1") == 1);
    REQUIRE(t.remove(pfx("10.0.1.0/24")));
    REQUIRE(route(t, "10.0.1.1") == 7);
  }
}

TEST_CASE("prefix table: remove_value drops every prefix of one value (a removed peer or tunnel)", "[route]") {
  prefix_table<int> t;
  t.insert(pfx("10.0.0.0/8"), 1);
  t.insert(pfx("10.1.0.0/16"), 2);
  t.insert(pfx("10.1.1.0/24"), 1);
  t.insert(pfx("fd00::/8"), 1);
  t.insert(pfx("fd00:1::/32"), 2);
  REQUIRE(t.remove_value(1) == 3);
  REQUIRE(t.size() == 2);
  REQUIRE(t.prefixes_of(1).empty());
  REQUIRE(route(t, "10.1.1.1") == 2);
  REQUIRE(route(t, "10.2.0.0") == -1);
  REQUIRE(route(t, "fd00:1::1") == 2);
  REQUIRE(route(t, "fd00:2::1") == -1);
  REQUIRE(t.remove_value(1) == 0);
  REQUIRE(t.remove_value(2) == 2);
  REQUIRE(t.empty());
  REQUIRE(route(t, "10.1.1.1") == -1);
}

TEST_CASE("prefix table: prefixes_of lists IPv4 first, each family in address order", "[route]") {
  prefix_table<int> t;
  for (auto text : {"fd00::/64", "10.0.0.1/32", "::/0", "10.0.0.0/24", "192.0.2.0/24", "0.0.0.0/0",
                    "fd00::1/128", "10.0.0.0/8"})
    t.insert(pfx(text), 1);
  t.insert(pfx("10.0.0.2/32"), 2);
  REQUIRE(strings(t.prefixes_of(1)) ==
          std::vector<std::string>{"0.0.0.0/0", "10.0.0.0/8", "10.0.0.0/24", "10.0.0.1/32", "192.0.2.0/24",
                                   "::/0", "fd00::/64", "fd00::1/128"});
  REQUIRE(strings(t.prefixes_of(2)) == std::vector<std::string>{"10.0.0.2/32"});
  REQUIRE(t.prefixes_of(3).empty());
  std::size_t visited = 0;
  t.for_each([&](const ip_prefix&, const int&) { ++visited; });
  REQUIRE(visited == t.size());
}

TEST_CASE("prefix table: clear empties both families", "[route]") {
  prefix_table<int> t;
  t.insert(pfx("10.0.0.0/8"), 1);
  t.insert(pfx("::/0"), 2);
  t.clear();
  REQUIRE(t.empty());
  REQUIRE(t.node_count() == 0);
  REQUIRE(route(t, "10.0.0.1") == -1);
  REQUIRE(route(t, "::1") == -1);
  t.insert(pfx("10.0.0.0/8"), 3);  // usable again
  REQUIRE(route(t, "10.0.0.1") == 3);
}

TEST_CASE("prefix table: a length past the family's is the full length", "[route]") {
  prefix_table<int> t;
  // ip_prefix::parse refuses /33, but a hand-built prefix can say it.
  REQUIRE(t.insert(ip_prefix{addr("10.0.0.1"), 40}, 1));
  REQUIRE(t.find(pfx("10.0.0.1/32")) != nullptr);
  REQUIRE(route(t, "10.0.0.1") == 1);
  REQUIRE(route(t, "10.0.0.0") == -1);
  REQUIRE(t.insert(ip_prefix{addr("::1"), 200}, 2));
  REQUIRE(strings(t.prefixes_of(2)) == std::vector<std::string>{"::1/128"});
}

TEST_CASE("prefix table: values may be move-only", "[route]") {
  prefix_table<std::unique_ptr<int>> t;
  t.insert(pfx("10.0.0.0/8"), std::make_unique<int>(8));
  t.insert(pfx("10.0.0.0/16"), std::make_unique<int>(16));
  const auto* v = t.lookup(addr("10.0.1.1"));
  REQUIRE(v);
  REQUIRE(**v == 16);
  t.insert(pfx("10.0.0.0/16"), std::make_unique<int>(17));
  REQUIRE(**t.lookup(addr("10.0.1.1")) == 17);
  REQUIRE(t.remove(pfx("10.0.0.0/16")));
  REQUIRE(**t.lookup(addr("10.0.1.1")) == 8);
}

TEST_CASE("prefix table: lookup does not allocate", "[route]") {
  prefix_table<int> t;
  for (int i = 0; i < 256; ++i) {
    t.insert(ip_prefix{ipv4_address{{10, static_cast<std::uint8_t>(i), 0, 0}}, 16}, i);
    t.insert(ip_prefix{ipv6_address{{0xfd, 0, static_cast<std::uint8_t>(i)}}, 24}, i);
  }
  const ip_address a4 = addr("10.77.1.2"), a6 = addr("fd00:4d00::1");
  const ip_prefix exact = pfx("10.78.0.0/16");
  int found = 0;
  const auto allocations = warren::test::allocations_during([&] {
    for (int i = 0; i < 1000; ++i) {
      if (const int* v = t.lookup(a4)) found += *v;
      if (const int* v = t.lookup(a6)) found += *v;
      if (const int* v = t.find(exact)) found += *v;
    }
  });
  REQUIRE(allocations == 0);
  REQUIRE(found == 1000 * (77 + 77 + 78));
}

namespace {

// The table's contract with no trie: every prefix in a map, lookup by trying them all.
struct brute_force_table {
  std::map<ip_prefix, int> entries;  // normalised prefixes

  const int* lookup(const ip_address& a) const {
    const int* best = nullptr;
    int best_length = -1;
    for (const auto& [p, v] : entries) {
      if (p.length > best_length && p.contains(a)) {
        best = &v;
        best_length = p.length;
      }
    }
    return best;
  }
  std::vector<ip_prefix> prefixes_of(int value) const {
    std::vector<ip_prefix> out;
    for (const auto& [p, v] : entries)
      if (v == value) out.push_back(p);
    return out;
  }
};

// Random addresses that share leading bits with a few cluster bases, so prefixes nest and part
// ways at every depth, including inside a byte and across the middle of an IPv6 address.
struct address_source {
  std::mt19937_64 rng{0xa110'3d19};
  std::vector<std::uint32_t> bases4;
  std::vector<std::pair<std::uint64_t, std::uint64_t>> bases6;

  address_source() {
    for (int i = 0; i < 6; ++i) {
      bases4.push_back(static_cast<std::uint32_t>(rng()));
      const std::uint64_t hi = rng();  // one statement each: argument order is unspecified
      bases6.emplace_back(hi, rng());
    }
  }
  ip_address v4() {
    const std::uint32_t base = bases4[rng() % bases4.size()];
    const unsigned keep = static_cast<unsigned>(rng() % 33);
    const std::uint32_t noise = keep == 32 ? 0 : static_cast<std::uint32_t>(rng()) >> keep;
    return ipv4_address::from_uint(rng() % 16 == 0 ? static_cast<std::uint32_t>(rng()) : base ^ noise);
  }
  ip_address v6() {
    auto [hi, lo] = bases6[rng() % bases6.size()];
    const unsigned keep = static_cast<unsigned>(rng() % 129);
    if (rng() % 16 == 0) {
      hi = rng();
      lo = rng();
    } else if (keep < 64) {
      hi ^= rng() >> keep;
      lo ^= rng();
    } else if (keep < 128) {
      lo ^= rng() >> (keep - 64);
    }
    ipv6_address a;
    for (unsigned i = 0; i < 8; ++i) {
      a.octets[i] = static_cast<std::uint8_t>(hi >> (56 - 8 * i));
      a.octets[8 + i] = static_cast<std::uint8_t>(lo >> (56 - 8 * i));
    }
    return a;
  }
  ip_address any() { return rng() % 2 ? v4() : v6(); }
  ip_prefix prefix() {
    const ip_address a = any();
    const unsigned max = a.is_v4() ? 32 : 128;
    // Mostly long prefixes, as allowed-ips and host routes are, with every length represented.
    const unsigned length = rng() % 4 == 0 ? static_cast<unsigned>(rng() % (max + 1))
                                           : max - static_cast<unsigned>(rng() % (max / 4 + 1));
    return ip_prefix{a, static_cast<std::uint8_t>(length)}.network();
  }
  // An address inside p, with random host bits.
  ip_address inside(const ip_prefix& p) {
    const ip_address r = p.address.is_v4() ? v4() : v6();
    auto octets = p.address.raw();
    const auto& noise = r.raw();
    for (unsigned bit = p.length; bit < p.max_length(); ++bit) {
      const auto mask = static_cast<std::uint8_t>(0x80u >> (bit % 8));
      octets[bit / 8] = static_cast<std::uint8_t>((octets[bit / 8] & ~mask) | (noise[bit / 8] & mask));
    }
    if (p.address.is_v4()) return ipv4_address{{octets[0], octets[1], octets[2], octets[3]}};
    return ipv6_address{octets};
  }
};

void require_same_lookup(const prefix_table<int>& t, const brute_force_table& m, const ip_address& a) {
  CAPTURE(a.to_string());
  const int* got = t.lookup(a);
  const int* want = m.lookup(a);
  REQUIRE((got == nullptr) == (want == nullptr));
  if (want) REQUIRE(*got == *want);
}

}  // namespace

TEST_CASE("prefix table agrees with a brute-force table on random prefixes", "[route]") {
  address_source src;
  prefix_table<int> t;
  brute_force_table m;
  std::vector<ip_prefix> inserted;
  constexpr int values = 40;

  auto check_some_lookups = [&](int n) {
    for (int i = 0; i < n; ++i) {
      const ip_address a = !inserted.empty() && src.rng() % 2
                               ? src.inside(inserted[src.rng() % inserted.size()])
                               : src.any();
      require_same_lookup(t, m, a);
    }
  };
  auto check_listing = [&] {
    REQUIRE(t.size() == m.entries.size());
    for (int v = 0; v < values; ++v) {
      auto got = t.prefixes_of(v);
      std::sort(got.begin(), got.end());  // the model's order is ip_prefix's <=>
      REQUIRE(got == m.prefixes_of(v));
    }
  };

  // Fill to a few thousand prefixes.
  for (int i = 0; i < 3000; ++i) {
    const ip_prefix p = src.prefix();
    const int v = static_cast<int>(src.rng() % values);
    CAPTURE(p.to_string(), v);
    REQUIRE(t.insert(p, v) == !m.entries.contains(p));
    m.entries[p] = v;
    inserted.push_back(p);
    if (i % 100 == 0) check_some_lookups(20);
  }
  check_listing();
  check_some_lookups(2000);

  // Churn: replace, remove present and absent prefixes, drop whole values.
  for (int i = 0; i < 3000; ++i) {
    const auto op = src.rng() % 10;
    if (op < 3) {
      const ip_prefix p = src.rng() % 2 ? inserted[src.rng() % inserted.size()] : src.prefix();
      const int v = static_cast<int>(src.rng() % values);
      CAPTURE(p.to_string(), v);
      REQUIRE(t.insert(p, v) == !m.entries.contains(p));
      m.entries[p] = v;
      inserted.push_back(p);
    } else if (op < 9) {
      const ip_prefix p = src.rng() % 4 ? inserted[src.rng() % inserted.size()] : src.prefix();
      CAPTURE(p.to_string());
      REQUIRE(t.remove(p) == (m.entries.erase(p) == 1));
    } else if (src.rng() % 20 == 0) {
      const int v = static_cast<int>(src.rng() % values);
      const auto expected = std::erase_if(m.entries, [&](const auto& e) { return e.second == v; });
      REQUIRE(t.remove_value(v) == expected);
    }
    check_some_lookups(2);
    REQUIRE(t.node_count() <= 2 * t.size());
    if (i % 500 == 0) check_listing();
  }
  check_listing();
  check_some_lookups(2000);

  // Empty it one prefix at a time: no branch point may outlive the prefixes it separated.
  for (const auto& p : inserted) {
    REQUIRE(t.remove(p) == (m.entries.erase(p) == 1));
    REQUIRE(t.node_count() <= 2 * t.size());  // per family: n prefixes, at most n - 1 branch points
  }
  REQUIRE(t.empty());
  REQUIRE(t.node_count() == 0);
  check_some_lookups(200);
}
