#include <warren/probe/adapters/prober.hpp>
#include <catch2/catch_test_macros.hpp>

#include <warren/crypto/default_backend.hpp>
#include <warren/probe/adapters/udp_echo_responder.hpp>
#include <warren/probe/selection.hpp>
#include <warren/wireguard/engine.hpp>

#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/ip/udp.hpp>
#include <asio/steady_timer.hpp>

#include <array>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

// The prober against real sockets on 127.0.0.1 and ::1, served by listeners inside the test:
// an echo listener that answers every request, every other one, late, or never; a TCP
// listener; a port with nothing listening; a WireGuard server made of a wireguard::engine.
// Nothing sleeps: the io_context runs until the prober reports (run_for bounds a broken
// test). Timeouts leave wide margins: a reply that must count has seconds to arrive, a reply
// that must be late is held four times the timeout.

using namespace std::chrono_literals;
using namespace warren;
using probe::errc;
using probe::probe_result;
using probe::prober;
using probe::target;
namespace ip = asio::ip;

namespace {

probe::endpoint endpoint_of(const ip::address& a, std::uint16_t port) {
  return {*packet::ip_address::parse(a.to_string()), port};
}

bool have_ipv6() {
  asio::io_context io;
  ip::udp::socket s(io);
  std::error_code ec;
  s.open(ip::udp::v6(), ec);
  if (!ec) s.bind({ip::make_address("::1"), 0}, ec);
  return !ec;
}

// An echo listener that answers as told. `on_request` runs for every datagram it gets.
class echo_listener {
 public:
  enum class mode { every, every_other, late, never };

  echo_listener(asio::io_context& io, const ip::address& at, mode m, duration delay = {})
      : io_(io), socket_(io, ip::udp::endpoint(at, 0)), mode_(m), delay_(delay) {
    receive();
  }
  std::uint16_t port() const { return socket_.local_endpoint().port(); }
  ip::address address() const { return socket_.local_endpoint().address(); }
  probe::endpoint endpoint() const { return endpoint_of(address(), port()); }
  std::size_t requests() const { return requests_; }
  void close() {
    std::error_code ignored;
    socket_.close(ignored);
  }
  std::function<void()> on_request;

 private:
  void receive() {
    socket_.async_receive_from(asio::buffer(buffer_), from_, [this](std::error_code ec, std::size_t n) {
      if (ec) return;
      ++requests_;
      std::vector<std::byte> d(buffer_.begin(), buffer_.begin() + static_cast<std::ptrdiff_t>(n));
      bool answer = probe::make_echo_reply(d) && mode_ != mode::never &&
                    (mode_ != mode::every_other || requests_ % 2 == 1);
      if (answer && mode_ == mode::late) {
        auto timer = std::make_shared<asio::steady_timer>(io_, delay_);
        timer->async_wait([this, timer, d, to = from_](std::error_code e) {
          std::error_code ignored;
          if (!e && socket_.is_open()) socket_.send_to(asio::buffer(d), to, 0, ignored);
        });
      } else if (answer) {
        std::error_code ignored;
        socket_.send_to(asio::buffer(d), from_, 0, ignored);
      }
      if (on_request) on_request();
      if (socket_.is_open()) receive();
    });
  }

  asio::io_context& io_;
  ip::udp::socket socket_;
  mode mode_;
  duration delay_;
  std::array<std::byte, 2048> buffer_{};
  ip::udp::endpoint from_;
  std::size_t requests_ = 0;
};

// A WireGuard server: a wireguard::engine behind a UDP socket.
class wireguard_server {
 public:
  using backend = crypto::default_backend;

  wireguard_server(asio::io_context& io, const ip::address& at)
      : engine_(crypto_, {.wall_anchor = std::chrono::system_clock::now(), .mono_anchor = steady_clock_source{}.now()}),
        socket_(io, ip::udp::endpoint(at, 0)) {
    crypto_.generate_private_key(key_);
    crypto_.x25519_public(public_key, key_);
    engine_.set_private_key(key_);
    receive();
  }
  void add_peer(const crypto::public_key& k) { REQUIRE(engine_.set_peer({.public_key = k})); }
  void set_under_load(bool on) { engine_.set_under_load(on); }
  probe::endpoint endpoint() const {
    return endpoint_of(socket_.local_endpoint().address(), socket_.local_endpoint().port());
  }
  const wireguard::engine_counters& counters() const { return engine_.counters(); }
  crypto::public_key public_key{};

