// route::conntrack: the connection tracker's per-packet operations, in ns per operation, for a
// table of 1000 and of 1000000 flows (max_flows set to that size, and the table full).
//
//   route/conntrack/touch_hit/flows:<n>        touch() of a tracked flow: what every packet of
//                                             an established flow costs (hash, probe, move to
//                                             the back of its recency list). The flows are
//                                             visited in a shuffled ring, so the big table
//                                             measures cache misses, as a router's does.
//   route/conntrack/find_miss/flows:<n>        find() of a flow that is not tracked: the first
//                                             packet of every new flow pays it.
//   route/conntrack/insert_evict/flows:<n>     insert() of a new flow into the full table, which
//                                             first evicts the flow closest to its expiry: a
//                                             new flow's cost in the steady state of a busy
//                                             router.
//
// Keys are IPv4/UDP flows from one address to distinct destinations (the hash is seeded and
// mixes every bit, so their pattern does not matter). The value is 8 bytes, as the router's. A
// hit must return the flow's own value, a miss null, and an insert must neither find its key
// present nor leave the table at anything but its bound, or the benchmark fails.
#include <warren/route/conntrack.hpp>

#include <warren/packet/flow_key.hpp>
#include <warren/packet/ip_address.hpp>

#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <map>
#include <memory>
#include <random>
#include <vector>

namespace {

using namespace warren;
namespace pk = warren::packet;
namespace rt = warren::route;

const time_point now{std::chrono::hours(10)};
const pk::ipv4_address source{{10, 0, 0, 1}};

// The size of the router's per-flow value; `tag` names the flow it belongs to.
struct value {
  std::uint32_t tag = 0;
  std::uint8_t kind = 0;
};

// Distinct keys for distinct i below 2^32: the destination is i times an odd constant.
pk::flow_key key_of(std::uint64_t i) {
  const auto dst = pk::ipv4_address::from_uint(static_cast<std::uint32_t>(i) * 0x9e3779b1u);
  const auto sport = static_cast<std::uint16_t>(1024 + i * 7919 % 64000);
  return pk::flow_key::make(source, dst, pk::ip_protocol::udp, sport, 443);
}
std::uint32_t tag_of(const pk::flow_key& k) {
  std::uint32_t t;
  std::memcpy(&t, k.destination.data(), sizeof t);
  return t;
}

rt::conntrack<value> full_table(std::size_t n) {
  rt::conntrack_options o;
  o.max_flows = n;
  rt::conntrack<value> t(o);
  for (std::size_t i = 0; i < n; ++i) {
    const pk::flow_key k = key_of(i);
    t.insert(k, value{tag_of(k), 0}, now, rt::flow_kind::udp);
  }
  return t;
}

struct lookup_fixture {
  rt::conntrack<value> table;
  std::vector<pk::flow_key> ring;    // the tracked keys, shuffled
  std::vector<pk::flow_key> absent;  // keys never inserted
};

// Google Benchmark calls each function several times while it settles the iteration count; a
// table of a million flows is built once and kept (touch only reorders it).
lookup_fixture& lookup(std::size_t n) {
  static std::map<std::size_t, std::unique_ptr<lookup_fixture>> fixtures;
  auto& f = fixtures[n];
  if (!f) {
    f = std::make_unique<lookup_fixture>(lookup_fixture{full_table(n), {}, {}});
    for (std::size_t i = 0; i < n; ++i) {
      f->ring.push_back(key_of(i));
      f->absent.push_back(key_of(n + i));
    }
    std::mt19937_64 rng(0xc0de'0001 + n);
    std::shuffle(f->ring.begin(), f->ring.end(), rng);
  }
  return *f;
}

void touch_hit(benchmark::State& state) {
  const auto n = static_cast<std::size_t>(state.range(0));
  lookup_fixture& f = lookup(n);
  if (f.table.size() != n) return state.SkipWithError("the table is not full");
  std::size_t i = 0;
  for (auto _ : state) {
    const pk::flow_key& k = f.ring[i];
    if (++i == n) i = 0;
    const value* v = f.table.touch(k, now, rt::flow_kind::udp);
    if (!v || v->tag != tag_of(k)) {
      state.SkipWithError("touch of a tracked flow missed, or returned another flow's value");
      break;
    }
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}
BENCHMARK(touch_hit)->Name("route/conntrack/touch_hit")->ArgName("flows")->Arg(1000)->Arg(1000000);

void find_miss(benchmark::State& state) {
  const auto n = static_cast<std::size_t>(state.range(0));
  lookup_fixture& f = lookup(n);
  if (f.table.size() != n) return state.SkipWithError("the table is not full");
  const rt::conntrack<value>& table = f.table;
  std::size_t i = 0;
  for (auto _ : state) {
    const value* v = table.find(f.absent[i]);
    if (++i == n) i = 0;
    if (v) {
      state.SkipWithError("find of an untracked flow found one");
      break;
    }
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}
BENCHMARK(find_miss)->Name("route/conntrack/find_miss")->ArgName("flows")->Arg(1000)->Arg(1000000);

// A full table of n flows and 2n keys: keys [0, n) start in the table, and each insert takes
// the next key round the ring, evicting the oldest, which is the one n keys back. A key comes
// round again n inserts after it was evicted.
struct insert_fixture {
  rt::conntrack<value> table;
  std::vector<pk::flow_key> keys;
  std::size_t next = 0;
};

insert_fixture& inserting(std::size_t n) {
  static std::map<std::size_t, std::unique_ptr<insert_fixture>> fixtures;
  auto& f = fixtures[n];
  if (!f) {
    f = std::make_unique<insert_fixture>(insert_fixture{full_table(n), {}, n});
    for (std::size_t i = 0; i < 2 * n; ++i) f->keys.push_back(key_of(i));
  }
  return *f;
}

void insert_evict(benchmark::State& state) {
  const auto n = static_cast<std::size_t>(state.range(0));
  insert_fixture& f = inserting(n);
  const rt::conntrack_stats before = f.table.stats();
  std::size_t i = f.next;
  for (auto _ : state) {
    const pk::flow_key& k = f.keys[i];
    if (++i == f.keys.size()) i = 0;
    value& v = f.table.insert(k, value{tag_of(k), 0}, now, rt::flow_kind::udp);
    benchmark::DoNotOptimize(&v);
  }
  f.next = i;
  const auto iterations = static_cast<std::uint64_t>(state.iterations());
  if (f.table.stats().inserted - before.inserted != iterations)
    state.SkipWithError("an insert found its key already tracked");
  else if (f.table.stats().evicted - before.evicted != iterations || f.table.size() != n)
    state.SkipWithError("an insert into the full table did not evict exactly one flow");
  else if (iterations != 0) {
    const pk::flow_key& last = f.keys[(i == 0 ? f.keys.size() : i) - 1];
    const value* v = f.table.find(last);
    if (!v || v->tag != tag_of(last)) state.SkipWithError("the last flow inserted is not found with its value");
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}
BENCHMARK(insert_evict)->Name("route/conntrack/insert_evict")->ArgName("flows")->Arg(1000)->Arg(1000000);

}  // namespace
