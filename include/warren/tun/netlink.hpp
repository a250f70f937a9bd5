#pragma once
// netlink: configures an interface the way `ip link/addr/route` would, through rtnetlink with
// libnl-route-3, so a VPN can set up the TUN it opened without running programs: MTU, up/down,
// IPv4 and IPv6 addresses, and routes through the interface.
//
// Ownership: a netlink session owns one libnl socket (an nl_sock), freed on destruction; the
// objects each call builds are freed before it returns. Move-only. A session acts in the network
// namespace its thread was in when open() ran. Threads: one thread at a time. A
// default-constructed or moved-from session has no socket: every call fails with errc::closed.
//
// Errors come as warren.netlink codes whose message() is libnl's text (nl_geterror), e.g.
// "Object exists" when an address is already there; they compare equal to the std::errc they
// stand for (std::errc::file_exists, no_such_device, operation_not_permitted, ...). Changing
// interfaces needs CAP_NET_ADMIN.
//
// Example (a client TUN):
//   auto tun = warren::tun::linux_tun::open({.name = "wrn%d"});
//   auto nl = warren::tun::netlink::open();
//   nl->add_address(tun->ifindex(), *warren::packet::ip_prefix::parse("10.100.0.2/16"));
//   nl->set_up(tun->ifindex(), true);
//   nl->add_route(*warren::packet::ip_prefix::parse("0.0.0.0/1"), tun->ifindex());

#include <warren/core/expected.hpp>
#include <warren/packet/ip_address.hpp>
#include <warren/tun/detail/linux/libnl.hpp>
#include <warren/tun/error.hpp>

#include <net/if.h>  // not <linux/if.h>: it clashes with <net/if.h> in one program
#include <linux/if_addr.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>

#include <climits>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <system_error>
#include <utility>

namespace warren::tun {

// The category of libnl's errors ("warren.netlink"); see detail::netlink_category.
inline const std::error_category& netlink_category() noexcept {
  static const detail::netlink_category category;
  return category;
}
// A libnl return value (a negative NLE_* code) or an NLE_* code, as an error_code.
inline std::error_code make_netlink_error_code(int nl_error) noexcept {
  return {std::abs(nl_error), netlink_category()};
}

class netlink {
 public:
  // Opens and connects a NETLINK_ROUTE socket in the calling thread's network namespace.
  static result<netlink> open() {
    netlink nl;
    nl.socket_.reset(nl_socket_alloc());
    if (!nl.socket_) return unexpected(make_netlink_error_code(NLE_NOMEM));
    if (int err = nl_connect(nl.socket_.get(), NETLINK_ROUTE); err < 0)
      return unexpected(make_netlink_error_code(err));
    return nl;
  }

  netlink() noexcept = default;

  // The interface's MTU (IFLA_MTU). The kernel refuses values outside the device's range.
  result<void> set_mtu(unsigned ifindex, std::size_t mtu) {
    if (mtu > UINT_MAX) return unexpected(make_error_code(errc::invalid_options));
    return change_link(ifindex, [mtu](rtnl_link* changes) {
      rtnl_link_set_mtu(changes, static_cast<unsigned>(mtu));
    });
  }

  // Brings the interface up or down (IFF_UP), leaving its other flags alone.
  result<void> set_up(unsigned ifindex, bool up) {
    return change_link(ifindex, [up](rtnl_link* changes) {
      if (up) {
        rtnl_link_set_flags(changes, IFF_UP);
      } else {
        rtnl_link_unset_flags(changes, IFF_UP);
      }
    });
  }

  // Adds `address` ("192.0.2.1/24", "fd00::1/64") to the interface; the prefix length also
  // installs the route to the prefix. IPv6 addresses skip duplicate address detection
  // (IFA_F_NODAD), so they are usable at once; a TUN has no neighbours to clash with. (The
  // kernel still installs an IPv6 address's local route from a work queue a moment later, once
  // the interface is up: a packet written to the TUN for that address in the first instant may be
  // dropped. Listen for its RTM_NEWROUTE if that matters.)
  // An address that is already there fails with std::errc::file_exists.
  result<void> add_address(unsigned ifindex, const packet::ip_prefix& address) {
    auto addr = make_address(ifindex, address);
    if (!addr) return unexpected(addr.error());
    if (address.address.is_v6()) rtnl_addr_set_flags(addr->get(), IFA_F_NODAD);
    return check(rtnl_addr_add(socket_.get(), addr->get(), 0));
  }

  // Removes an address that add_address (or anyone) gave the interface.
  result<void> remove_address(unsigned ifindex, const packet::ip_prefix& address) {
    auto addr = make_address(ifindex, address);
    if (!addr) return unexpected(addr.error());
    return check(rtnl_addr_delete(socket_.get(), addr->get(), 0));
  }

