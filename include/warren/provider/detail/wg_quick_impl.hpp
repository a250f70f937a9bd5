#pragma once
// Definitions for <warren/provider/wg_quick.hpp>.

#include <warren/provider/detail/base64_key.hpp>
#include <warren/provider/detail/text.hpp>
#include <warren/provider/wg_quick.hpp>

#include <array>
#include <charconv>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace warren::provider::wg_quick {

inline std::optional<routing_table> routing_table::parse(std::string_view text) {
  routing_table t;
  if (text == "off") {
    t.type = kind::off;
  } else if (text == "auto") {
    t.type = kind::automatic;
  } else if (!text.empty() && detail::is_digit(text.front())) {
    auto n = detail::parse_decimal(text, 0xffffffffu);
    if (!n) return std::nullopt;
    t.type = kind::number;
    t.number = static_cast<std::uint32_t>(*n);
  } else {
    if (text.empty() || text.size() > 255) return std::nullopt;
    for (char c : text)
      if (!detail::is_alpha(c) && !detail::is_digit(c) && c != '_' && c != '-' && c != '.') return std::nullopt;
    t.type = kind::name;
    t.name = std::string(text);
  }
  return t;
}

inline std::string routing_table::to_string() const {
  switch (type) {
    case kind::off: return "off";
    case kind::automatic: return "auto";
    case kind::number: return std::to_string(number);
    case kind::name: return name;
  }
  return "auto";
}

namespace detail {

using warren::provider::detail::quote_value;

// The single-value keys of a section and the line each was first seen on, for duplicate errors.
struct seen_keys {
  std::array<std::size_t, 8> line{};
  // Records `slot` on `at`; gives the earlier line if it was already there.
  std::size_t first(std::size_t slot, std::size_t at) noexcept {
    auto before = line[slot];
    if (before == 0) line[slot] = at;
    return before;
  }
};

// wg-quick splits Address and DNS on commas and then on blanks (it expands ${value//,/ }
// unquoted), so "DNS = 1.1.1.1 8.8.8.8" is two servers and empty items vanish.
inline std::vector<std::string_view> split_words(std::string_view s) {
  std::vector<std::string_view> out;
  std::size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && (s[i] == ',' || warren::provider::detail::is_space(s[i]))) ++i;
    std::size_t start = i;
    while (i < s.size() && s[i] != ',' && !warren::provider::detail::is_space(s[i])) ++i;
    if (i > start) out.push_back(s.substr(start, i - start));
  }
  return out;
}

// wg-quick's test for a DNS entry that is an address: ^[0-9.]+$ or anything with a ':'.
inline bool dns_entry_is_address(std::string_view s) noexcept {
  if (s.find(':') != std::string_view::npos) return true;
  for (char c : s)
    if (!warren::provider::detail::is_digit(c) && c != '.') return false;
  return true;
}

class parser {
 public:
  expected<config, parse_error> run(std::string_view text) {
    for (std::size_t line_no = 1; !text.empty(); ++line_no) {
      auto newline = text.find('\n');
      auto raw = text.substr(0, newline);
      text.remove_prefix(newline == std::string_view::npos ? text.size() : newline + 1);
      if (auto e = on_line(raw, line_no); e.code) return unexpected(std::move(e));
    }
    if (auto e = finish_peer(); e.code) return unexpected(std::move(e));
    return std::move(config_);
  }

 private:
  enum class section { none, interface, peer };
  enum interface_slot : std::size_t { private_key, listen_port, fwmark, mtu, table, save_config };
  enum peer_slot : std::size_t { public_key, preshared_key, endpoint_, persistent_keepalive };

  parse_error fail(errc code, std::string detail) const {
    return parse_error{make_error_code(code), line_, std::move(detail)};
  }

  parse_error on_line(std::string_view raw, std::size_t line_no) {
    line_ = line_no;
    auto line = warren::provider::detail::trim(raw.substr(0, raw.find('#')));
    if (line.empty()) return {};
    if (line.front() == '[') return on_section(line);
    auto equals = line.find('=');
    if (equals == std::string_view::npos)
      return fail(errc::syntax_error, quote_value(line) + " is not [Interface], [Peer] or Key = Value");
    auto key = warren::provider::detail::trim(line.substr(0, equals));
    auto value = warren::provider::detail::trim(line.substr(equals + 1));
    if (key.empty()) return fail(errc::syntax_error, quote_value(line) + " has no key before '='");
    if (section_ == section::none)
      return fail(errc::key_outside_section, quote_value(key) + ": keys belong in an [Interface] or [Peer] section");
    return section_ == section::interface ? on_interface_key(key, value) : on_peer_key(key, value);
  }

