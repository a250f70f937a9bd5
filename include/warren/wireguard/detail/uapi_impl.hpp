#pragma once
// Definitions for warren/wireguard/uapi.hpp, which includes this at its end (and is included
// here, so that this file also compiles alone).
// References are to wireguard-go's device/uapi.go (IpcGetOperation, handleDeviceLine,
// handlePeerLine, IpcHandle) and ipc/uapi_unix.go (the IpcError* codes).

#include <warren/core/expected.hpp>
#include <warren/crypto/secret.hpp>
#include <warren/packet/ip_address.hpp>
#include <warren/wireguard/uapi.hpp>

#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

namespace warren::wireguard::detail {

class uapi_category final : public std::error_category {
 public:
  const char* name() const noexcept override { return "warren.uapi"; }
  std::string message(int ev) const override {
    using uapi::errc;
    switch (static_cast<errc>(ev)) {
      case errc::malformed_line: return "UAPI line is not key=value";
      case errc::unknown_key: return "unknown UAPI key";
      case errc::misplaced_key: return "UAPI interface key after a peer, or peer key before public_key";
      case errc::invalid_key: return "UAPI key value is not 64 hex digits";
      case errc::invalid_number: return "UAPI number is not a decimal in range";
      case errc::invalid_boolean: return "UAPI flag value is not \"true\"";
      case errc::invalid_endpoint: return "UAPI endpoint is not ipv4:port or [ipv6]:port";
      case errc::invalid_allowed_ip: return "UAPI allowed_ip is not address/length";
      case errc::unsupported_protocol_version: return "unsupported UAPI protocol_version";
      case errc::unknown_operation: return "unknown UAPI operation (expected get=1 or set=1)";
      case errc::trailing_data_after_get: return "data after get=1 where an empty line was expected";
      case errc::request_too_large: return "UAPI request exceeds the size limit";
    }
    return "unknown warren.uapi error";
  }
};

// ---- text helpers -------------------------------------------------------------------------

// Go's strconv.ParseUint(s, 10, bits): ASCII digits only (no sign, no spaces, leading zeros
// allowed), at least one, value <= max.
inline std::optional<std::uint64_t> uapi_parse_decimal(std::string_view s, std::uint64_t max) noexcept {
  if (s.empty()) return std::nullopt;
  std::uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    auto digit = static_cast<std::uint64_t>(c - '0');
    if (v > (max - digit) / 10) return std::nullopt;
    v = v * 10 + digit;
  }
  return v;
}

inline int uapi_hex_value(char c) noexcept {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// A value for the operator's log: quoted, non-printable bytes as \xNN, cut after 64 bytes.
// Only for values that are never secret (numbers, addresses, key names).
inline std::string uapi_quote(std::string_view s) {
  constexpr std::size_t limit = 64;
  std::string out = "\"";
  for (std::size_t i = 0; i < s.size() && i < limit; ++i) {
    auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') {
      out += static_cast<char>(c);
    } else {
      constexpr char hex[] = "0123456789abcdef";
      out += "\\x";
      out += hex[c >> 4];
      out += hex[c & 0xf];
    }
  }
  if (s.size() > limit) out += "...";
  out += '"';
  return out;
}

template <class T>
void uapi_append_number(std::string& out, T v) {
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, end);
}

// Go's netip.Addr.String(): dotted quad; "::ffff:" + dotted quad for IPv4-mapped IPv6; otherwise
// RFC 5952 (lowercase, no leading zeros, the first longest run of two or more zero groups as
// "::"). glibc's inet_ntop differs for ::/96 (it prints "::1.2.3.4" where Go prints "::102:304").
inline void uapi_append_ip(std::string& out, const packet::ip_address& a) {
  const auto& o = a.raw();
  auto dotted = [&out](const std::uint8_t* p) {
    for (int i = 0; i < 4; ++i) {
      if (i) out += '.';
      uapi_append_number(out, static_cast<unsigned>(p[i]));
    }
  };
  if (a.is_v4()) {
    dotted(o.data());
    return;
  }
  bool mapped = o[10] == 0xff && o[11] == 0xff &&
                std::all_of(o.begin(), o.begin() + 10, [](std::uint8_t b) { return b == 0; });
  if (mapped) {
    out += "::ffff:";
    dotted(o.data() + 12);
    return;
  }
  std::array<unsigned, 8> group{};
  for (std::size_t i = 0; i < 8; ++i) group[i] = unsigned{o[2 * i]} << 8 | o[2 * i + 1];
  std::size_t zero_start = 8, zero_end = 8;  // [start, end) compressed to "::"
  for (std::size_t i = 0; i < 8; ++i) {
    std::size_t j = i;
    while (j < 8 && group[j] == 0) ++j;
    if (j - i >= 2 && j - i > zero_end - zero_start) {
      zero_start = i;
      zero_end = j;
    }
  }
  constexpr char hex[] = "0123456789abcdef";
  for (std::size_t i = 0; i < 8; ++i) {
    if (i == zero_start) {
      out += "::";
      i = zero_end;
      if (i >= 8) break;
    } else if (i > 0) {
      out += ':';
    }
    bool started = false;
    for (int shift = 12; shift >= 0; shift -= 4) {
      unsigned nibble = (group[i] >> shift) & 0xf;
      if (nibble || started || shift == 0) {
        out += hex[nibble];
        started = true;
      }
    }
  }
}

