// Feeds the WireGuard engine arbitrary datagrams and time steps. The engine is set up once with
// a live session to a second engine, so that inputs which mutate real messages (the seeds are a
// real initiation, response, cookie reply and data packet) reach deep into each handler.
// Invariant: no crash, no sanitizer report, and every delivered packet is a whole IP packet
// whose source lies in the peer's allowed IPs.
#include <warren/crypto/fast_backend.hpp>
#include <warren/packet/ip_packet.hpp>
#include <warren/wireguard/engine.hpp>

#include <cstdint>
#include <cstdlib>
#include <memory>

using namespace warren;
using namespace warren::wireguard;
namespace pk = warren::packet;

namespace {
struct world {
  crypto::fast_backend ca, cb;
  engine<crypto::fast_backend> a{ca}, b{cb};
  endpoint ea = *endpoint::parse("192.0.2.1:1"), eb = *endpoint::parse("192.0.2.2:2");
  time_point now{};

  world() {
    // Fixed keys: the seeds then stay valid messages for this world (see the seed writer below).
    crypto::private_key ka, kb;
    for (std::size_t i = 0; i < 32; ++i) {
      ka.bytes()[i] = std::byte{static_cast<unsigned char>(i + 1)};
      kb.bytes()[i] = std::byte{static_cast<unsigned char>(i + 101)};
    }
    crypto::public_key pa, pb;
    ca.x25519_public(pa, ka);
    cb.x25519_public(pb, kb);
    a.set_private_key(ka);
    b.set_private_key(kb);
    (void)a.set_peer({.public_key = pb, .endpoint = eb, .allowed_ips = {*pk::ip_prefix::parse("10.0.0.2/32")}});
    (void)b.set_peer({.public_key = pa, .endpoint = ea, .allowed_ips = {*pk::ip_prefix::parse("10.0.0.1/32")}});
    engine_output oa, ob;
    auto buf = packet_buffer::allocate();
    (void)buf.append(as_byte_view("seed"));
    auto s = *pk::ipv4_address::parse("10.0.0.1"), d = *pk::ipv4_address::parse("10.0.0.2");
    (void)pk::write_udp_header(buf, s, d, 1, 2);
    (void)pk::write_ipv4_header(buf, {.source = s, .destination = d});
    (void)a.on_packet(std::move(buf), now, oa);
    for (int i = 0; i < 4; ++i) {
      for (auto& x : oa.datagrams) (void)b.on_datagram(ea, std::move(x.bytes), now, ob);
      oa.datagrams.clear();
      for (auto& x : ob.datagrams) (void)a.on_datagram(eb, std::move(x.bytes), now, oa);
      ob.datagrams.clear();
    }
  }
};
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static world* w = new world();  // kept across inputs: state builds up, as in a long-lived tunnel
  engine_output out;
  // First byte: time step in 100 ms units; second: which side, source, a timeout after, and
  // whether the datagram comes alone or three times in one batch (on_datagrams: a duplicate
  // inside a batch, and the deferred opens); rest: the datagram.
  if (size < 2) return 0;
  w->now += std::chrono::milliseconds(100) * data[0];
  auto& target = data[1] & 1 ? w->a : w->b;
  auto from = data[1] & 2 ? w->ea : *endpoint::parse("198.18.0.1:9");
  auto buf = packet_buffer::copy_of(std::as_bytes(std::span{data + 2, size - 2}));
  if (data[1] & 8) {
    packet_buffer batch[3] = {packet_buffer::copy_of(buf.bytes()), packet_buffer::copy_of(buf.bytes()), std::move(buf)};
    const endpoint senders[3] = {from, from, from};
    auto& crypto = data[1] & 1 ? w->ca : w->cb;
    target.on_datagrams(batch, senders, w->now, out, [&](std::span<crypto_job> jobs) {
      for (auto& j : jobs) run_crypto_job(crypto, j);
    });
  } else {
    (void)target.on_datagram(from, std::move(buf), w->now, out);
  }
  if (data[1] & 4) target.on_timeout(w->now, out);
  for (auto& p : out.packets) {
    auto parsed = pk::parse_ip(p.bytes());
    if (!parsed) std::abort();  // the engine delivered something that is not an IP packet
  }
  return 0;
}
