#pragma once
// TCP (RFC 9293): a zero-copy view with an option walk, a header builder, and MSS clamping.
//
// MSS clamping: a tunnel's MTU is smaller than the path the endpoints think they have, so a VPN
// lowers the Maximum Segment Size announced in SYNs crossing it; otherwise full-size segments
// are dropped by a path that never reports it (ICMP filtered). clamp_tcp_mss() edits the option
// in place and patches the checksum incrementally (RFC 1624).

#include <warren/core/bytes.hpp>
#include <warren/core/expected.hpp>
#include <warren/core/packet_buffer.hpp>
#include <warren/packet/checksum.hpp>
#include <warren/packet/error.hpp>
#include <warren/packet/ip_address.hpp>

#include <cstdint>
#include <optional>

namespace warren::packet {

namespace tcp_flags {
inline constexpr std::uint8_t fin = 0x01;
inline constexpr std::uint8_t syn = 0x02;
inline constexpr std::uint8_t rst = 0x04;
inline constexpr std::uint8_t psh = 0x08;
inline constexpr std::uint8_t ack = 0x10;
inline constexpr std::uint8_t urg = 0x20;
inline constexpr std::uint8_t ece = 0x40;
inline constexpr std::uint8_t cwr = 0x80;
}  // namespace tcp_flags

// Option kinds (IANA "TCP Option Kind Numbers").
namespace tcp_option_kind {
inline constexpr std::uint8_t end = 0;
inline constexpr std::uint8_t nop = 1;
inline constexpr std::uint8_t mss = 2;
inline constexpr std::uint8_t window_scale = 3;
inline constexpr std::uint8_t sack_permitted = 4;
inline constexpr std::uint8_t sack = 5;
inline constexpr std::uint8_t timestamps = 8;
}  // namespace tcp_option_kind

// One option: kind, the bytes after its length byte, and its offset in the segment.
struct tcp_option {
  std::uint8_t kind;
  byte_view data;
  std::size_t offset;
};

class tcp_view {
 public:
  static constexpr std::size_t min_header_size = 20;

  // A segment: the bytes after the IP header (its length comes from the IP layer).
  static result<tcp_view> parse(byte_view segment) noexcept {
    if (segment.size() < min_header_size) return unexpected(make_error_code(errc::truncated));
    std::size_t hl = (std::size_t{load_u8(segment.data() + 12)} >> 4) * 4;
    if (hl < min_header_size) return unexpected(make_error_code(errc::bad_header_length));
    if (hl > segment.size()) return unexpected(make_error_code(errc::truncated));
    tcp_view v(segment);
    if (!walk_options(segment, hl, [](const tcp_option&) {})) return unexpected(make_error_code(errc::bad_option));
    return v;
  }

  byte_view bytes() const noexcept { return bytes_; }
  byte_view header() const noexcept { return bytes_.first(header_length()); }
  byte_view options() const noexcept { return header().subspan(min_header_size); }
  byte_view payload() const noexcept { return bytes_.subspan(header_length()); }

  std::uint16_t source_port() const noexcept { return load_be16(p()); }
  std::uint16_t destination_port() const noexcept { return load_be16(p() + 2); }
  std::uint32_t sequence_number() const noexcept { return load_be32(p() + 4); }
  std::uint32_t acknowledgment_number() const noexcept { return load_be32(p() + 8); }
  std::size_t header_length() const noexcept { return (std::size_t{load_u8(p() + 12)} >> 4) * 4; }
  std::uint8_t flags() const noexcept { return load_u8(p() + 13); }
  bool has(std::uint8_t flag) const noexcept { return (flags() & flag) != 0; }
  std::uint16_t window() const noexcept { return load_be16(p() + 14); }
  std::uint16_t checksum() const noexcept { return load_be16(p() + 16); }
  std::uint16_t urgent_pointer() const noexcept { return load_be16(p() + 18); }

  // Calls f(tcp_option) for each option but End and No-Operation. parse() checked the walk.
  template <class F>
  void for_each_option(F&& f) const {
    walk_options(bytes_, header_length(), f);
  }
  // The MSS option's value, if a well-formed one is present.
  std::optional<std::uint16_t> mss() const noexcept {
    std::optional<std::uint16_t> found;
    for_each_option([&](const tcp_option& o) {
      if (o.kind == tcp_option_kind::mss && o.data.size() == 2) found = load_be16(o.data.data());
    });
    return found;
  }
  std::optional<std::uint8_t> window_scale() const noexcept {
    std::optional<std::uint8_t> found;
    for_each_option([&](const tcp_option& o) {
      if (o.kind == tcp_option_kind::window_scale && o.data.size() == 1) found = load_u8(o.data.data());
    });
    return found;
  }
  bool sack_permitted() const noexcept {
    bool found = false;
    for_each_option([&](const tcp_option& o) { found |= o.kind == tcp_option_kind::sack_permitted; });
    return found;
  }

