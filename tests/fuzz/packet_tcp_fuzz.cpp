// Fuzz target for warren::packet::tcp_view and clamp_tcp_mss: the input is a TCP header and
// payload (no IP header). When parse() accepts, walk every accessor and option. Then clamp the
// MSS of a copy and check that only the MSS value and the checksum changed, that the MSS is now
// at most the limit, and that the incremental checksum update (RFC 1624) kept the checksum
// exactly as valid (or invalid) as before, for both address families.
#include <warren/packet/tcp.hpp>

#include "packet_fuzz_support.hpp"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace warren;
  using fuzz::check;
  auto input = std::as_bytes(std::span{data, size});
  auto t = packet::tcp_view::parse(input);
  if (!t) return 0;
  fuzz::walk(*t, input);

  bool valid4 = t->checksum_valid(fuzz::src4, fuzz::dst4);
  bool valid6 = t->checksum_valid(fuzz::src6, fuzz::dst6);
  for (std::uint16_t limit : {std::uint16_t{0}, std::uint16_t{536}, std::uint16_t{1380}, std::uint16_t{0xffff}}) {
    std::vector<std::byte> copy(input.begin(), input.end());
    auto changed = packet::clamp_tcp_mss(copy, limit);
    check(changed.has_value());  // it parses what parse() accepted
    auto after = packet::tcp_view::parse(copy);
    check(after.has_value());
    if (!*changed) {
      check(std::equal(copy.begin(), copy.end(), input.begin()));
      continue;
    }
    check(t->has(packet::tcp_flags::syn) && t->mss() && *t->mss() > limit);
    check(after->mss() == limit);
    std::size_t differing = 0;
    for (std::size_t i = 0; i < size; ++i) differing += copy[i] != input[i];
    check(differing <= 4);  // two bytes of MSS, two of checksum
    check(after->checksum_valid(fuzz::src4, fuzz::dst4) == valid4);
    check(after->checksum_valid(fuzz::src6, fuzz::dst6) == valid6);
  }
  return 0;
}