  parse_error on_section(std::string_view line) {
    if (line.back() != ']') return fail(errc::syntax_error, quote_value(line) + " is not a section header");
    auto name = line.substr(1, line.size() - 2);
    if (warren::provider::detail::iequals(name, "Interface")) {
      if (auto e = finish_peer(); e.code) return e;
      section_ = section::interface;  // a second [Interface] adds to the first, as in wg
      return {};
    }
    if (warren::provider::detail::iequals(name, "Peer")) {
      if (auto e = finish_peer(); e.code) return e;
      section_ = section::peer;
      config_.peers.emplace_back();
      peer_keys_ = {};
      peer_line_ = line_;
      return {};
    }
    return fail(errc::unknown_section, quote_value(line) + ": wg-quick knows only [Interface] and [Peer]");
  }

  // A [Peer] without a PublicKey is refused when its section ends, with the header's line.
  parse_error finish_peer() {
    if (section_ != section::peer || peer_keys_.line[public_key] != 0) return {};
    return parse_error{make_error_code(errc::missing_field), peer_line_, "[Peer] has no PublicKey"};
  }

  parse_error once(seen_keys& keys, std::size_t slot, std::string_view name) {
    if (auto before = keys.first(slot, line_); before != 0)
      return fail(errc::duplicate_key, std::string(name) + ": given again (first on line " + std::to_string(before) +
                                           "); this key takes one value");
    return {};
  }

  parse_error empty_value(std::string_view name) const {
    return fail(errc::invalid_value, std::string(name) + ": needs a value");
  }

  parse_error on_interface_key(std::string_view key, std::string_view value) {
    auto& i = config_.interface;
    auto is = [&](std::string_view name) { return warren::provider::detail::iequals(key, name); };
    if (is("PrivateKey")) {
      if (auto e = once(interface_keys_, private_key, "PrivateKey"); e.code) return e;
      auto k = warren::provider::detail::decode_private_key(value);
      // The value is not quoted back: it is (nearly) a private key.
      if (!k) return fail(errc::invalid_key, "PrivateKey: not a base64 WireGuard key (44 characters ending in '=')");
      i.private_key = *k;
      return {};
    }
    if (is("ListenPort")) {
      if (auto e = once(interface_keys_, listen_port, "ListenPort"); e.code) return e;
      auto n = warren::provider::detail::parse_decimal(value, 65535);
      if (!n) return fail(errc::invalid_value, "ListenPort: " + quote_value(value) + " is not a port number (0 to 65535)");
      i.listen_port = static_cast<std::uint16_t>(*n);
      return {};
    }
    if (is("FwMark")) {
      if (auto e = once(interface_keys_, fwmark, "FwMark"); e.code) return e;
      auto n = parse_fwmark(value);
      if (!n) return fail(errc::invalid_value, "FwMark: " + quote_value(value) + " is neither off nor 0 to 0xffffffff");
      i.fwmark = *n;
      return {};
    }
    if (is("Address")) {
      auto items = split_words(value);
      if (items.empty()) return empty_value("Address");
      for (auto item : items) {
        auto p = packet::ip_prefix::parse(item);
        if (!p) return fail(errc::invalid_value, "Address: " + quote_value(item) + " is not an IP address or prefix");
        i.addresses.push_back(*p);
      }
      return {};
    }
    if (is("DNS")) {
      auto items = split_words(value);
      if (items.empty()) return empty_value("DNS");
      for (auto item : items) {
        if (dns_entry_is_address(item)) {
          auto a = packet::ip_address::parse(item);
          if (!a) return fail(errc::invalid_value, "DNS: " + quote_value(item) + " is not an IP address");
          i.dns.push_back(*a);
        } else if (warren::provider::detail::is_hostname(item)) {
          i.dns_search.emplace_back(item);
        } else {
          return fail(errc::invalid_value, "DNS: " + quote_value(item) + " is neither an IP address nor a search domain");
        }
      }
      return {};
    }
    if (is("MTU")) {
      if (auto e = once(interface_keys_, mtu, "MTU"); e.code) return e;
      auto n = warren::provider::detail::parse_decimal(value, 65535);
      // 68: the smallest MTU an IPv4 link may have (RFC 791).
      if (!n || *n < 68) return fail(errc::invalid_value, "MTU: " + quote_value(value) + " is not a number from 68 to 65535");
      i.mtu = static_cast<std::uint16_t>(*n);
      return {};
    }
    if (is("Table")) {
      if (auto e = once(interface_keys_, table, "Table"); e.code) return e;
      if (value.empty()) return empty_value("Table");
      auto t = routing_table::parse(value);
      if (!t) return fail(errc::invalid_value, "Table: " + quote_value(value) + " is not off, auto, a number or a table name");
      i.table = std::move(*t);
      return {};
    }
    if (is("PreUp")) return hook(i.pre_up, "PreUp", value);
    if (is("PostUp")) return hook(i.post_up, "PostUp", value);
    if (is("PreDown")) return hook(i.pre_down, "PreDown", value);
    if (is("PostDown")) return hook(i.post_down, "PostDown", value);
    if (is("SaveConfig")) {
      if (auto e = once(interface_keys_, save_config, "SaveConfig"); e.code) return e;
      if (warren::provider::detail::iequals(value, "true")) i.save_config = true;
      else if (warren::provider::detail::iequals(value, "false")) i.save_config = false;
      else return fail(errc::invalid_value, "SaveConfig: " + quote_value(value) + " is neither true nor false");
      return {};
    }
    for (auto peer_key : {"PublicKey", "PresharedKey", "AllowedIPs", "Endpoint", "PersistentKeepalive"})
      if (is(peer_key)) return fail(errc::unknown_key, std::string(peer_key) + ": belongs in a [Peer] section");
    return fail(errc::unknown_key, quote_value(key) + ": not a key of [Interface]");
  }

