#include <warren/tun/gro_coalescer.hpp>
#include <catch2/catch_test_macros.hpp>

#include <warren/core/bytes.hpp>
#include <warren/core/packet_buffer.hpp>
#include <warren/packet/checksum.hpp>
#include <warren/packet/ip_address.hpp>
#include <warren/packet/ip_packet.hpp>
#include <warren/packet/ip_protocol.hpp>
#include <warren/packet/ipv4.hpp>
#include <warren/packet/ipv6.hpp>
#include <warren/packet/tcp.hpp>
#include <warren/packet/udp.hpp>
#include <warren/tun/gso_segmenter.hpp>
#include <warren/tun/virtio_net_header.hpp>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <utility>
#include <vector>

// The strongest check here is the round trip: a coalesced write (its head, then the payloads in
// next() order) cut again by gso_segmenter, as the kernel would cut it when it forwards the
// super-packet, must give back the very segments that went in, byte for byte.

namespace {

using warren::byte_view;
using warren::packet_buffer;
using warren::tun::gro_coalescer;
using warren::tun::gso_segmenter;
using warren::tun::virtio_net_header;
namespace pk = warren::packet;
using bytes = std::vector<std::byte>;
using chains = std::vector<std::vector<std::size_t>>;
using warren::load_be16;
using warren::load_be32;
using warren::store_be16;
using warren::store_be32;
using warren::store_u8;

const pk::ipv4_address host4_a{{192, 0, 2, 1}};
const pk::ipv4_address host4_b{{198, 51, 100, 7}};
const pk::ipv6_address host6_a{{0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}};
const pk::ipv6_address host6_b{{0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2}};

// The stream byte at sequence number `seq`, so that segments that follow each other carry one
// stream.
std::byte pattern(std::uint32_t seq) { return static_cast<std::byte>((seq * 131u + (seq >> 8)) & 0xffu); }

struct tcp_spec {
  bool v6 = false;
  bool reverse = false;  // from b to a
  std::uint16_t source_port = 40000;
  std::uint16_t destination_port = 443;
  std::uint32_t seq = 0xfffff000;  // wraps inside a run
  std::uint32_t ack = 0x01020304;
  std::uint8_t flags = pk::tcp_flags::ack;
  std::uint16_t window = 501;
  std::uint32_t tsval = 0x11223344;
  std::uint16_t urgent = 0;
  std::uint16_t id = 0xfffe;        // IPv4; wraps inside a run
  std::uint16_t fragment = 0x4000;  // IPv4 flags and offset: DF
  std::uint8_t ttl = 64;            // or hop limit
  std::uint8_t tos = 0;             // or traffic class
  std::uint32_t flow_label = 0x12345;
  std::size_t payload = 1400;
  bool timestamps = true;
  bytes ip_options;  // IPv4 options
  bytes extension;   // IPv6: a Destination Options header in front of TCP
  bool partial_checksum = false;
};

std::size_t ip_header_size(const tcp_spec& s) { return s.v6 ? 40 + s.extension.size() : 20 + s.ip_options.size(); }
std::size_t tcp_header_size(const tcp_spec& s) { return s.timestamps ? 32 : 20; }

// A TCP segment with full checksums (or the pseudo-header sum alone, as for CHECKSUM_PARTIAL).
bytes tcp_packet(const tcp_spec& s) {
  std::size_t ip = ip_header_size(s);
  std::size_t tcp_header = tcp_header_size(s);
  bytes p(ip + tcp_header + s.payload);
  std::byte* h = p.data();
  pk::ip_address src = s.v6 ? pk::ip_address(host6_a) : pk::ip_address(host4_a);
  pk::ip_address dst = s.v6 ? pk::ip_address(host6_b) : pk::ip_address(host4_b);
  if (s.reverse) std::swap(src, dst);
  if (s.v6) {
    store_be32(h, 6u << 28 | std::uint32_t{s.tos} << 20 | s.flow_label);
    store_be16(h + 4, static_cast<std::uint16_t>(p.size() - 40));
    store_u8(h + 6, s.extension.empty() ? 6 : 60);
    store_u8(h + 7, s.ttl);
    std::memcpy(h + 8, src.bytes().data(), 16);
    std::memcpy(h + 24, dst.bytes().data(), 16);
    if (!s.extension.empty()) std::memcpy(h + 40, s.extension.data(), s.extension.size());
  } else {
    store_u8(h, static_cast<std::uint8_t>(0x40 | ip / 4));
    store_u8(h + 1, s.tos);
    store_be16(h + 2, static_cast<std::uint16_t>(p.size()));
    store_be16(h + 4, s.id);
    store_be16(h + 6, s.fragment);
    store_u8(h + 8, s.ttl);
    store_u8(h + 9, 6);
    std::memcpy(h + 12, src.bytes().data(), 4);
    std::memcpy(h + 16, dst.bytes().data(), 4);
    if (!s.ip_options.empty()) std::memcpy(h + 20, s.ip_options.data(), s.ip_options.size());
    store_be16(h + 10, pk::internet_checksum(byte_view(h, ip)));
  }
  std::byte* t = h + ip;
  store_be16(t, s.reverse ? s.destination_port : s.source_port);
  store_be16(t + 2, s.reverse ? s.source_port : s.destination_port);
  store_be32(t + 4, s.seq);
  store_be32(t + 8, s.ack);
  store_u8(t + 12, static_cast<std::uint8_t>(tcp_header / 4 << 4));
  store_u8(t + 13, s.flags);
  store_be16(t + 14, s.window);
  store_be16(t + 18, s.urgent);
  if (s.timestamps) {
    store_u8(t + 20, 1);  // NOP, NOP, timestamps
    store_u8(t + 21, 1);
    store_u8(t + 22, 8);
    store_u8(t + 23, 10);
    store_be32(t + 24, s.tsval);
    store_be32(t + 28, 0x55667788);
  }
  for (std::size_t i = 0; i < s.payload; ++i) t[tcp_header + i] = pattern(static_cast<std::uint32_t>(s.seq + i));
  auto length = static_cast<std::uint32_t>(tcp_header + s.payload);
  auto sum = pk::pseudo_header_sum(src, dst, pk::ip_protocol::tcp, length);
  store_be16(t + 16, s.partial_checksum ? sum.sum() : sum.add(byte_view(t, length)).checksum());
  return p;
}

packet_buffer buffer_of(const bytes& b) { return packet_buffer::copy_of(b); }

// One direction of a connection: each segment follows the last one.
struct flow {
  tcp_spec spec;
  packet_buffer next(std::size_t payload = 1400, std::uint8_t extra_flags = 0) {
    tcp_spec s = spec;
    s.payload = payload;
    s.flags = static_cast<std::uint8_t>(s.flags | extra_flags);
    spec.seq += static_cast<std::uint32_t>(payload);
    ++spec.id;
    return buffer_of(tcp_packet(s));
  }
};

packet_buffer udp_packet(bool v6, bool reverse = false) {
  auto buf = packet_buffer::allocate();
  REQUIRE(buf.append(warren::as_byte_view("a datagram")));
  pk::ip_address a = v6 ? pk::ip_address(host6_a) : pk::ip_address(host4_a);
  pk::ip_address b = v6 ? pk::ip_address(host6_b) : pk::ip_address(host4_b);
  if (reverse) std::swap(a, b);
  REQUIRE(pk::write_udp_header(buf, a, b, 5353, 53));
  if (v6) {
    REQUIRE(pk::write_ipv6_header(buf, {.source = a.v6(), .destination = b.v6(), .next_header = pk::ip_protocol::udp}));
  } else {
    REQUIRE(pk::write_ipv4_header(buf, {.source = a.v4(), .destination = b.v4(), .protocol = pk::ip_protocol::udp}));
  }
  return buf;
}

bytes to_bytes(byte_view b) { return {b.begin(), b.end()}; }

std::vector<std::size_t> chain_of(const gro_coalescer& c, const gro_coalescer::write& w) {
  std::vector<std::size_t> out;
  for (std::size_t i = w.first; i != gro_coalescer::no_next && out.size() <= w.count; i = c.next(i)) out.push_back(i);
  return out;
}

chains chains_of(const gro_coalescer& c) {
  chains out;
  for (const auto& w : c.writes()) out.push_back(chain_of(c, w));
  return out;
}

// The bytes a coalesced write puts on the TUN after its virtio header.
bytes super_packet_of(const gro_coalescer& c, std::span<const packet_buffer> batch, const gro_coalescer::write& w) {
  bytes out(w.head.begin(), w.head.begin() + static_cast<std::ptrdiff_t>(w.headers));
  for (std::size_t i : chain_of(c, w)) {
    auto payload = batch[i].bytes().subspan(w.headers);
    out.insert(out.end(), payload.begin(), payload.end());
  }
  return out;
}

// Every packet is in exactly one write, writes are in the order of their first packet, a
// single packet goes with an all-zero header, and each coalesced write cut again gives back its
// segments byte for byte (the originals have valid checksums and consecutive IPv4 IDs).
void check_plan(const gro_coalescer& c, std::span<const packet_buffer> batch) {
  std::vector<int> seen(batch.size(), 0);
  std::size_t previous_first = 0;
  std::size_t coalesced = 0;
  for (std::size_t n = 0; n < c.writes().size(); ++n) {
    const auto& w = c.writes()[n];
    INFO("write " << n << " first " << w.first << " count " << w.count);
    if (n > 0) CHECK(w.first > previous_first);
    previous_first = w.first;
    auto chain = chain_of(c, w);
    REQUIRE(chain.size() == w.count);
    for (std::size_t k = 0; k < chain.size(); ++k) {
      ++seen.at(chain[k]);
      if (k > 0) CHECK(chain[k] > chain[k - 1]);
    }
    coalesced += w.count - 1;
    if (w.count == 1) {
      CHECK(w.header == virtio_net_header{});
      continue;
    }
    CHECK(w.count <= gro_coalescer::max_segments);
    auto super = super_packet_of(c, batch, w);
    CHECK(super.size() <= gro_coalescer::max_size);
    gso_segmenter g;
    REQUIRE(g.start(w.header, super));
    REQUIRE(g.remaining() == w.count);
    for (std::size_t i : chain) {
      auto out = packet_buffer::allocate(70000);
      REQUIRE(g.next(out));
      CHECK(to_bytes(out.bytes()) == to_bytes(batch[i].bytes()));
    }
    // What the kernel does with needs_csum: the sum from csum_start on completes the checksum.
    auto whole = w.header;
    whole.gso_type = virtio_net_header::gso_none;
    REQUIRE(g.start(whole, super));
    auto finished = packet_buffer::allocate(70000);
    REQUIRE(g.next(finished));
    CHECK(pk::parse_ip(finished.bytes(), pk::verify::checksums));
  }
  for (std::size_t i = 0; i < batch.size(); ++i) {
    INFO("packet " << i);
    CHECK(seen[i] == 1);
  }
  CHECK(c.coalesced() == coalesced);
}

}  // namespace

