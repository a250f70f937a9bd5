#include <warren/tun/gso_segmenter.hpp>
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
#include <warren/tun/error.hpp>
#include <warren/tun/virtio_net_header.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

// The packets are built by hand with full checksums, so that the segments the segmenter cuts can
// be compared byte for byte with segments built the same way: a super-packet and its expected
// segments come from one description (tcp_spec), differing only in sequence number, IPv4
// identification, flags and which slice of the payload they carry.

namespace {

using warren::byte_view;
using warren::packet_buffer;
using warren::tun::gso_segmenter;
using warren::tun::virtio_net_header;
namespace pk = warren::packet;
namespace tun = warren::tun;
using bytes = std::vector<std::byte>;
using warren::load_be16;
using warren::store_be16;
using warren::store_be32;
using warren::store_u8;

const pk::ipv4_address src4{{192, 0, 2, 1}};
const pk::ipv4_address dst4{{198, 51, 100, 7}};
const pk::ipv6_address src6{{0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}};
const pk::ipv6_address dst6{{0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2}};

// The stream byte at `offset`: not periodic in any segment size used here.
std::byte pattern(std::size_t offset) { return static_cast<std::byte>((offset * 131 + (offset >> 8)) & 0xff); }

struct tcp_spec {
  bool v6 = false;
  std::uint32_t seq = 0xffffe000;  // wraps inside the burst
  std::uint32_t ack = 0x01020304;
  std::uint8_t flags = pk::tcp_flags::ack | pk::tcp_flags::psh;
  std::uint16_t id = 0xfffd;  // wraps inside the burst
  std::size_t payload = 10000;
  std::size_t payload_offset = 0;  // where in the stream pattern the payload starts
  bytes ip_options;                // IPv4 options (a multiple of 4 bytes)
  bytes extension;                 // IPv6: one Destination Options header in front of TCP
  bool partial_checksum = false;   // the pseudo-header sum only, as for CHECKSUM_PARTIAL
};

// NOP, NOP, timestamps: the 12 bytes Linux puts on every data segment.
bytes timestamp_options() {
  bytes o{std::byte{1}, std::byte{1}, std::byte{8}, std::byte{10}};
  o.resize(12);
  store_be32(o.data() + 4, 0x11223344);
  store_be32(o.data() + 8, 0x55667788);
  return o;
}

std::size_t ip_header_size(const tcp_spec& s) { return s.v6 ? 40 + s.extension.size() : 20 + s.ip_options.size(); }
constexpr std::size_t tcp_header_size = 32;

bytes tcp_packet(const tcp_spec& s) {
  std::size_t ip = ip_header_size(s);
  bytes p(ip + tcp_header_size + s.payload);
  std::byte* h = p.data();
  pk::ip_address src = src4, dst = dst4;
  if (s.v6) {
    src = src6;
    dst = dst6;
    store_be32(h, 6u << 28 | 0x12345u);  // a flow label
    store_be16(h + 4, static_cast<std::uint16_t>(p.size() - 40));
    store_u8(h + 6, s.extension.empty() ? 6 : 60);
    store_u8(h + 7, 64);
    std::memcpy(h + 8, src6.octets.data(), 16);
    std::memcpy(h + 24, dst6.octets.data(), 16);
    if (!s.extension.empty()) std::memcpy(h + 40, s.extension.data(), s.extension.size());
  } else {
    store_u8(h, static_cast<std::uint8_t>(0x40 | ip / 4));
    store_u8(h + 1, 0x02);  // ECT(0)
    store_be16(h + 2, static_cast<std::uint16_t>(p.size()));
    store_be16(h + 4, s.id);
    store_be16(h + 6, 0x4000);  // DF
    store_u8(h + 8, 64);
    store_u8(h + 9, 6);
    std::memcpy(h + 12, src4.octets.data(), 4);
    std::memcpy(h + 16, dst4.octets.data(), 4);
    if (!s.ip_options.empty()) std::memcpy(h + 20, s.ip_options.data(), s.ip_options.size());
    store_be16(h + 10, pk::internet_checksum(byte_view(h, ip)));
  }
  std::byte* t = h + ip;
  store_be16(t, 40000);
  store_be16(t + 2, 443);
  store_be32(t + 4, s.seq);
  store_be32(t + 8, s.ack);
  store_u8(t + 12, static_cast<std::uint8_t>(tcp_header_size / 4 << 4));
  store_u8(t + 13, s.flags);
  store_be16(t + 14, 501);
  auto options = timestamp_options();
  std::memcpy(t + 20, options.data(), options.size());
  for (std::size_t i = 0; i < s.payload; ++i) t[tcp_header_size + i] = pattern(s.payload_offset + i);
  auto length = static_cast<std::uint32_t>(tcp_header_size + s.payload);
  auto sum = pk::pseudo_header_sum(src, dst, pk::ip_protocol::tcp, length);
  if (s.partial_checksum) {
    store_be16(t + 16, sum.sum());
  } else {
    store_be16(t + 16, sum.add(byte_view(t, length)).checksum());
  }
  return p;
}

// What Linux hands a TUN reader for a TSO burst: the pseudo-header sum in the checksum field.
bytes super_packet(tcp_spec s) {
  s.partial_checksum = true;
  return tcp_packet(s);
}

virtio_net_header tso_header(const tcp_spec& s, std::uint16_t gso_size) {
  virtio_net_header h;
  h.flags = virtio_net_header::needs_csum;
  h.gso_type = s.v6 ? virtio_net_header::gso_tcpv6 : virtio_net_header::gso_tcpv4;
  h.header_length = static_cast<std::uint16_t>(ip_header_size(s) + tcp_header_size);
  h.gso_size = gso_size;
  h.csum_start = static_cast<std::uint16_t>(ip_header_size(s));
  h.csum_offset = 16;
  return h;
}

// Segment k of the burst `s` cut at gso_size, as Linux's software segmentation writes it.
bytes expected_segment(const tcp_spec& s, std::size_t gso_size, std::size_t k, std::size_t count) {
  tcp_spec e = s;
  std::size_t offset = k * gso_size;
  e.seq = static_cast<std::uint32_t>(s.seq + offset);
  e.id = static_cast<std::uint16_t>(s.id + k);
  e.payload = std::min(gso_size, s.payload - offset);
  e.payload_offset = s.payload_offset + offset;
  e.partial_checksum = false;
  if (k + 1 != count) e.flags &= static_cast<std::uint8_t>(~(pk::tcp_flags::fin | pk::tcp_flags::psh));
  if (k != 0) e.flags &= static_cast<std::uint8_t>(~pk::tcp_flags::cwr);
  return tcp_packet(e);
}

bytes to_bytes(byte_view b) { return {b.begin(), b.end()}; }

// Runs the segmenter to the end, one default-sized buffer per packet.
std::vector<bytes> cut_all(gso_segmenter& g) {
  std::vector<bytes> out;
  while (!g.done()) {
    auto buf = packet_buffer::allocate();
    auto r = g.next(buf);
    REQUIRE(r);
    out.push_back(to_bytes(buf.bytes()));
  }
  return out;
}

bool nothing_comes(gso_segmenter& g) {
  auto buf = packet_buffer::allocate();
  auto r = g.next(buf);
  return g.done() && g.remaining() == 0 && !r && r.error() == tun::errc::closed && buf.empty();
}

// A UDP datagram with a full checksum, made by the packet builders.
bytes udp_packet(bool v6, std::size_t payload_size) {
  auto buf = packet_buffer::allocate(packet_buffer::default_capacity, 128);
  bytes payload(payload_size);
  for (std::size_t i = 0; i < payload_size; ++i) payload[i] = pattern(i);
  REQUIRE(buf.append(byte_view(payload)));
  pk::ip_address src = v6 ? pk::ip_address(src6) : pk::ip_address(src4);
  pk::ip_address dst = v6 ? pk::ip_address(dst6) : pk::ip_address(dst4);
  REQUIRE(pk::write_udp_header(buf, src, dst, 5353, 53));
  if (v6) {
    REQUIRE(pk::write_ipv6_header(buf, {.source = src6, .destination = dst6, .next_header = pk::ip_protocol::udp}));
  } else {
    REQUIRE(pk::write_ipv4_header(buf, {.source = src4, .destination = dst4, .protocol = pk::ip_protocol::udp}));
  }
  return to_bytes(buf.bytes());
}

// The same datagram as the kernel leaves it with CHECKSUM_PARTIAL: the pseudo-header sum only.
bytes partial_udp(bytes p) {
  bool v6 = (std::to_integer<unsigned>(p[0]) >> 4) == 6;
  std::size_t l4 = v6 ? 40 : 20;
  pk::ip_address src = v6 ? pk::ip_address(src6) : pk::ip_address(src4);
  pk::ip_address dst = v6 ? pk::ip_address(dst6) : pk::ip_address(dst4);
  auto length = static_cast<std::uint32_t>(p.size() - l4);
  store_be16(p.data() + l4 + 6, pk::pseudo_header_sum(src, dst, pk::ip_protocol::udp, length).sum());
  return p;
}

virtio_net_header csum_header(std::size_t csum_start, std::size_t csum_offset) {
  virtio_net_header h;
  h.flags = virtio_net_header::needs_csum;
  h.csum_start = static_cast<std::uint16_t>(csum_start);
  h.csum_offset = static_cast<std::uint16_t>(csum_offset);
  return h;
}

}  // namespace

