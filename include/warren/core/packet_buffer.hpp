#pragma once
// packet_buffer: one packet's bytes inside a larger block, with room left in front (headroom)
// and behind (tailroom), so a transport prepends its header and appends its tag in place:
//
//   storage: [ headroom | data ............ | tailroom ]
//            ^storage    ^data()      data()+size()    ^storage+capacity
//
// Ownership: a buffer owns its block. A block from the heap is freed on destruction; a block
// from a pool (see warren/buffer/packet_pool.hpp) goes back to its storage_owner, which must
// outlive it. Move-only; not thread-safe (hand a buffer between threads, don't share it).
// A default-constructed buffer has no block: capacity() == 0.

#include <warren/core/bytes.hpp>
#include <warren/core/error.hpp>
#include <warren/core/expected.hpp>

#include <cstddef>
#include <cstring>
#include <utility>

namespace warren {

// Where a packet_buffer returns its block. Implemented by pools.
class buffer_storage_owner {
 public:
  virtual void release_storage(std::byte* block) noexcept = 0;

 protected:
  ~buffer_storage_owner() = default;
};

class packet_buffer {
 public:
  // Room for the largest header a warren transport prepends (outer IPv6 + UDP + QUIC short
  // header + HTTP Datagram framing), and for an AEAD tag behind.
  static constexpr std::size_t default_headroom = 96;
  static constexpr std::size_t default_tailroom = 32;
  // Enough for a 1500-byte packet plus default head- and tailroom.
  static constexpr std::size_t default_capacity = 2048;

  packet_buffer() noexcept = default;

  // Adopts `block` of `capacity` bytes; data starts empty at offset `headroom`.
  packet_buffer(std::byte* block, std::size_t capacity, std::size_t headroom,
                buffer_storage_owner* owner) noexcept
      : block_(block), capacity_(capacity), head_(headroom < capacity ? headroom : capacity),
        tail_(head_), owner_(owner) {}

  // A heap block of `capacity` bytes (for tests, tools and cold paths; the datapath uses a pool).
  static packet_buffer allocate(std::size_t capacity = default_capacity,
                                std::size_t headroom = default_headroom) {
    return packet_buffer(new std::byte[capacity], capacity, headroom, nullptr);
  }
  // A heap buffer holding a copy of `bytes`, with default head- and tailroom around it.
  static packet_buffer copy_of(byte_view bytes, std::size_t headroom = default_headroom) {
    packet_buffer b = allocate(headroom + bytes.size() + default_tailroom, headroom);
    std::memcpy(b.block_ + b.head_, bytes.data(), bytes.size());
    b.tail_ = b.head_ + bytes.size();
    return b;
  }

  packet_buffer(packet_buffer&& o) noexcept
      : block_(std::exchange(o.block_, nullptr)), capacity_(std::exchange(o.capacity_, 0)),
        head_(std::exchange(o.head_, 0)), tail_(std::exchange(o.tail_, 0)),
        owner_(std::exchange(o.owner_, nullptr)) {}
  packet_buffer& operator=(packet_buffer&& o) noexcept {
    if (this != &o) {
      release();
      block_ = std::exchange(o.block_, nullptr);
      capacity_ = std::exchange(o.capacity_, 0);
      head_ = std::exchange(o.head_, 0);
      tail_ = std::exchange(o.tail_, 0);
      owner_ = std::exchange(o.owner_, nullptr);
    }
    return *this;
  }
  packet_buffer(const packet_buffer&) = delete;
  packet_buffer& operator=(const packet_buffer&) = delete;
  ~packet_buffer() { release(); }

  std::byte* data() noexcept { return block_ + head_; }
  const std::byte* data() const noexcept { return block_ + head_; }
  std::size_t size() const noexcept { return tail_ - head_; }
  bool empty() const noexcept { return tail_ == head_; }
  std::size_t capacity() const noexcept { return capacity_; }
  std::size_t headroom() const noexcept { return head_; }
  std::size_t tailroom() const noexcept { return capacity_ - tail_; }
  mutable_byte_view bytes() noexcept { return {data(), size()}; }
  byte_view bytes() const noexcept { return {data(), size()}; }
  // The free space behind the data, e.g. to read() into before commit().
  mutable_byte_view tail_space() noexcept { return {block_ + tail_, tailroom()}; }

  // Grows the data by n bytes in front and returns them (to be filled with a header).
  result<mutable_byte_view> prepend(std::size_t n) noexcept {
    if (n > head_) return unexpected(make_error_code(core::errc::no_headroom));
    head_ -= n;
    return mutable_byte_view{block_ + head_, n};
  }
  // Grows the data by n bytes behind and returns them (to be filled with a tag or payload).
  result<mutable_byte_view> append(std::size_t n) noexcept {
    if (n > tailroom()) return unexpected(make_error_code(core::errc::no_tailroom));
    std::byte* p = block_ + tail_;
    tail_ += n;
    return mutable_byte_view{p, n};
  }
  // Appends a copy of `bytes`.
  result<void> append(byte_view bytes) noexcept {
    auto room = append(bytes.size());
    if (!room) return unexpected(room.error());
    if (!bytes.empty()) std::memcpy(room->data(), bytes.data(), bytes.size());
    return {};
  }
  // Marks n bytes of tail_space() as data (after something wrote them there).
  result<void> commit(std::size_t n) noexcept {
    if (n > tailroom()) return unexpected(make_error_code(core::errc::no_tailroom));
    tail_ += n;
    return {};
  }
  // Drops n bytes from the front (a header that was parsed) or the back (a tag that was checked).
  result<void> trim_front(std::size_t n) noexcept {
    if (n > size()) return unexpected(make_error_code(core::errc::out_of_range));
    head_ += n;
    return {};
  }
  result<void> trim_back(std::size_t n) noexcept {
    if (n > size()) return unexpected(make_error_code(core::errc::out_of_range));
    tail_ -= n;
    return {};
  }
  // Sets the data size, keeping its start.
  result<void> resize(std::size_t n) noexcept {
    if (n > capacity_ - head_) return unexpected(make_error_code(core::errc::too_large));
    tail_ = head_ + n;
    return {};
  }
  // Empties the data and moves its start to `headroom` (clamped to the capacity).
  void reset(std::size_t headroom = default_headroom) noexcept {
    head_ = tail_ = headroom < capacity_ ? headroom : capacity_;
  }

 private:
  void release() noexcept {
    if (!block_) return;
    if (owner_) {
      owner_->release_storage(block_);
    } else {
      delete[] block_;
    }
    block_ = nullptr;
  }

  std::byte* block_ = nullptr;
  std::size_t capacity_ = 0;
  std::size_t head_ = 0;
  std::size_t tail_ = 0;
  buffer_storage_owner* owner_ = nullptr;
};

}  // namespace warren
