#pragma once
// memory_pair: two packet_devices joined back to back in memory, for tests and simulations.
// What one end writes the other reads, in order. Each direction is a bounded queue of
// `capacity` packets: write_batch takes fewer when it is full, as a real TUN would.
//
// Ownership: the pair's two ends share the queues (through a shared_ptr), so an end may be moved
// out of the pair and outlive it. Packets are copied in on write and out on read; all queue
// memory (capacity * mtu bytes a direction) is allocated up front, so the steady state does not
// allocate. Threads: each end is used by one thread at a time, but the two ends may run on
// different threads (each direction has its own mutex). Closing or destroying an end makes the
// other end's writes fail with errc::closed, and its reads fail with errc::closed once it has
// read what was already queued. A default-constructed or moved-from end is closed.

#include <warren/core/expected.hpp>
#include <warren/core/packet_buffer.hpp>
#include <warren/tun/error.hpp>
#include <warren/tun/packet_device.hpp>

#include <cstddef>
#include <cstring>
#include <memory>
#include <mutex>
#include <span>
#include <utility>
#include <vector>

namespace warren::tun {

namespace detail {
// One direction: a ring of fixed-size slots.
class packet_queue {
 public:
  packet_queue(std::size_t capacity, std::size_t mtu)
      : storage_(capacity * mtu), sizes_(capacity), mtu_(mtu) {}

  result<std::size_t> push(std::span<packet_buffer> batch) {
    std::lock_guard lock(mutex_);
    if (reader_closed_ || writer_closed_) return unexpected(make_error_code(errc::closed));
    std::size_t taken = 0;
    for (; taken < batch.size() && count_ < sizes_.size(); ++taken) {
      auto bytes = batch[taken].bytes();
      if (bytes.size() > mtu_) {
        if (taken == 0) return unexpected(make_error_code(errc::packet_too_large));
        break;
      }
      std::size_t slot = (head_ + count_) % sizes_.size();
      if (!bytes.empty()) std::memcpy(storage_.data() + slot * mtu_, bytes.data(), bytes.size());
      sizes_[slot] = bytes.size();
      ++count_;
    }
    return taken;
  }

  result<std::size_t> pop(std::span<packet_buffer> batch) {
    std::lock_guard lock(mutex_);
    std::size_t filled = 0;
    for (; filled < batch.size() && count_ > 0; ++filled) {
      packet_buffer& b = batch[filled];
      b.reset(b.headroom());
      if (b.tailroom() < mtu_) {
        if (filled == 0) return unexpected(make_error_code(errc::buffer_too_small));
        break;
      }
      auto copied = b.append(byte_view{storage_.data() + head_ * mtu_, sizes_[head_]});
      if (!copied) return unexpected(copied.error());  // unreachable: tailroom checked above
      head_ = (head_ + 1) % sizes_.size();
      --count_;
    }
    if (filled == 0 && writer_closed_) return unexpected(make_error_code(errc::closed));
    return filled;
  }

  std::size_t size() const {
    std::lock_guard lock(mutex_);
    return count_;
  }
  void close_writer() {
    std::lock_guard lock(mutex_);
    writer_closed_ = true;
  }
  void close_reader() {
    std::lock_guard lock(mutex_);
    reader_closed_ = true;
    count_ = 0;  // nobody will read them
  }

 private:
  mutable std::mutex mutex_;
  std::vector<std::byte> storage_;   // slot i holds bytes [i * mtu_, i * mtu_ + sizes_[i])
  std::vector<std::size_t> sizes_;
  std::size_t mtu_;
  std::size_t head_ = 0;
  std::size_t count_ = 0;
  bool writer_closed_ = false;
  bool reader_closed_ = false;
};

struct memory_link {
  memory_link(std::size_t capacity, std::size_t packet_mtu)
      : queues{{capacity, packet_mtu}, {capacity, packet_mtu}}, mtu(packet_mtu) {}
  packet_queue queues[2];  // queues[i] carries what end i writes
  std::size_t mtu;
};
}  // namespace detail

class memory_pair {
 public:
  static constexpr std::size_t default_capacity = 256;  // packets per direction
  static constexpr std::size_t default_mtu = 1500;

  class end {
   public:
    end() noexcept = default;
    end(end&& o) noexcept : link_(std::move(o.link_)), side_(o.side_) {}
    end& operator=(end&& o) noexcept {
      if (this != &o) {
        close();
        link_ = std::move(o.link_);
        side_ = o.side_;
      }
      return *this;
    }
    end(const end&) = delete;
    end& operator=(const end&) = delete;
    ~end() { close(); }

    result<std::size_t> read_batch(std::span<packet_buffer> batch) {
      if (!link_) return unexpected(make_error_code(errc::closed));
      return link_->queues[1 - side_].pop(batch);
    }
    result<std::size_t> write_batch(std::span<packet_buffer> batch) {
      if (!link_) return unexpected(make_error_code(errc::closed));
      return link_->queues[side_].push(batch);
    }
    std::size_t mtu() const noexcept { return link_ ? link_->mtu : 0; }
    // Packets waiting for this end to read.
    std::size_t pending() const { return link_ ? link_->queues[1 - side_].size() : 0; }
    // Ends this side: the peer reads what is queued and then gets errc::closed.
    void close() noexcept {
      if (!link_) return;
      link_->queues[side_].close_writer();
      link_->queues[1 - side_].close_reader();
      link_.reset();
    }

   private:
    friend class memory_pair;
    end(std::shared_ptr<detail::memory_link> link, std::size_t side) noexcept
        : link_(std::move(link)), side_(side) {}

    std::shared_ptr<detail::memory_link> link_;
    std::size_t side_ = 0;
  };

  // `capacity` packets may wait in each direction; packets up to `mtu` bytes pass.
  explicit memory_pair(std::size_t capacity = default_capacity, std::size_t mtu = default_mtu) {
    auto link = std::make_shared<detail::memory_link>(capacity == 0 ? 1 : capacity, mtu);
    first_ = end(link, 0);
    second_ = end(std::move(link), 1);
  }

  end& first() noexcept { return first_; }
  end& second() noexcept { return second_; }

 private:
  end first_;
  end second_;
};

static_assert(packet_device<memory_pair::end>);
static_assert(!pollable_device<memory_pair::end>);

}  // namespace warren::tun
