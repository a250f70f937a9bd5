#pragma once
// auth_state: where a provider stands with the user's credentials, for the app to show
// ("Signed in", "Session expired, sign in again") and to decide whether to ask for them.

#include <string>
#include <string_view>

namespace warren::provider {

enum class auth_status {
  none,           // never authenticated: show credential_fields() and call authenticate()
  pending,        // a request is in flight (a broker login, a code sent by mail): wait
  authenticated,  // fetch_servers and generate_config will work
  expired,        // it worked, but the session or token ran out: authenticate again
  failed,         // the credentials were refused; `reason` says why: let the user fix them
};

constexpr std::string_view to_string(auth_status s) noexcept {
  switch (s) {
    case auth_status::none: return "none";
    case auth_status::pending: return "pending";
    case auth_status::authenticated: return "authenticated";
    case auth_status::expired: return "expired";
    case auth_status::failed: return "failed";
  }
  return "unknown";
}

// A status and, for failed or expired, a sentence for the user ("private_key: not a base64
// WireGuard key"). Never contains the credentials themselves. Default state: none.
struct auth_state {
  auth_status status = auth_status::none;
  std::string reason;

  bool ok() const noexcept { return status == auth_status::authenticated; }
  friend bool operator==(const auth_state&, const auth_state&) = default;
};

}  // namespace warren::provider
