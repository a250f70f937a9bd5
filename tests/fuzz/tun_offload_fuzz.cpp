// Fuzz target for warren::tun::gso_segmenter and gro_coalescer, the offload path of a TUN opened
// with IFF_VNET_HDR. The input is what such a TUN read gives: a 10-byte virtio_net_hdr, then the
// packet. The segmenter runs to the end into default-sized buffers (2048 bytes), falling back to
// a 70000-byte one when a segment does not fit, and its output is checked against the input:
// segment count, every byte that must be copied, lengths, sequence numbers, flags, and the
// checksums, summed again word by word. Then gro_coalescer plans the segments (alone, and with
// the raw packet before and after them), and every write is walked: each packet in exactly one
// write, writes in order, and a coalesced write cut again by the segmenter gives back its
// packets (up to the IPv4 identification, the checksums and the unused urgent pointer).
#include <warren/tun/gro_coalescer.hpp>
#include <warren/tun/gso_segmenter.hpp>
#include <warren/tun/virtio_net_header.hpp>

#include "packet_fuzz_support.hpp"

#include <warren/core/bytes.hpp>
#include <warren/core/packet_buffer.hpp>
#include <warren/packet/tcp.hpp>
#include <warren/tun/error.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <utility>
#include <vector>

namespace {

using namespace warren;
using fuzz::check;
using tun::gro_coalescer;
using tun::gso_segmenter;
using tun::virtio_net_header;

constexpr std::size_t large_capacity = 70000;

// The sum a TCP checksum over `segment` (transport header at l4) must verify with, summed the
// slow way: the pseudo-header from the addresses in the IP header, the length and protocol 6.
bool tcp_checksum_verifies(byte_view segment, bool v6, std::size_t l4) {
  std::size_t at = v6 ? 8 : 12;
  std::size_t len = v6 ? 32 : 8;
  std::uint32_t pseudo = 0;
  for (std::size_t i = 0; i < len; i += 2) pseudo += load_be16(segment.data() + at + i);
  auto tcp_length = static_cast<std::uint32_t>(segment.size() - l4);
  pseudo += (tcp_length >> 16) + (tcp_length & 0xffffu) + 6;
  return fuzz::reference_verifies(segment.subspan(l4), pseudo);
}

// Runs `g` to the end. Buffers that are too small leave it where it was.
std::vector<packet_buffer> run(gso_segmenter& g) {
  std::vector<packet_buffer> out;
  while (!g.done()) {
    std::size_t before = g.remaining();
    auto buf = packet_buffer::allocate();
    auto r = g.next(buf);
    if (!r) {
      check(r.error() == tun::errc::buffer_too_small);
      check(g.remaining() == before);
      check(buf.empty());
      buf = packet_buffer::allocate(large_capacity);
      r = g.next(buf);
      if (!r) {
        // Only an input beyond what libFuzzer is usually given: a TUN read is at most 64 KiB.
        check(r.error() == tun::errc::buffer_too_small && g.remaining() == before);
        g.clear();
        check(g.done());
        break;
      }
    }
    check(g.remaining() == before - 1);
    out.push_back(std::move(buf));
  }
  auto extra = packet_buffer::allocate();
  auto r = g.next(extra);
  check(!r && r.error() == tun::errc::closed);
  return out;
}

// The segmenter's output against its input.
void check_segments(const virtio_net_header& h, byte_view pkt, std::span<const packet_buffer> out,
                    std::size_t announced) {
  if (out.size() != announced) return;  // stopped by a segment larger than large_capacity
  if (h.gso_kind() == virtio_net_header::gso_none) {
    check(out.size() == 1);
    byte_view o = out[0].bytes();
    check(o.size() == pkt.size());
    std::size_t field = h.csum_start + std::size_t{h.csum_offset};
    bool finish = (h.flags & virtio_net_header::needs_csum) != 0;
    for (std::size_t i = 0; i < pkt.size(); ++i) {
      if (finish && (i == field || i == field + 1)) continue;
      check(o[i] == pkt[i]);
    }
    if (finish) {
      auto sum = static_cast<std::uint16_t>(~fuzz::reference_sum(pkt.subspan(h.csum_start)));
      check(load_be16(o.data() + field) == (sum == 0 ? 0xffff : sum));
    }
    return;
  }

  // A TCP super-packet: start() checked these offsets.
  bool v6 = (load_u8(pkt.data()) >> 4) == 6;
  std::size_t ip_header = v6 ? 40 : (std::size_t{load_u8(pkt.data())} & 0x0f) * 4;
  std::size_t l4 = h.csum_start;
  std::size_t headers = l4 + (std::size_t{load_u8(pkt.data() + l4 + 12)} >> 4) * 4;
  check(headers <= pkt.size());
  std::size_t payload = pkt.size() - headers;
  check(out.size() == (payload == 0 ? 1 : (payload + h.gso_size - 1) / h.gso_size));
  std::uint8_t flags = load_u8(pkt.data() + l4 + 13);
  std::size_t offset = 0;
  for (std::size_t k = 0; k < out.size(); ++k) {
    byte_view o = out[k].bytes();
    std::size_t length = std::min<std::size_t>(h.gso_size, payload - offset);
    check(o.size() == headers + length);
    check(std::memcmp(o.data() + headers, pkt.data() + headers + offset, length) == 0);
    // Headers: copied, but for the fields each segment has its own.
    for (std::size_t i = 0; i < headers; ++i) {
      bool own = v6 ? (i == 4 || i == 5) : (i >= 2 && i <= 5) || i == 10 || i == 11;
      own = own || (i >= l4 + 4 && i < l4 + 8) || i == l4 + 13 || i == l4 + 16 || i == l4 + 17;
      if (!own) check(o[i] == pkt[i]);
    }
    if (v6) {
      check(load_be16(o.data() + 4) == static_cast<std::uint16_t>(o.size() - 40));
    } else {
      check(load_be16(o.data() + 2) == static_cast<std::uint16_t>(o.size()));
      check(load_be16(o.data() + 4) == static_cast<std::uint16_t>(load_be16(pkt.data() + 4) + k));
      check(fuzz::reference_verifies(o.first(ip_header)));
    }
    check(load_be32(o.data() + l4 + 4) == static_cast<std::uint32_t>(load_be32(pkt.data() + l4 + 4) + offset));
    std::uint8_t want = flags;
    if (k + 1 != out.size()) want &= static_cast<std::uint8_t>(~(packet::tcp_flags::fin | packet::tcp_flags::psh));
    if (k != 0) want &= static_cast<std::uint8_t>(~packet::tcp_flags::cwr);
    check(load_u8(o.data() + l4 + 13) == want);
    check(tcp_checksum_verifies(o, v6, l4));
    offset += length;
  }
  check(offset == payload);
}

// A plan against its batch: see the comment at the top.
void check_plan(const gro_coalescer& c, std::span<const packet_buffer> batch) {
  std::vector<unsigned char> seen(batch.size(), 0);
  std::size_t coalesced = 0;
  std::size_t previous = 0;
  for (std::size_t n = 0; n < c.writes().size(); ++n) {
    const auto& w = c.writes()[n];
    check(w.first < batch.size());
    check(n == 0 || w.first > previous);
    previous = w.first;
    check(w.count >= 1 && w.count <= gro_coalescer::max_segments);
    std::vector<std::size_t> chain;
    for (std::size_t i = w.first; i != gro_coalescer::no_next; i = c.next(i)) {
      check(i < batch.size() && chain.size() < w.count);
      check(chain.empty() || i > chain.back());
      check(seen[i] == 0);
      seen[i] = 1;
      chain.push_back(i);
    }
    check(chain.size() == w.count);
    coalesced += w.count - 1;
    if (w.count == 1) {
      check(w.header == virtio_net_header{});
      continue;
    }

    const auto& hd = w.header;
    bool v6 = (load_u8(w.head.data()) >> 4) == 6;
    std::size_t l4 = v6 ? 40 : 20;
    check(hd.flags == virtio_net_header::needs_csum);
    check(hd.gso_type == (v6 ? virtio_net_header::gso_tcpv6 : virtio_net_header::gso_tcpv4));
    check(hd.csum_start == l4 && hd.csum_offset == 16 && hd.header_length == w.headers);
    check(w.headers >= l4 + packet::tcp_view::min_header_size && w.headers <= gro_coalescer::max_headers);
    std::vector<std::byte> super(w.head.begin(), w.head.begin() + static_cast<std::ptrdiff_t>(w.headers));
    for (std::size_t k = 0; k < chain.size(); ++k) {
      byte_view p = batch[chain[k]].bytes();
      check(p.size() > w.headers);
      std::size_t payload = p.size() - w.headers;
      check(k == 0 ? payload == hd.gso_size : payload <= hd.gso_size);
      check(k + 1 == chain.size() || payload == hd.gso_size);
      super.insert(super.end(), p.begin() + static_cast<std::ptrdiff_t>(w.headers), p.end());
    }
    check(super.size() <= gro_coalescer::max_size);

    gso_segmenter g;
    check(g.start(hd, super).has_value());
    check(g.remaining() == w.count);
    auto out = packet_buffer::allocate(large_capacity);
    for (std::size_t i : chain) {
      check(g.next(out).has_value());
      byte_view o = out.bytes();
      byte_view p = batch[i].bytes();
      check(o.size() == p.size());
      for (std::size_t b = 0; b < o.size(); ++b) {
        bool skip = (!v6 && (b == 4 || b == 5 || b == 10 || b == 11)) || (b >= l4 + 16 && b < l4 + 20);
        if (!skip) check(o[b] == p[b]);
      }
      check(tcp_checksum_verifies(o, v6, l4));
    }
    check(g.done());
  }
  for (unsigned char s : seen) check(s == 1);
  check(c.coalesced() == coalesced);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto input = std::as_bytes(std::span{data, size});
  auto h = virtio_net_header::parse(input);
  if (!h) return 0;
  byte_view pkt = input.subspan(virtio_net_header::size);

  gso_segmenter g;
  std::vector<packet_buffer> segments;
  if (g.start(*h, pkt)) {
    std::size_t announced = g.remaining();
    check(announced >= 1);
    segments = run(g);
    check_segments(*h, pkt, segments, announced);
  } else {
    check(g.done() && g.remaining() == 0);
  }

  gro_coalescer c;
  c.plan(segments);
  check_plan(c, segments);

  // The raw packet around the segments: anything at all, next to a flow it may continue.
  std::vector<packet_buffer> mixed;
  mixed.push_back(packet_buffer::copy_of(pkt));
  for (const auto& s : segments) mixed.push_back(packet_buffer::copy_of(s.bytes()));
  mixed.push_back(packet_buffer::copy_of(pkt));
  c.plan(mixed);
  check_plan(c, mixed);
  return 0;
}