TEST_CASE("gso_segmenter cuts a TCP super-packet into segments with full checksums", "[tun]") {
  tcp_spec spec;
  SECTION("IPv4") {}
  SECTION("IPv6") { spec.v6 = true; }
  SECTION("IPv4 with options") {
    spec.ip_options = {std::byte{1}, std::byte{1}, std::byte{1}, std::byte{0}};  // NOP NOP NOP EOL
  }
  SECTION("IPv6 with a destination options header") {
    spec.v6 = true;
    // Next header TCP, 8 bytes, PadN of 4.
    spec.extension = {std::byte{6}, std::byte{0}, std::byte{1}, std::byte{4},
                      std::byte{0}, std::byte{0}, std::byte{0}, std::byte{0}};
  }
  constexpr std::size_t gso_size = 1400;
  auto super = super_packet(spec);
  auto h = tso_header(spec, gso_size);
  gso_segmenter g;
  REQUIRE(g.start(h, super));
  REQUIRE(g.remaining() == 8);  // 7 x 1400 + 200

  auto segments = cut_all(g);
  REQUIRE(segments.size() == 8);
  CHECK(g.done());
  bytes payload;
  for (std::size_t k = 0; k < segments.size(); ++k) {
    INFO("segment " << k);
    const auto& s = segments[k];
    auto parsed = pk::parse_ip(s, pk::verify::checksums);
    REQUIRE(parsed);  // header and TCP checksums verify
    REQUIRE(parsed->tcp);
    const auto& tcp = *parsed->tcp;
    std::size_t expected_payload = k < 7 ? gso_size : 200;
    CHECK(tcp.payload().size() == expected_payload);
    CHECK(tcp.sequence_number() == static_cast<std::uint32_t>(spec.seq + k * gso_size));
    CHECK(tcp.acknowledgment_number() == spec.ack);
    CHECK(tcp.options().size() == 12);
    if (spec.v6) {
      CHECK(parsed->ipv6->payload_length() == s.size() - 40);
    } else {
      CHECK(parsed->ipv4->total_length() == s.size());
      CHECK(parsed->ipv4->identification() == static_cast<std::uint16_t>(spec.id + k));
      CHECK(parsed->ipv4->dont_fragment());
    }
    CHECK(tcp.has(pk::tcp_flags::ack));
    CHECK(tcp.has(pk::tcp_flags::psh) == (k == 7));
    payload.insert(payload.end(), tcp.payload().begin(), tcp.payload().end());
    CHECK(s == expected_segment(spec, gso_size, k, segments.size()));
  }
  CHECK(payload == to_bytes(byte_view(super).subspan(super.size() - spec.payload)));
}

