#pragma once
// The longest-prefix-match trie behind route::prefix_table (and so behind WireGuard's cryptokey
// routing): one address family's prefixes in a path-compressed trie of 16-way nodes.
//
// Linux allowedips.c and wireguard-go allowedips.go walk a binary trie, one address bit per node;
// taking four bits per node, with each node's short prefixes expanded into its slots, cuts a
// lookup in a table of 1000 prefixes from about 11 dependent loads to about 4. The trade is
// memory: a node is 16 slots wide (136 bytes for IPv4, 160 for IPv6). A lookup never allocates.
// Inserts and removals are for configuration time: they may allocate, and cost a walk of at
// most bits/4 nodes plus the work on one node.

#include <warren/core/bytes.hpp>
#include <warren/packet/ip_address.hpp>

#include <algorithm>
#include <array>
#include <bit>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <utility>
#include <vector>

namespace warren::route::detail {

__extension__ using uint128 = unsigned __int128;  // GCC and Clang; -Wpedantic would object without __extension__

// Bits of `a` and `b` that agree, counting from the most significant.
constexpr unsigned common_prefix_length(std::uint32_t a, std::uint32_t b) noexcept {
  return static_cast<unsigned>(std::countl_zero(a ^ b));
}
constexpr unsigned common_prefix_length(uint128 a, uint128 b) noexcept {
  const uint128 x = a ^ b;
  const auto high = static_cast<std::uint64_t>(x >> 64);
  if (high != 0) return static_cast<unsigned>(std::countl_zero(high));
  return 64 + static_cast<unsigned>(std::countl_zero(static_cast<std::uint64_t>(x)));
}

// True if the first `length` bits of `a` and `b` agree, for 1 <= length <= bits. Shifting out
// the rest compiles to straight-line code even for uint128, where counting leading zeros of two
// halves would branch on which half differs.
template <class Key>
constexpr bool same_prefix(Key a, Key b, unsigned length) noexcept {
  return static_cast<Key>((a ^ b) >> (sizeof(Key) * 8 - length)) == 0;
}

// One family's table: a path-compressed trie of 16-way nodes. Key is the address as a
// big-endian integer (uint32_t or uint128), so bit i on the wire is bit (bits - 1 - i) of the key.
//
// A node at depth d (a multiple of 4) splits on address bits [d, d+4). It stores the prefixes
// of length d to d+3 whose first d bits are its key, and, expanded into its 16 slots, the
// longest of them covering each slot, so a lookup reads one slot per node. A slot's child is a
// deeper node (whose depth may skip several nibbles nobody branches on) or a leaf: one prefix
// of length at least d+4, stored whole, where no other prefix shares its slot. Every node but
// the root has at least two entries (stored prefixes and children), so nodes are fewer than
// prefixes. IPv4 lookups visit at most 8 nodes and a leaf, typically 2 to 4.
template <class Key, class Value>
class prefix_trie {
 public:
  static constexpr unsigned bits = sizeof(Key) * 8;

  // The value of the longest stored prefix containing `address`, or null.
  const Value* lookup(Key address) const noexcept {
    if (nodes_.empty()) return nullptr;
    std::uint32_t best = none;
    const node* n = &nodes_[root];
    for (;;) {
      const slot& s = n->slots[nibble(address, n->depth)];
      best = s.best != none ? s.best : best;
      if (s.child == none) break;
      if (s.child & leaf_tag) {
        const leaf& l = leaves_[s.child & ~leaf_tag];
        if (same_prefix(address, l.key, l.length)) best = l.value;  // a leaf is never /0
        break;
      }
      n = &nodes_[s.child];
      if (!same_prefix(address, n->key, n->depth)) break;  // skipped bits differ; depth > 0 below the root
    }
    return best == none ? nullptr : &*values_[best];
  }

  // The value stored for exactly this prefix, or null. `key` has no bits past `length`.
  const Value* find(Key key, unsigned length) const noexcept {
    const std::uint32_t id = locate(key, length).value;
    return id == none ? nullptr : &*values_[id];
  }