 private:
  void receive() {
    socket_.async_receive_from(asio::buffer(buffer_), from_, [this](std::error_code ec, std::size_t n) {
      if (ec) return;
      wireguard::engine_output out;
      (void)engine_.on_datagram(endpoint_of(from_.address(), from_.port()),
                                packet_buffer::copy_of(byte_view(buffer_.data(), n)), steady_clock_source{}.now(), out);
      for (auto& d : out.datagrams) {
        std::error_code ignored;
        socket_.send_to(asio::buffer(d.bytes.data(), d.bytes.size()), from_, 0, ignored);
      }
      receive();
    });
  }

  backend crypto_;
  wireguard::engine<backend> engine_;
  crypto::private_key key_;
  ip::udp::socket socket_;
  std::array<std::byte, 2048> buffer_{};
  ip::udp::endpoint from_;
};

struct client_keys {
  crypto::private_key key;
  crypto::public_key pub{};
  client_keys() {
    crypto::default_backend c;
    c.generate_private_key(key);
    c.x25519_public(pub, key);
  }
};

// Runs the prober over `targets` until it reports (or 120 s pass: a broken test, not a slow one).
struct run_result {
  std::optional<std::vector<probe_result>> done;
  std::vector<std::size_t> each;  // indexes, in the order reported
};
run_result probe_all(asio::io_context& io, prober& p, std::vector<target> targets) {
  run_result r;
  p.start(std::move(targets), [&](std::vector<probe_result> all) { r.done = std::move(all); },
          [&](const probe_result& one) { r.each.push_back(one.index); });
  io.restart();
  auto give_up = std::chrono::steady_clock::now() + 120s;
  while (!r.done && !io.stopped() && std::chrono::steady_clock::now() < give_up) io.run_one_for(1s);
  REQUIRE(r.done);
  return r;
}

probe::prober_options quick(std::size_t samples, duration timeout) {
  return {.samples = samples, .interval = {}, .timeout = timeout, .concurrency = 8};
}

}  // namespace

TEST_CASE("prober measures every sample against the echo responder", "[probe]") {
  asio::io_context io;
  for (const char* host : {"127.0.0.1", "::1"}) {
    CAPTURE(host);
    if (std::string(host) == "::1" && !have_ipv6()) continue;
    auto addr = ip::make_address(host);
    auto responder = probe::udp_echo_responder::open(io.get_executor(), {addr, 0});
    REQUIRE(responder);
    prober p(io.get_executor(), quick(4, 5s));
    auto r = probe_all(io, p, {{"echo", endpoint_of(addr, responder->port()), probe::udp_echo_probe{.size = 200}}});
    REQUIRE(r.done->size() == 1);
    const auto& res = (*r.done)[0];
    CHECK(res.id == "echo");
    REQUIRE(res.samples.size() == 4);
    for (const auto& s : res.samples) CHECK_FALSE(s.lost());
    CHECK(res.stats.received == 4);
    CHECK(res.stats.loss == 0.0);
    CHECK(res.stats.min > duration{});
    CHECK(responder->counters().echo.echoed == 4);
    CHECK(r.each == std::vector<std::size_t>{0});
    CHECK(p.counters().open_sockets == 0);
  }
}

TEST_CASE("prober counts a dropped request as lost and its neighbours as received", "[probe]") {
  asio::io_context io;
  echo_listener every_other(io, ip::make_address("127.0.0.1"), echo_listener::mode::every_other);
  prober p(io.get_executor(), quick(6, 1s));
  auto r = probe_all(io, p, {{"lossy", every_other.endpoint(), probe::udp_echo_probe{}}});
  const auto& res = (*r.done)[0];
  REQUIRE(res.samples.size() == 6);
  for (std::size_t i = 0; i < 6; ++i) {
    CAPTURE(i);
    CHECK(res.samples[i].lost() == (i % 2 == 1));  // the listener drops its 2nd, 4th, 6th
    if (res.samples[i].lost()) CHECK(res.samples[i].error == errc::timeout);
  }
  CHECK(res.stats.sent == 6);
  CHECK(res.stats.received == 3);
  CHECK(res.stats.loss == 0.5);
  CHECK(every_other.requests() == 6);
}

