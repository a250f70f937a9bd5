#pragma once
// Internals of flow_queues: the per-flow FIFO.

#include <warren/core/packet_buffer.hpp>

#include <cstddef>
#include <utility>
#include <vector>

namespace warren::buffer {
namespace detail {

// A FIFO of packets in a power-of-two ring. Unlike std::deque it keeps its storage while
// packets pass through, so a flow that is pushed and popped at a steady rate does not allocate.
class packet_ring {
 public:
  bool empty() const noexcept { return size_ == 0; }
  std::size_t size() const noexcept { return size_; }
  std::size_t capacity() const noexcept { return slots_.size(); }

  void push_back(packet_buffer&& p) {
    if (size_ == slots_.size()) grow();
    slots_[(head_ + size_) & (slots_.size() - 1)] = std::move(p);
    ++size_;
  }
  // Precondition: !empty().
  packet_buffer pop_front() noexcept {
    packet_buffer p = std::move(slots_[head_]);
    head_ = (head_ + 1) & (slots_.size() - 1);
    --size_;
    return p;
  }
  // Releases the slots' storage too.
  void reset() noexcept {
    std::vector<packet_buffer>().swap(slots_);
    head_ = size_ = 0;
  }

 private:
  void grow() {
    std::vector<packet_buffer> bigger(slots_.empty() ? 4 : slots_.size() * 2);
    for (std::size_t i = 0; i < size_; ++i) bigger[i] = std::move(slots_[(head_ + i) & (slots_.size() - 1)]);
    slots_ = std::move(bigger);
    head_ = 0;
  }

  std::vector<packet_buffer> slots_;  // empty slots hold default (blockless) buffers
  std::size_t head_ = 0;
  std::size_t size_ = 0;
};

}  // namespace detail

}  // namespace warren::buffer
