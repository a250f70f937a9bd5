// prefix_table: the per-packet longest-prefix lookup (the router's destination table and
// WireGuard's cryptokey routing), in ns per lookup, for tables of 10, 1000 and 1000000 prefixes
// of one family. Prefix lengths are mostly host routes with some subnets, as in a VPN with many
// peers or a router that learned many hosts from DNS answers. clustered:0 draws addresses from the whole space; clustered:1 puts them
// all in 10.0.0.0/8 or fd00::/16 with the rest random, as one VPN's address plan does. Every
// looked-up address falls inside a stored prefix (the common case on the datapath), and
// consecutive lookups go to different prefixes, so a big table also measures cache misses.
#include <warren/route/prefix_table.hpp>

#include <benchmark/benchmark.h>

#include <cstddef>
#include <cstdint>
#include <map>
#include <random>
#include <tuple>
#include <vector>

namespace {

using namespace warren::packet;
using warren::route::prefix_table;

ip_address random_address(std::mt19937_64& rng, bool v6, bool clustered = false) {
  if (!v6) {
    const auto a = static_cast<std::uint32_t>(rng());
    return ipv4_address::from_uint(clustered ? (a & 0x00ffffffu) | 0x0a000000u : a);
  }
  ipv6_address a;
  for (auto& o : a.octets) o = static_cast<std::uint8_t>(rng());
  if (clustered) {
    a.octets[0] = 0xfd;
    a.octets[1] = 0x00;
  }
  return a;
}

unsigned random_length(std::mt19937_64& rng, bool v6) {
  const auto r = rng() % 20;
  const unsigned full = v6 ? 128 : 32;
  if (r < 12) return full;           // 60%: one peer address
  if (r < 17) return v6 ? 64 : 24;   // 25%: a subnet behind a peer
  if (r < 19) return v6 ? 48 : 16;   // 10%
  return v6 ? 32 : 8;                // 5%
}

struct table_fixture {
  prefix_table<std::uint32_t> table;
  std::vector<ip_address> queries;  // a power of two, so the loop can mask its index
};

table_fixture make(std::size_t prefixes, bool v6, bool clustered) {
  std::mt19937_64 rng(0xbe4c'0001 + prefixes);
  table_fixture f;
  std::vector<ip_prefix> stored;
  while (f.table.size() < prefixes) {
    const ip_prefix p = ip_prefix{random_address(rng, v6, clustered), static_cast<std::uint8_t>(random_length(rng, v6))}.network();
    if (f.table.insert(p, static_cast<std::uint32_t>(stored.size()))) stored.push_back(p);
  }
  for (std::size_t i = 0; i < 8192; ++i) {
    // A random address with the prefix's leading bits.
    const ip_prefix& p = stored[rng() % stored.size()];
    auto octets = random_address(rng, v6).raw();
    const auto& net = p.address.raw();
    for (unsigned bit = 0; bit < p.length; ++bit) {
      const auto mask = static_cast<std::uint8_t>(0x80u >> (bit % 8));
      octets[bit / 8] = static_cast<std::uint8_t>((octets[bit / 8] & ~mask) | (net[bit / 8] & mask));
    }
    f.queries.push_back(v6 ? ip_address(ipv6_address{octets})
                           : ip_address(ipv4_address{{octets[0], octets[1], octets[2], octets[3]}}));
  }
  return f;
}

// Google Benchmark calls a benchmark function several times while it settles the iteration
// count; a table of a million prefixes is built once per shape and kept.
const table_fixture& cached(std::size_t prefixes, bool v6, bool clustered) {
  static std::map<std::tuple<std::size_t, bool, bool>, table_fixture> tables;
  auto [it, fresh] = tables.try_emplace({prefixes, v6, clustered});
  if (fresh) it->second = make(prefixes, v6, clustered);
  return it->second;
}

void BM_prefix_table_lookup(benchmark::State& state) {
  const auto prefixes = static_cast<std::size_t>(state.range(0));
  const bool v6 = state.range(1) == 6;
  const table_fixture& f = cached(prefixes, v6, state.range(2) == 1);
  std::size_t i = 0, misses = 0;
  for (auto _ : state) {
    const std::uint32_t* v = f.table.lookup(f.queries[i++ & 8191]);
    misses += v == nullptr;
    benchmark::DoNotOptimize(v);
  }
  if (misses != 0) state.SkipWithError("a query inside a stored prefix missed");
  state.SetItemsProcessed(state.iterations());
  state.counters["nodes"] = static_cast<double>(f.table.node_count());
  state.counters["prefixes"] = static_cast<double>(f.table.size());
}
BENCHMARK(BM_prefix_table_lookup)
    ->ArgNames({"prefixes", "family", "clustered"})
    ->ArgsProduct({{10, 1000, 1000000}, {4, 6}, {0, 1}});

// The family is known from the IP header on the datapath: the typed overload skips the branch.
void BM_prefix_table_lookup_ipv4_address(benchmark::State& state) {
  const table_fixture& f = cached(static_cast<std::size_t>(state.range(0)), false, false);
  std::vector<ipv4_address> queries;
  for (const auto& q : f.queries) queries.push_back(q.v4());
  std::size_t i = 0;
  for (auto _ : state) {
    const std::uint32_t* v = f.table.lookup(queries[i++ & 8191]);
    benchmark::DoNotOptimize(v);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_prefix_table_lookup_ipv4_address)->ArgName("prefixes")->Arg(1000);

}  // namespace
