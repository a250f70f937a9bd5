#pragma once
// Errors of the provider module: why a wg-quick file, a JSON server list or a cache file was
// refused, and why a provider could not do what it was asked. Most of them are the fault of a
// file someone wrote by hand or published, so parsers also say where: parse_error carries the
// line (or the JSON field) and a sentence for the operator's log.

#include <cstddef>
#include <string>
#include <string_view>
#include <system_error>

namespace warren::provider {

enum class errc {
  // wg-quick files. parse_error::line says where; fix the file.
  syntax_error = 1,     // a line that is not "[Section]", "Key = Value", a comment or blank
  unknown_section,      // a section other than [Interface] or [Peer]: wg-quick refuses the file
  unknown_key,          // a key wg and wg-quick do not know in its section (they refuse it too)
  key_outside_section,  // a key before the first section header
  duplicate_key,        // a key that takes one value given twice in one section: wg would keep
                        // the last one silently, which hides typos, so we refuse
  invalid_value,        // a value that does not parse: a number out of range, a bad prefix,
                        // endpoint or name, or an empty value
  invalid_key,          // a WireGuard key that is not 44 characters of base64 holding 32 bytes
  missing_field,        // a required field is absent: a [Peer] without PublicKey, a server
                        // without endpoint, an interface address nobody supplied
  // JSON documents (server lists, the cache file). parse_error::detail names the field.
  invalid_json,         // not JSON, or nested deeper than the parser allows
  unsupported_version,  // a document whose "version" this code does not read: upgrade, or
                        // (for the cache) let it be rewritten
  duplicate_server,     // two servers with the same id in one list
  file_too_large,       // a file larger than the limit for its kind: refuse rather than read
                        // an unbounded amount into memory
  // Using a provider.
  not_authenticated,    // generate_config (or a fetch that needs an account) before
                        // authenticate succeeded: show the credential fields, authenticate
  no_matching_server,   // best_server: no server in the requested region (country, city)
  unknown_server,       // a server this provider does not know (its file was removed, or it
                        // came from another provider): fetch the list again
  unknown_provider,     // registry: no provider by that name
  duplicate_provider,   // registry: a provider by that name is already registered
  corrupt_cache,        // the cache file is not one this code wrote: it was left untouched;
                        // the next save() keeps it as "<file>.corrupt" and writes a new one
};

namespace detail {
class provider_category final : public std::error_category {
 public:
  const char* name() const noexcept override { return "warren.provider"; }
  std::string message(int ev) const override {
    switch (static_cast<errc>(ev)) {
      case errc::syntax_error: return "line is not a section, a key = value pair or a comment";
      case errc::unknown_section: return "unknown section";
      case errc::unknown_key: return "unknown key";
      case errc::key_outside_section: return "key outside a section";
      case errc::duplicate_key: return "key given twice";
      case errc::invalid_value: return "invalid value";
      case errc::invalid_key: return "not a base64 WireGuard key";
      case errc::missing_field: return "required field missing";
      case errc::invalid_json: return "invalid JSON";
      case errc::unsupported_version: return "unsupported document version";
      case errc::duplicate_server: return "server id given twice";
      case errc::file_too_large: return "file too large";
      case errc::not_authenticated: return "provider not authenticated";
      case errc::no_matching_server: return "no server matches the request";
      case errc::unknown_server: return "unknown server";
      case errc::unknown_provider: return "unknown provider";
      case errc::duplicate_provider: return "provider name already registered";
      case errc::corrupt_cache: return "server cache file is corrupt";
    }
    return "unknown warren.provider error";
  }
};
}  // namespace detail

inline const std::error_category& error_category() noexcept {
  static const detail::provider_category category;
  return category;
}
inline std::error_code make_error_code(errc e) noexcept { return {static_cast<int>(e), error_category()}; }

// Where and why a file was refused. Never contains key material: a bad PrivateKey is reported
// by its line, not its value. A value type.
struct parse_error {
  std::error_code code;
  std::size_t line = 0;  // 1-based line of the file; 0 when the error has no line (a JSON field
                         // error names the field in `detail` instead)
  std::string detail;    // e.g. "AllowedIPs: '10.0.0.0/33' is not an IP prefix"

  // "wg0.conf:7: AllowedIPs: ..." with a source name, "line 7: ..." without one.
  std::string message(std::string_view source = {}) const {
    std::string out(source);
    if (line != 0) out += (source.empty() ? "line " : ":") + std::to_string(line);
    if (!out.empty()) out += ": ";
    return out + (detail.empty() ? code.message() : detail);
  }
  friend bool operator==(const parse_error&, const parse_error&) = default;
};

}  // namespace warren::provider

template <>
struct std::is_error_code_enum<warren::provider::errc> : std::true_type {};
