#pragma once
// ICMP for IPv4 (RFC 792): a zero-copy view, the packet quoted inside an error message, and a
// header builder.

#include <warren/core/bytes.hpp>
#include <warren/core/expected.hpp>
#include <warren/core/packet_buffer.hpp>
#include <warren/packet/checksum.hpp>
#include <warren/packet/error.hpp>
#include <warren/packet/ipv4.hpp>

#include <cstdint>
#include <optional>

namespace warren::packet {

namespace icmpv4_type {
inline constexpr std::uint8_t echo_reply = 0;
inline constexpr std::uint8_t destination_unreachable = 3;
inline constexpr std::uint8_t source_quench = 4;
inline constexpr std::uint8_t redirect = 5;
inline constexpr std::uint8_t echo_request = 8;
inline constexpr std::uint8_t time_exceeded = 11;
inline constexpr std::uint8_t parameter_problem = 12;
}  // namespace icmpv4_type
// Destination Unreachable code "fragmentation needed and DF set" (RFC 1191 §4).
inline constexpr std::uint8_t icmpv4_code_fragmentation_needed = 4;

class icmpv4_view {
 public:
  static constexpr std::size_t header_size = 8;

  // A message: the bytes after the IP header.
  static result<icmpv4_view> parse(byte_view message) noexcept {
    if (message.size() < header_size) return unexpected(make_error_code(errc::truncated));
    return icmpv4_view(message);
  }

  byte_view bytes() const noexcept { return bytes_; }
  // After the 8-byte header: echo data, or the quoted packet of an error.
  byte_view payload() const noexcept { return bytes_.subspan(header_size); }
  std::uint8_t type() const noexcept { return load_u8(bytes_.data()); }
  std::uint8_t code() const noexcept { return load_u8(bytes_.data() + 1); }
  std::uint16_t checksum() const noexcept { return load_be16(bytes_.data() + 2); }
  std::uint32_t rest_of_header() const noexcept { return load_be32(bytes_.data() + 4); }
  // Echo request and reply.
  std::uint16_t identifier() const noexcept { return load_be16(bytes_.data() + 4); }
  std::uint16_t sequence() const noexcept { return load_be16(bytes_.data() + 6); }
  bool is_echo() const noexcept {
    return type() == icmpv4_type::echo_request || type() == icmpv4_type::echo_reply;
  }
  bool is_error() const noexcept {
    switch (type()) {
      case icmpv4_type::destination_unreachable:
      case icmpv4_type::source_quench:
      case icmpv4_type::redirect:
      case icmpv4_type::time_exceeded:
      case icmpv4_type::parameter_problem: return true;
      default: return false;
    }
  }
  // The next-hop MTU of "fragmentation needed" (RFC 1191 §4), else nullopt.
  std::optional<std::uint16_t> next_hop_mtu() const noexcept {
    if (type() != icmpv4_type::destination_unreachable || code() != icmpv4_code_fragmentation_needed)
      return std::nullopt;
    return load_be16(bytes_.data() + 6);
  }
  // The header (and first bytes) of the packet that caused an error.
  result<ipv4_view> quoted_packet() const noexcept {
    if (!is_error()) return unexpected(make_error_code(errc::wrong_protocol));
    return ipv4_view::parse_quoted(payload());
  }
  bool checksum_valid() const noexcept { return checksum_accumulator{}.add(bytes_).verifies(); }

 private:
  explicit icmpv4_view(byte_view b) noexcept : bytes_(b) {}
  byte_view bytes_;
};

// Prepends an ICMP header to the buffer's data and fills in the checksum. `rest` is the
// second 32-bit word: identifier and sequence for echo, the next-hop MTU for code 4, ...
inline result<void> write_icmpv4_header(packet_buffer& buf, std::uint8_t type, std::uint8_t code,
                                        std::uint32_t rest) noexcept {
  auto room = buf.prepend(icmpv4_view::header_size);
  if (!room) return unexpected(room.error());
  std::byte* h = room->data();
  store_u8(h, type);
  store_u8(h + 1, code);
  store_be16(h + 2, 0);
  store_be32(h + 4, rest);
  store_be16(h + 2, internet_checksum(buf.bytes()));
  return {};
}

}  // namespace warren::packet
