#pragma once
// What netlink.hpp needs from libnl-route-3: its headers, owning pointers for its
// reference-counted objects, and the "warren.netlink" error category.

#include <netlink/addr.h>
#include <netlink/errno.h>
#include <netlink/netlink.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <netlink/route/nexthop.h>
#include <netlink/route/route.h>
#include <netlink/socket.h>

#include <memory>
#include <string>
#include <system_error>

// Namespace detail, not detail::linux: GNU modes predefine `linux` as a macro.
namespace warren::tun::detail {

// Calls libnl's free or put function for its type.
template <auto Free>
struct nl_free {
  template <class T>
  void operator()(T* p) const noexcept {
    Free(p);
  }
};
using nl_socket_ptr = std::unique_ptr<nl_sock, nl_free<&nl_socket_free>>;
using nl_addr_ptr = std::unique_ptr<nl_addr, nl_free<&nl_addr_put>>;
using rtnl_link_ptr = std::unique_ptr<rtnl_link, nl_free<&rtnl_link_put>>;
using rtnl_addr_ptr = std::unique_ptr<rtnl_addr, nl_free<&rtnl_addr_put>>;
using rtnl_route_ptr = std::unique_ptr<rtnl_route, nl_free<&rtnl_route_put>>;

// Values are libnl's NLE_* codes, positive (libnl's functions return them negated).
class netlink_category final : public std::error_category {
 public:
  const char* name() const noexcept override { return "warren.netlink"; }
  std::string message(int ev) const override {
    std::string text = nl_geterror(ev);
    if (ev == NLE_PERM || ev == NLE_NOACCESS)
      text += " (changing interfaces needs CAP_NET_ADMIN: run as root)";
    return text;
  }
  // So that callers can test for "already there" or "no such device" without knowing libnl.
  std::error_condition default_error_condition(int ev) const noexcept override {
    switch (ev) {
      case NLE_PERM: return std::errc::operation_not_permitted;
      case NLE_NOACCESS: return std::errc::permission_denied;
      case NLE_EXIST: return std::errc::file_exists;
      case NLE_NODEV: return std::errc::no_such_device;
      case NLE_OBJ_NOTFOUND: return std::errc::no_such_file_or_directory;
      case NLE_NOADDR: return std::errc::address_not_available;
      case NLE_INVAL: return std::errc::invalid_argument;
      case NLE_RANGE: return std::errc::result_out_of_range;
      case NLE_NOMEM: return std::errc::not_enough_memory;
      case NLE_BUSY: return std::errc::device_or_resource_busy;
      case NLE_OPNOTSUPP: return std::errc::operation_not_supported;
      case NLE_AF_NOSUPPORT: return std::errc::address_family_not_supported;
      default: return {ev, *this};
    }
  }
};

}  // namespace warren::tun::detail