TEST_CASE("gso_segmenter keeps FIN and PSH for the last segment and CWR for the first", "[tun]") {
  tcp_spec spec;
  spec.flags = pk::tcp_flags::ack | pk::tcp_flags::psh | pk::tcp_flags::fin | pk::tcp_flags::cwr;
  spec.payload = 4000;
  SECTION("IPv4") {}
  SECTION("IPv6") { spec.v6 = true; }
  auto super = super_packet(spec);
  auto h = tso_header(spec, 1400);
  h.gso_type |= virtio_net_header::gso_ecn;  // what the kernel sets when the burst carries CWR
  gso_segmenter g;
  REQUIRE(g.start(h, super));
  auto segments = cut_all(g);
  REQUIRE(segments.size() == 3);
  for (std::size_t k = 0; k < 3; ++k) {
    INFO("segment " << k);
    auto parsed = pk::parse_ip(segments[k], pk::verify::checksums);
    REQUIRE(parsed);
    REQUIRE(parsed->tcp);
    CHECK(parsed->tcp->has(pk::tcp_flags::cwr) == (k == 0));
    CHECK(parsed->tcp->has(pk::tcp_flags::psh) == (k == 2));
    CHECK(parsed->tcp->has(pk::tcp_flags::fin) == (k == 2));
    CHECK(parsed->tcp->has(pk::tcp_flags::ack));
    CHECK(segments[k] == expected_segment(spec, 1400, k, 3));
  }
}

