#pragma once
// IP addresses and prefixes as plain values: comparable, hashable, copyable in registers.
// Octets are in network order, as on the wire.

#include <warren/core/bytes.hpp>

#include <arpa/inet.h>

#include <array>
#include <charconv>
#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace warren::packet {

struct ipv4_address {
  std::array<std::uint8_t, 4> octets{};

  static constexpr ipv4_address from_uint(std::uint32_t host_order) noexcept {
    return {{static_cast<std::uint8_t>(host_order >> 24), static_cast<std::uint8_t>(host_order >> 16),
             static_cast<std::uint8_t>(host_order >> 8), static_cast<std::uint8_t>(host_order)}};
  }
  static ipv4_address from_bytes(const std::byte* p) noexcept {
    ipv4_address a;
    std::memcpy(a.octets.data(), p, 4);
    return a;
  }
  constexpr std::uint32_t to_uint() const noexcept {
    return std::uint32_t{octets[0]} << 24 | std::uint32_t{octets[1]} << 16 |
           std::uint32_t{octets[2]} << 8 | octets[3];
  }
  // Dotted quad; nullopt for anything else.
  static std::optional<ipv4_address> parse(std::string_view text) {
    char buf[INET_ADDRSTRLEN];
    if (text.size() >= sizeof buf) return std::nullopt;
    text.copy(buf, text.size());
    buf[text.size()] = '\0';
    ipv4_address a;
    if (::inet_pton(AF_INET, buf, a.octets.data()) != 1) return std::nullopt;
    return a;
  }
  std::string to_string() const {
    char buf[INET_ADDRSTRLEN];
    ::inet_ntop(AF_INET, octets.data(), buf, sizeof buf);
    return buf;
  }
  byte_view bytes() const noexcept { return std::as_bytes(std::span{octets}); }
  friend constexpr auto operator<=>(const ipv4_address&, const ipv4_address&) = default;
};

struct ipv6_address {
  std::array<std::uint8_t, 16> octets{};

  static ipv6_address from_bytes(const std::byte* p) noexcept {
    ipv6_address a;
    std::memcpy(a.octets.data(), p, 16);
    return a;
  }
  static std::optional<ipv6_address> parse(std::string_view text) {
    char buf[INET6_ADDRSTRLEN];
    if (text.size() >= sizeof buf) return std::nullopt;
    text.copy(buf, text.size());
    buf[text.size()] = '\0';
    ipv6_address a;
    if (::inet_pton(AF_INET6, buf, a.octets.data()) != 1) return std::nullopt;
    return a;
  }
  std::string to_string() const {
    char buf[INET6_ADDRSTRLEN];
    ::inet_ntop(AF_INET6, octets.data(), buf, sizeof buf);
    return buf;
  }
  byte_view bytes() const noexcept { return std::as_bytes(std::span{octets}); }
  friend constexpr auto operator<=>(const ipv6_address&, const ipv6_address&) = default;
};

// Either family. An IPv4 address keeps its 4 octets at the front and zeros behind, so the two
// families never compare equal.
class ip_address {
 public:
  constexpr ip_address() noexcept = default;
  constexpr ip_address(ipv4_address a) noexcept : v6_(false) {
    for (std::size_t i = 0; i < 4; ++i) octets_[i] = a.octets[i];
  }
  constexpr ip_address(ipv6_address a) noexcept : octets_(a.octets), v6_(true) {}

  static std::optional<ip_address> parse(std::string_view text) {
    if (text.find(':') != std::string_view::npos) {
      if (auto a = ipv6_address::parse(text)) return ip_address(*a);
    } else if (auto a = ipv4_address::parse(text)) {
      return ip_address(*a);
    }
    return std::nullopt;
  }
  constexpr bool is_v4() const noexcept { return !v6_; }
  constexpr bool is_v6() const noexcept { return v6_; }
  constexpr ipv4_address v4() const noexcept { return {{octets_[0], octets_[1], octets_[2], octets_[3]}}; }
  constexpr ipv6_address v6() const noexcept { return {octets_}; }
  // The address's bytes on the wire: 4 or 16 of them.
  byte_view bytes() const noexcept { return std::as_bytes(std::span{octets_}).first(v6_ ? 16 : 4); }
  constexpr const std::array<std::uint8_t, 16>& raw() const noexcept { return octets_; }
  std::string to_string() const { return v6_ ? v6().to_string() : v4().to_string(); }
  friend constexpr auto operator<=>(const ip_address&, const ip_address&) = default;

 private:
  std::array<std::uint8_t, 16> octets_{};
  bool v6_ = false;
};

// An address and a prefix length: "192.0.2.1/24", "fd00::1/64". The address keeps its host
// bits (an interface address is written this way); network() clears them.
struct ip_prefix {
  ip_address address;
  std::uint8_t length = 0;

  static std::optional<ip_prefix> parse(std::string_view text) {
    auto slash = text.find('/');
    auto addr = ip_address::parse(text.substr(0, slash));
    if (!addr) return std::nullopt;
    unsigned max = addr->is_v6() ? 128 : 32;
    unsigned len = max;
    if (slash != std::string_view::npos) {
      auto digits = text.substr(slash + 1);
      auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), len);
      if (ec != std::errc{} || end != digits.data() + digits.size() || digits.empty() || len > max)
        return std::nullopt;
    }
    return ip_prefix{*addr, static_cast<std::uint8_t>(len)};
  }
  constexpr unsigned max_length() const noexcept { return address.is_v6() ? 128 : 32; }
  // True if `a` is of the same family and its first `length` bits match.
  constexpr bool contains(const ip_address& a) const noexcept {
    if (a.is_v6() != address.is_v6()) return false;
    const auto& x = a.raw();
    const auto& y = address.raw();
    unsigned len = length < max_length() ? length : max_length();  // a hand-built prefix may overstate
    unsigned full = len / 8, rest = len % 8;
    for (unsigned i = 0; i < full; ++i)
      if (x[i] != y[i]) return false;
    if (rest == 0) return true;
    auto mask = static_cast<std::uint8_t>(0xFF00u >> rest);
    return (x[full] & mask) == (y[full] & mask);
  }
  constexpr ip_prefix network() const noexcept {
    auto octets = address.raw();
    for (unsigned i = 0; i < 16; ++i) {
      unsigned bit = i * 8;
      if (bit >= length || bit >= max_length()) octets[i] = 0;
      else if (bit + 8 > length) octets[i] &= static_cast<std::uint8_t>(0xFF00u >> (length - bit));
    }
    ip_address a = address.is_v6() ? ip_address(ipv6_address{octets})
                                    : ip_address(ipv4_address{{octets[0], octets[1], octets[2], octets[3]}});
    return {a, length};
  }
  std::string to_string() const { return address.to_string() + "/" + std::to_string(length); }
  friend constexpr auto operator<=>(const ip_prefix&, const ip_prefix&) = default;
};

}  // namespace warren::packet