  // Stores `value` for the prefix; true if the prefix is new, false if its value was replaced.
  // `key` has no bits past `length`, and length <= bits.
  bool insert(Key key, unsigned length, Value value) {
    if (nodes_.empty()) new_node(Key{0}, 0);
    std::uint32_t n = root;
    for (;;) {
      const unsigned depth = nodes_[n].depth;
      if (length < depth + stride) {
        const unsigned r = length - depth, i = heap_index(r, nibble(key, depth) >> (stride - r));
        if (const std::uint32_t id = heaps_[n][i]; id != none) {
          *values_[id] = std::move(value);
          return false;
        }
        heaps_[n][i] = new_value(std::move(value));
        refresh_slots(n, r, nibble(key, depth) >> (stride - r));
        ++count_;
        return true;
      }
      const unsigned o = nibble(key, depth);
      const std::uint32_t c = nodes_[n].slots[o].child;
      if (c == none) {
        const std::uint32_t l = new_leaf(key, length, new_value(std::move(value)));
        nodes_[n].slots[o].child = l | leaf_tag;
        ++count_;
        return true;
      }
      if (c & leaf_tag) {
        const leaf l = leaves_[c & ~leaf_tag];
        if (l.length == length && l.key == key) {
          *values_[l.value] = std::move(value);
          return false;
        }
        // Both go under a new node at the last nibble boundary they share; the loop then
        // places the new prefix beside the old one.
        const unsigned d = round_down(std::min({common_prefix_length(key, l.key), unsigned{l.length}, length}));
        const std::uint32_t m = new_node(keep(key, d), d);
        if (l.length < d + stride) {  // the old leaf becomes one of m's own prefixes
          const unsigned r = l.length - d, p = nibble(l.key, d) >> (stride - r);
          heaps_[m][heap_index(r, p)] = l.value;
          refresh_slots(m, r, p);
          free_leaf(c & ~leaf_tag);
        } else {
          nodes_[m].slots[nibble(l.key, d)].child = c;
        }
        nodes_[n].slots[o].child = m;
        n = m;
        continue;
      }
      const unsigned common = common_prefix_length(key, nodes_[c].key);
      if (length >= nodes_[c].depth && common >= nodes_[c].depth) {
        n = c;
        continue;
      }
      // The prefix leaves the skipped path above node c: put a node where they part.
      const unsigned d = round_down(std::min(common, length));
      const std::uint32_t m = new_node(keep(key, d), d);
      nodes_[m].slots[nibble(nodes_[c].key, d)].child = c;
      nodes_[n].slots[o].child = m;
      n = m;
    }
  }

  // Removes the prefix; false if it was not stored.
  bool erase(Key key, unsigned length) {
    const place at = locate(key, length);
    if (at.value == none) return false;
    free_value(at.value);
    --count_;
    const std::uint32_t n = at.path[at.depth - 1];
    if (at.leaf != none) {
      nodes_[n].slots[at.slot].child = none;
      free_leaf(at.leaf);
    } else {
      const unsigned r = length - nodes_[n].depth, p = nibble(key, nodes_[n].depth) >> (stride - r);
      heaps_[n][heap_index(r, p)] = none;
      refresh_slots(n, r, p);
    }
    // Restore "every node but the root has two entries", from the bottom up.
    for (unsigned k = at.depth - 1; k > 0; --k) {
      const std::uint32_t m = at.path[k];
      const std::uint32_t parent = at.path[k - 1];
      const unsigned o = nibble(nodes_[m].key, nodes_[parent].depth);
      const entry only = sole_entry(m);
      if (only.count >= 2) break;
      if (only.count == 0) {
        nodes_[parent].slots[o].child = none;  // the parent lost an entry: check it next
        free_node(m);
        continue;
      }
      if (only.child != none) {
        nodes_[parent].slots[o].child = only.child;
      } else {  // a lone prefix of m becomes a leaf in m's place
        const unsigned d = nodes_[m].depth;
        const Key k2 = only.r == 0 ? nodes_[m].key
                                   : static_cast<Key>(nodes_[m].key | static_cast<Key>(Key{only.p} << (bits - d - only.r)));
        nodes_[parent].slots[o].child = new_leaf(k2, d + only.r, only.value) | leaf_tag;
      }
      free_node(m);
      break;
    }
    if (count_ == 0) clear();
    return true;
  }

  // Calls f(key, length, value) for every stored prefix, in address order, shorter first.
  template <class F>
  void for_each(F&& f) const {
    if (!nodes_.empty()) visit(root, f);
  }

  void clear() noexcept {
    nodes_.clear();
    heaps_.clear();
    leaves_.clear();
    values_.clear();
    free_nodes_.clear();
    free_leaves_.clear();
    free_values_.clear();
    count_ = 0;
  }
  std::size_t size() const noexcept { return count_; }
  // Nodes and leaves in use, not counting the root; at most 2 * size().
  std::size_t node_count() const noexcept {
    const std::size_t nodes = nodes_.empty() ? 0 : nodes_.size() - free_nodes_.size() - 1;
    return nodes + leaves_.size() - free_leaves_.size();
  }