TEST_CASE("gso_segmenter cuts payloads that are a multiple of, or below, the segment size", "[tun]") {
  tcp_spec spec;
  std::size_t count = 0;
  SECTION("exactly two segments") {
    spec.payload = 2800;
    count = 2;
  }
  SECTION("one byte over") {
    spec.payload = 2801;
    count = 3;
  }
  SECTION("smaller than one segment") {
    spec.payload = 600;
    count = 1;
  }
  SECTION("one byte per segment") {
    spec.payload = 5;
    count = 5;
  }
  SECTION("no payload: the headers alone") {
    spec.payload = 0;
    count = 1;
  }
  std::uint16_t gso_size = spec.payload == 5 ? 1 : 1400;
  auto super = super_packet(spec);
  gso_segmenter g;
  REQUIRE(g.start(tso_header(spec, gso_size), super));
  CHECK(g.remaining() == count);
  auto segments = cut_all(g);
  REQUIRE(segments.size() == count);
  for (std::size_t k = 0; k < count; ++k) {
    INFO("segment " << k);
    CHECK(pk::parse_ip(segments[k], pk::verify::checksums));
    CHECK(segments[k] == expected_segment(spec, gso_size, k, count));
  }
}


TEST_CASE("gso_segmenter finishes the checksum of a packet it does not cut", "[tun]") {
  gso_segmenter g;
  bytes whole;
  bytes partial;
  virtio_net_header h;
  SECTION("UDP over IPv4") {
    whole = udp_packet(false, 333);
    partial = partial_udp(whole);
    h = csum_header(20, 6);
  }
  SECTION("UDP over IPv6") {
    whole = udp_packet(true, 334);
    partial = partial_udp(whole);
    h = csum_header(40, 6);
  }
  SECTION("a UDP checksum that comes out zero is sent as 0xffff (RFC 768)") {
    whole = udp_packet(false, 100);
    // With the last payload word set to the checksum of the rest, the sum is all ones and the
    // checksum zero.
    store_be16(whole.data() + 26, 0);
    store_be16(whole.data() + whole.size() - 2, 0);
    auto rest = pk::pseudo_header_sum(src4, dst4, pk::ip_protocol::udp, 108).add(byte_view(whole).subspan(20));
    store_be16(whole.data() + whole.size() - 2, rest.checksum());
    store_be16(whole.data() + 26, 0xffff);
    partial = partial_udp(whole);
    h = csum_header(20, 6);
  }
  SECTION("a TCP segment over IPv6 (checksum offload without TSO)") {
    tcp_spec spec;
    spec.v6 = true;
    spec.payload = 901;  // odd: the last byte is padded
    whole = tcp_packet(spec);
    partial = super_packet(spec);
    h = csum_header(40, 16);
  }
  REQUIRE(partial != whole);
  REQUIRE(g.start(h, partial));
  CHECK(g.remaining() == 1);
  auto out = cut_all(g);
  REQUIRE(out.size() == 1);
  CHECK(pk::parse_ip(out[0], pk::verify::checksums));
  CHECK(out[0] == whole);
  CHECK(nothing_comes(g));
}

