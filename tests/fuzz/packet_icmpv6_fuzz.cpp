// Fuzz target for warren::packet::icmpv6_view: the input is an ICMPv6 message (no IP header).
// When parse() accepts, walk every accessor, check checksum_valid() with fixed addresses against
// a word-by-word sum, and for an error message parse and walk the quoted IPv6 packet.
#include <warren/packet/icmpv6.hpp>

#include "packet_fuzz_support.hpp"

#include <cstddef>
#include <cstdint>
#include <span>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto input = std::as_bytes(std::span{data, size});
  if (auto m = warren::packet::icmpv6_view::parse(input)) warren::fuzz::walk(*m, input);
  return 0;
}