TEST_CASE("gro_coalescer coalesces consecutive segments of one flow into one write", "[tun]") {
  flow f;
  SECTION("IPv4") {}
  SECTION("IPv6") { f.spec.v6 = true; }
  auto first = f.spec;
  std::vector<packet_buffer> batch;
  for (int i = 0; i < 9; ++i) batch.push_back(f.next());
  batch.push_back(f.next(600, pk::tcp_flags::psh));
  gro_coalescer c;
  c.plan(batch);
  REQUIRE(c.writes().size() == 1);
  const auto& w = c.writes()[0];
  CHECK(w.first == 0);
  CHECK(w.count == 10);
  CHECK(c.coalesced() == 9);
  CHECK(chains_of(c) == chains{{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}});
  CHECK(c.next(9) == gro_coalescer::no_next);

  std::size_t ip = first.v6 ? 40 : 20;
  CHECK(w.headers == ip + 32);
  CHECK(w.header.flags == virtio_net_header::needs_csum);
  CHECK(w.header.gso_type == (first.v6 ? virtio_net_header::gso_tcpv6 : virtio_net_header::gso_tcpv4));
  CHECK(w.header.gso_size == 1400);
  CHECK(w.header.header_length == ip + 32);
  CHECK(w.header.csum_start == ip);
  CHECK(w.header.csum_offset == 16);

  // The head: the first segment's headers with the super-packet's length, PSH from the last
  // segment and the pseudo-header sum in the checksum field.
  std::size_t total = ip + 32 + 9 * 1400 + 600;
  const std::byte* h = w.head.data();
  if (first.v6) {
    CHECK(load_be16(h + 4) == total - 40);
  } else {
    CHECK(load_be16(h + 2) == total);
    CHECK(load_be16(h + 4) == first.id);
    CHECK(pk::checksum_accumulator{}.add(byte_view(h, 20)).verifies());
  }
  CHECK(load_be32(h + ip + 4) == first.seq);
  CHECK(std::to_integer<unsigned>(h[ip + 13]) == unsigned{pk::tcp_flags::ack | pk::tcp_flags::psh});
  auto super_spec = first;
  super_spec.payload = total - ip - 32;
  super_spec.flags = pk::tcp_flags::ack | pk::tcp_flags::psh;
  super_spec.partial_checksum = true;
  CHECK(super_packet_of(c, batch, w) == tcp_packet(super_spec));
  check_plan(c, batch);
}

