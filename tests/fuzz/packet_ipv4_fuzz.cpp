// Fuzz target for warren::packet::ipv4_view: parse() and parse_quoted() of anything; when
// either accepts, walk every accessor and option and check that the view stays inside the input,
// that parse() never claims more than the input holds, and that checksum_valid() agrees with a
// word-by-word RFC 1071 sum.
#include <warren/packet/ipv4.hpp>

#include "packet_fuzz_support.hpp"

#include <cstddef>
#include <cstdint>
#include <span>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using warren::fuzz::check;
  auto input = std::as_bytes(std::span{data, size});
  auto whole = warren::packet::ipv4_view::parse(input);
  if (whole) warren::fuzz::walk(*whole, input, false);
  auto quoted = warren::packet::ipv4_view::parse_quoted(input);
  if (quoted) warren::fuzz::walk(*quoted, input, true);
  // A quote is a looser whole packet: whatever parse() accepts, parse_quoted() accepts the same.
  if (whole) check(quoted && quoted->bytes().size() == whole->bytes().size());
  return 0;
}
