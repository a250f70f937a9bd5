#pragma once
// The WireGuard cross-platform userspace configuration protocol ("UAPI",
// https://www.wireguard.com/xplatform/#configuration-protocol) as a sans-IO parser and formatter:
// what `wg` sends to /var/run/wireguard/<ifname>.sock and what it expects back.
//
//   1. An adapter accepts a connection on the unix socket and feeds what it reads into a
//      request_reader, then calls next() until it returns nullopt.
//   2. get=1: it collects a device_state from the device, writes format_get(state) and
//      format_reply(0).
//   3. set=1: parse_set(body) gives a set_request; the adapter applies it and writes
//      format_reply(0), or format_reply(errno_value(error)) if parsing or applying failed.
//   4. An error from the reader itself poisons the stream: the adapter replies (except for
//      errc::unknown_operation, where wireguard-go just hangs up) and closes the connection.
//
// The rules follow wireguard-go (device/uapi.go, ipc/uapi_unix.go), which is what wg(8) is tested
// against; docs/wireguard-uapi.md lists every key, the replies, and what wg sends byte for byte.
// Nothing here opens a socket, reads a clock or applies a change to a device.

#include <warren/core/bytes.hpp>
#include <warren/core/expected.hpp>
#include <warren/crypto/secret.hpp>
#include <warren/packet/ip_address.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

namespace warren::wireguard::uapi {

// The only version of the protocol; each peer in a get reply carries protocol_version=1.
inline constexpr int protocol_version = 1;
// The largest request request_reader takes by default (operation line to the empty line that
// ends it). `wg setconf` sends about 500 bytes a peer with 10 allowed IPs, so this fits about
// 2000 peers; a server with more passes a larger limit to request_reader.
inline constexpr std::size_t max_request_size = std::size_t{1} << 20;

// Why a request was refused. errno_value() gives the number to put in the "errno=" reply.
enum class errc {
  malformed_line = 1,            // a line without '=', or an empty line inside a set body:
                                 // -EPROTO, as wireguard-go's IpcErrorProtocol
  unknown_key,                   // a key the protocol does not have: -EINVAL
  misplaced_key,                 // an interface key after the first public_key, or a peer key
                                 // before it: -EINVAL
  invalid_key,                   // a key value that is not 64 hex digits: -EINVAL
  invalid_number,                // listen_port, fwmark or persistent_keepalive_interval is not a
                                 // decimal number in range: -EINVAL
  invalid_boolean,               // replace_peers, remove, update_only or replace_allowed_ips
                                 // with a value other than "true": -EINVAL
  invalid_endpoint,              // not "a.b.c.d:port" or "[ipv6]:port" (zones unsupported): -EINVAL
  invalid_allowed_ip,            // not "address/length" with a length in range: -EINVAL
  unsupported_protocol_version,  // protocol_version other than 1: -EINVAL
  unknown_operation,             // the first line is neither "get=1" nor "set=1": hang up
                                 // without a reply, as wireguard-go does (-EPROTO if you reply)
  trailing_data_after_get,       // "get=1\n" followed by something other than "\n": -EINVAL,
                                 // then close
  request_too_large,             // a request longer than the reader's limit: -EMSGSIZE, then close
};

inline const std::error_category& error_category() noexcept;  // name() is "warren.uapi"
inline std::error_code make_error_code(errc e) noexcept { return {static_cast<int>(e), error_category()}; }

// The number for the "errno=N" reply line, signed the way wireguard-go sends it: 0 for no error,
// -22 (-EINVAL) for a bad value, -71 (-EPROTO) for a malformed line. wg(8) reads a set reply's
// number as a negated errno ("errno=-22" prints "Invalid argument"). Besides warren.uapi codes
// it takes std::errc / system errors from applying a request (std::errc::address_in_use for a
// listen_port that cannot be bound gives -98, like wireguard-go's IpcErrorPortInUse); anything
// else gives -55, wireguard-go's IpcErrorUnknown.
inline int errno_value(std::error_code ec) noexcept;

// "errno=N\n\n": the line that ends every reply, after format_get's text for a get.
inline std::string format_reply(int errno_number);

// A UDP endpoint as the protocol writes it: "192.0.2.1:51820" or "[2001:db8::1]:51820".
// IPv6 needs the brackets and IPv4 must not have them (Go's netip.ParseAddrPort). IPv6 zones
// ("[fe80::1%eth0]:51820") are refused: packet::ip_address has no zone.
struct endpoint {
  packet::ip_address address;
  std::uint16_t port = 0;

