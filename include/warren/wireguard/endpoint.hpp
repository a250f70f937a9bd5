#pragma once
// endpoint: a peer's UDP address and port, as the core sees it. The core never opens a socket;
// it takes datagrams "from" an endpoint and hands back datagrams "to" one.

#include <warren/packet/ip_address.hpp>

#include <array>
#include <cstring>
#include <charconv>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace warren::wireguard {

struct endpoint {
  packet::ip_address address;
  std::uint16_t port = 0;

  // "192.0.2.1:51820" or "[2001:db8::1]:51820".
  static std::optional<endpoint> parse(std::string_view text) {
    std::string_view host, port_text;
    if (!text.empty() && text.front() == '[') {
      auto close = text.find(']');
      if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') return std::nullopt;
      host = text.substr(1, close - 1);
      port_text = text.substr(close + 2);
      if (host.find(':') == std::string_view::npos) return std::nullopt;
    } else {
      auto colon = text.rfind(':');
      if (colon == std::string_view::npos) return std::nullopt;
      host = text.substr(0, colon);
      port_text = text.substr(colon + 1);
      if (host.find(':') != std::string_view::npos) return std::nullopt;  // IPv6 needs brackets
    }
    auto addr = packet::ip_address::parse(host);
    unsigned port = 0;
    auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
    if (!addr || port_text.empty() || ec != std::errc{} || end != port_text.data() + port_text.size() || port > 65535)
      return std::nullopt;
    return endpoint{*addr, static_cast<std::uint16_t>(port)};
  }
  std::string to_string() const {
    auto a = address.to_string();
    return (address.is_v6() ? "[" + a + "]" : a) + ":" + std::to_string(port);
  }
  // Address then port, big-endian: what a cookie is a MAC of (paper §5.4.7).
  struct cookie_input {
    std::array<std::byte, 18> bytes{};
    std::size_t length = 0;
    const std::byte* data() const noexcept { return bytes.data(); }
    std::size_t size() const noexcept { return length; }
  };
  cookie_input cookie_bytes() const noexcept {
    cookie_input in;
    auto a = address.bytes();
    std::memcpy(in.bytes.data(), a.data(), a.size());
    in.bytes[a.size()] = static_cast<std::byte>(port >> 8);
    in.bytes[a.size() + 1] = static_cast<std::byte>(port & 0xff);
    in.length = a.size() + 2;
    return in;
  }

  friend bool operator==(const endpoint&, const endpoint&) = default;
};

}  // namespace warren::wireguard
