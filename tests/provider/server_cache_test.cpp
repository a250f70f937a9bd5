#include <warren/provider/server_cache.hpp>  // first: proves the header stands alone
#include <catch2/catch_test_macros.hpp>
#include <catch2/generators/catch_generators.hpp>
#include <catch2/matchers/catch_matchers_string.hpp>

#include "test_support.hpp"

#include <sys/resource.h>
#include <sys/stat.h>

#include <csignal>

#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

using namespace warren::provider;
using namespace warren::provider::test;
using namespace std::chrono_literals;
using Catch::Matchers::ContainsSubstring;

namespace {

const wall_time t0{std::chrono::sys_days{std::chrono::year{2025} / 3 / 1}};

std::vector<server> some_servers() {
  auto a = make_server("uk-1", "uk", "GB", "London", 20);
  a.allowed_ips = {prefix("0.0.0.0/0")};
  a.client_address = prefix("10.100.0.2/32");
  auto b = make_server("wg-file", "", "", "", {}, key_c);  // a wg-quick server without a region
  b.endpoint = ep("[2001:db8::1]:443");
  return {a, b};
}

std::size_t files_in(const std::filesystem::path& dir) {
  std::size_t n = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator(dir)) ++n;
  return n;
}

}  // namespace

TEST_CASE("server cache flags entries stale after their expiry", "[provider][cache]") {
  temp_dir dir;
  server_cache cache(dir / "cache.json");
  CHECK_FALSE(cache.find("json", t0));
  cache.store("json", some_servers(), t0, 1h);

  auto fresh = cache.find("json", t0 + 59min);
  REQUIRE(fresh);
  CHECK_FALSE(fresh->stale);
  CHECK(fresh->servers == some_servers());
  CHECK(fresh->fetched_at == t0);
  CHECK(fresh->expires_at == t0 + 1h);

  auto expired = cache.find("json", t0 + 1h);
  REQUIRE(expired);  // still returned: usable as a fallback
  CHECK(expired->stale);
  CHECK(expired->servers == some_servers());

  SECTION("a clock set back makes the entry stale too") { CHECK(cache.find("json", t0 - 1s)->stale); }
  SECTION("storing again refreshes") {
    cache.store("json", {}, t0 + 2h, 1h);
    auto e = cache.find("json", t0 + 2h + 30min);
    REQUIRE(e);
    CHECK_FALSE(e->stale);
    CHECK(e->servers.empty());
  }
  SECTION("entries are per provider") {
    cache.store("files", {some_servers()[1]}, t0, 10min);
    CHECK(cache.providers() == std::vector<std::string>{"files", "json"});
    CHECK(cache.find("files", t0 + 11min)->stale);
    CHECK_FALSE(cache.find("json", t0 + 11min)->stale);
    CHECK(cache.erase("files"));
    CHECK_FALSE(cache.erase("files"));
    CHECK_FALSE(cache.find("files", t0));
  }
}