  // Keeps the first `length` bits of `key`.
  static constexpr Key keep(Key key, unsigned length) noexcept {
    return length == 0 ? Key{0} : static_cast<Key>(key & static_cast<Key>(~Key{0} << (bits - length)));
  }

 private:
  static constexpr unsigned stride = 4, fanout = 1u << stride;
  static constexpr std::uint32_t none = ~std::uint32_t{0};
  static constexpr std::uint32_t leaf_tag = std::uint32_t{1} << 31;  // a child index naming a leaf
  static constexpr std::uint32_t root = 0;

  struct slot {
    std::uint32_t child = none;  // a node, a leaf (| leaf_tag) or none
    std::uint32_t best = none;   // value of the longest prefix stored in this node covering the slot
  };
  struct node {
    Key key{};  // the first `depth` bits every address below shares; the rest are zero
    std::uint8_t depth = 0;
    slot slots[fanout];
  };
  struct leaf {
    Key key{};
    std::uint32_t value = none;
    std::uint8_t length = 0;
  };
  // A node's own prefixes: the value of the one of relative length r (0..3) whose r bits are p
  // sits at (1 << r) - 1 + p. Kept apart from the nodes, which lookups read.
  using heap = std::array<std::uint32_t, fanout - 1>;

  // Where locate() found a prefix: the nodes from the root down, and the leaf or node holding it.
  struct place {
    std::uint32_t path[bits / stride + 1];
    unsigned depth = 0;  // entries in path; the last holds the prefix or its leaf
    unsigned slot = 0;   // the slot of the last node whose child is the leaf
    std::uint32_t leaf = none;
    std::uint32_t value = none;  // none: not stored
  };
  struct entry {
    unsigned count = 0;  // entries of a node, counted up to 2
    std::uint32_t child = none, value = none;
    unsigned r = 0, p = 0;
  };

  static constexpr unsigned nibble(Key key, unsigned depth) noexcept {
    if constexpr (bits == 128) {
      // A nibble never straddles the halves: pick one, then shift 64 bits.
      const auto half = static_cast<std::uint64_t>(depth < 64 ? key >> 64 : key);
      return static_cast<unsigned>(half >> (60 - depth % 64)) & (fanout - 1);
    } else {
      return static_cast<unsigned>(key >> (bits - stride - depth)) & (fanout - 1);
    }
  }
  static constexpr unsigned heap_index(unsigned r, unsigned p) noexcept { return (1u << r) - 1 + p; }
  static constexpr unsigned round_down(unsigned length) noexcept { return length / stride * stride; }

  place locate(Key key, unsigned length) const noexcept {
    place at;
    if (nodes_.empty()) return at;
    std::uint32_t n = root;
    for (;;) {
      at.path[at.depth++] = n;
      const node& nd = nodes_[n];
      if (length < nd.depth + stride) {
        const unsigned r = length - nd.depth;
        at.value = heaps_[n][heap_index(r, nibble(key, nd.depth) >> (stride - r))];
        return at;
      }
      at.slot = nibble(key, nd.depth);
      const std::uint32_t c = nd.slots[at.slot].child;
      if (c == none) return at;
      if (c & leaf_tag) {
        const leaf& l = leaves_[c & ~leaf_tag];
        if (l.length == length && l.key == key) {
          at.leaf = c & ~leaf_tag;
          at.value = l.value;
        }
        return at;
      }
      if (length < nodes_[c].depth || common_prefix_length(key, nodes_[c].key) < nodes_[c].depth) return at;
      n = c;
    }
  }

  // Recomputes the best value of the slots under the node's prefix (r, p).
  void refresh_slots(std::uint32_t n, unsigned r, unsigned p) noexcept {
    const heap& h = heaps_[n];
    const unsigned width = fanout >> r;
    for (unsigned s = p * width; s < (p + 1) * width; ++s) {
      std::uint32_t best = none;
      for (unsigned rr = stride; rr-- > 0 && best == none;) best = h[heap_index(rr, s >> (stride - rr))];
      nodes_[n].slots[s].best = best;
    }
  }

