#pragma once
// virtio_net_header: the 10-byte header that precedes every packet on a TUN opened with
// IFF_VNET_HDR. It is how the kernel and a TUN reader agree on offloads: a packet read may be a
// TCP "super-packet" of up to 64 KiB that the reader must cut into segments (gso_type, gso_size),
// and a packet written may be many coalesced segments the kernel cuts or keeps whole; a
// checksum may be left for the other side to finish (needs_csum, csum_start, csum_offset).
// Layout as in the virtio specification §5.1.6 (struct virtio_net_hdr, without num_buffers).
// The fields are little-endian: linux_tun asks the kernel for that (TUNSETVNETLE) so the same
// code works on big-endian hosts.

#include <warren/core/bytes.hpp>

#include <cstddef>
#include <cstdint>
#include <optional>

namespace warren::tun {

struct virtio_net_header {
  static constexpr std::size_t size = 10;

  // flags
  static constexpr std::uint8_t needs_csum = 1;  // finish the checksum at csum_start + csum_offset
  static constexpr std::uint8_t data_valid = 2;  // checksum already checked

  // gso_type
  static constexpr std::uint8_t gso_none = 0;
  static constexpr std::uint8_t gso_tcpv4 = 1;
  static constexpr std::uint8_t gso_udp = 3;  // UFO, long gone from Linux
  static constexpr std::uint8_t gso_tcpv6 = 4;
  static constexpr std::uint8_t gso_udp_l4 = 5;
  static constexpr std::uint8_t gso_ecn = 0x80;  // ORed into a TCP type: the segments carry CWR

  std::uint8_t flags = 0;
  std::uint8_t gso_type = gso_none;
  std::uint16_t header_length = 0;  // bytes of IP + transport headers in front of the payload
  std::uint16_t gso_size = 0;       // payload bytes per segment
  std::uint16_t csum_start = 0;     // where the checksummed range starts (the transport header)
  std::uint16_t csum_offset = 0;    // where, from csum_start, the checksum field is

  std::uint8_t gso_kind() const noexcept { return static_cast<std::uint8_t>(gso_type & ~gso_ecn); }

  // Nothing when fewer than `size` bytes are given.
  static std::optional<virtio_net_header> parse(byte_view b) noexcept {
    if (b.size() < size) return std::nullopt;
    virtio_net_header h;
    h.flags = load_u8(b.data());
    h.gso_type = load_u8(b.data() + 1);
    h.header_length = load16(b.data() + 2);
    h.gso_size = load16(b.data() + 4);
    h.csum_start = load16(b.data() + 6);
    h.csum_offset = load16(b.data() + 8);
    return h;
  }

  // Writes the `size` bytes at `out`.
  void write(std::byte* out) const noexcept {
    store_u8(out, flags);
    store_u8(out + 1, gso_type);
    store16(out + 2, header_length);
    store16(out + 4, gso_size);
    store16(out + 6, csum_start);
    store16(out + 8, csum_offset);
  }

  friend bool operator==(const virtio_net_header&, const virtio_net_header&) = default;

 private:
  static std::uint16_t load16(const std::byte* p) noexcept {
    return static_cast<std::uint16_t>(load_u8(p) | (load_u8(p + 1) << 8));
  }
  static void store16(std::byte* p, std::uint16_t v) noexcept {
    store_u8(p, static_cast<std::uint8_t>(v));
    store_u8(p + 1, static_cast<std::uint8_t>(v >> 8));
  }
};

}  // namespace warren::tun