TEST_CASE("gro_coalescer rebuilds the super-packet gso_segmenter cut", "[tun]") {
  tcp_spec spec;
  spec.flags = pk::tcp_flags::ack | pk::tcp_flags::psh;
  spec.payload = 10000;
  spec.partial_checksum = true;
  SECTION("IPv4") {}
  SECTION("IPv6") { spec.v6 = true; }
  auto super = tcp_packet(spec);
  virtio_net_header h;
  h.flags = virtio_net_header::needs_csum;
  h.gso_type = spec.v6 ? virtio_net_header::gso_tcpv6 : virtio_net_header::gso_tcpv4;
  h.header_length = static_cast<std::uint16_t>(ip_header_size(spec) + 32);
  h.gso_size = 1400;
  h.csum_start = static_cast<std::uint16_t>(ip_header_size(spec));
  h.csum_offset = 16;

  gso_segmenter g;
  REQUIRE(g.start(h, super));
  std::vector<packet_buffer> batch;
  while (!g.done()) {
    batch.push_back(packet_buffer::allocate());
    REQUIRE(g.next(batch.back()));
  }
  REQUIRE(batch.size() == 8);
  gro_coalescer c;
  c.plan(batch);
  REQUIRE(c.writes().size() == 1);
  CHECK(c.writes()[0].count == 8);
  CHECK(c.writes()[0].header == h);
  CHECK(super_packet_of(c, batch, c.writes()[0]) == super);
  check_plan(c, batch);
}

