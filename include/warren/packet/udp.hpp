#pragma once
// UDP (RFC 768): a zero-copy view and a header builder. The checksum covers a pseudo-header
// built from the IP addresses, so checking and writing it needs them.

#include <warren/core/bytes.hpp>
#include <warren/core/expected.hpp>
#include <warren/core/packet_buffer.hpp>
#include <warren/packet/checksum.hpp>
#include <warren/packet/error.hpp>
#include <warren/packet/ip_address.hpp>

#include <cstdint>

namespace warren::packet {

class udp_view {
 public:
  static constexpr std::size_t header_size = 8;

  // A datagram: the bytes after the IP header. Bytes past the UDP length are ignored.
  static result<udp_view> parse(byte_view datagram) noexcept {
    if (datagram.size() < header_size) return unexpected(make_error_code(errc::truncated));
    std::size_t len = load_be16(datagram.data() + 4);
    if (len < header_size) return unexpected(make_error_code(errc::bad_header_length));
    if (len > datagram.size()) return unexpected(make_error_code(errc::truncated));
    return udp_view(datagram.first(len));
  }

  // The first fragment of a fragmented datagram: its length field counts the whole datagram,
  // which may run past the bytes here; payload() is the part this fragment carries. The
  // checksum covers the whole datagram, so it cannot be checked on a fragment.
  static result<udp_view> parse_first_fragment(byte_view fragment) noexcept {
    if (fragment.size() < header_size) return unexpected(make_error_code(errc::truncated));
    std::size_t len = load_be16(fragment.data() + 4);
    if (len < header_size) return unexpected(make_error_code(errc::bad_header_length));
    return udp_view(len < fragment.size() ? fragment.first(len) : fragment);
  }

  byte_view bytes() const noexcept { return bytes_; }
  byte_view payload() const noexcept { return bytes_.subspan(header_size); }
  std::uint16_t source_port() const noexcept { return load_be16(bytes_.data()); }
  std::uint16_t destination_port() const noexcept { return load_be16(bytes_.data() + 2); }
  std::uint16_t length() const noexcept { return load_be16(bytes_.data() + 4); }
  std::uint16_t checksum() const noexcept { return load_be16(bytes_.data() + 6); }

  // A zero checksum means "none" over IPv4 and is forbidden over IPv6 (RFC 8200 §8.1).
  bool checksum_valid(const ip_address& source, const ip_address& destination) const noexcept {
    if (checksum() == 0) return source.is_v4();
    return pseudo_header_sum(source, destination, ip_protocol::udp, length()).add(bytes_).verifies();
  }

 private:
  explicit udp_view(byte_view b) noexcept : bytes_(b) {}
  byte_view bytes_;
};

// Prepends a UDP header to the buffer's data (the payload) and fills in length and checksum.
inline result<void> write_udp_header(packet_buffer& buf, const ip_address& source,
                                     const ip_address& destination, std::uint16_t source_port,
                                     std::uint16_t destination_port) noexcept {
  std::size_t len = buf.size() + udp_view::header_size;
  if (len > 0xffff) return unexpected(make_error_code(errc::too_large));
  auto room = buf.prepend(udp_view::header_size);
  if (!room) return unexpected(room.error());
  std::byte* h = room->data();
  store_be16(h, source_port);
  store_be16(h + 2, destination_port);
  store_be16(h + 4, static_cast<std::uint16_t>(len));
  store_be16(h + 6, 0);
  auto sum = pseudo_header_sum(source, destination, ip_protocol::udp, static_cast<std::uint32_t>(len))
                 .add(buf.bytes())
                 .checksum();
  store_be16(h + 6, sum == 0 ? 0xffff : sum);  // zero means "no checksum" (RFC 768)
  return {};
}

}  // namespace warren::packet