TEST_CASE("prober counts a reply later than the timeout as lost, never for a later sample", "[probe]") {
  asio::io_context io;
  // Held 400 ms against a 100 ms timeout: each late reply arrives while a later sample waits.
  echo_listener late(io, ip::make_address("127.0.0.1"), echo_listener::mode::late, 400ms);
  prober p(io.get_executor(), quick(4, 100ms));
  auto r = probe_all(io, p, {{"late", late.endpoint(), probe::udp_echo_probe{}}});
  const auto& res = (*r.done)[0];
  REQUIRE(res.samples.size() == 4);
  for (const auto& s : res.samples) {
    CHECK(s.lost());
    CHECK(s.error == errc::timeout);
  }
  CHECK(res.stats.received == 0);
  CHECK_FALSE(res.stats.reachable());
  CHECK(late.requests() == 4);

  SECTION("the same delay within the timeout counts, and the round trip includes it") {
    prober patient(io.get_executor(), quick(2, 5s));
    auto ok = probe_all(io, patient, {{"late", late.endpoint(), probe::udp_echo_probe{}}});
    const auto& res2 = (*ok.done)[0];
    CHECK(res2.stats.received == 2);
    CHECK(res2.stats.min >= 400ms);  // a timer never fires early
  }
}

TEST_CASE("prober times out against a listener that never answers", "[probe]") {
  asio::io_context io;
  echo_listener never(io, ip::make_address("127.0.0.1"), echo_listener::mode::never);
  prober p(io.get_executor(), quick(2, 100ms));
  auto r = probe_all(io, p, {{"silent", never.endpoint(), probe::udp_echo_probe{}}});
  const auto& res = (*r.done)[0];
  CHECK(res.stats.sent == 2);
  CHECK(res.stats.received == 0);
  CHECK(res.samples[0].error == errc::timeout);
  CHECK(never.requests() == 2);
}

TEST_CASE("prober times a TCP handshake to a listener", "[probe]") {
  asio::io_context io;
  for (const char* host : {"127.0.0.1", "::1"}) {
    CAPTURE(host);
    if (std::string(host) == "::1" && !have_ipv6()) continue;
    auto addr = ip::make_address(host);
    // The kernel completes the handshake from the backlog; the test never needs to accept.
    ip::tcp::acceptor listener(io, ip::tcp::endpoint(addr, 0));
    prober p(io.get_executor(), quick(3, 5s));
    auto r = probe_all(io, p, {{"tcp", endpoint_of(addr, listener.local_endpoint().port()), probe::tcp_probe{}}});
    const auto& res = (*r.done)[0];
    REQUIRE(res.samples.size() == 3);
    for (const auto& s : res.samples) {
      CHECK_FALSE(s.lost());
      CHECK_FALSE(s.error);
    }
    CHECK(p.counters().open_sockets == 0);
  }
}

TEST_CASE("prober loses a TCP sample that gets no SYN-ACK within the timeout", "[probe]") {
  asio::io_context io;
  auto lo = ip::make_address("127.0.0.1");
  // A listener whose accept queue is full drops further SYNs: backlog 0 holds one connection,
  // which a plain client takes and the test never accepts.
  ip::tcp::acceptor full(io);
  full.open(ip::tcp::v4());
  full.bind({lo, 0});
  full.listen(0);
  ip::tcp::socket filler(io);
  filler.connect(full.local_endpoint());
  prober p(io.get_executor(), quick(2, 200ms));
  auto r = probe_all(io, p, {{"full", endpoint_of(lo, full.local_endpoint().port()), probe::tcp_probe{}}});
  const auto& res = (*r.done)[0];
  REQUIRE(res.samples.size() == 2);
  for (const auto& s : res.samples) {
    CHECK(s.lost());
    CHECK(s.error == errc::timeout);
  }
  CHECK(p.counters().open_sockets == 0);  // the abandoned connects were closed
}

TEST_CASE("prober and a TCP port with nothing listening", "[probe]") {
  asio::io_context io;
  // Bound but not listening: the port stays ours, and a SYN to it gets an RST.
  ip::tcp::socket closed(io);
  closed.open(ip::tcp::v4());
  closed.bind({ip::make_address("127.0.0.1"), 0});
  auto ep = endpoint_of(ip::make_address("127.0.0.1"), closed.local_endpoint().port());

  SECTION("by default the RST measures a round trip, noted as refused") {
    prober p(io.get_executor(), quick(3, 5s));
    auto r = probe_all(io, p, {{"closed", ep, probe::tcp_probe{}}});
    const auto& res = (*r.done)[0];
    CHECK(res.stats.received == 3);
    for (const auto& s : res.samples) CHECK(s.error == errc::refused);
  }
  SECTION("with count_refused off every sample is lost as refused") {
    prober p(io.get_executor(), quick(3, 5s));
    auto r = probe_all(io, p, {{"closed", ep, probe::tcp_probe{.count_refused = false}}});
    const auto& res = (*r.done)[0];
    CHECK(res.stats.received == 0);
    for (const auto& s : res.samples) {
      CHECK(s.lost());
      CHECK(s.error == errc::refused);
    }
  }
}

