#include <warren/wireguard/adapters/crypto_workers.hpp>
#include <catch2/catch_test_macros.hpp>

#include <warren/crypto/fast_backend.hpp>

#include <cstddef>
#include <cstdint>
#include <random>
#include <vector>

// Helper threads must produce exactly what one thread would, for every batch, however the
// batches follow each other: thousands of batches of mixed sizes back to back, seals and opens,
// against a serial run of the same jobs.

using namespace warren;
using namespace warren::wireguard;

namespace {

struct batch {
  std::vector<std::vector<std::byte>> buffers;
  std::vector<crypto_job> jobs;
};

batch make_batch(std::mt19937_64& rng, const crypto::symmetric_key& key, std::size_t n) {
  batch b;
  b.buffers.resize(n);
  for (std::size_t i = 0; i < n; ++i) {
    std::size_t len = rng() % 1500;
    b.buffers[i].resize(len + crypto::tag_size);
    for (std::size_t k = 0; k < len; ++k) b.buffers[i][k] = static_cast<std::byte>(rng());
    b.jobs.push_back({&key, rng(), b.buffers[i].data(), len, true, false});
  }
  return b;
}

}  // namespace

TEST_CASE("crypto_workers give the serial result for every batch", "[wireguard]") {
  crypto::fast_backend own, reference;
  crypto::symmetric_key key;
  reference.random(mutable_byte_view(key.data(), key.size()));
  std::mt19937_64 rng(5);
  for (std::size_t helpers : {0u, 1u, 3u}) {
    CAPTURE(helpers);
    crypto_workers<crypto::fast_backend> workers(helpers, 1);
    CHECK(workers.helpers() == helpers);
    for (int round = 0; round < 400; ++round) {
      std::size_t n = rng() % 70;
      rng.seed(static_cast<std::uint64_t>(round) * 7919 + helpers);
      auto a = make_batch(rng, key, n);
      rng.seed(static_cast<std::uint64_t>(round) * 7919 + helpers);
      auto b = make_batch(rng, key, n);
      for (auto& j : a.jobs) run_crypto_job(reference, j);
      workers.run(b.jobs, own);
      REQUIRE(a.buffers == b.buffers);
      // And back: the sealed buffers open, and a flipped bit does not.
      for (auto& j : b.jobs) {
        j.seal = false;
        j.length += crypto::tag_size;
      }
      if (n > 0) b.buffers[0][0] ^= std::byte{1};
      workers.run(b.jobs, own);
      for (std::size_t i = 0; i < n; ++i) REQUIRE(b.jobs[i].ok == (i != 0));
      rng.seed(static_cast<std::uint64_t>(round) * 104729 + 1);  // the next round's size
    }
  }
}