TEST_CASE("gro_coalescer keeps interleaved flows apart", "[tun]") {
  flow a;
  flow b;
  SECTION("two ports between the same hosts") { b.spec.source_port = 40001; }
  SECTION("the same ports between other hosts") { b.spec.reverse = true; }
  SECTION("IPv4 and IPv6") { b.spec.v6 = true; }
  SECTION("other destination port") { b.spec.destination_port = 80; }
  std::vector<packet_buffer> batch;
  for (int i = 0; i < 3; ++i) {
    batch.push_back(a.next());
    batch.push_back(b.next());
  }
  gro_coalescer c;
  c.plan(batch);
  CHECK(chains_of(c) == chains{{0, 2, 4}, {1, 3, 5}});
  CHECK(c.coalesced() == 4);
  check_plan(c, batch);
}

TEST_CASE("gro_coalescer coalesces up to 16 flows at once", "[tun]") {
  std::vector<flow> flows(16);
  for (std::size_t i = 0; i < flows.size(); ++i) flows[i].spec.source_port = static_cast<std::uint16_t>(50000 + i);
  std::vector<packet_buffer> batch;
  for (int round = 0; round < 3; ++round)
    for (auto& f : flows) batch.push_back(f.next());
  gro_coalescer c;
  c.plan(batch);
  REQUIRE(c.writes().size() == 16);
  for (const auto& w : c.writes()) CHECK(w.count == 3);
  check_plan(c, batch);
}

