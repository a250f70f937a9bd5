#pragma once
// IPv4 (RFC 791): a zero-copy view of a header and its payload, and a header builder.
//
// parse() checks structure only: version, header length, total length, and that options are
// well-formed. The header checksum is checked by checksum_valid() or by parse_ip() with
// verify::checksums. Fragments parse fine and are flagged: is_fragment(), and only the first
// fragment (offset 0) starts with a transport header.

#include <warren/core/bytes.hpp>
#include <warren/core/expected.hpp>
#include <warren/core/packet_buffer.hpp>
#include <warren/packet/checksum.hpp>
#include <warren/packet/error.hpp>
#include <warren/packet/ip_address.hpp>
#include <warren/packet/ip_protocol.hpp>

#include <cstddef>
#include <cstdint>

namespace warren::packet {

// One IPv4 option: its type byte and the bytes after its length byte.
struct ipv4_option {
  std::uint8_t type;
  byte_view data;
};

class ipv4_view {
 public:
  static constexpr std::size_t min_header_size = 20;
  static constexpr std::size_t max_header_size = 60;

  // A whole packet. Bytes past the total length (link padding) are ignored.
  static result<ipv4_view> parse(byte_view packet) noexcept { return parse_impl(packet, false); }
  // A packet quoted inside an ICMP error (RFC 792, RFC 1812 §4.3.2.3): its header is whole, but
  // the quote may stop before the total length; payload() is whatever was quoted.
  static result<ipv4_view> parse_quoted(byte_view quote) noexcept { return parse_impl(quote, true); }

  byte_view bytes() const noexcept { return bytes_; }
  byte_view header() const noexcept { return bytes_.first(header_length()); }
  byte_view options() const noexcept { return header().subspan(min_header_size); }
  byte_view payload() const noexcept { return bytes_.subspan(header_length()); }

  std::size_t header_length() const noexcept { return std::size_t{u8(0) & 0x0fu} * 4; }
  std::uint8_t dscp() const noexcept { return static_cast<std::uint8_t>(u8(1) >> 2); }
  std::uint8_t ecn() const noexcept { return static_cast<std::uint8_t>(u8(1) & 3u); }
  std::uint16_t total_length() const noexcept { return load_be16(p() + 2); }
  std::uint16_t identification() const noexcept { return load_be16(p() + 4); }
  bool dont_fragment() const noexcept { return (load_be16(p() + 6) & 0x4000u) != 0; }
  bool more_fragments() const noexcept { return (load_be16(p() + 6) & 0x2000u) != 0; }
  // In bytes (the field counts 8-byte units).
  std::uint32_t fragment_offset() const noexcept { return std::uint32_t{load_be16(p() + 6) & 0x1fffu} * 8; }
  bool is_fragment() const noexcept { return more_fragments() || fragment_offset() != 0; }
  std::uint8_t ttl() const noexcept { return u8(8); }
  ip_protocol protocol() const noexcept { return static_cast<ip_protocol>(u8(9)); }
  std::uint16_t checksum() const noexcept { return load_be16(p() + 10); }
  ipv4_address source() const noexcept { return ipv4_address::from_bytes(p() + 12); }
  ipv4_address destination() const noexcept { return ipv4_address::from_bytes(p() + 16); }
  bool checksum_valid() const noexcept { return checksum_accumulator{}.add(header()).verifies(); }
  // True for a quote that stops before the total length.
  bool truncated() const noexcept { return bytes_.size() < total_length(); }

  // Calls f(ipv4_option) for each option but End and No-Operation. parse() checked the walk.
  template <class F>
  void for_each_option(F&& f) const {
    walk_options(options(), f);
  }

 private:
  explicit ipv4_view(byte_view b) noexcept : bytes_(b) {}
  const std::byte* p() const noexcept { return bytes_.data(); }
  std::uint8_t u8(std::size_t i) const noexcept { return load_u8(p() + i); }

  // Returns false if an option's length is below 2 or runs past the header (RFC 791 p.15).
  template <class F>
  static bool walk_options(byte_view opts, F&& f) {
    std::size_t i = 0;
    while (i < opts.size()) {
      auto type = load_u8(opts.data() + i);
      if (type == 0) break;  // End of Option List
      if (type == 1) {       // No Operation
        ++i;
        continue;
      }
      if (i + 1 >= opts.size()) return false;
      std::size_t len = load_u8(opts.data() + i + 1);
      if (len < 2 || i + len > opts.size()) return false;
      f(ipv4_option{type, opts.subspan(i + 2, len - 2)});
      i += len;
    }
    return true;
  }

  static result<ipv4_view> parse_impl(byte_view b, bool quoted) noexcept {
    if (b.size() < min_header_size) return unexpected(make_error_code(errc::truncated));
    auto first = load_u8(b.data());
    if ((first >> 4) != 4) return unexpected(make_error_code(errc::bad_version));
    std::size_t ihl = std::size_t{first & 0x0fu} * 4;
    if (ihl < min_header_size) return unexpected(make_error_code(errc::bad_header_length));
    if (b.size() < ihl) return unexpected(make_error_code(errc::truncated));
    std::size_t total = load_be16(b.data() + 2);
    if (total < ihl) return unexpected(make_error_code(errc::bad_length));
    if (b.size() < total) {
      if (!quoted) return unexpected(make_error_code(errc::truncated));
    } else {
      b = b.first(total);
    }
    if (!walk_options(b.subspan(min_header_size, ihl - min_header_size), [](const ipv4_option&) {}))
      return unexpected(make_error_code(errc::bad_option));
    return ipv4_view(b);
  }

  byte_view bytes_;
};

// What write_ipv4_header() needs beyond the payload it goes in front of.
struct ipv4_header_fields {
  ipv4_address source;
  ipv4_address destination;
  ip_protocol protocol = ip_protocol::udp;
  std::uint8_t ttl = 64;
  std::uint16_t identification = 0;
  bool dont_fragment = true;
  std::uint8_t dscp = 0;
  std::uint8_t ecn = 0;
};

// Prepends a 20-byte IPv4 header (no options) to the buffer's data, which becomes its payload,
// and fills in total length and header checksum.
inline result<void> write_ipv4_header(packet_buffer& buf, const ipv4_header_fields& f) noexcept {
  std::size_t total = buf.size() + ipv4_view::min_header_size;
  if (total > 0xffff) return unexpected(make_error_code(errc::too_large));
  auto room = buf.prepend(ipv4_view::min_header_size);
  if (!room) return unexpected(room.error());
  std::byte* h = room->data();
  store_u8(h, 0x45);
  store_u8(h + 1, static_cast<std::uint8_t>(unsigned{f.dscp} << 2 | (f.ecn & 3u)));
  store_be16(h + 2, static_cast<std::uint16_t>(total));
  store_be16(h + 4, f.identification);
  store_be16(h + 6, f.dont_fragment ? 0x4000 : 0);
  store_u8(h + 8, f.ttl);
  store_u8(h + 9, static_cast<std::uint8_t>(f.protocol));
  store_be16(h + 10, 0);
  std::memcpy(h + 12, f.source.octets.data(), 4);
  std::memcpy(h + 16, f.destination.octets.data(), 4);
  store_be16(h + 10, internet_checksum({h, ipv4_view::min_header_size}));
  return {};
}

}  // namespace warren::packet
