#pragma once
// Errors of the route module: why the router could not pass a packet on. Each one means the
// packet was dropped and counted (router_stats); none is worth a log line per packet.

#include <string>
#include <system_error>

namespace warren::route {

enum class errc {
  family_mismatch = 1,  // a NAT binding of one family was asked to rewrite a packet of the
                        // other: the tunnel has no address of the packet's family; drop
  foreign_source,       // a packet from the TUN whose source is not the TUN's own address (of
                        // its family): something else on the host routed it here; drop
  foreign_destination,  // a packet from a tunnel whose destination is not the address that
                        // tunnel assigned: the server sent what was not ours; drop
  unknown_tunnel,       // a tunnel id the router does not know (closed, or never added): drop
  no_route,             // no rule and no table entry matched and the default action is drop
  policy_drop,          // a rule said drop
  target_unavailable,   // the rule's target has no tunnel and cannot get one (the jit layer
                        // gave up on it and the rule has no direct fallback)
  wrong_tunnel,         // a packet from one tunnel for a flow pinned to another: a server
                        // must not reach into a connection it does not carry; drop
  bad_rule,             // a rule that cannot work (an empty target name, a port range whose
                        // start is past its end, a domain that is not a DNS name): fix the rules
};

namespace detail {
class route_category final : public std::error_category {
 public:
  const char* name() const noexcept override { return "warren.route"; }
  std::string message(int ev) const override {
    switch (static_cast<errc>(ev)) {
      case errc::family_mismatch: return "the tunnel has no address of the packet's family";
      case errc::foreign_source: return "the packet's source is not the TUN's address";
      case errc::foreign_destination: return "the packet's destination is not the tunnel's address";
      case errc::unknown_tunnel: return "no such tunnel";
      case errc::no_route: return "no route for the destination";
      case errc::policy_drop: return "dropped by a rule";
      case errc::target_unavailable: return "no tunnel to the rule's target can be had";
      case errc::wrong_tunnel: return "the flow belongs to another tunnel";
      case errc::bad_rule: return "the rule cannot work";
    }
    return "unknown warren.route error";
  }
};
}  // namespace detail

inline const std::error_category& error_category() noexcept {
  static const detail::route_category category;
  return category;
}
inline std::error_code make_error_code(errc e) noexcept { return {static_cast<int>(e), error_category()}; }

}  // namespace warren::route

template <>
struct std::is_error_code_enum<warren::route::errc> : std::true_type {};
