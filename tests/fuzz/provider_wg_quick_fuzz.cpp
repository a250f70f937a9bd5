// Fuzz target for warren::provider::wg_quick and the "# warren:" metadata comment: any bytes go
// to parse(). What parses must write back to a canonical form that parses to the same config
// and writes the same text again; what fails must name a line of the input and say why.
#include <warren/provider/wg_quick.hpp>
#include <warren/provider/wg_quick_provider.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <source_location>
#include <string>
#include <string_view>

namespace {

namespace wg_quick = warren::provider::wg_quick;

void check(bool ok, std::source_location at = std::source_location::current()) {
  if (ok) return;
  std::fprintf(stderr, "fuzz invariant broken at %s:%u\n", at.file_name(), static_cast<unsigned>(at.line()));
  __builtin_trap();
}

std::size_t lines_in(std::string_view text) {
  std::size_t lines = 1;
  for (char c : text) lines += c == '\n';
  return lines;
}

void check_error(const warren::provider::parse_error& e, std::string_view input) {
  check(e.code.category() == warren::provider::error_category());
  check(e.line >= 1 && e.line <= lines_in(input));
  check(!e.detail.empty());
  check(e.detail.find('\n') == std::string::npos);  // one log line, whatever the input held
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view input{reinterpret_cast<const char*>(data), size};

  auto c = wg_quick::parse(input);
  if (!c) {
    check_error(c.error(), input);
  } else {
    auto text = wg_quick::write(*c);
    auto again = wg_quick::parse(text);
    check(again.has_value());
    check(*again == *c);
    check(wg_quick::write(*again) == text);
    check(wg_quick::check_writable(*c).has_value());
  }

  auto meta = warren::provider::parse_server_metadata(input);
  if (!meta) check_error(meta.error(), input);
  else check(meta->region.size() <= 255 && meta->city.size() <= 255 && (!meta->load || *meta->load <= 100));
  return 0;
}