TEST_CASE("prober reports an echo to a closed UDP port as refused", "[probe]") {
  asio::io_context io;
  std::uint16_t port = 0;
  {
    ip::udp::socket s(io, ip::udp::endpoint(ip::make_address("127.0.0.1"), 0));
    port = s.local_endpoint().port();
  }  // closed: the port answers with ICMP port unreachable
  prober p(io.get_executor(), quick(2, 5s));
  auto r = probe_all(io, p, {{"closed", endpoint_of(ip::make_address("127.0.0.1"), port), probe::udp_echo_probe{}}});
  const auto& res = (*r.done)[0];
  REQUIRE(res.samples.size() == 2);
  for (const auto& s : res.samples) {
    CHECK(s.lost());
    CHECK(s.error == errc::refused);
  }
}

TEST_CASE("prober times a WireGuard handshake to a server that knows our key", "[probe]") {
  asio::io_context io;
  wireguard_server server(io, ip::make_address("127.0.0.1"));
  client_keys me;
  probe::wireguard_probe wg{{me.key, server.public_key, {}}};

  SECTION("a known key: every sample answered") {
    server.add_peer(me.pub);
    prober p(io.get_executor(), quick(3, 5s));
    auto r = probe_all(io, p, {{"wg", server.endpoint(), wg}});
    const auto& res = (*r.done)[0];
    REQUIRE(res.samples.size() == 3);
    for (const auto& s : res.samples) CHECK_FALSE(s.lost());
    CHECK(server.counters().drops(wireguard::errc::flood) == 0);
    CHECK(server.counters().drops(wireguard::errc::replayed_timestamp) == 0);
  }
  SECTION("under load: the cookie reply counts") {
    server.add_peer(me.pub);
    server.set_under_load(true);
    prober p(io.get_executor(), quick(2, 5s));
    auto r = probe_all(io, p, {{"wg", server.endpoint(), wg}});
    CHECK((*r.done)[0].stats.received == 2);
    CHECK(server.counters().cookie_replies_sent == 2);
  }
  SECTION("an unknown key: the server stays silent and every sample is lost") {
    prober p(io.get_executor(), quick(2, 200ms));
    auto r = probe_all(io, p, {{"wg", server.endpoint(), wg}});
    const auto& res = (*r.done)[0];
    CHECK(res.stats.received == 0);
    CHECK(res.samples[0].error == errc::timeout);
    CHECK(server.counters().drops(wireguard::errc::unknown_peer) == 2);
  }
}

TEST_CASE("prober probes many targets with at most `concurrency` sockets open", "[probe]") {
  asio::io_context io;
  auto lo = ip::make_address("127.0.0.1");
  auto responder = probe::udp_echo_responder::open(io.get_executor(), {lo, 0});
  REQUIRE(responder);
  ip::tcp::acceptor listener(io, ip::tcp::endpoint(lo, 0));
  std::vector<target> targets;
  for (int i = 0; i < 7; ++i) {
    if (i % 2) targets.push_back({"tcp" + std::to_string(i), endpoint_of(lo, listener.local_endpoint().port()), probe::tcp_probe{}});
    else targets.push_back({"echo" + std::to_string(i), endpoint_of(lo, responder->port()), probe::udp_echo_probe{}});
  }
  prober p(io.get_executor(), {.samples = 2, .interval = {}, .timeout = 5s, .concurrency = 2});
  auto r = probe_all(io, p, targets);
  REQUIRE(r.done->size() == 7);
  for (std::size_t i = 0; i < 7; ++i) {
    CAPTURE(i);
    CHECK((*r.done)[i].index == i);
    CHECK((*r.done)[i].id == targets[i].id);
    CHECK((*r.done)[i].stats.received == 2);
  }
  CHECK(r.each.size() == 7);
  CHECK(p.counters().peak_open_sockets == 2);
  CHECK(p.counters().open_sockets == 0);
  CHECK_FALSE(p.running());
}