TEST_CASE("gro_coalescer ends a run where a receiver could not split it back", "[tun]") {
  flow f;
  std::vector<packet_buffer> batch;
  chains expected;
  batch.push_back(f.next());
  batch.push_back(f.next());
  auto changed = [&](auto&& edit, std::size_t payload = 1400) {
    tcp_spec s = f.spec;
    s.payload = payload;
    edit(s);
    f.spec.seq += static_cast<std::uint32_t>(payload);
    ++f.spec.id;
    return buffer_of(tcp_packet(s));
  };

  SECTION("a gap in sequence numbers") {
    f.spec.seq += 1;
    batch.push_back(f.next());
    batch.push_back(f.next());
    expected = {{0, 1}, {2, 3}};
  }
  SECTION("a retransmission") {
    f.spec.seq -= 1400;
    batch.push_back(f.next());
    expected = {{0, 1}, {2}};
  }
  SECTION("another ACK number: the new one may start a run") {
    f.spec.ack += 1000;
    batch.push_back(f.next());
    batch.push_back(f.next());
    expected = {{0, 1}, {2, 3}};
  }
  SECTION("another window") {
    batch.push_back(changed([](tcp_spec& s) { s.window = 502; }));
    expected = {{0, 1}, {2}};
  }
  SECTION("another timestamp option") {
    batch.push_back(changed([](tcp_spec& s) { s.tsval += 1; }));
    expected = {{0, 1}, {2}};
  }
  SECTION("no options") {
    batch.push_back(changed([](tcp_spec& s) { s.timestamps = false; }));
    expected = {{0, 1}, {2}};
  }
  SECTION("another TTL") {
    batch.push_back(changed([](tcp_spec& s) { s.ttl = 63; }));
    expected = {{0, 1}, {2}};
  }
  SECTION("another TOS (a CE mark)") {
    batch.push_back(changed([](tcp_spec& s) { s.tos = 3; }));
    expected = {{0, 1}, {2}};
  }
  SECTION("DF cleared") {
    batch.push_back(changed([](tcp_spec& s) { s.fragment = 0; }));
    expected = {{0, 1}, {2}};
  }
  SECTION("a longer segment than the first") {
    batch.push_back(f.next(1401));
    batch.push_back(f.next(1401));
    expected = {{0, 1}, {2, 3}};
  }
  SECTION("a short segment followed by more") {
    batch.push_back(f.next(600));
    batch.push_back(f.next());
    expected = {{0, 1, 2}, {3}};
  }
  SECTION("PSH ends a run") {
    batch.push_back(f.next(1400, pk::tcp_flags::psh));
    batch.push_back(f.next());
    batch.push_back(f.next());
    expected = {{0, 1, 2}, {3, 4}};
  }
  SECTION("FIN") {
    batch.push_back(f.next(1400, pk::tcp_flags::fin));
    expected = {{0, 1}, {2}};
  }
  SECTION("SYN, RST, URG, ECE or CWR, or no ACK, and what follows starts anew") {
    for (std::uint8_t flag : {pk::tcp_flags::syn, pk::tcp_flags::rst, pk::tcp_flags::urg, pk::tcp_flags::ece,
                              pk::tcp_flags::cwr, std::uint8_t{0}}) {
      INFO("flags " << int{flag});
      flow g;
      std::vector<packet_buffer> b;
      b.push_back(g.next());
      b.push_back(g.next());
      b.push_back(g.next(1400, flag));
      if (flag == 0) {
        b.back() = [&] {
          tcp_spec s = g.spec;
          s.seq -= 1400;
          s.flags = 0;
          return buffer_of(tcp_packet(s));
        }();
      }
      b.push_back(g.next());
      b.push_back(g.next());
      gro_coalescer c;
      c.plan(b);
      CHECK(chains_of(c) == chains{{0, 1}, {2}, {3, 4}});
      check_plan(c, b);
    }
    return;
  }
  SECTION("a pure ACK of the same flow") {
    batch.push_back(f.next(0));
    batch.push_back(f.next());
    expected = {{0, 1}, {2}, {3}};
  }
  SECTION("a UDP datagram between the same hosts") {
    batch.push_back(udp_packet(false));
    batch.push_back(f.next());
    batch.push_back(f.next());
    expected = {{0, 1}, {2}, {3, 4}};
  }
  SECTION("an IPv4 fragment of the same flow") {
    batch.push_back(changed([](tcp_spec& s) { s.fragment = 0x6000; }));  // DF and MF
    batch.push_back(f.next());
    expected = {{0, 1}, {2}, {3}};
  }
  SECTION("a later IPv4 fragment between the same hosts") {
    batch.push_back(changed([](tcp_spec& s) { s.fragment = 0x4010; }));
    batch.push_back(f.next());
    expected = {{0, 1}, {2}, {3}};
  }
  SECTION("an IPv4 packet with options of the same flow") {
    batch.push_back(changed([](tcp_spec& s) { s.ip_options = bytes(4, std::byte{1}); }));
    batch.push_back(f.next());
    expected = {{0, 1}, {2}, {3}};
  }
  SECTION("link padding behind the IPv4 packet") {
    auto padded = tcp_packet([&] {
      tcp_spec s = f.spec;
      f.spec.seq += 1400;
      ++f.spec.id;
      return s;
    }());
    padded.resize(padded.size() + 2);
    batch.push_back(buffer_of(padded));
    expected = {{0, 1}, {2}};
  }
  gro_coalescer c;
  c.plan(batch);
  CHECK(chains_of(c) == expected);
  check_plan(c, batch);
}