  parse_error hook(std::vector<std::string>& list, std::string_view name, std::string_view value) {
    if (value.empty()) return empty_value(name);
    list.emplace_back(value);
    return {};
  }

  parse_error on_peer_key(std::string_view key, std::string_view value) {
    auto& p = config_.peers.back();
    auto is = [&](std::string_view name) { return warren::provider::detail::iequals(key, name); };
    if (is("PublicKey")) {
      if (auto e = once(peer_keys_, public_key, "PublicKey"); e.code) return e;
      auto k = warren::provider::detail::decode_public_key(value);
      if (!k) return fail(errc::invalid_key, "PublicKey: " + quote_value(value) + " is not a base64 WireGuard key (44 characters ending in '=')");
      p.public_key = *k;
      return {};
    }
    if (is("PresharedKey")) {
      if (auto e = once(peer_keys_, preshared_key, "PresharedKey"); e.code) return e;
      auto k = warren::provider::detail::decode_private_key(value);
      if (!k) return fail(errc::invalid_key, "PresharedKey: not a base64 WireGuard key (44 characters ending in '=')");
      p.preshared_key = *k;
      return {};
    }
    if (is("AllowedIPs")) {
      // wg splits on commas only (it drops every blank first), so an empty item is an error.
      if (value.empty()) return empty_value("AllowedIPs");
      for (auto item : warren::provider::detail::split_list(value)) {
        auto prefix = packet::ip_prefix::parse(item);
        if (!prefix) return fail(errc::invalid_value, "AllowedIPs: " + quote_value(item) + " is not an IP address or prefix");
        p.allowed_ips.push_back(*prefix);
      }
      return {};
    }
    if (is("Endpoint")) {
      if (auto e = once(peer_keys_, endpoint_, "Endpoint"); e.code) return e;
      auto ep = warren::provider::endpoint::parse(value);
      if (!ep) return fail(errc::invalid_value, "Endpoint: " + quote_value(value) + " is not host:port or [IPv6]:port");
      p.endpoint = std::move(*ep);
      return {};
    }
    if (is("PersistentKeepalive")) {
      if (auto e = once(peer_keys_, persistent_keepalive, "PersistentKeepalive"); e.code) return e;
      std::optional<std::uint64_t> n = warren::provider::detail::iequals(value, "off")
                                           ? std::optional<std::uint64_t>{0}
                                           : warren::provider::detail::parse_decimal(value, 65535);
      if (!n) return fail(errc::invalid_value, "PersistentKeepalive: " + quote_value(value) + " is neither off nor 0 to 65535");
      p.persistent_keepalive = static_cast<std::uint16_t>(*n);
      return {};
    }
    for (auto interface_key : {"PrivateKey", "ListenPort", "FwMark", "Address", "DNS", "MTU", "Table", "PreUp",
                               "PostUp", "PreDown", "PostDown", "SaveConfig"})
      if (is(interface_key)) return fail(errc::unknown_key, std::string(interface_key) + ": belongs in the [Interface] section");
    return fail(errc::unknown_key, quote_value(key) + ": not a key of [Peer]");
  }

  // As wg's parse_fwmark: "off", "0x" and hex digits, or decimal; at most 32 bits.
  static std::optional<std::uint32_t> parse_fwmark(std::string_view v) {
    if (warren::provider::detail::iequals(v, "off")) return 0;
    if (v.size() > 2 && v.starts_with("0x")) {
      auto digits = v.substr(2);
      std::uint64_t n = 0;
      auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), n, 16);
      if (ec != std::errc{} || end != digits.data() + digits.size() || n > 0xffffffffu) return std::nullopt;
      return static_cast<std::uint32_t>(n);
    }
    auto n = warren::provider::detail::parse_decimal(v, 0xffffffffu);
    if (!n) return std::nullopt;
    return static_cast<std::uint32_t>(*n);
  }

  config config_;
  section section_ = section::none;
  std::size_t line_ = 0;
  std::size_t peer_line_ = 0;
  seen_keys interface_keys_;
  seen_keys peer_keys_;
};

