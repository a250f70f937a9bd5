#pragma once
// Small text helpers shared by the wg-quick parser, the server metadata comment and the JSON
// readers. ASCII only on purpose: the formats are ASCII, and a locale must not change how a
// config file reads.

#include <charconv>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

namespace warren::provider::detail {

// Server ids, regions, countries and cities longer than this are refused: they end up in UIs
// and log lines.
inline constexpr std::size_t max_name_size = 255;

constexpr bool is_space(char c) noexcept { return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f'; }
constexpr bool is_digit(char c) noexcept { return c >= '0' && c <= '9'; }
constexpr bool is_alpha(char c) noexcept { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
constexpr char to_lower(char c) noexcept { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

constexpr std::string_view trim(std::string_view s) noexcept {
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

constexpr bool iequals(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (to_lower(a[i]) != to_lower(b[i])) return false;
  return true;
}

inline std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = to_lower(c);
  return out;
}

// Comma-separated items, each trimmed. "a, b,c" gives {"a", "b", "c"}; an empty item (",,")
// stays in the list so the caller can report it.
inline std::vector<std::string_view> split_list(std::string_view s) {
  std::vector<std::string_view> out;
  while (true) {
    auto comma = s.find(',');
    out.push_back(trim(s.substr(0, comma)));
    if (comma == std::string_view::npos) break;
    s.remove_prefix(comma + 1);
  }
  return out;
}

// A decimal number of at most `max`; no sign, no spaces, leading zeros allowed.
inline std::optional<std::uint64_t> parse_decimal(std::string_view s, std::uint64_t max) noexcept {
  if (s.empty() || !is_digit(s.front())) return std::nullopt;
  std::uint64_t v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc{} || end != s.data() + s.size() || v > max) return std::nullopt;
  return v;
}

// A DNS name as a host or search domain: labels of letters, digits, '-' and '_' (seen in the
// wild), 1 to 63 characters each, 253 in all, an optional final dot. Nothing is resolved here.
inline bool is_hostname(std::string_view s) noexcept {
  if (!s.empty() && s.back() == '.') s.remove_suffix(1);
  if (s.empty() || s.size() > 253) return false;
  std::size_t label = 0;
  for (char c : s) {
    if (c == '.') {
      if (label == 0) return false;
      label = 0;
      continue;
    }
    if (!is_alpha(c) && !is_digit(c) && c != '-' && c != '_') return false;
    if (++label > 63) return false;
  }
  return label != 0;
}

// Quotes a value for an error message, cutting it short: a hostile file must not be able to
// make one log line megabytes long, or put a newline into it.
inline std::string quote_value(std::string_view s, std::size_t max = 64) {
  std::string out = "'";
  for (std::size_t i = 0; i < s.size() && i < max; ++i) {
    auto c = static_cast<unsigned char>(s[i]);
    out += (c < 0x20 || c == 0x7f) ? '?' : s[i];
  }
  if (s.size() > max) out += "...";
  return out + "'";
}

// The 1-based line that byte `offset` of `text` is on.
inline std::size_t line_of(std::string_view text, std::size_t offset) noexcept {
  std::size_t line = 1;
  for (std::size_t i = 0; i < offset && i < text.size(); ++i) line += text[i] == '\n';
  return line;
}

}  // namespace warren::provider::detail