  static std::optional<endpoint> parse(std::string_view text);
  // The form wireguard-go prints: IPv6 per RFC 5952 in brackets, "::ffff:a.b.c.d" for mapped IPv4.
  std::string to_string() const;
  friend bool operator==(const endpoint&, const endpoint&) = default;
};

// One peer's part of a set request, in the order the lines came. Lines after remove=true are
// still checked but have no effect on a device. allowed_ips holds the prefixes as sent (with
// host bits); a device stores their network(). replace_allowed_ips drops the prefixes of lines
// before it, so applying "replace, then add allowed_ips" reproduces wireguard-go exactly.
struct peer_change {
  crypto::public_key public_key{};
  bool remove = false;        // remove the peer (remove=true)
  bool update_only = false;   // change the peer only if it exists already (update_only=true)
  std::optional<crypto::symmetric_key> preshared_key;  // all zeros: use no preshared key
  std::optional<uapi::endpoint> endpoint;
  std::optional<std::uint16_t> persistent_keepalive_interval;  // seconds; 0: off
  bool replace_allowed_ips = false;  // remove the peer's allowed IPs before adding these
  std::vector<packet::ip_prefix> allowed_ips;

  friend bool operator==(const peer_change&, const peer_change&) = default;
};

// What a set=1 operation asks for. Fields left empty keep the device's value. Keys are as
// sent: a device clamps a private key itself. A value type; default state: change nothing.
struct set_request {
  std::optional<crypto::private_key> private_key;  // all zeros: remove the key
  std::optional<std::uint16_t> listen_port;        // 0: any free port
  std::optional<std::uint32_t> fwmark;             // 0: off
  bool replace_peers = false;                      // remove every peer before applying `peers`
  std::vector<peer_change> peers;

  friend bool operator==(const set_request&, const set_request&) = default;
};

// Where and why parse_set refused a body, for the operator's log (the reply only carries errno).
// Never contains key material.
struct parse_diagnostic {
  std::size_t line = 0;  // 1-based line of the body (the line after "set=1" is line 1)
  std::string detail;    // e.g. "invalid public_key: expected 64 hex characters, got 63"
  std::string message() const { return "line " + std::to_string(line) + ": " + detail; }
};

// Parses the body of a set operation: the lines after "set=1\n", up to but not including the
// empty line that ends the request (request::body). Lines may end in "\r\n" and the last one
// may lack its "\n", as bufio.Scanner allows. Nothing is applied: the whole body is checked
// first, unlike wireguard-go, which applies lines until the first bad one. On error, fills
// `diagnostic` if given.
inline result<set_request> parse_set(std::string_view body, parse_diagnostic* diagnostic = nullptr);

// A peer as a get operation reports it.
struct peer_state {
  crypto::public_key public_key{};
  std::optional<crypto::symmetric_key> preshared_key;  // nullopt prints as 64 zeros
  std::optional<uapi::endpoint> endpoint;
  std::uint16_t persistent_keepalive_interval = 0;     // seconds; 0: off
  // Wall-clock time of the last completed handshake; the epoch (the default) means never.
  std::chrono::sys_time<std::chrono::nanoseconds> last_handshake_time{};
  std::uint64_t rx_bytes = 0;
  std::uint64_t tx_bytes = 0;
  std::vector<packet::ip_prefix> allowed_ips;