inline void append_list(std::string& out, std::string_view key, const auto& items, auto to_text) {
  if (items.empty()) return;
  out += key;
  out += " = ";
  bool first = true;
  for (const auto& item : items) {
    if (!first) out += ", ";
    out += to_text(item);
    first = false;
  }
  out += '\n';
}

inline void append_line(std::string& out, std::string_view key, std::string_view value) {
  out += key;
  out += " = ";
  out += value;
  out += '\n';
}

// The base64 text of a secret is wiped once copied into `out`.
inline void append_secret(std::string& out, std::string_view key, std::span<const std::byte, crypto::key_size> k) {
  auto text = warren::provider::detail::encode_key(k);
  append_line(out, key, text);
  crypto::secure_wipe(text.data(), text.size());
}

inline std::string hex(std::uint32_t n) {
  char buf[16];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, n, 16);
  (void)ec;
  return "0x" + std::string(buf, end);
}

}  // namespace detail

inline expected<config, parse_error> parse(std::string_view text) {
  detail::parser p;
  return p.run(text);
}

inline std::string write(const config& c) {
  std::string out = "[Interface]\n";
  const auto& i = c.interface;
  if (i.private_key) detail::append_secret(out, "PrivateKey", i.private_key->bytes());
  if (i.listen_port) detail::append_line(out, "ListenPort", std::to_string(*i.listen_port));
  if (i.fwmark) detail::append_line(out, "FwMark", *i.fwmark == 0 ? std::string("off") : detail::hex(*i.fwmark));
  detail::append_list(out, "Address", i.addresses, [](const packet::ip_prefix& p) { return p.to_string(); });
  std::vector<std::string> dns;
  for (const auto& a : i.dns) dns.push_back(a.to_string());
  for (const auto& s : i.dns_search) dns.push_back(s);
  detail::append_list(out, "DNS", dns, [](const std::string& s) { return s; });
  if (i.mtu) detail::append_line(out, "MTU", std::to_string(*i.mtu));
  if (i.table) detail::append_line(out, "Table", i.table->to_string());
  for (const auto& h : i.pre_up) detail::append_line(out, "PreUp", h);
  for (const auto& h : i.post_up) detail::append_line(out, "PostUp", h);
  for (const auto& h : i.pre_down) detail::append_line(out, "PreDown", h);
  for (const auto& h : i.post_down) detail::append_line(out, "PostDown", h);
  if (i.save_config) detail::append_line(out, "SaveConfig", "true");
  for (const auto& p : c.peers) {
    out += "\n[Peer]\n";
    detail::append_line(out, "PublicKey", warren::provider::detail::encode_key(p.public_key));
    if (p.preshared_key) detail::append_secret(out, "PresharedKey", p.preshared_key->bytes());
    detail::append_list(out, "AllowedIPs", p.allowed_ips, [](const packet::ip_prefix& a) { return a.to_string(); });
    if (p.endpoint) detail::append_line(out, "Endpoint", p.endpoint->to_string());
    if (p.persistent_keepalive)
      detail::append_line(out, "PersistentKeepalive",
                          *p.persistent_keepalive == 0 ? std::string("off") : std::to_string(*p.persistent_keepalive));
  }
  return out;
}

inline expected<void, parse_error> check_writable(const config& c) {
  auto text = write(c);
  auto back = parse(text);
  crypto::secure_wipe(text.data(), text.size());
  if (!back) return unexpected(std::move(back.error()));
  if (*back == c) return {};
  // Name the first field that did not survive, so the caller knows what to fix.
  const auto& a = c.interface;
  const auto& b = back->interface;
  auto field = [&]() -> std::string {
    if (a.dns != b.dns || a.dns_search != b.dns_search) return "DNS";
    if (a.table != b.table) return "Table";
    if (a.pre_up != b.pre_up) return "PreUp";
    if (a.post_up != b.post_up) return "PostUp";
    if (a.pre_down != b.pre_down) return "PreDown";
    if (a.post_down != b.post_down) return "PostDown";
    if (a != b) return "[Interface]";
    for (std::size_t n = 0; n < c.peers.size() && n < back->peers.size(); ++n)
      if (c.peers[n] != back->peers[n]) return "[Peer] " + std::to_string(n + 1);
    return "[Peer]";
  }();
  return unexpected(parse_error{make_error_code(errc::invalid_value), 0,
                                field + ": a value that a wg-quick file cannot hold (a '#', a line break, or "
                                        "blanks at either end)"});
}

}  // namespace warren::provider::wg_quick
