#pragma once
// gro_coalescer: plans how a batch of IP packets goes into a TUN with offloads (IFF_VNET_HDR).
// TCP segments of one flow that continue each other become one write: a super-packet with a
// virtio header asking the kernel to treat it as the segments it was (gso_type, gso_size), as
// a NIC's receive offload (GRO) would. The kernel then runs its stack once per ~45 segments
// instead of once per segment. Everything else is written alone, in order.
//
// The rules are those a receiver can rely on to split the result back into the same segments:
// same addresses, ports, IP header fields (TOS, TTL/hop limit, DF; IPv6 flow label), ACK
// number, window and TCP options; sequence numbers that follow on; a payload no larger than
// the first one's, and a smaller one or PSH ends the run; ACK set and no SYN, FIN, RST, URG,
// ECE or CWR. IPv4 options, fragments and IPv6 extension headers are never coalesced.
//
// Sans-IO: plan() reads the batch (it changes nothing); writes() lists what to write, each with
// its virtio header and, for a coalesced run, the patched IP and TCP headers to put in front of
// the payloads. The checksum is left for the kernel to trust (needs_csum with the pseudo-header
// sum in place, as the kernel's own GRO does): WireGuard authenticated every segment already.

#include <warren/core/bytes.hpp>
#include <warren/core/packet_buffer.hpp>
#include <warren/packet/checksum.hpp>
#include <warren/packet/ip_address.hpp>
#include <warren/packet/ip_protocol.hpp>
#include <warren/packet/tcp.hpp>
#include <warren/tun/virtio_net_header.hpp>

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <span>
#include <vector>

namespace warren::tun {

class gro_coalescer {
 public:
  static constexpr std::size_t max_headers = 60 + 60;  // IPv4 without options or IPv6, and TCP
  static constexpr std::size_t max_size = 65535;       // what an IPv4 total length can say
  static constexpr std::size_t max_segments = 64;      // as Linux's GRO: bounds a write's iovecs
  static constexpr std::size_t no_next = static_cast<std::size_t>(-1);

  struct write {
    virtio_net_header header{};
    std::size_t first = 0;      // index in the batch of the first packet
    std::size_t count = 1;      // packets written together; 1: batch[first] as it is
    std::size_t headers = 0;    // bytes of IP + TCP header in front of each payload (count > 1)
    std::array<std::byte, max_headers> head{};  // the super-packet's headers (count > 1)
  };

  // How many packets of the batch plan() coalesced with an earlier one.
  std::size_t coalesced() const noexcept { return coalesced_; }

  void plan(std::span<const packet_buffer> batch) {
    writes_.clear();
    open_.clear();
    next_.assign(batch.size(), no_next);
    last_.clear();
    coalesced_ = 0;
    for (std::size_t i = 0; i < batch.size(); ++i) add(batch, i);
    for (std::size_t w = 0; w < writes_.size(); ++w) finish(batch, writes_[w], last_[w]);
  }

  std::span<const write> writes() const noexcept { return writes_; }
  // The packet written after batch[i] in the same write, or no_next.
  std::size_t next(std::size_t i) const noexcept { return next_[i]; }

 private:
  struct segment {
    bool v6 = false;
    std::size_t headers = 0;  // IP + TCP
    std::size_t tcp_at = 0;
    std::size_t payload = 0;
    std::uint32_t seq = 0;
    std::uint8_t flags = 0;
  };
  struct run {
    std::size_t write;  // index into writes_
    std::uint32_t next_seq;
    std::size_t gso_size;
    std::size_t size;   // bytes of the super-packet so far
    bool ended;         // the last segment was short or had PSH: nothing may follow
  };

  static constexpr std::uint8_t allowed_flags = packet::tcp_flags::ack | packet::tcp_flags::psh;

