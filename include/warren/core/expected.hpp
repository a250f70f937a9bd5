#pragma once
// warren::expected<T, E>: std::expected where the standard library has the monadic one
// (P2505, __cpp_lib_expected >= 202211L), tl-expected otherwise. Code that names only
// warren::expected, warren::unexpected and the monadic members works over both.

#include <version>

#if defined(__cpp_lib_expected) && __cpp_lib_expected >= 202211L
#include <expected>
namespace warren {
template <class T, class E>
using expected = std::expected<T, E>;
using std::unexpected;
inline constexpr bool expected_is_std = true;
}  // namespace warren
#else
#include <tl/expected.hpp>
namespace warren {
template <class T, class E>
using expected = tl::expected<T, E>;
using tl::unexpected;
inline constexpr bool expected_is_std = false;
}  // namespace warren
#endif

#include <system_error>

namespace warren {
// The result type of anything the network, a peer or a user can make fail.
template <class T>
using result = expected<T, std::error_code>;
}  // namespace warren
