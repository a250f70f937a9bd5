#pragma once
// endpoint: where a server listens, as a config file names it: a host and a UDP port. The host
// is an IP literal or a DNS name; nothing here resolves names (wg does that when the tunnel
// comes up, and an adapter does it for warren). IP literals are kept in their canonical form
// (RFC 5952 for IPv6), so two spellings of one address compare equal.

#include <warren/packet/ip_address.hpp>
#include <warren/provider/detail/text.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace warren::provider {

struct endpoint {
  std::string host;  // "192.0.2.1", "2001:db8::1" (no brackets) or "vpn.example.com"
  std::uint16_t port = 0;

  // "host:port", "a.b.c.d:port" or "[ipv6]:port", as wg's Endpoint takes them. An IPv6
  // address needs the brackets: "2001:db8::1:51820" is ambiguous, and refused. Port 0 is
  // refused too: nothing can be sent to it. IPv6 zones ("%eth0") are not supported.
  static std::optional<endpoint> parse(std::string_view text) {
    std::string_view host, port_text;
    if (text.starts_with('[')) {
      auto close = text.find(']');
      if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') return std::nullopt;
      host = text.substr(1, close - 1);
      port_text = text.substr(close + 2);
      if (host.find(':') == std::string_view::npos) return std::nullopt;  // brackets are for IPv6 only
    } else {
      auto colon = text.rfind(':');
      if (colon == std::string_view::npos) return std::nullopt;
      host = text.substr(0, colon);
      port_text = text.substr(colon + 1);
      if (host.find(':') != std::string_view::npos) return std::nullopt;
    }
    auto port = detail::parse_decimal(port_text, 65535);
    if (!port || *port == 0) return std::nullopt;
    endpoint e;
    e.port = static_cast<std::uint16_t>(*port);
    if (auto a = packet::ip_address::parse(host)) {
      e.host = a->to_string();
    } else if (host.find(':') == std::string_view::npos && detail::is_hostname(host) && !looks_like_ipv4(host)) {
      e.host = std::string(host);
    } else {
      return std::nullopt;
    }
    return e;
  }

  // The host as an address, if it is an IP literal.
  std::optional<packet::ip_address> address() const { return packet::ip_address::parse(host); }

  std::string to_string() const {
    bool v6 = host.find(':') != std::string::npos;
    return (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
  }
  friend bool operator==(const endpoint&, const endpoint&) = default;

 private:
  // "300.1.2.3" or "10.0.0" is a typo for an address, not a host name.
  static bool looks_like_ipv4(std::string_view s) noexcept {
    for (char c : s)
      if (!detail::is_digit(c) && c != '.') return false;
    return true;
  }
};

}  // namespace warren::provider
