// warren_wg_engine_peer: the WireGuard engine over one plain UDP socket, for interop tests
// against wireguard-go before the full daemon exists. It answers ICMP echo requests that
// arrive through the tunnel and, with --ping, sends its own and waits for the replies.
// Exit 0 when every ping sent got its reply (or, with --serve N, after answering N echoes).
#include <warren/crypto/fast_backend.hpp>
#include <warren/packet/ip_packet.hpp>
#include <warren/wireguard/engine.hpp>

#include <CLI/CLI.hpp>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sodium.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <string>

using namespace warren;
using namespace warren::wireguard;
namespace pk = warren::packet;

namespace {
bool key_from_base64(const std::string& text, std::span<std::byte, 32> out) {
  std::size_t len = 0;
  return sodium_base642bin(reinterpret_cast<unsigned char*>(out.data()), 32, text.c_str(), text.size(), nullptr, &len,
                           nullptr, sodium_base64_VARIANT_ORIGINAL) == 0 &&
         len == 32;
}

sockaddr_storage to_sockaddr(const endpoint& e, socklen_t& len) {
  sockaddr_storage ss{};
  if (e.address.is_v4()) {
    auto* sin = reinterpret_cast<sockaddr_in*>(&ss);
    sin->sin_family = AF_INET;
    sin->sin_port = htons(e.port);
    std::memcpy(&sin->sin_addr, e.address.bytes().data(), 4);
    len = sizeof *sin;
  } else {
    auto* sin6 = reinterpret_cast<sockaddr_in6*>(&ss);
    sin6->sin6_family = AF_INET6;
    sin6->sin6_port = htons(e.port);
    std::memcpy(&sin6->sin6_addr, e.address.bytes().data(), 16);
    len = sizeof *sin6;
  }
  return ss;
}
endpoint from_sockaddr(const sockaddr_storage& ss) {
  if (ss.ss_family == AF_INET) {
    auto* sin = reinterpret_cast<const sockaddr_in*>(&ss);
    return {pk::ipv4_address::from_bytes(reinterpret_cast<const std::byte*>(&sin->sin_addr)), ntohs(sin->sin_port)};
  }
  auto* sin6 = reinterpret_cast<const sockaddr_in6*>(&ss);
  return {pk::ipv6_address::from_bytes(reinterpret_cast<const std::byte*>(&sin6->sin6_addr)), ntohs(sin6->sin6_port)};
}

packet_buffer echo(const pk::ip_address& src, const pk::ip_address& dst, std::uint8_t type, std::uint32_t rest,
                   byte_view payload) {
  auto buf = packet_buffer::copy_of(payload);
  (void)pk::write_icmpv4_header(buf, type, 0, rest);
  (void)pk::write_ipv4_header(buf, {.source = src.v4(), .destination = dst.v4(), .protocol = pk::ip_protocol::icmp});
  return buf;
}
}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"The warren WireGuard engine on a UDP socket, answering and sending ICMP echo."};
  std::string private_key, peer_key, peer_endpoint, listen = "0.0.0.0:0", allowed, ping_from, ping_to, psk;
  unsigned ping_count = 0, serve = 0;
  double timeout_s = 20;
  app.add_option("--private-key", private_key, "our private key, base64")->required();
  app.add_option("--peer", peer_key, "the peer's public key, base64")->required();
  app.add_option("--preshared-key", psk, "pre-shared key, base64");
  app.add_option("--endpoint", peer_endpoint, "the peer's endpoint host:port");
  app.add_option("--listen", listen, "our UDP address host:port")->capture_default_str();
  app.add_option("--allowed-ip", allowed, "the peer's allowed IP prefix")->required();
  app.add_option("--ping", ping_count, "echo requests to send");
  app.add_option("--from", ping_from, "our tunnel address");
  app.add_option("--to", ping_to, "the peer's tunnel address");
  app.add_option("--serve", serve, "exit after answering this many echo requests");
  app.add_option("--timeout", timeout_s, "give up after this many seconds")->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  crypto::fast_backend crypto;
  steady_clock_source clock;
  engine<crypto::fast_backend> e(crypto, {.wall_anchor = std::chrono::system_clock::now(), .mono_anchor = clock.now()});
  crypto::private_key key;
  crypto::public_key peer{};
  crypto::symmetric_key preshared;
  if (!key_from_base64(private_key, key.bytes()) || !key_from_base64(peer_key, peer) ||
      (!psk.empty() && !key_from_base64(psk, preshared.bytes()))) {
    std::fprintf(stderr, "engine_peer: keys must be 32 bytes in base64\n");
    return 2;
  }
  e.set_private_key(key);
  peer_config pc{.public_key = peer, .preshared_key = preshared, .allowed_ips = {*pk::ip_prefix::parse(allowed)}};
  if (!peer_endpoint.empty()) pc.endpoint = endpoint::parse(peer_endpoint);
  if (!e.set_peer(pc)) return 2;

  auto here = endpoint::parse(listen);
  if (!here) return 2;
  int fd = ::socket(here->address.is_v4() ? AF_INET : AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  socklen_t len;
  auto bind_to = to_sockaddr(*here, len);
  if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&bind_to), len) != 0) {
    std::perror("engine_peer: bind");
    return 1;
  }

  engine_output out;
  unsigned replies = 0, answered = 0, sent = 0;
  auto deadline = clock.now() + std::chrono::duration_cast<duration>(std::chrono::duration<double>(timeout_s));
  auto from = ping_from.empty() ? std::nullopt : pk::ip_address::parse(ping_from);
  auto to = ping_to.empty() ? std::nullopt : pk::ip_address::parse(ping_to);
  auto next_ping = clock.now();
  while (clock.now() < deadline) {
    if (sent < ping_count && replies == sent && clock.now() >= next_ping && from && to) {
      ++sent;
      (void)e.on_packet(echo(*from, *to, pk::icmpv4_type::echo_request, 0x4242'0000u | sent, as_byte_view("warren-interop")),
                        clock.now(), out);
      next_ping = clock.now() + std::chrono::seconds(1);
    }
    for (auto& d : out.datagrams) {
      auto ss = to_sockaddr(d.to, len);
      ::sendto(fd, d.bytes.data(), d.bytes.size(), 0, reinterpret_cast<sockaddr*>(&ss), len);
    }
    out.datagrams.clear();
    auto packets = std::move(out.packets);
    out.packets.clear();
    for (auto& p : packets) {
      auto pkt = pk::parse_ip(p.bytes(), pk::verify::checksums);
      if (!pkt || !pkt->icmpv4) continue;
      if (pkt->icmpv4->type() == pk::icmpv4_type::echo_reply) {
        ++replies;
        std::printf("engine_peer: echo reply seq=%u from %s\n", pkt->icmpv4->sequence(), pkt->source().to_string().c_str());
      } else if (pkt->icmpv4->type() == pk::icmpv4_type::echo_request) {
        ++answered;
        std::printf("engine_peer: answering echo seq=%u from %s\n", pkt->icmpv4->sequence(), pkt->source().to_string().c_str());
        (void)e.on_packet(echo(pkt->destination(), pkt->source(), pk::icmpv4_type::echo_reply,
                               pkt->icmpv4->rest_of_header(), pkt->icmpv4->payload()),
                          clock.now(), out);
      }
    }
    if (!out.datagrams.empty()) continue;
    if ((ping_count && replies == ping_count) || (serve && answered >= serve)) break;

    auto wait = std::chrono::milliseconds(100);
    if (auto d = e.next_deadline()) {
      auto until = std::chrono::duration_cast<std::chrono::milliseconds>(*d - clock.now());
      if (until < wait) wait = std::max(until, std::chrono::milliseconds(0));
    }
    pollfd pfd{fd, POLLIN, 0};
    if (::poll(&pfd, 1, static_cast<int>(wait.count())) > 0) {
      auto d = packet_buffer::allocate();
      sockaddr_storage src{};
      socklen_t slen = sizeof src;
      auto n = ::recvfrom(fd, d.tail_space().data(), d.tailroom(), 0, reinterpret_cast<sockaddr*>(&src), &slen);
      if (n > 0 && d.commit(static_cast<std::size_t>(n))) (void)e.on_datagram(from_sockaddr(src), std::move(d), clock.now(), out);
    }
    if (auto d = e.next_deadline(); d && *d <= clock.now()) e.on_timeout(clock.now(), out);
  }
  auto& c = e.counters();
  std::printf("engine_peer: handshakes %llu, sealed %llu, opened %llu, replies %u/%u, answered %u\n",
              static_cast<unsigned long long>(c.handshakes_completed), static_cast<unsigned long long>(c.packets_sealed),
              static_cast<unsigned long long>(c.packets_opened), replies, ping_count, answered);
  ::close(fd);
  bool ok = (ping_count == 0 || replies == ping_count) && (serve == 0 || answered >= serve);
  return ok ? 0 : 1;
}
