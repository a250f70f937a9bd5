#pragma once
// ICMPv6 (RFC 4443): a zero-copy view, the packet quoted inside an error message, and a header
// builder. The checksum covers the IPv6 pseudo-header, so checking and writing need addresses.

#include <warren/core/bytes.hpp>
#include <warren/core/expected.hpp>
#include <warren/core/packet_buffer.hpp>
#include <warren/packet/checksum.hpp>
#include <warren/packet/error.hpp>
#include <warren/packet/ipv6.hpp>

#include <cstdint>
#include <optional>

namespace warren::packet {

namespace icmpv6_type {
inline constexpr std::uint8_t destination_unreachable = 1;
inline constexpr std::uint8_t packet_too_big = 2;
inline constexpr std::uint8_t time_exceeded = 3;
inline constexpr std::uint8_t parameter_problem = 4;
inline constexpr std::uint8_t echo_request = 128;
inline constexpr std::uint8_t echo_reply = 129;
inline constexpr std::uint8_t router_solicitation = 133;
inline constexpr std::uint8_t router_advertisement = 134;
inline constexpr std::uint8_t neighbor_solicitation = 135;
inline constexpr std::uint8_t neighbor_advertisement = 136;
}  // namespace icmpv6_type

class icmpv6_view {
 public:
  static constexpr std::size_t header_size = 8;

  static result<icmpv6_view> parse(byte_view message) noexcept {
    if (message.size() < header_size) return unexpected(make_error_code(errc::truncated));
    return icmpv6_view(message);
  }

  byte_view bytes() const noexcept { return bytes_; }
  byte_view payload() const noexcept { return bytes_.subspan(header_size); }
  std::uint8_t type() const noexcept { return load_u8(bytes_.data()); }
  std::uint8_t code() const noexcept { return load_u8(bytes_.data() + 1); }
  std::uint16_t checksum() const noexcept { return load_be16(bytes_.data() + 2); }
  std::uint32_t rest_of_header() const noexcept { return load_be32(bytes_.data() + 4); }
  std::uint16_t identifier() const noexcept { return load_be16(bytes_.data() + 4); }
  std::uint16_t sequence() const noexcept { return load_be16(bytes_.data() + 6); }
  bool is_echo() const noexcept {
    return type() == icmpv6_type::echo_request || type() == icmpv6_type::echo_reply;
  }
  // Error messages have types 0-127 (RFC 4443 §2.1).
  bool is_error() const noexcept { return type() < 128; }
  std::optional<std::uint32_t> mtu() const noexcept {
    if (type() != icmpv6_type::packet_too_big) return std::nullopt;
    return rest_of_header();
  }
  result<ipv6_view> quoted_packet() const noexcept {
    if (!is_error()) return unexpected(make_error_code(errc::wrong_protocol));
    return ipv6_view::parse_quoted(payload());
  }
  bool checksum_valid(const ip_address& source, const ip_address& destination) const noexcept {
    return pseudo_header_sum(source, destination, ip_protocol::icmpv6, static_cast<std::uint32_t>(bytes_.size()))
        .add(bytes_)
        .verifies();
  }

 private:
  explicit icmpv6_view(byte_view b) noexcept : bytes_(b) {}
  byte_view bytes_;
};

inline result<void> write_icmpv6_header(packet_buffer& buf, const ipv6_address& source,
                                        const ipv6_address& destination, std::uint8_t type,
                                        std::uint8_t code, std::uint32_t rest) noexcept {
  auto room = buf.prepend(icmpv6_view::header_size);
  if (!room) return unexpected(room.error());
  std::byte* h = room->data();
  store_u8(h, type);
  store_u8(h + 1, code);
  store_be16(h + 2, 0);
  store_be32(h + 4, rest);
  store_be16(h + 2, pseudo_header_sum(source, destination, ip_protocol::icmpv6,
                                      static_cast<std::uint32_t>(buf.size()))
                        .add(buf.bytes())
                        .checksum());
  return {};
}

}  // namespace warren::packet
