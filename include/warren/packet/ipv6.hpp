#pragma once
// IPv6 (RFC 8200): a zero-copy view that walks the extension-header chain to the upper-layer
// header, and a header builder.
//
// The walk is bounded: at most max_extension_headers headers, each kind at most once
// (Destination Options twice), Hop-by-Hop only first (RFC 8200 §4.1). A chain that breaks
// these rules is errc::bad_extension_chain: a sender of such a chain is probing us.
// Fragments are flagged; a non-first fragment has no upper-layer header to walk to.

#include <warren/core/bytes.hpp>
#include <warren/core/expected.hpp>
#include <warren/core/packet_buffer.hpp>
#include <warren/packet/error.hpp>
#include <warren/packet/ip_address.hpp>
#include <warren/packet/ip_protocol.hpp>

#include <cstddef>
#include <cstdint>
#include <optional>

namespace warren::packet {

struct ipv6_fragment_info {
  std::uint32_t offset;          // in bytes
  bool more_fragments;
  std::uint32_t identification;
};

class ipv6_view {
 public:
  static constexpr std::size_t header_size = 40;
  static constexpr unsigned max_extension_headers = 8;

  // A whole packet. Bytes past 40 + payload length are ignored.
  static result<ipv6_view> parse(byte_view packet) noexcept { return parse_impl(packet, false); }
  // A packet quoted inside an ICMPv6 error (RFC 4443 §2.4(c)): it may stop early, so the walk
  // stops where the quote does and upper_payload() holds what remains.
  static result<ipv6_view> parse_quoted(byte_view quote) noexcept { return parse_impl(quote, true); }

  byte_view bytes() const noexcept { return bytes_; }
  byte_view header() const noexcept { return bytes_.first(header_size); }
  // Everything after the fixed header: extension headers, then the upper layer.
  byte_view payload() const noexcept { return bytes_.subspan(header_size); }

  std::uint8_t traffic_class() const noexcept {
    return static_cast<std::uint8_t>(load_be16(p()) >> 4);
  }
  std::uint32_t flow_label() const noexcept { return load_be32(p()) & 0xfffffu; }
  std::uint16_t payload_length() const noexcept { return load_be16(p() + 4); }
  ip_protocol next_header() const noexcept { return static_cast<ip_protocol>(load_u8(p() + 6)); }
  std::uint8_t hop_limit() const noexcept { return load_u8(p() + 7); }
  ipv6_address source() const noexcept { return ipv6_address::from_bytes(p() + 8); }
  ipv6_address destination() const noexcept { return ipv6_address::from_bytes(p() + 24); }
  // Where the packet finally goes: destination(), unless a Routing header still has segments
  // left, in which case it names the final destination. Transport checksums use this one.
  ipv6_address final_destination() const noexcept {
    return final_destination_offset_ ? ipv6_address::from_bytes(p() + final_destination_offset_) : destination();
  }
  // True when a Routing header still has segments left, so final_destination() (and with it
  // the transport checksum) does not depend on destination().
  bool routing_in_transit() const noexcept { return final_destination_offset_ != 0; }

  // The protocol after the extension chain (tcp, udp, icmpv6, esp, ipv6_no_next, ...).
  ip_protocol upper_protocol() const noexcept { return upper_protocol_; }
  std::size_t upper_offset() const noexcept { return upper_offset_; }
  // The upper-layer header and data (or, for a non-first fragment, the fragment's data).
  byte_view upper_payload() const noexcept { return bytes_.subspan(upper_offset_); }
  unsigned extension_count() const noexcept { return extension_count_; }
  const std::optional<ipv6_fragment_info>& fragment() const noexcept { return fragment_; }
  bool is_fragment() const noexcept {
    return fragment_ && (fragment_->offset != 0 || fragment_->more_fragments);
  }
  bool truncated() const noexcept { return bytes_.size() < header_size + payload_length(); }

 private:
  explicit ipv6_view(byte_view b) noexcept : bytes_(b) {}
  const std::byte* p() const noexcept { return bytes_.data(); }

  static result<ipv6_view> parse_impl(byte_view b, bool quoted) noexcept {
    if (b.size() < header_size) return unexpected(make_error_code(errc::truncated));
    if ((load_u8(b.data()) >> 4) != 6) return unexpected(make_error_code(errc::bad_version));
    std::size_t total = header_size + load_be16(b.data() + 4);
    auto first_next = load_u8(b.data() + 6);
    // A zero payload length with a Hop-by-Hop header is a jumbogram (RFC 2675).
    if (total == header_size && first_next == 0 && b.size() > header_size)
      return unexpected(make_error_code(errc::unsupported));
    if (b.size() < total) {
      if (!quoted) return unexpected(make_error_code(errc::truncated));
    } else {
      b = b.first(total);
    }
    ipv6_view v(b);
    if (auto walked = v.walk(quoted); !walked) return unexpected(walked.error());
    return v;
  }

