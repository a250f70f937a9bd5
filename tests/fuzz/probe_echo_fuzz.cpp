// Fuzz target for the UDP echo probe's datagrams (warren/probe/udp_echo.hpp) and its responder
// (warren/probe/echo_responder.hpp).
//
// Input: [size: 2 bytes, big-endian, low 11 bits] [nonce: 16] [sequence: 4] [flags] [flip] then
// the datagram. The size is taken as it comes, out of range included (0 to 2047): an
// echo_probe is a plain value and match_reply takes whatever it holds.
//
// Properties of echo_probe::match_reply:
//   - never crashes or reads outside the datagram, whatever the probe's size;
//   - it matches only a datagram that is byte for byte what write_request writes for the
//     sequence it returns, with the type byte "reply"; and the sequence is the one in the
//     datagram;
//   - a probe whose size is out of range matches nothing;
//   - the exact echo of our own request matches, with its sequence; the request itself, the
//     echo with one byte changed, one byte short or one byte long do not (a change inside the
//     sequence number makes the exact echo of another request, which matches with that one).
// Properties of echo_responder::on_datagram (fed the input datagram one to four times, our own
// request, and each reply it makes, with time steps):
//   - it answers only a valid request (is_echo_request: magic, type, zero bytes and a size in
//     range), in place: the reply is the request's size, and differs from it only in the type
//     byte, now "reply"; a reply is never a request, and fed back it is not answered;
//   - what it does not answer is left byte for byte as it came;
//   - its counters add up to the datagrams it saw, and it never answers more than the burst
//     plus the rate times the time passed.
#include <warren/core/bytes.hpp>
#include <warren/core/clock.hpp>
#include <warren/probe/echo_responder.hpp>
#include <warren/probe/error.hpp>
#include <warren/probe/udp_echo.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <source_location>
#include <vector>

namespace {

namespace probe = warren::probe;
using bytes = std::vector<std::byte>;

void check(bool ok, std::source_location at = std::source_location::current()) {
  if (ok) return;
  std::fprintf(stderr, "fuzz invariant broken at %s:%u\n", at.file_name(), static_cast<unsigned>(at.line()));
  __builtin_trap();
}

constexpr std::size_t header_size = 24;
constexpr probe::echo_responder_options responder_options{.replies_per_second = 50, .burst = 4};

// The reply to `seq`, built from the layout in udp_echo.hpp rather than by the code under test,
// at any size (fields that do not fit are left out).
bytes layout_reply(const probe::echo_probe& p, std::uint32_t seq) {
  bytes d(p.size);
  auto put = [&](std::size_t at, const void* src, std::size_t n) {
    if (at + n <= d.size()) std::memcpy(d.data() + at, src, n);
  };
  put(probe::echo_layout::magic, probe::echo_magic.data(), probe::echo_magic.size());
  const auto type = std::byte{static_cast<std::uint8_t>(probe::echo_type::reply)};
  put(probe::echo_layout::type, &type, 1);
  const std::byte s[4] = {std::byte(seq >> 24), std::byte(seq >> 16 & 0xff), std::byte(seq >> 8 & 0xff),
                          std::byte(seq & 0xff)};
  put(probe::echo_layout::sequence, s, 4);
  put(probe::echo_layout::nonce, p.nonce.data(), p.nonce.size());
  return d;
}

void check_match(const probe::echo_probe& p, warren::byte_view d) {
  auto r = p.match_reply(d);
  if (!r) {
    check(r.error() == probe::errc::bad_reply);
    return;
  }
  check(p.valid_size() && d.size() == p.size);
  check(*r == warren::load_be32(d.data() + probe::echo_layout::sequence));
  const bytes want = layout_reply(p, *r);
  check(std::memcmp(want.data(), d.data(), d.size()) == 0);
}

struct responder_run {
  probe::echo_responder r{responder_options};
  warren::time_point start{std::chrono::hours(1)};
  warren::time_point now = start;
  std::uint64_t calls = 0, answered = 0, not_requests = 0;

  void feed(bytes& d) {
    const bytes original = d;
    const bool request = probe::is_echo_request(original);
    ++calls;
    not_requests += !request;
    if (!r.on_datagram(d, now)) {
      check(d == original);
      return;
    }
    ++answered;
    check(request);
    check(original.size() >= probe::echo_min_size && original.size() <= probe::echo_max_size);
    check(d.size() == original.size());
    for (std::size_t i = 0; i < d.size(); ++i) {
      if (i == probe::echo_layout::type) check(d[i] == std::byte{static_cast<std::uint8_t>(probe::echo_type::reply)});
      else check(d[i] == original[i]);
    }
    check(!probe::is_echo_request(d));
    // A reply sent to a responder dies there: no loop between two of them.
    const bytes reply = d;
    ++calls;
    ++not_requests;
    check(!r.on_datagram(d, now));
    check(d == reply);
  }

  void finish() {
    const auto& c = r.counters();
    check(c.echoed == answered);
    check(c.not_requests == not_requests);
    check(c.echoed + c.not_requests + c.rate_limited == calls);
    const double seconds = std::chrono::duration<double>(now - start).count();
    check(static_cast<double>(answered) <= responder_options.burst + responder_options.replies_per_second * seconds + 1e-6);
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < header_size) return 0;
  probe::echo_probe p;
  p.size = (std::size_t{data[0]} << 8 | data[1]) & 0x7ff;
  std::memcpy(p.nonce.data(), data + 2, p.nonce.size());
  const std::uint32_t seq = warren::load_be32(reinterpret_cast<const std::byte*>(data + 18));
  const std::uint8_t flags = data[22];
  const std::uint8_t flip = data[23];
  const auto* first = reinterpret_cast<const std::byte*>(data + header_size);
  const bytes datagram(first, first + (size - header_size));

  // Arbitrary bytes.
  check_match(p, datagram);

  if (p.valid_size()) {
    // Our own request and its exact echo.
    bytes request(p.size);
    p.write_request(seq, request);
    check(probe::is_echo_request(request));
    check_match(p, request);
    check(!p.match_reply(request));
    bytes reply = request;
    check(probe::make_echo_reply(reply));
    check(reply == layout_reply(p, seq));
    auto matched = p.match_reply(reply);
    check(matched && *matched == seq);
    // One byte changed: no match, unless it was in the sequence number, which makes it the
    // exact echo of another request.
    bytes changed = reply;
    const std::size_t at = flip % changed.size();
    changed[at] ^= std::byte{static_cast<std::uint8_t>(flags | 1)};
    auto other = p.match_reply(changed);
    if (at >= probe::echo_layout::sequence && at < probe::echo_layout::sequence + 4) {
      check(other && *other != seq && *other == warren::load_be32(changed.data() + probe::echo_layout::sequence));
    } else {
      check(!other);
    }
    check(!p.match_reply(warren::byte_view(reply).first(reply.size() - 1)));
    bytes longer = reply;
    longer.push_back(std::byte{0});
    check(!p.match_reply(longer));
  } else {
    // What would be the exact echo if the size were allowed: still nothing matches.
    const bytes lookalike = layout_reply(p, seq);
    check(!p.match_reply(lookalike));
  }

  responder_run run;
  const auto step = std::chrono::milliseconds(7) * (flags >> 2);
  for (int i = 0; i <= (flags & 3); ++i) {
    bytes d = datagram;
    run.feed(d);
    run.now += step;
  }
  if (p.valid_size()) {
    bytes request(p.size);
    p.write_request(seq, request);
    run.feed(request);
  }
  run.finish();
  return 0;
}