  bool checksum_valid(const ip_address& source, const ip_address& destination) const noexcept {
    return pseudo_header_sum(source, destination, ip_protocol::tcp, static_cast<std::uint32_t>(bytes_.size()))
        .add(bytes_)
        .verifies();
  }

 private:
  explicit tcp_view(byte_view b) noexcept : bytes_(b) {}
  const std::byte* p() const noexcept { return bytes_.data(); }

  template <class F>
  static bool walk_options(byte_view segment, std::size_t header_length, F&& f) {
    std::size_t i = min_header_size;
    while (i < header_length) {
      auto kind = load_u8(segment.data() + i);
      if (kind == tcp_option_kind::end) break;
      if (kind == tcp_option_kind::nop) {
        ++i;
        continue;
      }
      if (i + 1 >= header_length) return false;
      std::size_t len = load_u8(segment.data() + i + 1);
      if (len < 2 || i + len > header_length) return false;
      f(tcp_option{kind, segment.subspan(i + 2, len - 2), i});
      i += len;
    }
    return true;
  }

  byte_view bytes_;
};

struct tcp_header_fields {
  std::uint16_t source_port = 0;
  std::uint16_t destination_port = 0;
  std::uint32_t sequence_number = 0;
  std::uint32_t acknowledgment_number = 0;
  std::uint8_t flags = 0;
  std::uint16_t window = 65535;
  std::uint16_t urgent_pointer = 0;
  byte_view options;  // already encoded; padded here to a multiple of 4 with End
};

// Prepends a TCP header to the buffer's data (the payload) and fills in the checksum.
inline result<void> write_tcp_header(packet_buffer& buf, const ip_address& source,
                                     const ip_address& destination, const tcp_header_fields& f) noexcept {
  std::size_t hl = tcp_view::min_header_size + (f.options.size() + 3) / 4 * 4;
  if (hl > 60) return unexpected(make_error_code(errc::bad_option));
  std::size_t len = buf.size() + hl;
  if (len > 0xffff) return unexpected(make_error_code(errc::too_large));
  auto room = buf.prepend(hl);
  if (!room) return unexpected(room.error());
  std::byte* h = room->data();
  store_be16(h, f.source_port);
  store_be16(h + 2, f.destination_port);
  store_be32(h + 4, f.sequence_number);
  store_be32(h + 8, f.acknowledgment_number);
  store_u8(h + 12, static_cast<std::uint8_t>(hl / 4 << 4));
  store_u8(h + 13, f.flags);
  store_be16(h + 14, f.window);
  store_be16(h + 16, 0);
  store_be16(h + 18, f.urgent_pointer);
  std::memset(h + tcp_view::min_header_size, 0, hl - tcp_view::min_header_size);
  if (!f.options.empty()) std::memcpy(h + tcp_view::min_header_size, f.options.data(), f.options.size());
  store_be16(h + 16, pseudo_header_sum(source, destination, ip_protocol::tcp, static_cast<std::uint32_t>(len))
                         .add(buf.bytes())
                         .checksum());
  return {};
}

// The largest MSS that fits a tunnel MTU: the MTU less the IP and TCP headers without options.
constexpr std::uint16_t mss_for_mtu(std::size_t mtu, bool ipv6) noexcept {
  std::size_t overhead = (ipv6 ? 40 : 20) + tcp_view::min_header_size;
  return mtu > overhead ? static_cast<std::uint16_t>(mtu - overhead) : 0;
}

// Lowers the MSS option of a SYN segment to at most max_mss, patching the TCP checksum.
// `segment` is the TCP header and data (mutable); returns true if it changed anything.
// Not a SYN, no MSS option, or an MSS already small enough: unchanged, false.
inline result<bool> clamp_tcp_mss(mutable_byte_view segment, std::uint16_t max_mss) noexcept {
  auto tcp = tcp_view::parse(segment);
  if (!tcp) return unexpected(tcp.error());
  if (!tcp->has(tcp_flags::syn)) return false;
  std::optional<std::size_t> at;
  tcp->for_each_option([&](const tcp_option& o) {
    if (o.kind == tcp_option_kind::mss && o.data.size() == 2) at = o.offset + 2;
  });
  if (!at) return false;
  std::byte* field = segment.data() + *at;
  auto old_mss = load_be16(field);
  if (old_mss <= max_mss) return false;
  auto old_sum = load_be16(segment.data() + 16);
  // The sum runs over 16-bit words aligned to the segment start; after NOPs the value may
  // straddle two words, so update both (the header length is a multiple of 4: still inside).
  std::size_t word = *at & ~std::size_t{1};
  std::size_t n = *at == word ? 2 : 4;
  std::byte before[4], after[4];
  std::memcpy(before, segment.data() + word, n);
  store_be16(field, max_mss);
  std::memcpy(after, segment.data() + word, n);
  store_be16(segment.data() + 16, checksum_update(old_sum, byte_view{before, n}, byte_view{after, n}));
  return true;
}

}  // namespace warren::packet
