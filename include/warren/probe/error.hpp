#pragma once
// Errors of the probe module: why a sample was lost, or why a datagram was not a reply. A lost
// sample is not a failure of the prober; it is data (the loss in sample_stats). Samples keep
// the error that lost them, so a report can say "refused" rather than only "lost".

#include <cerrno>
#include <string>
#include <system_error>

namespace warren::probe {

enum class errc {
  timeout = 1,   // no reply within the probe's timeout: the sample is lost, and a reply that
                 // comes later is ignored (it would otherwise be counted against a later sample)
  refused,       // a TCP RST or an ICMP port unreachable: the host is up but nothing listens on
                 // that port. A TCP probe counts the RST as a round trip unless told otherwise
                 // (tcp_probe::count_refused); other probes lose the sample
  unreachable,   // no route, or ICMP network or host unreachable, or the address family is not
                 // available here: the sample is lost; the host is down or the path is broken
  bad_reply,     // a datagram that is not the exact reply to the sample in flight (wrong size,
                 // nonce, sequence or type): ignored, and the sample keeps waiting
  bad_target,    // the target cannot be probed as described (an echo size out of range, a
                 // WireGuard key that gives no initiation): every sample is lost; fix the target
};

namespace detail {
class probe_category final : public std::error_category {
 public:
  const char* name() const noexcept override { return "warren.probe"; }
  std::string message(int ev) const override {
    switch (static_cast<errc>(ev)) {
      case errc::timeout: return "no reply within the probe timeout";
      case errc::refused: return "connection refused";
      case errc::unreachable: return "destination unreachable";
      case errc::bad_reply: return "not a reply to this probe";
      case errc::bad_target: return "target cannot be probed as described";
    }
    return "unknown warren.probe error";
  }
};
}  // namespace detail

inline const std::error_category& error_category() noexcept {
  static const detail::probe_category category;
  return category;
}
inline std::error_code make_error_code(errc e) noexcept { return {static_cast<int>(e), error_category()}; }

// The probe error a socket error stands for, so that a report reads the same whichever probe
// lost the sample; errors with no probe meaning (EACCES from a firewall, ENOBUFS) pass
// through. `ec` must be in the system or generic category (adapters convert Asio's own).
inline std::error_code classify_socket_error(std::error_code ec) noexcept {
  // EHOSTDOWN has no std::errc name, so no category maps it to a portable condition.
  auto is_errno = [](std::error_code c, int e) {
    return c.value() == e && (c.category() == std::system_category() || c.category() == std::generic_category());
  };
  if (!ec) return ec;
  if (ec == std::errc::connection_refused) return make_error_code(errc::refused);
  if (ec == std::errc::timed_out) return make_error_code(errc::timeout);
  if (ec == std::errc::network_unreachable || ec == std::errc::host_unreachable ||
      ec == std::errc::network_down || ec == std::errc::address_not_available ||
      ec == std::errc::address_family_not_supported || is_errno(ec, EHOSTDOWN))
    return make_error_code(errc::unreachable);
  return ec;
}

}  // namespace warren::probe

template <>
struct std::is_error_code_enum<warren::probe::errc> : std::true_type {};
