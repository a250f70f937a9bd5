#pragma once
// Errors of the core module. Every module has its own errc enum and std::error_category
// (name "warren.<module>"), so an error_code says which part failed and why.

#include <string>
#include <system_error>

namespace warren::core {

enum class errc {
  no_headroom = 1,   // prepend() asked for more bytes than the buffer has in front: allocate
                     // buffers with the headroom the transport declares
  no_tailroom,       // append() asked for more bytes than the buffer has behind
  too_large,         // a size exceeds the buffer's capacity
  out_of_range,      // trim or resize past the data the buffer holds
};

namespace detail {
class core_category final : public std::error_category {
 public:
  const char* name() const noexcept override { return "warren.core"; }
  std::string message(int ev) const override {
    switch (static_cast<errc>(ev)) {
      case errc::no_headroom: return "not enough headroom in the packet buffer";
      case errc::no_tailroom: return "not enough tailroom in the packet buffer";
      case errc::too_large: return "larger than the packet buffer's capacity";
      case errc::out_of_range: return "beyond the data held in the packet buffer";
    }
    return "unknown warren.core error";
  }
};
}  // namespace detail

inline const std::error_category& error_category() noexcept {
  static const detail::core_category category;
  return category;
}
inline std::error_code make_error_code(errc e) noexcept { return {static_cast<int>(e), error_category()}; }

}  // namespace warren::core

template <>
struct std::is_error_code_enum<warren::core::errc> : std::true_type {};