  friend bool operator==(const peer_state&, const peer_state&) = default;
};

// An interface as a get operation reports it. A value type; default state: no key, no peers.
struct device_state {
  std::optional<crypto::private_key> private_key;  // nullopt or all zeros: not printed
  std::uint16_t listen_port = 0;                   // 0: not printed
  std::uint32_t fwmark = 0;                        // 0: not printed
  std::vector<peer_state> peers;                   // printed in this order

  friend bool operator==(const device_state&, const device_state&) = default;
};

// The key=value lines of a get reply, in wireguard-go's order (IpcGetOperation): private_key,
// listen_port, fwmark (each only if set), then per peer public_key, preshared_key,
// protocol_version=1, endpoint (if known), last_handshake_time_sec, last_handshake_time_nsec,
// tx_bytes, rx_bytes, persistent_keepalive_interval and one allowed_ip per prefix (its network).
// Does not include the "errno=0\n\n" that ends the reply: append format_reply(0).
inline std::string format_get(const device_state& state);

enum class operation { get, set };

// One complete operation. For set, body is what parse_set takes; for get it is empty.
// body points into the reader's buffer and is valid until the next call to feed() or next().
struct request {
  operation op = operation::get;
  std::string_view body;
};

// Splits the byte stream of one UAPI connection into operations: "get=1\n\n" and
// "set=1\n<lines>\n\n". Several may arrive in one read, or one may arrive a byte at a time.
//
// Buffers at most `limit` bytes (max_request_size by default) of an unfinished request, plus
// the last chunk fed: the adapter calls next() until it gives nullopt after every feed(). Any
// error is sticky: the connection is beyond repair and the adapter closes it. Bytes are wiped
// once consumed and when the reader is destroyed, since a set request carries the private key
// in hex. Not thread-safe; one reader per connection. Default state: empty, expecting an
// operation line.
class request_reader {
 public:
  explicit request_reader(std::size_t limit = max_request_size) noexcept : limit_(limit) {}
  request_reader(const request_reader&) = delete;
  request_reader& operator=(const request_reader&) = delete;
  // A moved-from reader is empty and expects an operation line; the bytes move with the state.
  request_reader(request_reader&& other) noexcept { take(other); }
  request_reader& operator=(request_reader&& other) noexcept;
  ~request_reader();

  // Appends bytes read from the socket. Fails if the reader has failed, or if the caller let
  // more than `limit` bytes pile up without calling next().
  result<void> feed(std::string_view bytes);
  result<void> feed(byte_view bytes);
  // The next complete operation, nullopt if more bytes are needed, or the error that ended the
  // stream (errc::unknown_operation, trailing_data_after_get, request_too_large).
  result<std::optional<request>> next();

  // Bytes received and not yet returned as part of a request.
  std::size_t buffered() const noexcept { return buffer_.size() - head_; }
  bool failed() const noexcept { return static_cast<bool>(error_); }

 private:
  enum class phase { operation_line, get_end, set_body };
  std::error_code fail(errc e) noexcept;  // wipes the buffer and makes the error sticky
  void compact() noexcept;
  void take(request_reader& other) noexcept;

  std::vector<char> buffer_;
  std::size_t head_ = 0;        // start of the request being read; before it: consumed
  std::size_t wiped_ = 0;       // consumed bytes before this offset are already wiped
  std::size_t line_start_ = 0;  // set_body: start of the body line not yet terminated
  std::size_t search_ = 0;      // set_body: where the search for '\n' resumes
  phase phase_ = phase::operation_line;
  std::size_t limit_ = max_request_size;
  std::error_code error_;
};

}  // namespace warren::wireguard::uapi

template <>
struct std::is_error_code_enum<warren::wireguard::uapi::errc> : std::true_type {};

#include <warren/wireguard/detail/uapi_impl.hpp>
