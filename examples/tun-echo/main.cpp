// warren-tun-echo: a TUN interface whose far side is this program. It gives the interface
// addresses, and for every other address in their prefixes it answers ICMP echo, ICMPv6 echo
// and a UDP echo port, from user space, through warren's parsers and builders.
//
//   1. linux_tun::open creates the interface; netlink gives it addresses and brings it up.
//   2. asio_device waits until the TUN is readable; read_batch fills pooled buffers.
//   3. parse_ip checks each packet (checksums too); anything malformed is counted and dropped.
//   4. A reply is built inside-out in a fresh buffer: payload, then the ICMP/UDP header, then
//      the IP header, each prepended into the buffer's headroom.
//   5. write_batch hands the replies back to the kernel. Ctrl-C prints a summary and exits.

#include <warren/warren.hpp>

#include <CLI/CLI.hpp>
#include <asio/io_context.hpp>
#include <asio/signal_set.hpp>

#include <array>
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

namespace {

using namespace warren;
namespace pk = warren::packet;

struct counters {
  unsigned long icmp = 0, icmpv6 = 0, udp = 0, malformed = 0, ignored = 0;
};

class responder {
 public:
  responder(std::vector<pk::ip_prefix> prefixes, std::uint16_t udp_port, bool quiet)
      : prefixes_(std::move(prefixes)), udp_port_(udp_port), quiet_(quiet) {}

  // The reply to one packet from the TUN, if it deserves one.
  std::optional<packet_buffer> answer(byte_view bytes) {
    auto pkt = pk::parse_ip(bytes, pk::verify::checksums);
    if (!pkt) {
      ++counts_.malformed;
      return std::nullopt;
    }
    if (!is_ours(pkt->destination())) {
      ++counts_.ignored;  // router solicitations, MLD reports, our own addresses
      return std::nullopt;
    }
    if (pkt->icmpv4 && pkt->icmpv4->type() == pk::icmpv4_type::echo_request) return echo_v4(*pkt);
    if (pkt->icmpv6 && pkt->icmpv6->type() == pk::icmpv6_type::echo_request) return echo_v6(*pkt);
    if (pkt->udp && pkt->udp->destination_port() == udp_port_) return echo_udp(*pkt);
    ++counts_.ignored;
    return std::nullopt;
  }

  const counters& counts() const { return counts_; }

 private:
  bool is_ours(const pk::ip_address& a) const {
    for (auto& p : prefixes_)
      if (p.contains(a) && p.address != a) return true;
    return false;
  }

  std::optional<packet_buffer> echo_v4(const pk::ip_packet& req) {
    auto& icmp = *req.icmpv4;
    auto reply = packet_buffer::copy_of(icmp.payload());
    if (!pk::write_icmpv4_header(reply, pk::icmpv4_type::echo_reply, 0, icmp.rest_of_header()) ||
        !pk::write_ipv4_header(reply, {.source = req.ipv4->destination(),
                                       .destination = req.ipv4->source(),
                                       .protocol = pk::ip_protocol::icmp}))
      return std::nullopt;
    ++counts_.icmp;
    log("icmp   echo", req, "id=" + std::to_string(icmp.identifier()) + " seq=" + std::to_string(icmp.sequence()),
        icmp.payload().size());
    return reply;
  }

  std::optional<packet_buffer> echo_v6(const pk::ip_packet& req) {
    auto& icmp = *req.icmpv6;
    auto src = req.ipv6->destination(), dst = req.ipv6->source();
    auto reply = packet_buffer::copy_of(icmp.payload());
    if (!pk::write_icmpv6_header(reply, src, dst, pk::icmpv6_type::echo_reply, 0, icmp.rest_of_header()) ||
        !pk::write_ipv6_header(reply, {.source = src, .destination = dst, .next_header = pk::ip_protocol::icmpv6}))
      return std::nullopt;
    ++counts_.icmpv6;
    log("icmpv6 echo", req, "id=" + std::to_string(icmp.identifier()) + " seq=" + std::to_string(icmp.sequence()),
        icmp.payload().size());
    return reply;
  }

  std::optional<packet_buffer> echo_udp(const pk::ip_packet& req) {
    auto& udp = *req.udp;
    auto reply = packet_buffer::copy_of(udp.payload());
    auto src = req.destination(), dst = req.source();
    if (!pk::write_udp_header(reply, src, dst, udp.destination_port(), udp.source_port())) return std::nullopt;
    bool ok = req.is_v6()
                  ? pk::write_ipv6_header(reply, {.source = src.v6(), .destination = dst.v6()}).has_value()
                  : pk::write_ipv4_header(reply, {.source = src.v4(), .destination = dst.v4()}).has_value();
    if (!ok) return std::nullopt;
    ++counts_.udp;
    log("udp    echo", req, "port " + std::to_string(udp.source_port()) + "->" + std::to_string(udp_port_),
        udp.payload().size());
    return reply;
  }

