#pragma once
// packet_pool: fixed-size blocks for packet_buffers, so the datapath does not call the heap
// once the pool is warm.
//
// Purpose: acquire() hands out a packet_buffer over one block; when the buffer is destroyed its
// block goes back to the pool (through buffer_storage_owner), not to the heap. The pool starts
// with initial_blocks, grows by grow_blocks whenever it runs empty, and stops at max_blocks;
// after that acquire() fails with errc::pool_exhausted until a buffer is released.
//
// Ownership: the pool owns every block. A handed-out buffer borrows one and points back to the
// pool, so the pool must outlive all its buffers (a debug build asserts this on destruction)
// and cannot be moved or copied.
//
// Thread-safety: none. Use one pool per thread or strand, and release a buffer on the thread
// that owns its pool: hand the buffer back (or to a queue drained by that thread) instead.
//
// Default state: 512 blocks of packet_buffer::default_capacity bytes allocated up front, room
// for 16384 (32 MiB), handed out with packet_buffer::default_headroom.
//
// Steady state does not allocate: the free list is reserved for max_blocks when the pool is
// built, so releasing and acquiring only push and pop pointers. Only growth allocates (a whole
// chunk at once), which is why initial_blocks should cover the usual load.

#include <warren/buffer/error.hpp>
#include <warren/core/expected.hpp>
#include <warren/core/packet_buffer.hpp>

#include <algorithm>
#include <cassert>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <new>
#include <system_error>
#include <vector>

namespace warren::buffer {

struct packet_pool_options {
  // Bytes per block, which is every handed-out buffer's capacity().
  std::size_t block_size = packet_buffer::default_capacity;
  // Blocks allocated when the pool is built.
  std::size_t initial_blocks = 512;
  // Blocks added at once when the pool runs empty (the last chunk may be smaller, to stop at
  // max_blocks).
  std::size_t grow_blocks = 512;
  // The pool never holds more; initial_blocks above it is lowered to it.
  std::size_t max_blocks = 16384;
  // Where data starts in a handed-out buffer (clamped to block_size).
  std::size_t headroom = packet_buffer::default_headroom;
};

// A snapshot of a pool's use, for metrics.
struct packet_pool_counters {
  std::size_t capacity = 0;     // blocks allocated so far (free + in use)
  std::size_t in_use = 0;       // blocks held by live buffers
  std::size_t high_water = 0;   // the most blocks ever in use at once
  std::uint64_t exhausted = 0;  // acquire() calls that failed
};

class packet_pool final : public buffer_storage_owner {
 public:
  // Blocks start on a cache line, so packet data at a 64-aligned headroom does as well.
  static constexpr std::size_t block_alignment = 64;

  // Allocates initial_blocks blocks; throws std::bad_alloc if the system has no memory for them.
  explicit packet_pool(packet_pool_options options = {})
      : block_size_(std::max<std::size_t>(options.block_size, 1)),
        stride_((block_size_ + block_alignment - 1) / block_alignment * block_alignment),
        headroom_(std::min(options.headroom, block_size_)),
        grow_blocks_(std::max<std::size_t>(options.grow_blocks, 1)),
        max_blocks_(options.max_blocks) {
    free_.reserve(max_blocks_);
    const std::size_t initial = std::min(options.initial_blocks, max_blocks_);
    const std::size_t later = max_blocks_ - initial;
    chunks_.reserve(1 + (later + grow_blocks_ - 1) / grow_blocks_);
    if (initial > 0 && !grow(initial)) throw std::bad_alloc();
  }

  // Outstanding buffers would return their blocks to freed memory, so none may be left.
  ~packet_pool() { assert(in_use_ == 0 && "packet_pool destroyed while buffers are outstanding"); }

  packet_pool(const packet_pool&) = delete;
  packet_pool& operator=(const packet_pool&) = delete;
  packet_pool(packet_pool&&) = delete;
  packet_pool& operator=(packet_pool&&) = delete;

  // An empty buffer over a free block, with headroom() bytes in front of its data. Fails with
  // errc::pool_exhausted when max_blocks are in use, or when growing was refused by the system.
  result<packet_buffer> acquire() noexcept {
    if (free_.empty() && !grow(std::min(grow_blocks_, max_blocks_ - capacity_))) {
      ++exhausted_;
      return unexpected(make_error_code(errc::pool_exhausted));
    }
    std::byte* block = free_.back();
    free_.pop_back();
    ++in_use_;
    high_water_ = std::max(high_water_, in_use_);
    return packet_buffer(block, block_size_, headroom_, this);
  }

  std::size_t block_size() const noexcept { return block_size_; }
  std::size_t headroom() const noexcept { return headroom_; }
  std::size_t max_blocks() const noexcept { return max_blocks_; }
  std::size_t available() const noexcept { return free_.size(); }
  packet_pool_counters counters() const noexcept { return {capacity_, in_use_, high_water_, exhausted_}; }

  // Whether `p` points into a block of this pool. Linear in the number of chunks; for checks.
  bool owns(const std::byte* p) const noexcept {
    std::less<const std::byte*> before;
    return std::any_of(chunks_.begin(), chunks_.end(), [&](const chunk& c) {
      return !before(p, c.storage.get()) && before(p, c.storage.get() + c.blocks * stride_);
    });
  }

 private:
  struct aligned_delete {
    void operator()(std::byte* p) const noexcept { ::operator delete[](p, std::align_val_t{block_alignment}); }
  };
  struct chunk {
    std::unique_ptr<std::byte[], aligned_delete> storage;
    std::size_t blocks = 0;
  };

  // Called by a buffer's destructor. Never allocates: free_ has room for max_blocks.
  void release_storage(std::byte* block) noexcept override {
    assert(in_use_ > 0 && owns(block) && "block released to a pool that did not hand it out");
    free_.push_back(block);
    --in_use_;
  }

  bool grow(std::size_t blocks) noexcept {
    if (blocks == 0) return false;
    auto* storage = static_cast<std::byte*>(
        ::operator new[](blocks * stride_, std::align_val_t{block_alignment}, std::nothrow));
    if (storage == nullptr) return false;
    // Cannot throw: chunks_ was reserved for the most chunks max_blocks can take.
    chunks_.push_back(chunk{std::unique_ptr<std::byte[], aligned_delete>(storage), blocks});
    // Pushed in reverse so the lowest address is handed out first.
    for (std::size_t i = blocks; i-- > 0;) free_.push_back(storage + i * stride_);
    capacity_ += blocks;
    return true;
  }

  std::size_t block_size_;
  std::size_t stride_;  // block_size_ rounded up to block_alignment
  std::size_t headroom_;
  std::size_t grow_blocks_;
  std::size_t max_blocks_;
  std::vector<chunk> chunks_;
  std::vector<std::byte*> free_;  // LIFO, so the block released last (still in cache) goes out first
  std::size_t capacity_ = 0;
  std::size_t in_use_ = 0;
  std::size_t high_water_ = 0;
  std::uint64_t exhausted_ = 0;
};

}  // namespace warren::buffer
