// Fuzz target for warren::packet::icmpv4_view: the input is an ICMP message (no IP header).
// When parse() accepts, walk every accessor, check checksum_valid() against a word-by-word sum,
// and for an error message parse and walk the quoted IPv4 packet, which must lie in payload().
#include <warren/packet/icmpv4.hpp>

#include "packet_fuzz_support.hpp"

#include <cstddef>
#include <cstdint>
#include <span>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto input = std::as_bytes(std::span{data, size});
  if (auto m = warren::packet::icmpv4_view::parse(input)) warren::fuzz::walk(*m, input);
  return 0;
}