  // Routes `destination` out of the interface in the main table (proto static), as
  // `ip route add <destination> dev <ifindex>` does. Host bits of the destination are ignored.
  // A route that is already there fails with std::errc::file_exists.
  result<void> add_route(const packet::ip_prefix& destination, unsigned ifindex) {
    auto route = make_route(destination, ifindex, RTPROT_STATIC);
    if (!route) return unexpected(route.error());
    return check(rtnl_route_add(socket_.get(), route->get(), NLM_F_EXCL));
  }

  // Removes the route to `destination` through the interface, whoever added it.
  result<void> remove_route(const packet::ip_prefix& destination, unsigned ifindex) {
    auto route = make_route(destination, ifindex, RTPROT_UNSPEC);
    if (!route) return unexpected(route.error());
    return check(rtnl_route_delete(socket_.get(), route->get(), 0));
  }

 private:
  static result<void> check(int err) {
    if (err < 0) return unexpected(make_netlink_error_code(err));
    return {};
  }
  static bool valid_ifindex(unsigned ifindex) noexcept { return ifindex != 0 && ifindex <= INT_MAX; }

  // Sends an RTM_NEWLINK for the interface carrying only what `set` puts in `changes`; libnl
  // falls back to RTM_SETLINK on kernels that want it.
  template <class Set>
  result<void> change_link(unsigned ifindex, Set set) {
    if (!socket_) return unexpected(make_error_code(errc::closed));
    if (!valid_ifindex(ifindex)) return unexpected(make_error_code(errc::invalid_options));
    detail::rtnl_link_ptr orig(rtnl_link_alloc());
    detail::rtnl_link_ptr changes(rtnl_link_alloc());
    if (!orig || !changes) return unexpected(make_netlink_error_code(NLE_NOMEM));
    rtnl_link_set_ifindex(orig.get(), static_cast<int>(ifindex));
    set(changes.get());
    return check(rtnl_link_change(socket_.get(), orig.get(), changes.get(), 0));
  }

  static result<detail::nl_addr_ptr> make_nl_addr(const packet::ip_prefix& prefix) {
    auto bytes = prefix.address.bytes();
    int family = prefix.address.is_v6() ? AF_INET6 : AF_INET;
    detail::nl_addr_ptr a(nl_addr_build(family, bytes.data(), bytes.size()));
    if (!a) return unexpected(make_netlink_error_code(NLE_NOMEM));
    nl_addr_set_prefixlen(a.get(), prefix.length);
    return a;
  }

  result<detail::rtnl_addr_ptr> make_address(unsigned ifindex, const packet::ip_prefix& address) {
    if (!socket_) return unexpected(make_error_code(errc::closed));
    if (!valid_ifindex(ifindex) || address.length > address.max_length())
      return unexpected(make_error_code(errc::invalid_options));
    auto local = make_nl_addr(address);
    if (!local) return unexpected(local.error());
    detail::rtnl_addr_ptr addr(rtnl_addr_alloc());
    if (!addr) return unexpected(make_netlink_error_code(NLE_NOMEM));
    rtnl_addr_set_ifindex(addr.get(), static_cast<int>(ifindex));
    // Takes its own reference to `local` and sets the family from it.
    if (int err = rtnl_addr_set_local(addr.get(), local->get()); err < 0)
      return unexpected(make_netlink_error_code(err));
    rtnl_addr_set_prefixlen(addr.get(), address.length);
    return addr;
  }

  result<detail::rtnl_route_ptr> make_route(const packet::ip_prefix& destination, unsigned ifindex,
                                            std::uint8_t protocol) {
    if (!socket_) return unexpected(make_error_code(errc::closed));
    if (!valid_ifindex(ifindex) || destination.length > destination.max_length())
      return unexpected(make_error_code(errc::invalid_options));
    // The kernel refuses an IPv4 destination with host bits set.
    auto dst = make_nl_addr(destination.network());
    if (!dst) return unexpected(dst.error());
    detail::rtnl_route_ptr route(rtnl_route_alloc());
    if (!route) return unexpected(make_netlink_error_code(NLE_NOMEM));
    bool v6 = destination.address.is_v6();
    if (int err = rtnl_route_set_family(route.get(), v6 ? AF_INET6 : AF_INET); err < 0)
      return unexpected(make_netlink_error_code(err));
    if (int err = rtnl_route_set_dst(route.get(), dst->get()); err < 0)
      return unexpected(make_netlink_error_code(err));
    rtnl_route_set_table(route.get(), RT_TABLE_MAIN);
    rtnl_route_set_protocol(route.get(), protocol);
    // Directly connected: link scope for IPv4 (as ip route does); IPv6 routes are universe.
    rtnl_route_set_scope(route.get(), v6 ? RT_SCOPE_UNIVERSE : RT_SCOPE_LINK);
    rtnl_nexthop* hop = rtnl_route_nh_alloc();
    if (!hop) return unexpected(make_netlink_error_code(NLE_NOMEM));
    rtnl_route_nh_set_ifindex(hop, static_cast<int>(ifindex));
    rtnl_route_add_nexthop(route.get(), hop);  // the route owns the hop from here
    return route;
  }

  detail::nl_socket_ptr socket_;
};

}  // namespace warren::tun
