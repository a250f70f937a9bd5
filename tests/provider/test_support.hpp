#pragma once
// Shared by the provider tests: throwaway keys and a temporary directory that removes itself.

#include <warren/crypto/secret.hpp>
#include <warren/provider/detail/base64_key.hpp>
#include <warren/provider/endpoint.hpp>
#include <warren/provider/server.hpp>

#include <catch2/catch_test_macros.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <string>
#include <string_view>

namespace warren::provider::test {

// Random 32-byte keys made for these tests (python3 base64.b64encode(os.urandom(32))).
inline const std::string key_a = "+AXAtrxHANrYNKEPmS4o64pZVh/bh31EIarZXoazzhU=";
inline const std::string key_b = "k7EcDF0v5tq5hHg5d20OyXuJ6v4BaFgbVrCD33/Rysg=";
inline const std::string key_c = "8aTHexc78YUtmLu2ylDDmTEAornPIWSm5IgYOg5JIWo=";
inline const std::string key_d = "Msc8kB4GGfSTH9Aspi8L5VsiCRW2p/+dsEc/RWzZrSA=";
inline const std::string key_e = "J+l5K79xKuX/MVibgWwZexYTCZskwtgRu8hBFtz8YwE=";

inline crypto::public_key public_key(const std::string& base64) {
  auto k = detail::decode_public_key(base64);
  REQUIRE(k);
  return *k;
}
inline crypto::private_key private_key(const std::string& base64) {
  auto k = detail::decode_private_key(base64);
  REQUIRE(k);
  return *k;
}
inline packet::ip_prefix prefix(std::string_view text) {
  auto p = packet::ip_prefix::parse(text);
  REQUIRE(p);
  return *p;
}
inline endpoint ep(std::string_view text) {
  auto e = endpoint::parse(text);
  REQUIRE(e);
  return *e;
}

inline server make_server(std::string id, std::string region, std::string country, std::string city,
                          std::optional<std::uint8_t> load, const std::string& key = key_b) {
  server s;
  s.id = std::move(id);
  s.region = std::move(region);
  s.country = std::move(country);
  s.city = std::move(city);
  s.endpoint = ep("192.0.2.1:51820");
  s.public_key = public_key(key);
  s.load = load;
  return s;
}

// A fresh directory under the system's temp directory, removed with everything in it.
class temp_dir {
 public:
  temp_dir() {
    auto pattern = (std::filesystem::temp_directory_path() / "warren-provider-XXXXXX").string();
    REQUIRE(::mkdtemp(pattern.data()) != nullptr);
    path_ = pattern;
  }
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;
  ~temp_dir() {
    std::error_code ec;
    std::filesystem::permissions(path_, std::filesystem::perms::owner_all, std::filesystem::perm_options::add, ec);
    std::filesystem::remove_all(path_, ec);
  }
  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(std::string_view name) const { return path_ / name; }

 private:
  std::filesystem::path path_;
};

inline void write_text(const std::filesystem::path& file, std::string_view text) {
  std::ofstream out(file, std::ios::binary | std::ios::trunc);
  REQUIRE(out);
  out.write(text.data(), static_cast<std::streamsize>(text.size()));
  REQUIRE(out);
}

inline std::string read_text(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  REQUIRE(in);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

}  // namespace warren::provider::test
