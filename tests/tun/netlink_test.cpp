#include <warren/tun/netlink.hpp>
#include <catch2/catch_test_macros.hpp>

#include "support/netns.hpp"

#include <warren/tun/linux_tun.hpp>

#include <arpa/inet.h>
#include <linux/if_addr.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <string_view>

namespace {

namespace tun = warren::tun;
using warren::tun::netlink;

warren::packet::ip_prefix prefix(std::string_view text) { return *warren::packet::ip_prefix::parse(text); }

// What connect() on a UDP socket says about the way to `address`: 0 if the kernel has a route,
// else errno (ENETUNREACH when it has none). Sends nothing.
int route_to(std::string_view address) {
  bool v6 = address.find(':') != std::string_view::npos;
  int fd = ::socket(v6 ? AF_INET6 : AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return errno;
  int rc;
  if (v6) {
    sockaddr_in6 sin6{};
    sin6.sin6_family = AF_INET6;
    sin6.sin6_port = htons(9);
    ::inet_pton(AF_INET6, std::string(address).c_str(), &sin6.sin6_addr);
    rc = ::connect(fd, reinterpret_cast<sockaddr*>(&sin6), sizeof sin6);
  } else {
    sockaddr_in sin{};
    sin.sin_family = AF_INET;
    sin.sin_port = htons(9);
    ::inet_pton(AF_INET, std::string(address).c_str(), &sin.sin_addr);
    rc = ::connect(fd, reinterpret_cast<sockaddr*>(&sin), sizeof sin);
  }
  int err = rc == 0 ? 0 : errno;
  ::close(fd);
  return err;
}

}  // namespace

TEST_CASE("netlink errors carry libnl's text and compare to std::errc", "[tun]") {
  auto exists = tun::make_netlink_error_code(-NLE_EXIST);  // as libnl returns it
  CHECK(std::string(exists.category().name()) == "warren.netlink");
  CHECK(exists.value() == NLE_EXIST);
  CHECK(exists.message() == nl_geterror(NLE_EXIST));
  CHECK(exists == std::errc::file_exists);
  CHECK(tun::make_netlink_error_code(NLE_NODEV) == std::errc::no_such_device);
  auto perm = tun::make_netlink_error_code(-NLE_PERM);
  CHECK(perm == std::errc::operation_not_permitted);
  CHECK(perm.message().find("CAP_NET_ADMIN") != std::string::npos);
  CHECK(perm.message().find(nl_geterror(NLE_PERM)) == 0);
}

TEST_CASE("netlink without a socket or with a bad argument fails without asking the kernel", "[tun]") {
  netlink none;
  auto up = none.set_up(1, true);
  REQUIRE_FALSE(up);
  CHECK(up.error() == tun::errc::closed);
  CHECK(none.add_address(1, prefix("192.0.2.1/24")).error() == tun::errc::closed);
  CHECK(none.add_route(prefix("192.0.2.0/24"), 1).error() == tun::errc::closed);

  // A session in the test's namespace: these calls must fail before they send anything.
  auto nl = netlink::open();
  REQUIRE(nl);
  CHECK(nl->set_mtu(0, 1400).error() == tun::errc::invalid_options);
  CHECK(nl->set_up(0, true).error() == tun::errc::invalid_options);
  CHECK(nl->add_address(0, prefix("192.0.2.1/24")).error() == tun::errc::invalid_options);
  CHECK(nl->remove_route(prefix("192.0.2.0/24"), 0).error() == tun::errc::invalid_options);
  warren::packet::ip_prefix too_long = prefix("192.0.2.1/24");
  too_long.length = 33;
  CHECK(nl->add_address(1, too_long).error() == tun::errc::invalid_options);
  netlink moved = std::move(*nl);
  CHECK(nl->set_up(1, true).error() == tun::errc::closed);
}

TEST_CASE("netlink sets the MTU and the up state of an interface", "[tun][netns]") {
  if (::geteuid() != 0) SKIP("needs root");
  REQUIRE(warren::test::enter_new_netns() == "");
  auto t = tun::linux_tun::open({.name = "wrn0"});
  REQUIRE(t);
  auto nl = netlink::open();
  REQUIRE(nl);
  REQUIRE(warren::test::interface_mtu("wrn0") == 1420);

  REQUIRE(nl->set_mtu(t->ifindex(), 1280));
  CHECK(warren::test::interface_mtu("wrn0") == 1280);
  REQUIRE(nl->set_mtu(t->ifindex(), 9000));
  CHECK(warren::test::interface_mtu("wrn0") == 9000);

  int before = warren::test::interface_flags("wrn0");
  REQUIRE(before >= 0);
  CHECK((before & IFF_UP) == 0);
  REQUIRE(nl->set_up(t->ifindex(), true));
  int after = warren::test::interface_flags("wrn0");
  CHECK((after & IFF_UP) != 0);
  CHECK((after & ~(IFF_UP | IFF_RUNNING)) == (before & ~(IFF_UP | IFF_RUNNING)));
  REQUIRE(nl->set_up(t->ifindex(), false));
  CHECK((warren::test::interface_flags("wrn0") & IFF_UP) == 0);
}

TEST_CASE("netlink adds and removes IPv4 and IPv6 addresses", "[tun][netns]") {
  if (::geteuid() != 0) SKIP("needs root");
  REQUIRE(warren::test::enter_new_netns() == "");
  auto t = tun::linux_tun::open({.name = "wrn0"});
  REQUIRE(t);
  auto nl = netlink::open();
  REQUIRE(nl);
  REQUIRE(nl->set_up(t->ifindex(), true));

  REQUIRE(nl->add_address(t->ifindex(), prefix("192.0.2.1/24")));
  REQUIRE(nl->add_address(t->ifindex(), prefix("fd00:77::1/64")));
  CHECK(warren::test::has_address("wrn0", "192.0.2.1", 24));
  CHECK(warren::test::has_address("wrn0", "fd00:77::1", 64));
  // IPv6 without duplicate address detection: never tentative, usable at once.
  int v6_flags = warren::test::ipv6_address_flags("wrn0", "fd00:77::1");
  REQUIRE(v6_flags >= 0);
  CHECK((v6_flags & IFA_F_NODAD) != 0);
  CHECK((v6_flags & IFA_F_TENTATIVE) == 0);
  // The prefix lengths put the prefixes' routes in place.
  CHECK(route_to("192.0.2.200") == 0);
  CHECK(route_to("fd00:77::200") == 0);

  SECTION("adding again says it exists, in libnl's words") {
    auto again = nl->add_address(t->ifindex(), prefix("192.0.2.1/24"));
    REQUIRE_FALSE(again);
    CHECK(again.error() == std::errc::file_exists);
    CHECK(again.error().category() == tun::netlink_category());
    CHECK(again.error().message() == nl_geterror(NLE_EXIST));
    CHECK_FALSE(nl->add_address(t->ifindex(), prefix("fd00:77::1/64")));
  }
  SECTION("removing takes them away, and removing again fails") {
    REQUIRE(nl->remove_address(t->ifindex(), prefix("192.0.2.1/24")));
    REQUIRE(nl->remove_address(t->ifindex(), prefix("fd00:77::1/64")));
    CHECK_FALSE(warren::test::has_address("wrn0", "192.0.2.1", 24));
    CHECK_FALSE(warren::test::has_address("wrn0", "fd00:77::1", 64));
    CHECK(route_to("192.0.2.200") == ENETUNREACH);
    auto again = nl->remove_address(t->ifindex(), prefix("192.0.2.1/24"));
    REQUIRE_FALSE(again);
    CHECK_FALSE(again.error().message().empty());
  }
}

TEST_CASE("netlink adds and removes routes through the interface", "[tun][netns]") {
  if (::geteuid() != 0) SKIP("needs root");
  REQUIRE(warren::test::enter_new_netns() == "");
  auto t = tun::linux_tun::open({.name = "wrn0"});
  REQUIRE(t);
  auto nl = netlink::open();
  REQUIRE(nl);
  REQUIRE(nl->set_up(t->ifindex(), true));
  // IPv6 needs a source address to pick a route; the TUN's own prefix does not cover the routes.
  REQUIRE(nl->add_address(t->ifindex(), prefix("fd00:77::1/64")));
  REQUIRE(nl->add_address(t->ifindex(), prefix("192.0.2.1/24")));

  // The namespace has no default route: without ours, nothing reaches these.
  CHECK(route_to("198.51.100.7") == ENETUNREACH);
  CHECK(route_to("2001:db8:1::7") == ENETUNREACH);

  REQUIRE(nl->add_route(prefix("198.51.100.0/24"), t->ifindex()));
  REQUIRE(nl->add_route(prefix("2001:db8:1::/48"), t->ifindex()));
  CHECK(route_to("198.51.100.7") == 0);
  CHECK(route_to("2001:db8:1::7") == 0);
  CHECK(route_to("198.51.101.7") == ENETUNREACH);  // just outside

  SECTION("host bits in the destination are ignored") {
    REQUIRE(nl->add_route(prefix("203.0.113.77/24"), t->ifindex()));
    CHECK(route_to("203.0.113.1") == 0);
    REQUIRE(nl->remove_route(prefix("203.0.113.5/24"), t->ifindex()));
    CHECK(route_to("203.0.113.1") == ENETUNREACH);
  }
  SECTION("adding again says it exists") {
    auto again = nl->add_route(prefix("198.51.100.0/24"), t->ifindex());
    REQUIRE_FALSE(again);
    CHECK(again.error() == std::errc::file_exists);
  }
  SECTION("removing takes them away") {
    REQUIRE(nl->remove_route(prefix("198.51.100.0/24"), t->ifindex()));
    REQUIRE(nl->remove_route(prefix("2001:db8:1::/48"), t->ifindex()));
    CHECK(route_to("198.51.100.7") == ENETUNREACH);
    CHECK(route_to("2001:db8:1::7") == ENETUNREACH);
    CHECK_FALSE(nl->remove_route(prefix("198.51.100.0/24"), t->ifindex()));
  }
  SECTION("a default route in two halves, as VPN clients install it") {
    REQUIRE(nl->add_route(prefix("0.0.0.0/1"), t->ifindex()));
    REQUIRE(nl->add_route(prefix("128.0.0.0/1"), t->ifindex()));
    CHECK(route_to("8.8.8.8") == 0);
    CHECK(route_to("200.1.2.3") == 0);
  }
}

TEST_CASE("netlink reports what the kernel refuses", "[tun][netns]") {
  if (::geteuid() != 0) SKIP("needs root");
  REQUIRE(warren::test::enter_new_netns() == "");
  auto nl = netlink::open();
  REQUIRE(nl);

  SECTION("an interface that does not exist") {
    auto r = nl->set_mtu(9999, 1400);
    REQUIRE_FALSE(r);
    CHECK(r.error().category() == tun::netlink_category());
    CHECK(r.error() == std::errc::no_such_device);
    CHECK(r.error().message() == nl_geterror(NLE_NODEV));
    CHECK_FALSE(nl->add_address(9999, prefix("192.0.2.1/24")));
    CHECK_FALSE(nl->add_route(prefix("192.0.2.0/24"), 9999));
  }
  SECTION("an MTU below the device's minimum") {
    auto t = tun::linux_tun::open({.name = "wrn0"});
    REQUIRE(t);
    auto r = nl->set_mtu(t->ifindex(), 10);
    REQUIRE_FALSE(r);
    CHECK(r.error() == std::errc::invalid_argument);
    CHECK(warren::test::interface_mtu("wrn0") == 1420);
  }
  SECTION("no CAP_NET_ADMIN") {
    unsigned lo = ::if_nametoindex("lo");
    REQUIRE(lo != 0);
    auto out = warren::test::run_in_child([lo] {
      if (auto failed = warren::test::drop_net_admin(); !failed.empty()) return "setup: " + failed;
      auto child_nl = netlink::open();
      if (!child_nl) return "open: " + child_nl.error().message();
      auto r = child_nl->set_up(lo, false);
      if (r) return std::string("changed lo without permission");
      return std::string(r.error() == std::errc::operation_not_permitted ? "EPERM:" : "other:") +
             r.error().message();
    });
    INFO(out);
    CHECK(out.rfind("EPERM:", 0) == 0);
    CHECK(out.find("CAP_NET_ADMIN") != std::string::npos);
    CHECK((warren::test::interface_flags("lo") & IFF_UP) != 0);
  }
}