TEST_CASE("gso_segmenter passes a packet without offloads through unchanged", "[tun]") {
  auto p = udp_packet(false, 64);
  store_be16(p.data() + 26, 0x1234);  // a wrong checksum stays wrong: it is not ours to fix
  virtio_net_header h;
  SECTION("no flags") {}
  SECTION("data_valid") { h.flags = virtio_net_header::data_valid; }
  gso_segmenter g;
  REQUIRE(g.start(h, p));
  auto out = cut_all(g);
  REQUIRE(out.size() == 1);
  CHECK(out[0] == p);
}

TEST_CASE("gso_segmenter rejects offload headers that do not fit the packet", "[tun]") {
  tcp_spec spec;
  spec.payload = 3000;
  auto p = super_packet(spec);
  auto h = tso_header(spec, 1400);
  gso_segmenter g;
  // A packet under way is dropped by a bad start.
  REQUIRE(g.start(h, p));

  SECTION("gso_size 0") { h.gso_size = 0; }
  SECTION("csum_start beyond the packet") { h.csum_start = static_cast<std::uint16_t>(p.size()); }
  SECTION("checksum field beyond a packet without segmentation") {
    h = csum_header(p.size() - 17, 16);
  }
  SECTION("TSO without needs_csum") { h.flags = 0; }
  SECTION("TSO with the checksum elsewhere than TCP's") { h.csum_offset = 6; }
  SECTION("IPv4: TCP not right after the IP header") { h.csum_start = 24; }
  SECTION("IPv6: TCP inside the IPv6 header") {
    spec.v6 = true;
    p = super_packet(spec);
    h = tso_header(spec, 1400);
    h.csum_start = 20;
  }
  SECTION("tcpv6 for an IPv4 packet") { h.gso_type = virtio_net_header::gso_tcpv6; }
  SECTION("tcpv4 for an IPv6 packet") {
    spec.v6 = true;
    p = super_packet(spec);
    h.csum_start = 40;
  }
  SECTION("UDP segmentation (gso_udp_l4) is never enabled") { h.gso_type = virtio_net_header::gso_udp_l4; }
  SECTION("UFO (gso_udp) is never enabled") { h.gso_type = virtio_net_header::gso_udp; }
  SECTION("an unknown gso type") { h.gso_type = 2; }
  SECTION("TCP header cut short") { p.resize(20 + 19); }
  SECTION("TCP data offset beyond the packet") {
    p.resize(20 + 40);
    store_u8(p.data() + 20 + 12, 0xf0);  // 60 bytes of TCP header
  }
  SECTION("TCP data offset below 20 bytes") { store_u8(p.data() + 20 + 12, 0x40); }
  SECTION("IP version 5") { store_u8(p.data(), 0x55); }
  SECTION("IP version 0") { store_u8(p.data(), 0x05); }
  SECTION("empty") { p.clear(); }
  SECTION("IPv4 shorter than its fixed header") { p.resize(19); }
  SECTION("IPv4 header length below 20") { store_u8(p.data(), 0x44); }
  SECTION("IPv4 header length beyond the packet") {
    p.resize(40);
    store_u8(p.data(), 0x4f);  // 60 bytes
  }
  SECTION("IPv6 shorter than its header") {
    spec.v6 = true;
    p = super_packet(spec);
    h = tso_header(spec, 1400);
    p.resize(39);
  }
  auto r = g.start(h, p);
  REQUIRE_FALSE(r);
  CHECK(r.error() == tun::errc::bad_offload);
  CHECK(nothing_comes(g));
}