  // A TCP segment that may join a run, or nothing.
  static std::optional<segment> candidate(byte_view p) noexcept {
    if (p.size() < 40) return std::nullopt;
    segment s;
    unsigned version = load_u8(p.data()) >> 4;
    if (version == 4) {
      if ((load_u8(p.data()) & 0x0f) != 5 || load_u8(p.data() + 9) != 6) return std::nullopt;
      if (load_be16(p.data() + 2) != p.size()) return std::nullopt;
      if ((load_be16(p.data() + 6) & 0x3fff) != 0) return std::nullopt;  // MF or an offset
      s.tcp_at = 20;
    } else if (version == 6) {
      if (p.size() < 60 || load_u8(p.data() + 6) != 6) return std::nullopt;
      if (std::size_t{load_be16(p.data() + 4)} + 40 != p.size()) return std::nullopt;
      s.v6 = true;
      s.tcp_at = 40;
    } else {
      return std::nullopt;
    }
    const std::byte* tcp = p.data() + s.tcp_at;
    std::size_t tcp_header = (std::size_t{load_u8(tcp + 12)} >> 4) * 4;
    if (tcp_header < 20 || s.tcp_at + tcp_header > p.size()) return std::nullopt;
    s.headers = s.tcp_at + tcp_header;
    s.payload = p.size() - s.headers;
    s.flags = load_u8(tcp + 13);
    if (s.payload == 0 || (s.flags & ~allowed_flags) != 0 || !(s.flags & packet::tcp_flags::ack)) return std::nullopt;
    s.seq = load_be32(tcp + 4);
    return s;
  }

  // Same addresses and ports (and IP version, which the caller checked by offsets).
  static bool same_flow(byte_view a, byte_view b, const segment& s) noexcept {
    std::size_t at = s.v6 ? 8 : 12;
    std::size_t len = s.v6 ? 32 : 8;
    if (a.size() < s.tcp_at + 4 || (load_u8(a.data()) >> 4) != (load_u8(b.data()) >> 4)) return false;
    return std::memcmp(a.data() + at, b.data() + at, len) == 0 &&
           std::memcmp(a.data() + s.tcp_at, b.data() + s.tcp_at, 4) == 0;
  }

  // Of one flow, equal in everything a receiver needs equal, except the IP length, IPv4
  // identification and checksum, sequence number, PSH and the TCP checksum.
  static bool same_headers(byte_view a, byte_view b, const segment& s) noexcept {
    const std::byte* x = a.data();
    const std::byte* y = b.data();
    if (s.v6) {
      if (std::memcmp(x, y, 4) != 0 || load_u8(x + 7) != load_u8(y + 7)) return false;  // class, label, hops
    } else if (load_u8(x + 1) != load_u8(y + 1) || load_u8(x + 6) != load_u8(y + 6) ||
               load_u8(x + 8) != load_u8(y + 8)) {
      return false;  // TOS, DF, TTL
    }
    const std::byte* tx = x + s.tcp_at;
    const std::byte* ty = y + s.tcp_at;
    if (std::memcmp(tx + 8, ty + 8, 5) != 0) return false;    // ack, data offset
    if (std::memcmp(tx + 14, ty + 14, 2) != 0) return false;  // window
    std::size_t options = s.headers - s.tcp_at - 20;
    return std::memcmp(tx + 20, ty + 20, options) == 0;
  }

  void add(std::span<const packet_buffer> batch, std::size_t i) {
    byte_view p = batch[i].bytes();
    auto s = candidate(p);
    if (s) {
      for (std::size_t r = 0; r < open_.size(); ++r) {
        run& g = open_[r];
        const write& w = writes_[g.write];
        byte_view head = batch[w.first].bytes();
        if (!same_flow(head, p, *s)) continue;
        // The flow matches: it joins this run, or ends it and starts another.
        if (!g.ended && w.headers == s->headers && same_headers(head, p, *s) && s->seq == g.next_seq && s->payload <= g.gso_size &&
            w.count < max_segments && g.size + s->payload <= max_size) {
          next_[last_[g.write]] = i;
          last_[g.write] = i;
          ++writes_[g.write].count;
          ++coalesced_;
          g.next_seq += static_cast<std::uint32_t>(s->payload);
          g.size += s->payload;
          g.ended = s->payload < g.gso_size || (s->flags & packet::tcp_flags::psh);
          // Most recently used last, so that eviction (from the front) spares active flows.
          std::rotate(open_.begin() + static_cast<std::ptrdiff_t>(r), open_.begin() + static_cast<std::ptrdiff_t>(r) + 1, open_.end());
          return;
        }
        open_.erase(open_.begin() + static_cast<std::ptrdiff_t>(r));
        break;
      }
    } else {
      // Whatever it is, a packet of a flow with an open run must not be overtaken by that run's
      // later segments: close runs that share its addresses (cheap and conservative).
      close_runs_with(batch, p);
    }
    write w;
    w.first = i;
    w.headers = s ? s->headers : 0;
    writes_.push_back(w);
    last_.push_back(i);
    if (s && !(s->flags & packet::tcp_flags::psh)) {
      if (open_.size() == max_open) open_.erase(open_.begin());
      open_.push_back({writes_.size() - 1, s->seq + static_cast<std::uint32_t>(s->payload), s->payload, p.size(), false});
    }
  }

