// Fuzz target for warren::packet::udp_view: the input is a UDP header and payload (no IP
// header). When parse() accepts, walk every accessor and check checksum_valid() with fixed IPv4
// and IPv6 addresses against a word-by-word RFC 768 / RFC 8200 §8.1 sum.
#include <warren/packet/udp.hpp>

#include "packet_fuzz_support.hpp"

#include <cstddef>
#include <cstdint>
#include <span>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto input = std::as_bytes(std::span{data, size});
  if (auto u = warren::packet::udp_view::parse(input)) warren::fuzz::walk(*u, input);
  return 0;
}
