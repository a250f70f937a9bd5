#pragma once
// Errors of the packet module: why a packet or message could not be parsed or built. Parsers
// return these and never throw, crash or read out of bounds. A datapath drops the packet and
// counts the error; it never answers a malformed packet (a reply would help a scanner).

#include <string>
#include <system_error>

namespace warren::packet {

enum class errc {
  truncated = 1,        // fewer bytes than the header or a length field needs: drop
  bad_version,          // the IP version nibble is not the one expected: drop
  bad_header_length,    // a header length field is below its minimum (IHL < 5, TCP offset < 5,
                        // UDP length < 8): drop
  bad_length,           // length fields disagree with each other: drop
  bad_checksum,         // a checksum does not verify: drop and count
  bad_option,           // an IPv4 or TCP option's length runs past its header: drop
  bad_extension_chain,  // IPv6 extension headers repeat, come in a forbidden order or are too
                        // many to walk: drop
  fragmented,           // a non-first fragment: it has no transport header; reassemble or pass
  unsupported,          // valid but not handled here (IPv6 jumbogram, ESP payload): pass or drop
  wrong_protocol,       // asked for a transport header the packet does not carry
  too_large,            // a packet being built would exceed 65535 bytes or its buffer
  dns_bad_name,         // a DNS name has a bad label type, or is longer than 255 bytes
  dns_pointer_loop,     // a DNS compression pointer does not point strictly backwards: drop
  dns_bad_record,       // a DNS record's data runs past the message or has a wrong size
};

namespace detail {
class packet_category final : public std::error_category {
 public:
  const char* name() const noexcept override { return "warren.packet"; }
  std::string message(int ev) const override {
    switch (static_cast<errc>(ev)) {
      case errc::truncated: return "packet truncated";
      case errc::bad_version: return "wrong IP version";
      case errc::bad_header_length: return "header length below minimum";
      case errc::bad_length: return "inconsistent length fields";
      case errc::bad_checksum: return "checksum does not verify";
      case errc::bad_option: return "malformed option";
      case errc::bad_extension_chain: return "malformed IPv6 extension header chain";
      case errc::fragmented: return "non-first fragment carries no transport header";
      case errc::unsupported: return "valid but unsupported packet";
      case errc::wrong_protocol: return "packet does not carry the requested protocol";
      case errc::too_large: return "packet would exceed its size limit";
      case errc::dns_bad_name: return "malformed DNS name";
      case errc::dns_pointer_loop: return "DNS compression pointer loops or points forwards";
      case errc::dns_bad_record: return "malformed DNS record";
    }
    return "unknown warren.packet error";
  }
};
}  // namespace detail

inline const std::error_category& error_category() noexcept {
  static const detail::packet_category category;
  return category;
}
inline std::error_code make_error_code(errc e) noexcept { return {static_cast<int>(e), error_category()}; }

}  // namespace warren::packet

template <>
struct std::is_error_code_enum<warren::packet::errc> : std::true_type {};