  entry sole_entry(std::uint32_t n) const noexcept {
    entry e;
    for (unsigned s = 0; s < fanout && e.count < 2; ++s) {
      if (nodes_[n].slots[s].child != none) {
        ++e.count;
        e.child = nodes_[n].slots[s].child;
      }
    }
    for (unsigned r = 0; r < stride && e.count < 2; ++r) {
      for (unsigned p = 0; p < (1u << r) && e.count < 2; ++p) {
        if (const std::uint32_t id = heaps_[n][heap_index(r, p)]; id != none) {
          ++e.count;
          e.value = id;
          e.r = r;
          e.p = p;
        }
      }
    }
    return e;
  }

  std::uint32_t new_node(Key key, unsigned depth) {
    node fresh;
    fresh.key = key;
    fresh.depth = static_cast<std::uint8_t>(depth);
    heap empty;
    empty.fill(none);
    if (!free_nodes_.empty()) {
      const std::uint32_t i = free_nodes_.back();
      free_nodes_.pop_back();
      nodes_[i] = fresh;
      heaps_[i] = empty;
      return i;
    }
    nodes_.push_back(fresh);
    heaps_.push_back(empty);
    return static_cast<std::uint32_t>(nodes_.size() - 1);
  }
  void free_node(std::uint32_t i) { free_nodes_.push_back(i); }

  std::uint32_t new_leaf(Key key, unsigned length, std::uint32_t value) {
    const leaf fresh{key, value, static_cast<std::uint8_t>(length)};
    if (!free_leaves_.empty()) {
      const std::uint32_t i = free_leaves_.back();
      free_leaves_.pop_back();
      leaves_[i] = fresh;
      return i;
    }
    leaves_.push_back(fresh);
    return static_cast<std::uint32_t>(leaves_.size() - 1);
  }
  void free_leaf(std::uint32_t i) { free_leaves_.push_back(i); }

  std::uint32_t new_value(Value&& v) {
    if (!free_values_.empty()) {
      const std::uint32_t i = free_values_.back();
      free_values_.pop_back();
      values_[i].emplace(std::move(v));
      return i;
    }
    values_.emplace_back(std::move(v));
    return static_cast<std::uint32_t>(values_.size() - 1);
  }
  void free_value(std::uint32_t i) {
    values_[i].reset();
    free_values_.push_back(i);
  }

  // Pre-order, so a prefix comes before the longer ones it contains; within a slot, the node's
  // own prefixes (shorter) before the child.
  template <class F>
  void visit(std::uint32_t n, F& f) const {
    const unsigned d = nodes_[n].depth;
    for (unsigned s = 0; s < fanout; ++s) {
      for (unsigned r = 0; r < stride; ++r) {
        const unsigned width = fanout >> r;
        if (s % width != 0) continue;
        if (const std::uint32_t id = heaps_[n][heap_index(r, s / width)]; id != none) {
          const Key k = r == 0 ? nodes_[n].key
                               : static_cast<Key>(nodes_[n].key | static_cast<Key>(Key{s / width} << (bits - d - r)));
          f(k, d + r, *values_[id]);
        }
      }
      const std::uint32_t c = nodes_[n].slots[s].child;
      if (c == none) continue;
      if (c & leaf_tag) {
        const leaf& l = leaves_[c & ~leaf_tag];
        f(l.key, unsigned{l.length}, *values_[l.value]);
      } else {
        visit(c, f);
      }
    }
  }

  std::vector<node> nodes_;  // [root] is the depth-0 node once anything was inserted
  std::vector<heap> heaps_;  // beside nodes_
  std::vector<leaf> leaves_;
  std::vector<std::optional<Value>> values_;
  std::vector<std::uint32_t> free_nodes_, free_leaves_, free_values_;
  std::size_t count_ = 0;
};

inline std::uint32_t key_of(const packet::ipv4_address& a) noexcept { return a.to_uint(); }
inline uint128 key_of(const packet::ipv6_address& a) noexcept {
  const auto* p = reinterpret_cast<const std::byte*>(a.octets.data());
  return uint128{load_be<std::uint64_t>(p)} << 64 | load_be<std::uint64_t>(p + 8);
}
inline packet::ipv6_address ipv6_of(uint128 key) noexcept {
  packet::ipv6_address a;
  auto* p = reinterpret_cast<std::byte*>(a.octets.data());
  store_be(p, static_cast<std::uint64_t>(key >> 64));
  store_be(p + 8, static_cast<std::uint64_t>(key));
  return a;
}

}  // namespace warren::route::detail