TEST_CASE("server cache survives a restart through its file", "[provider][cache]") {
  temp_dir dir;
  auto file = dir / "cache.json";
  {
    server_cache cache(file);
    REQUIRE(cache.load());  // no file yet: an empty cache
    CHECK(cache.empty());
    cache.store("json", some_servers(), t0, 6h);
    cache.store("files", {}, t0 - 1h, 30min);
    REQUIRE(cache.save());
  }
  CHECK(files_in(dir.path()) == 1);  // no temporary file left behind
  struct stat st{};
  REQUIRE(::stat(file.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);

  server_cache restarted(file);
  CHECK_FALSE(restarted.find("json", t0));  // nothing until load()
  auto loaded = restarted.load();
  INFO((loaded ? std::string() : loaded.error().message("cache.json")));
  REQUIRE(loaded);
  auto json = restarted.find("json", t0 + 1h);
  REQUIRE(json);
  CHECK(json->servers == some_servers());
  CHECK(json->fetched_at == t0);
  CHECK(json->expires_at == t0 + 6h);
  CHECK_FALSE(json->stale);
  auto files = restarted.find("files", t0);
  REQUIRE(files);
  CHECK(files->servers.empty());
  CHECK(files->stale);  // expired before the restart, still expired after
  CHECK(restarted.text() == read_text(file));

  SECTION("saving again replaces the file") {
    restarted.erase("files");
    REQUIRE(restarted.save());
    server_cache again(file);
    REQUIRE(again.load());
    CHECK(again.providers() == std::vector<std::string>{"json"});
  }
}

TEST_CASE("a corrupt cache file is reported and never destroyed", "[provider][cache]") {
  temp_dir dir;
  auto file = dir / "cache.json";
  std::string good;
  {
    server_cache c(file);
    c.store("json", some_servers(), t0, 1h);
    good = c.text();
  }
  struct bad {
    const char* why;
    std::string text;
    errc code;
    const char* detail;
  };
  auto c = GENERATE_COPY(values<bad>({
      {"half written", good.substr(0, good.size() / 2), errc::corrupt_cache, "not valid JSON"},
      {"garbage", "\x7f" "ELF\x01\x02", errc::corrupt_cache, "not valid JSON"},
      {"empty", "", errc::corrupt_cache, "not valid JSON"},
      {"not an object", "[1, 2]", errc::corrupt_cache, "not a JSON object"},
      {"a newer version", R"({"version": 2, "providers": {}})", errc::unsupported_version, "version '2' is not 1"},
      {"no providers", R"({"version": 1})", errc::corrupt_cache, "providers: missing"},
      {"an entry without times", R"({"version": 1, "providers": {"json": {"servers": []}}})", errc::corrupt_cache,
       "providers['json'].fetched_at"},
      {"a time out of range", R"({"version": 1, "providers": {"json": {"fetched_at": 1, "expires_at": 1e30, "servers": []}}})",
       errc::corrupt_cache, "providers['json'].expires_at"},
      {"a bad server", R"({"version": 1, "providers": {"json": {"fetched_at": 1, "expires_at": 2, "servers": [{"id": "x"}]}}})",
       errc::corrupt_cache, "providers['json'].servers[0].endpoint: required"},
  }));
  INFO(c.why);
  write_text(file, c.text);

  server_cache cache(file);
  cache.store("files", {}, t0, 1h);  // what the app had before loading
  auto r = cache.load();
  REQUIRE_FALSE(r);
  CHECK(r.error().code == make_error_code(c.code));
  CHECK_THAT(r.error().detail, ContainsSubstring(c.detail));
  CHECK_THAT(r.error().message("cache.json"), ContainsSubstring("cache.json"));
  CHECK(read_text(file) == c.text);             // the file is left exactly as it was
  CHECK(cache.providers() == std::vector<std::string>{"files"});  // and so are the entries

  SECTION("the next save keeps the bad file aside") {
    REQUIRE(cache.save());
    auto aside = file;
    aside += ".corrupt";
    CHECK(read_text(aside) == c.text);
    server_cache again(file);
    REQUIRE(again.load());
    CHECK(again.providers() == std::vector<std::string>{"files"});
    SECTION("and a later save does not touch it again") {
      REQUIRE(again.save());
      CHECK(read_text(aside) == c.text);
    }
  }
}

TEST_CASE("an unreadable cache file is an error that leaves it alone", "[provider][cache]") {
  temp_dir dir;
  auto file = dir / "cache.json";
  SECTION("a directory where the file should be") {
    std::filesystem::create_directory(file);
    server_cache cache(file);
    auto r = cache.load();
    REQUIRE_FALSE(r);
    CHECK(r.error().code == std::errc::is_a_directory);
    CHECK(std::filesystem::is_directory(file));
  }
  SECTION("a file too large to be ours") {
    {
      std::ofstream out(file, std::ios::binary);
      out.seekp(static_cast<std::streamoff>(max_server_cache_size));  // sparse: cheap to make
      out.put('x');
    }
    server_cache cache(file);
    auto r = cache.load();
    REQUIRE_FALSE(r);
    CHECK(r.error().code == errc::file_too_large);
    CHECK(std::filesystem::file_size(file) == max_server_cache_size + 1);
  }
}

TEST_CASE("a failed save leaves the old cache in place", "[provider][cache]") {
  temp_dir dir;
  auto sub = dir / "state";
  std::filesystem::create_directory(sub);
  auto file = sub / "cache.json";
  server_cache cache(file);
  cache.store("json", some_servers(), t0, 1h);
  REQUIRE(cache.save());
  auto before = read_text(file);

  SECTION("the directory is gone") {
    server_cache elsewhere(dir / "missing" / "cache.json");
    elsewhere.store("json", {}, t0, 1h);
    auto r = elsewhere.save();
    REQUIRE_FALSE(r);
    CHECK(r.error() == std::errc::no_such_file_or_directory);
  }
  SECTION("a write fails half way (a full disk, here a file size limit, which binds root too)") {
    cache.store("json", std::vector<server>(50, some_servers()[0]), t0, 1h);  // more than the limit
    auto old_handler = std::signal(SIGXFSZ, SIG_IGN);  // so write() fails with EFBIG instead
    rlimit old_limit{};
    REQUIRE(::getrlimit(RLIMIT_FSIZE, &old_limit) == 0);
    rlimit small = old_limit;
    small.rlim_cur = 512;
    REQUIRE(::setrlimit(RLIMIT_FSIZE, &small) == 0);
    auto r = cache.save();
    ::setrlimit(RLIMIT_FSIZE, &old_limit);
    std::signal(SIGXFSZ, old_handler);
    REQUIRE_FALSE(r);
    CHECK(r.error() == std::errc::file_too_large);  // EFBIG
    CHECK(read_text(file) == before);
    CHECK(files_in(sub) == 1);  // the temporary file was removed
  }
  SECTION("the target is a directory") {
    std::filesystem::remove(file);
    std::filesystem::create_directories(file / "inside");
    auto r = cache.save();
    REQUIRE_FALSE(r);
    CHECK(std::filesystem::is_directory(file / "inside"));
    CHECK(files_in(sub) == 1);
  }
}