TEST_CASE("gro_coalescer lets unrelated packets be overtaken but not the flow's own", "[tun]") {
  flow f;
  std::vector<packet_buffer> batch;
  batch.push_back(f.next());
  chains expected;
  SECTION("a UDP datagram between other hosts") {
    batch.push_back(udp_packet(true));
    expected = {{0, 2}, {1}};
  }
  SECTION("the reverse direction's ACK") {
    tcp_spec reply;
    reply.reverse = true;
    reply.payload = 0;
    batch.push_back(buffer_of(tcp_packet(reply)));
    expected = {{0, 2}, {1}};
  }
  SECTION("a UDP datagram in the reverse direction") {
    batch.push_back(udp_packet(false, true));
    expected = {{0, 2}, {1}};
  }
  SECTION("a UDP datagram between the same hosts") {
    batch.push_back(udp_packet(false));
    expected = {{0}, {1}, {2}};
  }
  SECTION("an empty buffer") {
    batch.emplace_back();
    expected = {{0, 2}, {1}};
  }
  batch.push_back(f.next());
  gro_coalescer c;
  c.plan(batch);
  CHECK(chains_of(c) == expected);
  check_plan(c, batch);
}

TEST_CASE("gro_coalescer never coalesces IPv4 options or IPv6 extension headers", "[tun]") {
  flow f;
  SECTION("IPv4 options") { f.spec.ip_options = {std::byte{1}, std::byte{1}, std::byte{1}, std::byte{0}}; }
  SECTION("an IPv6 destination options header") {
    f.spec.v6 = true;
    f.spec.extension = {std::byte{6}, std::byte{0}, std::byte{1}, std::byte{4},
                        std::byte{0}, std::byte{0}, std::byte{0}, std::byte{0}};
  }
  std::vector<packet_buffer> batch;
  for (int i = 0; i < 3; ++i) batch.push_back(f.next());
  REQUIRE(pk::parse_ip(batch[0].bytes(), pk::verify::checksums));
  gro_coalescer c;
  c.plan(batch);
  CHECK(chains_of(c) == chains{{0}, {1}, {2}});
  CHECK(c.coalesced() == 0);
  check_plan(c, batch);
}