  void log(const char* what, const pk::ip_packet& req, const std::string& detail, std::size_t bytes) const {
    if (quiet_) return;
    std::printf("[tun-echo] %s %s -> %s %s, %zu bytes: answered\n", what, req.source().to_string().c_str(),
                req.destination().to_string().c_str(), detail.c_str(), bytes);
    std::fflush(stdout);
  }

  std::vector<pk::ip_prefix> prefixes_;
  std::uint16_t udp_port_;
  bool quiet_;
  counters counts_;
};

// Reads batches from the TUN, answers them, and writes the answers back.
class echo_loop {
 public:
  echo_loop(tun::asio_device<tun::fd_device>& dev, responder& r) : dev_(dev), responder_(r) {
    for (auto& b : batch_) b = pool_.acquire().value();
  }
  void start() { read(); }

 private:
  void read() {
    dev_.async_read_batch(batch_, [this](std::error_code ec, std::size_t n) {
      if (ec == asio::error::operation_aborted) return;
      if (ec) {
        std::fprintf(stderr, "warren-tun-echo: reading the TUN failed: %s\n", ec.message().c_str());
        return;
      }
      replies_.clear();
      for (std::size_t i = 0; i < n; ++i)
        if (auto reply = responder_.answer(batch_[i].bytes())) replies_.push_back(std::move(*reply));
      write_all(0);
    });
  }
  void write_all(std::size_t from) {
    if (from == replies_.size()) return read();
    dev_.async_write_batch(std::span(replies_).subspan(from), [this, from](std::error_code ec, std::size_t n) {
      if (ec == asio::error::operation_aborted) return;
      // An error concerns the first packet left: drop it and carry on.
      write_all(from + (ec ? 1 : n));
    });
  }

  tun::asio_device<tun::fd_device>& dev_;
  responder& responder_;
  buffer::packet_pool pool_{{.initial_blocks = 64, .max_blocks = 64}};
  std::array<packet_buffer, 32> batch_;
  std::vector<packet_buffer> replies_;
};

int fail(const std::string& what, const std::error_code& ec) {
  std::fprintf(stderr, "warren-tun-echo: %s: %s\n", what.c_str(), ec.message().c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"A TUN interface whose far side answers ICMP echo, ICMPv6 echo and UDP echo.\n"
               "Every address in the given prefixes except the interface's own is answered."};
  std::string name = "wrn0";
  std::vector<std::string> address_texts;
  std::uint16_t udp_port = 7;
  std::size_t mtu = 1420;
  bool quiet = false;
  app.add_option("-n,--name", name, "interface name")->capture_default_str();
  app.add_option("-a,--address", address_texts, "interface address with prefix, e.g. 192.0.2.1/24 (repeatable)")
      ->required();
  app.add_option("-u,--udp-port", udp_port, "UDP echo port")->capture_default_str();
  app.add_option("-m,--mtu", mtu, "interface MTU")->capture_default_str()->check(CLI::Range(68, 65535));
  app.add_flag("-q,--quiet", quiet, "print only the summary");
  CLI11_PARSE(app, argc, argv);

  std::vector<pk::ip_prefix> prefixes;
  for (auto& text : address_texts) {
    auto p = pk::ip_prefix::parse(text);
    if (!p) {
      std::fprintf(stderr, "warren-tun-echo: '%s' is not an address with a prefix (like 192.0.2.1/24 or fd00::1/64)\n",
                   text.c_str());
      return 2;
    }
    prefixes.push_back(*p);
  }

  auto tun = tun::linux_tun::open({.name = name, .mtu = mtu});
  if (!tun) return fail("cannot create TUN interface '" + name + "'", tun.error());
  auto nl = tun::netlink::open();
  if (!nl) return fail("cannot open rtnetlink", nl.error());
  for (auto& p : prefixes)
    if (auto r = nl->add_address(tun->ifindex(), p); !r) return fail("cannot add address " + p.to_string(), r.error());
  if (auto r = nl->set_up(tun->ifindex(), true); !r) return fail("cannot bring " + tun->name() + " up", r.error());

  asio::io_context io;
  auto dev = tun::asio_device<tun::fd_device>::create(io.get_executor(), std::move(tun->queue(0)));
  if (!dev) return fail("cannot watch the TUN", dev.error());
  responder r(prefixes, udp_port, quiet);
  echo_loop loop(*dev, r);

  std::printf("[tun-echo] ready: %s (mtu %zu) with", tun->name().c_str(), mtu);
  for (auto& p : prefixes) std::printf(" %s", p.to_string().c_str());
  std::printf("; answering ping and UDP port %u; Ctrl-C stops\n", udp_port);
  std::fflush(stdout);

  asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](std::error_code, int) {
    dev->cancel();
    io.stop();
  });
  loop.start();
  io.run();

  auto& c = r.counts();
  std::printf("[tun-echo] stopped: answered %lu ICMP, %lu ICMPv6, %lu UDP; dropped %lu malformed, ignored %lu\n",
              c.icmp, c.icmpv6, c.udp, c.malformed, c.ignored);
  return 0;
}