  void close_runs_with(std::span<const packet_buffer> batch, byte_view p) {
    if (open_.empty() || p.empty()) return;
    unsigned version = load_u8(p.data()) >> 4;
    std::size_t at = version == 4 ? 12 : 8;
    std::size_t len = version == 4 ? 8 : 32;
    if ((version != 4 && version != 6) || p.size() < at + len) return;
    std::erase_if(open_, [&](const run& g) {
      byte_view head = batch[writes_[g.write].first].bytes();
      return (load_u8(head.data()) >> 4) == version && std::memcmp(head.data() + at, p.data() + at, len) == 0;
    });
  }

  void finish(std::span<const packet_buffer> batch, write& w, std::size_t last) {
    if (w.count == 1) return;
    byte_view first = batch[w.first].bytes();
    std::size_t payload = first.size() - w.headers;
    std::size_t total = w.headers;
    for (std::size_t i = w.first; i != no_next; i = next_[i]) total += batch[i].size() - w.headers;
    std::memcpy(w.head.data(), first.data(), w.headers);
    std::byte* h = w.head.data();
    bool v6 = (load_u8(h) >> 4) == 6;
    std::size_t tcp_at = v6 ? 40 : 20;
    if (v6) {
      store_be16(h + 4, static_cast<std::uint16_t>(total - 40));
    } else {
      store_be16(h + 2, static_cast<std::uint16_t>(total));
      store_be16(h + 10, 0);
      store_be16(h + 10, packet::internet_checksum(byte_view(h, 20)));
    }
    std::uint8_t last_flags = load_u8(batch[last].bytes().data() + tcp_at + 13);
    store_u8(h + tcp_at + 13, static_cast<std::uint8_t>(load_u8(h + tcp_at + 13) | (last_flags & packet::tcp_flags::psh)));
    // The pseudo-header sum, not complemented: the kernel adds the segment's bytes to it.
    auto source = v6 ? packet::ip_address(packet::ipv6_address::from_bytes(h + 8))
                     : packet::ip_address(packet::ipv4_address::from_bytes(h + 12));
    auto destination = v6 ? packet::ip_address(packet::ipv6_address::from_bytes(h + 24))
                          : packet::ip_address(packet::ipv4_address::from_bytes(h + 16));
    store_be16(h + tcp_at + 16, packet::pseudo_header_sum(source, destination, packet::ip_protocol::tcp,
                                                          static_cast<std::uint32_t>(total - tcp_at))
                                    .sum());
    w.header.flags = virtio_net_header::needs_csum;
    w.header.gso_type = v6 ? virtio_net_header::gso_tcpv6 : virtio_net_header::gso_tcpv4;
    w.header.header_length = static_cast<std::uint16_t>(w.headers);
    w.header.gso_size = static_cast<std::uint16_t>(payload);
    w.header.csum_start = static_cast<std::uint16_t>(tcp_at);
    w.header.csum_offset = 16;
  }

  static constexpr std::size_t max_open = 16;
  std::vector<write> writes_;
  std::vector<run> open_;
  std::vector<std::size_t> next_;
  std::vector<std::size_t> last_;  // per write: its last packet
  std::size_t coalesced_ = 0;
};

}  // namespace warren::tun
