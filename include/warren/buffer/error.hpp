#pragma once
// Errors of the buffer module: why a pool could not hand out a block, or why a flow queue
// dropped a packet. None of them is a fault of the peer; they mean memory limits were reached.
// Count them (packet_pool and flow_queues already do); never log one line per packet.

#include <string>
#include <system_error>

namespace warren::buffer {

enum class errc {
  pool_exhausted = 1,  // every block of a packet_pool is in use and it may not grow (or the
                       // system refused more memory): drop the packet; if it happens under
                       // normal load, raise max_blocks or find who holds buffers too long
  flow_full,           // drop_newest: the packet's flow already holds its byte limit, so the
                       // packet was dropped; the flow's tunnel is not draining fast enough
  total_full,          // drop_newest: all flows together hold the total byte limit, so the
                       // packet was dropped; too many tunnels are waiting at once
  too_many_flows,      // the packet would start a new flow but max_flows flows are waiting:
                       // the packet was dropped; raise max_flows or fail tunnels sooner
  packet_too_large,    // the packet alone exceeds the per-flow (or total) byte limit, so it
                       // can never be queued: it was dropped; the limits are set too low
};

namespace detail {
class buffer_category final : public std::error_category {
 public:
  const char* name() const noexcept override { return "warren.buffer"; }
  std::string message(int ev) const override {
    switch (static_cast<errc>(ev)) {
      case errc::pool_exhausted: return "packet pool exhausted";
      case errc::flow_full: return "flow queue full";
      case errc::total_full: return "flow queues full in total";
      case errc::too_many_flows: return "too many queued flows";
      case errc::packet_too_large: return "packet larger than the flow queue limit";
    }
    return "unknown warren.buffer error";
  }
};
}  // namespace detail

inline const std::error_category& error_category() noexcept {
  static const detail::buffer_category category;
  return category;
}
inline std::error_code make_error_code(errc e) noexcept { return {static_cast<int>(e), error_category()}; }

}  // namespace warren::buffer

template <>
struct std::is_error_code_enum<warren::buffer::errc> : std::true_type {};
