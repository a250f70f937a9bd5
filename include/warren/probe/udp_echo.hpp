#pragma once
// The UDP echo probe's datagrams. A client sends a request; a responder (echo_responder.hpp)
// sends it back with the type byte changed to "reply"; the client takes the reply only if it is
// its request byte for byte but that type, so a stale reply, another client's, or a reflection
// of someone else's traffic is not counted.
//
//   offset  size
//        0     8  magic "wrnprobe"
//        8     1  type: 1 request, 2 reply
//        9     3  zero
//       12     4  sequence number, big-endian
//       16    16  nonce: random per candidate and round, so replies to an earlier round or to
//                 another prober on the same host do not match
//       32     n  zero padding, up to the requested size (echo_min_size .. echo_max_size)
//
// Why a type byte and not a plain echo: two plain echo services make a loop of one spoofed
// datagram (the old echo/chargen attack). A responder answers requests only, and its reply is
// not a request, so a reply sent to another responder dies there.

#include <warren/core/bytes.hpp>
#include <warren/core/expected.hpp>
#include <warren/probe/error.hpp>

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>

namespace warren::probe {

inline constexpr std::size_t echo_min_size = 32;
// The largest UDP payload in a 1500-byte IPv4 packet: larger requests would be fragmented,
// which measures the fragment path rather than the server.
inline constexpr std::size_t echo_max_size = 1472;
inline constexpr std::array<std::byte, 8> echo_magic{std::byte{'w'}, std::byte{'r'}, std::byte{'n'}, std::byte{'p'},
                                                     std::byte{'r'}, std::byte{'o'}, std::byte{'b'}, std::byte{'e'}};

enum class echo_type : std::uint8_t { request = 1, reply = 2 };

using echo_nonce = std::array<std::byte, 16>;

namespace echo_layout {
inline constexpr std::size_t magic = 0, type = 8, sequence = 12, nonce = 16, padding = 32;
}  // namespace echo_layout

// The requests of one candidate: its nonce and datagram size. A value type.
struct echo_probe {
  echo_nonce nonce{};
  std::size_t size = echo_min_size;

  bool valid_size() const noexcept { return size >= echo_min_size && size <= echo_max_size; }

  // Writes the request for `seq` into out, which must hold `size` bytes (asserted by the
  // caller's sizing; a shorter span writes only what fits and will not match its reply).
  void write_request(std::uint32_t seq, mutable_byte_view out) const noexcept {
    write(seq, echo_type::request, out);
  }

  // The sequence number `reply` answers, if it is the exact echo of one of our requests.
  result<std::uint32_t> match_reply(byte_view reply) const noexcept {
    // A probe of an impossible size matches nothing (and must not build its reply in a buffer
    // sized for the largest legal one).
    if (reply.size() != size || !valid_size()) return unexpected(make_error_code(errc::bad_reply));
    std::uint32_t seq = load_be32(reply.data() + echo_layout::sequence);
    // Rebuild what the reply must be and compare: one rule for every field, padding included.
    std::array<std::byte, echo_max_size> expected{};
    write(seq, echo_type::reply, mutable_byte_view(expected.data(), size));
    if (std::memcmp(expected.data(), reply.data(), size) != 0) return unexpected(make_error_code(errc::bad_reply));
    return seq;
  }

 private:
  void write(std::uint32_t seq, echo_type type, mutable_byte_view out) const noexcept {
    if (out.size() < echo_min_size) return;
    std::memset(out.data(), 0, out.size());
    std::memcpy(out.data() + echo_layout::magic, echo_magic.data(), echo_magic.size());
    store_u8(out.data() + echo_layout::type, static_cast<std::uint8_t>(type));
    store_be32(out.data() + echo_layout::sequence, seq);
    std::memcpy(out.data() + echo_layout::nonce, nonce.data(), nonce.size());
  }
};

// Responder side: whether `d` is a request (magic, type, zero bytes and size in range). The
// padding is not checked: a responder echoes it unread.
inline bool is_echo_request(byte_view d) noexcept {
  return d.size() >= echo_min_size && d.size() <= echo_max_size &&
         std::memcmp(d.data() + echo_layout::magic, echo_magic.data(), echo_magic.size()) == 0 &&
         load_u8(d.data() + echo_layout::type) == static_cast<std::uint8_t>(echo_type::request) &&
         load_u8(d.data() + 9) == 0 && load_u8(d.data() + 10) == 0 && load_u8(d.data() + 11) == 0;
}

// Turns a request into its reply in place; false (and unchanged) if it is not a request.
inline bool make_echo_reply(mutable_byte_view d) noexcept {
  if (!is_echo_request(d)) return false;
  store_u8(d.data() + echo_layout::type, static_cast<std::uint8_t>(echo_type::reply));
  return true;
}

}  // namespace warren::probe
