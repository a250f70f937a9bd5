#pragma once
// credential_field: one input an app renders so the user can sign in to a provider (a user
// name, a password, a key file), and credentials: what the user typed, by field name. A
// provider lists its fields; the app draws them without knowing the provider.

#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace warren::provider {

enum class field_kind {
  text,    // shown as typed: a user name, an address
  secret,  // masked and kept out of logs: a password, a private key
  file,    // a path the user picks; the provider reads the file
};

struct credential_field {
  std::string name;         // key in the credentials map, e.g. "private_key"
  std::string label;        // for the user, e.g. "Private key"
  field_kind kind = field_kind::text;
  bool required = false;
  std::string placeholder;  // an example value, e.g. "10.100.0.2/32"

  friend bool operator==(const credential_field&, const credential_field&) = default;
};

// Values by field name. std::string does not wipe itself: an app that holds secrets here for
// long should clear them after authenticate(), which copies what it keeps into wiped storage.
using credentials = std::map<std::string, std::string, std::less<>>;

// The first required field that is absent or empty, if any: the app highlights it.
inline const credential_field* first_missing(const std::vector<credential_field>& fields, const credentials& given) {
  for (const auto& f : fields) {
    if (!f.required) continue;
    auto it = given.find(f.name);
    if (it == given.end() || it->second.empty()) return &f;
  }
  return nullptr;
}
// The result points into `fields`: a temporary list would leave it dangling.
const credential_field* first_missing(std::vector<credential_field>&&, const credentials&) = delete;

}  // namespace warren::provider
