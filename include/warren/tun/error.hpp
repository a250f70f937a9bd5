#pragma once
// Errors of the tun module. Three kinds of error_code come out of it:
//   - warren::tun::errc ("warren.tun"): what we diagnose ourselves, each with what to do next;
//   - std::system_category: an errno from a system call that has no better name here;
//   - warren::tun::netlink_category() ("warren.netlink", declared in warren/tun/netlink.hpp,
//     Linux only): a libnl error, whose message() is libnl's own text (nl_geterror). It lives
//     beside the netlink API so that this header, which fd_device uses on Android and iOS,
//     needs neither Linux headers nor libnl.
// Conditions: permission_denied compares equal to std::errc::operation_not_permitted, exists to
// std::errc::file_exists, so callers can test one condition whichever layer failed.

#include <string>
#include <system_error>

namespace warren::tun {

enum class errc {
  name_too_long = 1,   // interface names hold at most 15 bytes (IFNAMSIZ - 1): pick a shorter one
  name_invalid,        // "." or "..", or holds '/', ':', whitespace, or a '%' other than one "%d"
  exists,              // an interface of that name exists and attach_existing was not set: pick
                       // another name, or set attach_existing to open a persistent TUN
  not_compatible,      // attach_existing found an interface that is not a TUN, or whose
                       // single/multi-queue mode differs from the queues asked for
  busy,                // a single-queue TUN of that name is already open in another process
  permission_denied,   // creating or attaching a TUN needs CAP_NET_ADMIN: run as root or grant
                       // the capability (setcap cap_net_admin+ep)
  no_tun_device,       // /dev/net/tun is missing: load the module (modprobe tun) or create the
                       // node (mknod /dev/net/tun c 10 200)
  invalid_options,     // an option is out of range (queues 0 or above 256, MTU 0 or below the
                       // kernel's minimum, a negative file descriptor)
  buffer_too_small,    // read_batch got a buffer whose tail space is below mtu(): allocate
                       // buffers of at least headroom + MTU bytes
  packet_too_large,    // write_batch got a packet larger than the device takes: drop it
  closed,              // the other end is gone (peer closed, device deleted, queue detached):
                       // stop using the device
  bad_offload,         // a packet's offload header (virtio_net_hdr) does not fit the packet, or
                       // asks for an offload that was not enabled: the packet is dropped
};

namespace detail {
class tun_category final : public std::error_category {
 public:
  const char* name() const noexcept override { return "warren.tun"; }
  std::string message(int ev) const override {
    switch (static_cast<errc>(ev)) {
      case errc::name_too_long: return "interface name too long (at most 15 bytes)";
      case errc::name_invalid:
        return "invalid interface name (no '/', ':', whitespace, \".\" or \"..\"; at most one %d)";
      case errc::exists:
        return "an interface of that name already exists (set attach_existing to open a "
               "persistent TUN device)";
      case errc::not_compatible:
        return "the existing interface is not a TUN device with the requested queue mode";
      case errc::busy: return "the TUN device is already in use by another process";
      case errc::permission_denied:
        return "permission denied: a TUN device needs CAP_NET_ADMIN (run as root, or grant "
               "the capability with setcap cap_net_admin+ep)";
      case errc::no_tun_device:
        return "no TUN device node (/dev/net/tun): load the module with modprobe tun";
      case errc::invalid_options: return "invalid TUN device options";
      case errc::buffer_too_small: return "packet buffer has less tail space than the MTU";
      case errc::packet_too_large: return "packet larger than the device accepts";
      case errc::closed: return "the device or its peer is closed";
      case errc::bad_offload: return "offload header does not match the packet (dropped)";
    }
    return "unknown warren.tun error";
  }
  std::error_condition default_error_condition(int ev) const noexcept override {
    switch (static_cast<errc>(ev)) {
      case errc::permission_denied: return std::errc::operation_not_permitted;
      case errc::exists: return std::errc::file_exists;
      case errc::busy: return std::errc::device_or_resource_busy;
      case errc::no_tun_device: return std::errc::no_such_device;
      case errc::packet_too_large: return std::errc::message_size;
      default: return {ev, *this};
    }
  }
};
}  // namespace detail

inline const std::error_category& error_category() noexcept {
  static const detail::tun_category category;
  return category;
}
inline std::error_code make_error_code(errc e) noexcept { return {static_cast<int>(e), error_category()}; }

}  // namespace warren::tun

template <>
struct std::is_error_code_enum<warren::tun::errc> : std::true_type {};