TEST_CASE("prober loses every sample of a target it cannot probe, and goes on", "[probe]") {
  asio::io_context io;
  auto responder = probe::udp_echo_responder::open(io.get_executor(), {ip::make_address("127.0.0.1"), 0});
  REQUIRE(responder);
  auto ep = endpoint_of(ip::make_address("127.0.0.1"), responder->port());
  prober p(io.get_executor(), quick(2, 5s));
  auto r = probe_all(io, p, {{"too-big", ep, probe::udp_echo_probe{.size = probe::echo_max_size + 1}},
                             {"fine", ep, probe::udp_echo_probe{}}});
  const auto& bad = (*r.done)[0];
  REQUIRE(bad.samples.size() == 2);
  for (const auto& s : bad.samples) CHECK(s.error == errc::bad_target);
  CHECK((*r.done)[1].stats.received == 2);
}

TEST_CASE("prober with no targets reports an empty result, not from inside start", "[probe]") {
  asio::io_context io;
  prober p(io.get_executor());
  bool called = false;
  p.start({}, [&](std::vector<probe_result> all) {
    called = true;
    CHECK(all.empty());
  });
  CHECK_FALSE(called);
  io.run_for(10s);
  CHECK(called);
}

TEST_CASE("prober cancel closes every socket and stops every callback", "[probe]") {
  asio::io_context io;
  echo_listener never(io, ip::make_address("127.0.0.1"), echo_listener::mode::never);
  std::vector<target> targets;
  for (int i = 0; i < 4; ++i) targets.push_back({"t" + std::to_string(i), never.endpoint(), probe::udp_echo_probe{}});
  // A minute per sample: if cancel left a timer or a socket behind, io would have work for minutes.
  auto p = std::make_unique<prober>(io.get_executor(), probe::prober_options{.samples = 3, .timeout = 60s, .concurrency = 3});
  int callbacks = 0;
  p->start(targets, [&](std::vector<probe_result>) { ++callbacks; }, [&](const probe_result&) { ++callbacks; });

  SECTION("cancel") {
    never.on_request = [&] {
      if (never.requests() < 3) return;  // every running target has sent
      CHECK(p->counters().open_sockets == 3);
      p->cancel();
      CHECK(p->counters().open_sockets == 0);
      CHECK_FALSE(p->running());
      never.close();
    };
  }
  SECTION("destroy") {
    never.on_request = [&] {
      if (never.requests() < 3) return;
      p.reset();
      never.close();
    };
  }
  io.run_for(20s);
  CHECK(io.stopped());  // out of work: nothing left waiting
  CHECK(callbacks == 0);
  CHECK(never.requests() == 3);
}

TEST_CASE("prober start while running drops the first run's callbacks", "[probe]") {
  asio::io_context io;
  echo_listener never(io, ip::make_address("127.0.0.1"), echo_listener::mode::never);
  auto responder = probe::udp_echo_responder::open(io.get_executor(), {ip::make_address("127.0.0.1"), 0});
  REQUIRE(responder);
  prober p(io.get_executor(), quick(2, 60s));
  int first = 0;
  p.start({{"slow", never.endpoint(), probe::udp_echo_probe{}}}, [&](std::vector<probe_result>) { ++first; },
          [&](const probe_result&) { ++first; });
  std::optional<std::vector<probe_result>> second;
  never.on_request = [&] {
    p.start({{"fast", endpoint_of(ip::make_address("127.0.0.1"), responder->port()), probe::udp_echo_probe{}}},
            [&](std::vector<probe_result> all) { second = std::move(all); });
  };
  auto give_up = std::chrono::steady_clock::now() + 120s;
  while (!second && !io.stopped() && std::chrono::steady_clock::now() < give_up) io.run_one_for(1s);
  REQUIRE(second);
  CHECK((*second)[0].id == "fast");
  CHECK((*second)[0].stats.received == 2);
  CHECK(first == 0);
  CHECK(p.counters().open_sockets == 0);
}

TEST_CASE("prober results feed the selector: the answering server is chosen", "[probe]") {
  asio::io_context io;
  auto lo = ip::make_address("127.0.0.1");
  auto responder = probe::udp_echo_responder::open(io.get_executor(), {lo, 0});
  REQUIRE(responder);
  echo_listener never(io, lo, echo_listener::mode::never);
  std::vector<target> targets{{"dead", never.endpoint(), probe::udp_echo_probe{}},
                              {"alive", endpoint_of(lo, responder->port()), probe::udp_echo_probe{}}};
  prober p(io.get_executor(), quick(2, 300ms));
  auto r = probe_all(io, p, targets);
  std::vector<probe::candidate> cs;
  for (const auto& one : *r.done) cs.push_back({one.id, one.stats, 0});
  probe::selector chooser;
  CHECK(chooser.select(cs) == 1u);
  CHECK(chooser.current() == "alive");
}
