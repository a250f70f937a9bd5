// Fuzz target for warren::packet::ipv6_view: parse() and parse_quoted() of anything; when
// either accepts, walk every accessor and check that the extension-header walk stays inside the
// input, ends at an upper layer for a whole packet, and never exceeds its bound.
#include <warren/packet/ipv6.hpp>

#include "packet_fuzz_support.hpp"

#include <cstddef>
#include <cstdint>
#include <span>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using warren::fuzz::check;
  auto input = std::as_bytes(std::span{data, size});
  auto whole = warren::packet::ipv6_view::parse(input);
  if (whole) warren::fuzz::walk(*whole, input, false);
  auto quoted = warren::packet::ipv6_view::parse_quoted(input);
  if (quoted) warren::fuzz::walk(*quoted, input, true);
  // What a whole-packet parse accepts, a quote parse accepts and walks to the same place.
  if (whole) {
    check(quoted.has_value());
    check(quoted->upper_offset() == whole->upper_offset());
    check(quoted->upper_protocol() == whole->upper_protocol());
    check(quoted->extension_count() == whole->extension_count());
  }
  return 0;
}
