#pragma once
// gso_segmenter: cuts a packet read from a TUN with offloads (IFF_VNET_HDR) into the IP packets
// it stands for, the work a NIC does for TCP segmentation offload. With TSO on, the kernel hands
// the TUN one "super-packet" of up to 64 KiB per TCP burst instead of ~45 packets, which saves a
// read and a trip through the stack per packet; the segmenter then writes each segment with
// its own IP length, IPv4 identification, TCP sequence number, flags and full checksums, as
// Linux's own software segmentation would. A packet without segmentation whose checksum the
// kernel left to us (needs_csum) gets it finished.
//
// Sans-IO: start() takes the header and the bytes; next() writes one segment into a caller's
// buffer, so a reader can stop when its batch is full and resume on the next call. The bytes
// passed to start() must stay unchanged until done().

#include <warren/core/bytes.hpp>
#include <warren/core/expected.hpp>
#include <warren/core/packet_buffer.hpp>
#include <warren/packet/checksum.hpp>
#include <warren/packet/ip_address.hpp>
#include <warren/packet/ip_protocol.hpp>
#include <warren/packet/tcp.hpp>
#include <warren/tun/error.hpp>
#include <warren/tun/virtio_net_header.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <utility>

namespace warren::tun {

class gso_segmenter {
 public:
  // Checks `h` against `pkt` (an IPv4 or IPv6 packet). On errc::bad_offload nothing will come.
  result<void> start(const virtio_net_header& h, byte_view pkt) noexcept {
    reset();
    if (pkt.empty()) return bad();
    unsigned version = load_u8(pkt.data()) >> 4;
    if (version == 4) {
      if (pkt.size() < 20) return bad();
      ip_header_ = (std::size_t{load_u8(pkt.data())} & 0x0f) * 4;
      if (ip_header_ < 20 || ip_header_ > pkt.size()) return bad();
    } else if (version == 6) {
      if (pkt.size() < 40) return bad();
      ip_header_ = 40;  // extension headers, if any, travel as part of what follows
    } else {
      return bad();
    }
    v6_ = version == 6;
    bool finish_csum = (h.flags & virtio_net_header::needs_csum) != 0;
    if (finish_csum && std::size_t{h.csum_start} + h.csum_offset + 2 > pkt.size()) return bad();

    switch (h.gso_kind()) {
      case virtio_net_header::gso_none:
        pkt_ = pkt;
        header_ = h;
        remaining_ = 1;
        return {};
      case virtio_net_header::gso_tcpv4:
      case virtio_net_header::gso_tcpv6: break;
      default: return bad();  // UDP segmentation is never enabled on our TUNs
    }
    if ((h.gso_kind() == virtio_net_header::gso_tcpv6) != v6_) return bad();
    // The kernel always asks for the TCP checksum with TSO; csum_start is where TCP begins.
    std::size_t l4 = h.csum_start;
    if (!finish_csum || h.csum_offset != 16 || h.gso_size == 0) return bad();
    if (l4 < ip_header_ || (!v6_ && l4 != ip_header_) || l4 + packet::tcp_view::min_header_size > pkt.size())
      return bad();
    // TSO is TCP's: the protocol field says so (after IPv6 extension headers, trust csum_start).
    if (v6_ ? (l4 == 40 && load_u8(pkt.data() + 6) != 6) : load_u8(pkt.data() + 9) != 6) return bad();
    std::size_t tcp_header = (std::size_t{load_u8(pkt.data() + l4 + 12)} >> 4) * 4;
    if (tcp_header < packet::tcp_view::min_header_size || l4 + tcp_header > pkt.size()) return bad();
    pkt_ = pkt;
    header_ = h;
    l4_ = l4;
    headers_ = l4 + tcp_header;
    std::size_t payload = pkt.size() - headers_;
    remaining_ = payload == 0 ? 1 : (payload + h.gso_size - 1) / h.gso_size;
    return {};
  }

  // Forgets the current packet: what it had left is never produced.
  void clear() noexcept { reset(); }

  std::size_t remaining() const noexcept { return remaining_; }
  bool done() const noexcept { return remaining_ == 0; }