  result<void> walk(bool quoted) noexcept {
    auto fail = [](errc e) { return unexpected(make_error_code(e)); };
    auto next = static_cast<ip_protocol>(load_u8(p() + 6));
    std::size_t off = header_size;
    unsigned seen_hbh = 0, seen_routing = 0, seen_fragment = 0, seen_dest = 0, seen_ah = 0;
    for (;;) {
      std::size_t len = 0;
      switch (next) {
        case ip_protocol::hop_by_hop:
          if (extension_count_ != 0 || seen_hbh++) return fail(errc::bad_extension_chain);
          break;
        case ip_protocol::ipv6_routing:
          if (seen_routing++) return fail(errc::bad_extension_chain);
          break;
        case ip_protocol::ipv6_dest_opts:
          if (seen_dest++ == 2) return fail(errc::bad_extension_chain);
          break;
        case ip_protocol::ipv6_fragment:
          if (seen_fragment++) return fail(errc::bad_extension_chain);
          break;
        case ip_protocol::ah:
          if (seen_ah++) return fail(errc::bad_extension_chain);
          break;
        default:  // upper layer (or ESP / No Next Header, which end the walk)
          upper_protocol_ = next;
          upper_offset_ = off;
          return {};
      }
      if (++extension_count_ > max_extension_headers) return fail(errc::bad_extension_chain);
      if (bytes_.size() < off + 8) {
        if (!quoted) return fail(errc::truncated);
        upper_protocol_ = next;  // the quote stops inside the chain
        upper_offset_ = bytes_.size();
        return {};
      }
      auto header_next = static_cast<ip_protocol>(load_u8(p() + off));
      if (next == ip_protocol::ipv6_fragment) {
        len = 8;
        auto field = load_be16(p() + off + 2);
        fragment_ = ipv6_fragment_info{std::uint32_t{field & 0xfff8u}, (field & 1u) != 0,
                                       load_be32(p() + off + 4)};
        if (fragment_->offset != 0) {  // no upper-layer header in this fragment
          upper_protocol_ = header_next;
          upper_offset_ = off + len;
          return {};
        }
      } else if (next == ip_protocol::ah) {
        len = (std::size_t{load_u8(p() + off + 1)} + 2) * 4;  // RFC 4302 §2.2
      } else {
        len = (std::size_t{load_u8(p() + off + 1)} + 1) * 8;  // RFC 8200 §4.3-4.6
      }
      if (bytes_.size() < off + len) {
        if (!quoted) return fail(errc::truncated);
        upper_protocol_ = next;
        upper_offset_ = bytes_.size();
        return {};
      }
      if (next == ip_protocol::ipv6_routing) note_final_destination(off, len);
      off += len;
      next = header_next;
    }
  }

  // A Routing header with segments left names the final destination (RFC 8200 §8.1): the
  // last address of a type 0 header (RFC 2460 §4.4), the home address of type 2 (RFC 6275
  // §6.4), Segment List[0] of a Segment Routing header (type 4, RFC 8754 §2). Other types keep
  // the IPv6 destination.
  void note_final_destination(std::size_t off, std::size_t len) noexcept {
    auto type = load_u8(p() + off + 2);
    auto segments_left = load_u8(p() + off + 3);
    if (segments_left == 0 || len < 24) return;
    if (type == 0) final_destination_offset_ = off + 8 + (len - 8) / 16 * 16 - 16;
    else if (type == 2 || type == 4) final_destination_offset_ = off + 8;
  }

  byte_view bytes_;
  std::size_t final_destination_offset_ = 0;  // 0: no Routing header in transit
  ip_protocol upper_protocol_ = ip_protocol::ipv6_no_next;
  std::size_t upper_offset_ = header_size;
  unsigned extension_count_ = 0;
  std::optional<ipv6_fragment_info> fragment_;
};

struct ipv6_header_fields {
  ipv6_address source;
  ipv6_address destination;
  ip_protocol next_header = ip_protocol::udp;
  std::uint8_t hop_limit = 64;
  std::uint8_t traffic_class = 0;
  std::uint32_t flow_label = 0;
};

// Prepends a 40-byte IPv6 header to the buffer's data, which becomes its payload.
inline result<void> write_ipv6_header(packet_buffer& buf, const ipv6_header_fields& f) noexcept {
  if (buf.size() > 0xffff) return unexpected(make_error_code(errc::too_large));
  auto payload = static_cast<std::uint16_t>(buf.size());
  auto room = buf.prepend(ipv6_view::header_size);
  if (!room) return unexpected(room.error());
  std::byte* h = room->data();
  store_be32(h, 6u << 28 | std::uint32_t{f.traffic_class} << 20 | (f.flow_label & 0xfffffu));
  store_be16(h + 4, payload);
  store_u8(h + 6, static_cast<std::uint8_t>(f.next_header));
  store_u8(h + 7, f.hop_limit);
  std::memcpy(h + 8, f.source.octets.data(), 16);
  std::memcpy(h + 24, f.destination.octets.data(), 16);
  return {};
}

}  // namespace warren::packet