TEST_CASE("gso_segmenter resumes after a buffer that was too small", "[tun]") {
  tcp_spec spec;
  SECTION("IPv4") {}
  SECTION("IPv6") { spec.v6 = true; }
  auto super = super_packet(spec);
  auto h = tso_header(spec, 1400);
  gso_segmenter g;
  REQUIRE(g.start(h, super));
  std::size_t full = ip_header_size(spec) + tcp_header_size + 1400;
  std::size_t headroom = packet_buffer::default_headroom;

  std::vector<bytes> segments;
  while (!g.done()) {
    std::size_t before = g.remaining();
    // One byte short of the segment: refused, and nothing moves.
    auto small = packet_buffer::allocate(headroom + full - 1, headroom);
    auto r = g.next(small);
    if (before > 1) {
      REQUIRE_FALSE(r);
      CHECK(r.error() == tun::errc::buffer_too_small);
      CHECK(g.remaining() == before);
      CHECK(small.empty());
      // Exactly big enough.
      auto fits = packet_buffer::allocate(headroom + full, headroom);
      REQUIRE(g.next(fits));
      segments.push_back(to_bytes(fits.bytes()));
    } else {
      REQUIRE(r);  // the last segment is shorter
      segments.push_back(to_bytes(small.bytes()));
    }
    CHECK(g.remaining() == before - 1);
  }
  REQUIRE(segments.size() == 8);
  for (std::size_t k = 0; k < segments.size(); ++k) CHECK(segments[k] == expected_segment(spec, 1400, k, 8));
}

TEST_CASE("gso_segmenter empties the buffer it writes into and keeps its headroom", "[tun]") {
  tcp_spec spec;
  spec.payload = 2000;
  auto super = super_packet(spec);
  gso_segmenter g;
  REQUIRE(g.start(tso_header(spec, 1400), super));
  auto buf = packet_buffer::allocate(4096, 200);
  REQUIRE(buf.append(byte_view(super).first(100)));  // stale data from an earlier use
  REQUIRE(g.next(buf));
  CHECK(buf.headroom() == 200);
  CHECK(to_bytes(buf.bytes()) == expected_segment(spec, 1400, 0, 2));
}

TEST_CASE("gso_segmenter clear() drops what is left", "[tun]") {
  tcp_spec spec;
  auto super = super_packet(spec);
  gso_segmenter g;
  CHECK(nothing_comes(g));  // the default state has nothing
  REQUIRE(g.start(tso_header(spec, 1400), super));
  auto buf = packet_buffer::allocate();
  REQUIRE(g.next(buf));
  CHECK(g.remaining() == 7);
  g.clear();
  CHECK(nothing_comes(g));

  SECTION("and a new start begins from the first segment") {
    REQUIRE(g.start(tso_header(spec, 1400), super));
    auto segments = cut_all(g);
    REQUIRE(segments.size() == 8);
    CHECK(segments[0] == expected_segment(spec, 1400, 0, 8));
  }
}