  // Writes the next packet into `out` (emptied first, its headroom kept). errc::buffer_too_small
  // leaves the segmenter where it was, so a larger buffer can be offered.
  result<void> next(packet_buffer& out) noexcept {
    if (remaining_ == 0) return unexpected(make_error_code(errc::closed));
    out.reset(out.headroom());
    if (header_.gso_kind() == virtio_net_header::gso_none) return next_whole(out);
    return next_segment(out);
  }

 private:
  static unexpected<std::error_code> bad() noexcept { return unexpected(make_error_code(errc::bad_offload)); }

  // Source and destination as the pseudo-header wants them.
  static std::pair<packet::ip_address, packet::ip_address> addresses_of(const std::byte* ip, bool v6) noexcept {
    if (v6) return {packet::ipv6_address::from_bytes(ip + 8), packet::ipv6_address::from_bytes(ip + 24)};
    return {packet::ipv4_address::from_bytes(ip + 12), packet::ipv4_address::from_bytes(ip + 16)};
  }

  void reset() noexcept {
    pkt_ = {};
    remaining_ = 0;
    index_ = 0;
  }

  result<void> next_whole(packet_buffer& out) noexcept {
    auto room = out.append(pkt_.size());
    if (!room) return unexpected(make_error_code(errc::buffer_too_small));
    std::memcpy(room->data(), pkt_.data(), pkt_.size());
    if (header_.flags & virtio_net_header::needs_csum) {
      // The field holds the pseudo-header sum already; the sum over the rest completes it.
      std::byte* start = room->data() + header_.csum_start;
      std::byte* field = start + header_.csum_offset;
      auto sum = packet::checksum_accumulator{}
                     .add(byte_view(start, room->size() - header_.csum_start))
                     .checksum();
      store_be16(field, sum == 0 ? 0xffff : sum);  // a UDP zero would mean "no checksum"
    }
    remaining_ = 0;
    return {};
  }

  result<void> next_segment(packet_buffer& out) noexcept {
    std::size_t payload_total = pkt_.size() - headers_;
    std::size_t offset = index_ * header_.gso_size;
    std::size_t length = std::min<std::size_t>(header_.gso_size, payload_total - offset);
    auto room = out.append(headers_ + length);
    if (!room) return unexpected(make_error_code(errc::buffer_too_small));
    std::byte* p = room->data();
    std::memcpy(p, pkt_.data(), headers_);
    std::memcpy(p + headers_, pkt_.data() + headers_ + offset, length);
    bool first = index_ == 0;
    bool last = remaining_ == 1;
    std::size_t size = headers_ + length;

    if (v6_) {
      store_be16(p + 4, static_cast<std::uint16_t>(size - 40));
    } else {
      store_be16(p + 2, static_cast<std::uint16_t>(size));
      store_be16(p + 4, static_cast<std::uint16_t>(load_be16(p + 4) + index_));
      store_be16(p + 10, 0);
      store_be16(p + 10, packet::internet_checksum(byte_view(p, ip_header_)));
    }
    std::byte* tcp = p + l4_;
    store_be32(tcp + 4, static_cast<std::uint32_t>(load_be32(tcp + 4) + offset));
    std::uint8_t flags = load_u8(tcp + 13);
    if (!last) flags &= static_cast<std::uint8_t>(~(packet::tcp_flags::fin | packet::tcp_flags::psh));
    if (!first) flags &= static_cast<std::uint8_t>(~packet::tcp_flags::cwr);  // RFC 3168 §6.1.2
    store_u8(tcp + 13, flags);
    store_be16(tcp + 16, 0);
    std::size_t tcp_length = size - l4_;
    auto [source, destination] = addresses_of(p, v6_);
    store_be16(tcp + 16, packet::pseudo_header_sum(source, destination, packet::ip_protocol::tcp,
                                                   static_cast<std::uint32_t>(tcp_length))
                             .add(byte_view(tcp, tcp_length))
                             .checksum());

    ++index_;
    --remaining_;
    return {};
  }

  byte_view pkt_{};
  virtio_net_header header_{};
  bool v6_ = false;
  std::size_t ip_header_ = 0;
  std::size_t l4_ = 0;
  std::size_t headers_ = 0;
  std::size_t remaining_ = 0;
  std::size_t index_ = 0;
};

}  // namespace warren::tun
