// Builds a UDP packet with warren's builders, parses it back and checks its checksums.
#include <warren/warren.hpp>

#include <cstdio>

int main() {
  using namespace warren;
  auto buf = packet_buffer::allocate();
  if (!buf.append(as_byte_view("hello"))) return 1;
  auto src = *packet::ipv4_address::parse("192.0.2.1");
  auto dst = *packet::ipv4_address::parse("192.0.2.2");
  if (!packet::write_udp_header(buf, src, dst, 4000, 7)) return 1;
  if (!packet::write_ipv4_header(buf, {.source = src, .destination = dst, .protocol = packet::ip_protocol::udp}))
    return 1;
  auto parsed = packet::parse_ip(buf.bytes(), packet::verify::checksums);
  if (!parsed || !parsed->udp || parsed->udp->payload().size() != 5) {
    std::fprintf(stderr, "consumer: round trip failed\n");
    return 1;
  }
  std::printf("consumer: built and parsed %zu bytes with warren %s\n", buf.size(), warren::version_string);
  return 0;
}