inline void uapi_append_key(std::string& out, std::string_view name, std::span<const std::byte, 32> key) {
  constexpr char hex[] = "0123456789abcdef";
  out += name;
  out += '=';
  for (std::byte b : key) {
    auto v = std::to_integer<unsigned>(b);
    out += hex[v >> 4];
    out += hex[v & 0xf];
  }
  out += '\n';
}

// Go's netip.ParsePrefix: "address/bits", bits in decimal without sign or leading zeros.
inline std::optional<packet::ip_prefix> uapi_parse_prefix(std::string_view text) {
  auto slash = text.rfind('/');
  if (slash == std::string_view::npos) return std::nullopt;
  auto bits_text = text.substr(slash + 1);
  if (bits_text.size() > 1 && bits_text[0] == '0') return std::nullopt;
  auto bits = uapi_parse_decimal(bits_text, 128);
  if (!bits) return std::nullopt;
  auto address = packet::ip_address::parse(text.substr(0, slash));
  if (!address) return std::nullopt;
  if (*bits > (address->is_v6() ? 128u : 32u)) return std::nullopt;
  return packet::ip_prefix{*address, static_cast<std::uint8_t>(*bits)};
}

}  // namespace warren::wireguard::detail

namespace warren::wireguard::uapi {

inline const std::error_category& error_category() noexcept {
  static const detail::uapi_category category;
  return category;
}

inline int errno_value(std::error_code ec) noexcept {
  if (!ec) return 0;
  if (ec.category() == error_category()) {
    switch (static_cast<errc>(ec.value())) {
      case errc::malformed_line:
      case errc::unknown_operation: return -EPROTO;  // ipc.IpcErrorProtocol
      case errc::request_too_large: return -EMSGSIZE;
      default: return -EINVAL;  // ipc.IpcErrorInvalid
    }
  }
  if ((ec.category() == std::generic_category() || ec.category() == std::system_category()) &&
      ec.value() > 0)
    return -ec.value();
  return -55;  // ipc.IpcErrorUnknown ("ENOANO")
}

inline std::string format_reply(int errno_number) {
  std::string out = "errno=";
  detail::uapi_append_number(out, errno_number);
  out += "\n\n";
  return out;
}

inline std::optional<endpoint> endpoint::parse(std::string_view text) {
  // Go's netip.ParseAddrPort: split at the last ':', brackets exactly for IPv6.
  auto colon = text.rfind(':');
  if (colon == std::string_view::npos) return std::nullopt;
  auto host = text.substr(0, colon);
  auto port = detail::uapi_parse_decimal(text.substr(colon + 1), 65535);
  if (host.empty() || !port) return std::nullopt;
  bool bracketed = host.front() == '[';
  if (bracketed) {
    if (host.size() < 2 || host.back() != ']') return std::nullopt;
    host = host.substr(1, host.size() - 2);
  }
  auto address = packet::ip_address::parse(host);
  if (!address || address->is_v6() != bracketed) return std::nullopt;
  return endpoint{*address, static_cast<std::uint16_t>(*port)};
}

inline std::string endpoint::to_string() const {
  std::string out;
  if (address.is_v6()) out += '[';
  detail::uapi_append_ip(out, address);
  if (address.is_v6()) out += ']';
  out += ':';
  detail::uapi_append_number(out, port);
  return out;
}

inline result<set_request> parse_set(std::string_view body, parse_diagnostic* diagnostic) {
  set_request parsed;
  std::size_t line_number = 0;
  auto fail = [&](errc e, std::string why) {
    if (diagnostic) *diagnostic = {line_number, std::move(why)};
    return unexpected(make_error_code(e));
  };
  // Keys go through a fixed buffer so that no std::string copy of them is left behind.
  auto parse_key = [](std::string_view name, std::string_view hex,
                      std::array<std::byte, 32>& out) -> std::optional<std::string> {
    if (hex.size() != 64)
      return "invalid " + std::string(name) + ": expected 64 hex characters, got " + std::to_string(hex.size());
    for (std::size_t i = 0; i < 32; ++i) {
      int hi = detail::uapi_hex_value(hex[2 * i]);
      int lo = detail::uapi_hex_value(hex[2 * i + 1]);
      if (hi < 0 || lo < 0) {
        crypto::secure_wipe(out.data(), out.size());
        return "invalid " + std::string(name) + ": character " + std::to_string(2 * i + (hi < 0 ? 1 : 2)) +
               " is not a hex digit";
      }
      out[i] = static_cast<std::byte>(hi << 4 | lo);
    }
    return std::nullopt;
  };
  auto parse_secret = [&](std::string_view name, std::string_view hex) -> std::optional<std::string> {
    std::array<std::byte, 32> raw{};
    auto error = parse_key(name, hex, raw);
    if (!error) {
      crypto::secret<32> key{std::span<const std::byte, 32>{raw}};
      crypto::secure_wipe(raw.data(), raw.size());
      if (name == "private_key") {
        parsed.private_key = key;
      } else {
        parsed.peers.back().preshared_key = key;
      }
    }
    return error;
  };
  auto is_true = [](std::string_view value) { return value == "true"; };
  auto boolean_error = [](std::string_view key, std::string_view value) {
    return "invalid " + std::string(key) + " " + detail::uapi_quote(value) + ": the only value is \"true\"";
  };
  auto number_error = [](std::string_view key, std::string_view value, std::uint64_t max) {
    return "invalid " + std::string(key) + " " + detail::uapi_quote(value) + ": expected a decimal number from 0 to " +
           std::to_string(max);
  };

  while (!body.empty()) {
    ++line_number;
    auto newline = body.find('\n');
    auto line = body.substr(0, newline);
    body = newline == std::string_view::npos ? std::string_view{} : body.substr(newline + 1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);  // bufio.ScanLines drops it
    if (line.empty()) return fail(errc::malformed_line, "empty line inside the request (an empty line ends it)");
    auto equals = line.find('=');
    if (equals == std::string_view::npos) return fail(errc::malformed_line, "expected key=value");
    auto key = line.substr(0, equals);
    auto value = line.substr(equals + 1);

    bool device_key = key == "private_key" || key == "listen_port" || key == "fwmark" || key == "replace_peers";
    bool peer_key = key == "remove" || key == "update_only" || key == "preshared_key" || key == "endpoint" ||
                    key == "persistent_keepalive_interval" || key == "replace_allowed_ips" ||
                    key == "allowed_ip" || key == "protocol_version";
    bool in_peer = !parsed.peers.empty();

    if (key == "public_key") {
      peer_change peer;
      if (auto error = parse_key(key, value, peer.public_key)) return fail(errc::invalid_key, *error);
      parsed.peers.push_back(std::move(peer));
    } else if (device_key && in_peer) {
      return fail(errc::misplaced_key,
                  std::string(key) + " is an interface key and must come before the first public_key");
    } else if (peer_key && !in_peer) {
      return fail(errc::misplaced_key, std::string(key) + " is a peer key and must follow a public_key line");
    } else if (key == "private_key" || key == "preshared_key") {
      if (auto error = parse_secret(key, value)) return fail(errc::invalid_key, *error);
    } else if (key == "listen_port") {
      auto port = detail::uapi_parse_decimal(value, 65535);
      if (!port) return fail(errc::invalid_number, number_error(key, value, 65535));
      parsed.listen_port = static_cast<std::uint16_t>(*port);
    } else if (key == "fwmark") {
      auto mark = detail::uapi_parse_decimal(value, 0xffffffff);
      if (!mark) return fail(errc::invalid_number, number_error(key, value, 0xffffffff));
      parsed.fwmark = static_cast<std::uint32_t>(*mark);
    } else if (key == "replace_peers") {
      if (!is_true(value)) return fail(errc::invalid_boolean, boolean_error(key, value));
      parsed.replace_peers = true;
    } else if (key == "remove") {
      if (!is_true(value)) return fail(errc::invalid_boolean, boolean_error(key, value));
      parsed.peers.back().remove = true;
    } else if (key == "update_only") {
      if (!is_true(value)) return fail(errc::invalid_boolean, boolean_error(key, value));
      parsed.peers.back().update_only = true;
    } else if (key == "endpoint") {
      auto e = endpoint::parse(value);
      if (!e)
        return fail(errc::invalid_endpoint, "invalid endpoint " + detail::uapi_quote(value) +
                                                ": expected a.b.c.d:port or [ipv6]:port (no zone)");
      parsed.peers.back().endpoint = *e;
    } else if (key == "persistent_keepalive_interval") {
      auto seconds = detail::uapi_parse_decimal(value, 65535);
      if (!seconds) return fail(errc::invalid_number, number_error(key, value, 65535));
      parsed.peers.back().persistent_keepalive_interval = static_cast<std::uint16_t>(*seconds);
    } else if (key == "replace_allowed_ips") {
      if (!is_true(value)) return fail(errc::invalid_boolean, boolean_error(key, value));
      // wireguard-go removes the peer's allowed IPs at this line, including any added above it.
      parsed.peers.back().replace_allowed_ips = true;
      parsed.peers.back().allowed_ips.clear();
    } else if (key == "allowed_ip") {
      auto prefix = detail::uapi_parse_prefix(value);
      if (!prefix)
        return fail(errc::invalid_allowed_ip,
                    "invalid allowed_ip " + detail::uapi_quote(value) + ": expected address/prefix-length");
      parsed.peers.back().allowed_ips.push_back(*prefix);
    } else if (key == "protocol_version") {
      if (value != "1")
        return fail(errc::unsupported_protocol_version,
                    "unsupported protocol_version " + detail::uapi_quote(value) + ": only 1 is supported");
    } else {
      return fail(errc::unknown_key, "unknown key " + detail::uapi_quote(key));
    }
  }
  return parsed;
}

inline std::string format_get(const device_state& state) {
  std::string out;
  auto line = [&out](std::string_view key, auto number) {
    out += key;
    out += '=';
    detail::uapi_append_number(out, number);
    out += '\n';
  };
  // device/uapi.go IpcGetOperation: the interface's values only when set...
  if (state.private_key && !state.private_key->is_zero())
    detail::uapi_append_key(out, "private_key", state.private_key->bytes());
  if (state.listen_port != 0) line("listen_port", state.listen_port);
  if (state.fwmark != 0) line("fwmark", state.fwmark);
  // ...then every peer, with preshared_key always present (zeros for none).
  static constexpr std::array<std::byte, 32> no_key{};
  for (const auto& peer : state.peers) {
    detail::uapi_append_key(out, "public_key", peer.public_key);
    detail::uapi_append_key(out, "preshared_key",
                            peer.preshared_key ? peer.preshared_key->bytes() : std::span<const std::byte, 32>{no_key});
    line("protocol_version", protocol_version);
    if (peer.endpoint) {
      out += "endpoint=";
      out += peer.endpoint->to_string();
      out += '\n';
    }
    // Nanoseconds since the Unix epoch split in two. A time before the epoch prints as never:
    // wg(8) only reads unsigned numbers there.
    std::int64_t nanos = peer.last_handshake_time.time_since_epoch().count();
    if (nanos < 0) nanos = 0;
    line("last_handshake_time_sec", nanos / 1'000'000'000);
    line("last_handshake_time_nsec", nanos % 1'000'000'000);
    line("tx_bytes", peer.tx_bytes);
    line("rx_bytes", peer.rx_bytes);
    line("persistent_keepalive_interval", peer.persistent_keepalive_interval);
    for (const auto& prefix : peer.allowed_ips) {
      auto network = prefix.network();
      out += "allowed_ip=";
      detail::uapi_append_ip(out, network.address);
      out += '/';
      detail::uapi_append_number(out, static_cast<unsigned>(network.length));
      out += '\n';
    }
  }
  return out;
}

// ---- request_reader -----------------------------------------------------------------------

inline request_reader::~request_reader() {
  crypto::secure_wipe(buffer_.data(), buffer_.size());
}

inline void request_reader::take(request_reader& other) noexcept {
  buffer_ = std::move(other.buffer_);
  other.buffer_.clear();
  head_ = std::exchange(other.head_, 0);
  wiped_ = std::exchange(other.wiped_, 0);
  line_start_ = std::exchange(other.line_start_, 0);
  search_ = std::exchange(other.search_, 0);
  phase_ = std::exchange(other.phase_, phase::operation_line);
  limit_ = other.limit_;
  error_ = std::exchange(other.error_, std::error_code{});
}

inline request_reader& request_reader::operator=(request_reader&& other) noexcept {
  if (this != &other) {
    crypto::secure_wipe(buffer_.data(), buffer_.size());  // a defaulted move would free it unwiped
    take(other);
  }
  return *this;
}

inline std::error_code request_reader::fail(errc e) noexcept {
  crypto::secure_wipe(buffer_.data(), buffer_.size());
  buffer_.clear();
  head_ = wiped_ = line_start_ = search_ = 0;
  error_ = make_error_code(e);
  return error_;
}

// Moves the unfinished request to the front, wiping what it leaves behind.
inline void request_reader::compact() noexcept {
  if (head_ == 0) return;
  std::size_t rest = buffer_.size() - head_;
  if (rest) std::memmove(buffer_.data(), buffer_.data() + head_, rest);
  crypto::secure_wipe(buffer_.data() + rest, buffer_.size() - rest);
  buffer_.resize(rest);
  line_start_ -= head_;
  search_ -= head_;
  head_ = wiped_ = 0;
}

inline result<void> request_reader::feed(std::string_view bytes) {
  if (error_) return unexpected(error_);
  compact();
  if (buffer_.size() > limit_) return unexpected(fail(errc::request_too_large));  // next() was not called
  if (buffer_.size() + bytes.size() > buffer_.capacity()) {
    // Grow by hand so that the old block is wiped before it is freed.
    std::vector<char> bigger;
    bigger.reserve(std::max({buffer_.capacity() * 2, buffer_.size() + bytes.size(), std::size_t{256}}));
    bigger.assign(buffer_.begin(), buffer_.end());
    crypto::secure_wipe(buffer_.data(), buffer_.size());
    buffer_.swap(bigger);
  }
  buffer_.insert(buffer_.end(), bytes.begin(), bytes.end());
  return {};
}

inline result<void> request_reader::feed(byte_view bytes) {
  return feed(std::string_view{reinterpret_cast<const char*>(bytes.data()), bytes.size()});
}

inline result<std::optional<request>> request_reader::next() {
  if (error_) return unexpected(error_);
  // The previous request's body is no longer needed: wipe it now rather than at the next feed.
  if (head_ > wiped_) {
    crypto::secure_wipe(buffer_.data() + wiped_, head_ - wiped_);
    wiped_ = head_;
  }
  constexpr std::string_view get_line = "get=1\n";
  constexpr std::string_view set_line = "set=1\n";
  const std::size_t size = buffer_.size();
  const char* data = buffer_.data();
  switch (phase_) {
    case phase::operation_line: {
      // Decide as soon as the bytes differ from both operations, so that garbage without a
      // newline cannot make the reader wait.
      std::string_view have{data + head_, std::min(size - head_, get_line.size())};
      bool get = get_line.starts_with(have);
      bool set = set_line.starts_with(have);
      if (!get && !set) return unexpected(fail(errc::unknown_operation));
      if (have.size() < get_line.size()) return std::optional<request>{};
      line_start_ = search_ = head_ + get_line.size();
      phase_ = get ? phase::get_end : phase::set_body;
      return next();
    }
    case phase::get_end: {
      // IpcHandle reads exactly one more byte after "get=1\n", and it must be '\n'.
      if (line_start_ >= size) return std::optional<request>{};
      if (data[line_start_] != '\n') return unexpected(fail(errc::trailing_data_after_get));
      head_ = line_start_ = search_ = line_start_ + 1;
      phase_ = phase::operation_line;
      return std::optional<request>{request{operation::get, {}}};
    }
    case phase::set_body: {
      const std::size_t body_start = head_ + set_line.size();
      while (true) {
        const void* found = search_ < size ? std::memchr(data + search_, '\n', size - search_) : nullptr;
        if (!found) {
          search_ = size;
          if (size - head_ > limit_) return unexpected(fail(errc::request_too_large));
          return std::optional<request>{};
        }
        std::size_t newline = static_cast<std::size_t>(static_cast<const char*>(found) - data);
        if (newline + 1 - head_ > limit_) return unexpected(fail(errc::request_too_large));
        std::size_t length = newline - line_start_;
        bool empty = length == 0 || (length == 1 && data[line_start_] == '\r');
        if (empty) {
          request r{operation::set, std::string_view{data + body_start, line_start_ - body_start}};
          head_ = line_start_ = search_ = newline + 1;
          phase_ = phase::operation_line;
          return std::optional<request>{r};
        }
        line_start_ = search_ = newline + 1;
      }
    }
  }
  return std::optional<request>{};
}

}  // namespace warren::wireguard::uapi