TEST_CASE("gro_coalescer bounds a write by segments and by size", "[tun]") {
  flow f;
  bool v6 = false;
  SECTION("IPv4") {}
  SECTION("IPv6") { v6 = f.spec.v6 = true; }
  std::vector<packet_buffer> batch;
  gro_coalescer c;
  SECTION("at most max_segments") {
    for (int i = 0; i < 100; ++i) batch.push_back(f.next(600));
    c.plan(batch);
    REQUIRE(c.writes().size() == 2);
    CHECK(c.writes()[0].count == gro_coalescer::max_segments);
    CHECK(c.writes()[1].count == 100 - gro_coalescer::max_segments);
    CHECK(c.writes()[1].first == gro_coalescer::max_segments);
  }
  SECTION("at most 65535 bytes") {
    for (int i = 0; i < 50; ++i) batch.push_back(f.next());
    c.plan(batch);
    REQUIRE(c.writes().size() == 2);
    std::size_t headers = (v6 ? 40 : 20) + 32;
    std::size_t fit = (gro_coalescer::max_size - headers) / 1400;
    CHECK(c.writes()[0].count == fit);
    CHECK(c.writes()[1].count == 50 - fit);
    CHECK(super_packet_of(c, batch, c.writes()[0]).size() == headers + fit * 1400);
  }
  check_plan(c, batch);
}

TEST_CASE("gro_coalescer writes single packets as they are", "[tun]") {
  flow f;
  std::vector<packet_buffer> batch;
  batch.push_back(f.next());
  batch.push_back(udp_packet(false));
  batch.push_back(udp_packet(true));
  batch.emplace_back();
  batch.push_back(buffer_of(bytes{std::byte{0x45}}));
  batch.push_back(buffer_of(bytes(60, std::byte{0x70})));  // version 7
  gro_coalescer c;
  c.plan(batch);
  REQUIRE(c.writes().size() == batch.size());
  for (std::size_t i = 0; i < batch.size(); ++i) {
    const auto& w = c.writes()[i];
    CHECK(w.first == i);
    CHECK(w.count == 1);
    CHECK(w.header == virtio_net_header{});
    CHECK(c.next(i) == gro_coalescer::no_next);
  }
  CHECK(c.coalesced() == 0);
  check_plan(c, batch);
}

TEST_CASE("gro_coalescer plans each batch afresh", "[tun]") {
  flow f;
  std::vector<packet_buffer> first;
  for (int i = 0; i < 4; ++i) first.push_back(f.next());
  gro_coalescer c;
  c.plan(first);
  REQUIRE(c.writes().size() == 1);
  CHECK(c.coalesced() == 3);

  SECTION("an empty batch") {
    c.plan({});
    CHECK(c.writes().empty());
    CHECK(c.coalesced() == 0);
  }
  SECTION("the flow goes on in the next batch: a new write") {
    std::vector<packet_buffer> second;
    second.push_back(udp_packet(true));
    second.push_back(f.next());
    second.push_back(f.next());
    c.plan(second);
    CHECK(chains_of(c) == chains{{0}, {1, 2}});
    CHECK(c.coalesced() == 1);
    check_plan(c, second);
  }
}
