#pragma once
// A zero-copy view of a DNS message (RFC 1035 §4), for a VPN router that watches the DNS
// answers flowing through it and learns which addresses a domain resolved to, so routing rules
// written against domains ("*.corp.example → tunnel") can be applied to IP packets.
//
// Trade-off: parse() validates the whole message up front (header, every question, every
// record in all three sections, every name and pointer, every rdata length) without allocating,
// so every accessor afterwards cannot fail. The accessors then decode again and allocate a
// std::string per name and a std::vector per section: this is a control-path parser, run once
// per DNS response, not once per packet.
//
// Names come out in presentation form: lowercase (RFC 4343: ASCII only), labels joined by
// dots, no trailing dot, "" for the root. Bytes that would make the text ambiguous or
// unprintable are escaped as in master files (RFC 1035 §5.1): "\." for a dot inside a label,
// "\\" for a backslash, "\DDD" (decimal) for bytes outside 0x21..0x7E. Two names are therefore
// equal exactly when their strings are.
//
// The view holds the caller's bytes: they must outlive it and every dns_record::rdata taken
// from it. Over TCP, strip the two-byte length prefix first (RFC 1035 §4.2.2). Bytes after the
// last record are ignored. Not thread-safe to share while the bytes change; a const view is
// safe to read from several threads.

#include <warren/core/bytes.hpp>
#include <warren/core/expected.hpp>
#include <warren/packet/error.hpp>
#include <warren/packet/ip_address.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <system_error>
#include <vector>

namespace warren::packet {

// RR TYPE values (RFC 1035 §3.2.2 and the RFCs named). Plain constants, not an enum: a record
// carries any 16-bit type and callers compare it with these.
namespace dns_type {
inline constexpr std::uint16_t a = 1;
inline constexpr std::uint16_t ns = 2;
inline constexpr std::uint16_t cname = 5;
inline constexpr std::uint16_t soa = 6;
inline constexpr std::uint16_t ptr = 12;
inline constexpr std::uint16_t mx = 15;
inline constexpr std::uint16_t txt = 16;
inline constexpr std::uint16_t aaaa = 28;   // RFC 3596 §2.1
inline constexpr std::uint16_t srv = 33;    // RFC 2782
inline constexpr std::uint16_t dname = 39;  // RFC 6672
inline constexpr std::uint16_t opt = 41;    // RFC 6891 §6.1.1, EDNS pseudo-record
inline constexpr std::uint16_t svcb = 64;   // RFC 9460
inline constexpr std::uint16_t https = 65;  // RFC 9460
inline constexpr std::uint16_t any = 255;   // RFC 1035 §3.2.3, QTYPE only
}  // namespace dns_type

namespace dns_class {
inline constexpr std::uint16_t in = 1;  // RFC 1035 §3.2.4
}  // namespace dns_class

namespace dns_opcode {
inline constexpr std::uint8_t query = 0;  // RFC 1035 §4.1.1
}  // namespace dns_opcode

// The 4-bit RCODE of the header (RFC 1035 §4.1.1). EDNS extends it with 8 more bits in the OPT
// record's TTL (RFC 6891 §6.1.3); rcode() does not combine them.
namespace dns_rcode {
inline constexpr std::uint8_t noerror = 0;
inline constexpr std::uint8_t formerr = 1;
inline constexpr std::uint8_t servfail = 2;
inline constexpr std::uint8_t nxdomain = 3;
inline constexpr std::uint8_t notimp = 4;
inline constexpr std::uint8_t refused = 5;
}  // namespace dns_rcode

inline constexpr std::size_t dns_header_size = 12;        // RFC 1035 §4.1.1
inline constexpr std::size_t dns_max_name_length = 255;   // RFC 1035 §3.1: length octets + labels
inline constexpr std::size_t dns_max_label_length = 63;   // RFC 1035 §2.3.4
// A name of 255 wire bytes holds at most 127 labels, and a real compressor reaches each label
// run with at most one pointer, so more jumps than that means a crafted message.
inline constexpr unsigned dns_max_pointer_jumps = 127;
// How many CNAMEs resolved_addresses() follows from a question name. Resolvers stop around
// here too (Unbound: 11 restarts, BIND: 16).
inline constexpr unsigned dns_max_cname_chain = 16;

struct dns_question {
  std::string name;
  std::uint16_t type = 0;
  std::uint16_t klass = 0;  // "class" is a keyword
};

// One resource record. rdata points into the message's bytes.
struct dns_record {
  std::string name;
  std::uint16_t type = 0;
  std::uint16_t klass = 0;
  std::uint32_t ttl = 0;  // as on the wire; for OPT it holds the extended RCODE and flags
  byte_view rdata;
  std::string target;  // CNAME only: the canonical name, decoded; empty for other types

  // The address of an A or AAAA record of class IN; nullopt for anything else. (A is defined
  // per class: in CHAOS its rdata is not an IPv4 address, RFC 1035 §3.4.1.)
  std::optional<ip_address> address() const noexcept {
    if (klass != dns_class::in) return std::nullopt;
    if (type == dns_type::a && rdata.size() == 4) return ip_address(ipv4_address::from_bytes(rdata.data()));
    if (type == dns_type::aaaa && rdata.size() == 16) return ip_address(ipv6_address::from_bytes(rdata.data()));
    return std::nullopt;
  }
};

namespace detail {

inline auto dns_error(errc e) { return warren::unexpected(make_error_code(e)); }

inline void append_dns_label(std::string& out, const std::byte* label, std::size_t length) {
  if (!out.empty()) out += '.';
  for (std::size_t i = 0; i < length; ++i) {
    auto c = load_u8(label + i);
    if (c >= 'A' && c <= 'Z') {
      out += static_cast<char>(c - 'A' + 'a');
    } else if (c == '.' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c <= 0x20 || c >= 0x7F) {
      out += '\\';
      out += static_cast<char>('0' + c / 100);
      out += static_cast<char>('0' + c / 10 % 10);
      out += static_cast<char>('0' + c % 10);
    } else {
      out += static_cast<char>(c);
    }
  }
}

// Reads the name starting at `at`, whose own bytes (labels up to and including the first
// pointer) must end by `end`: the message's end for owner names, the rdata's end for names in
// rdata. Appends the presentation form to `out` unless it is null, and returns the offset just
// past the name's own bytes.
//
// Loops are impossible rather than detected: a pointer must point strictly before the start of
// the run of labels it ends (the name's start, or the previous pointer's target), so each jump
// lands earlier than the last. Checking only "before the pointer itself" is not enough: a label
// followed by a pointer back to that label passes it and loops. Jumps are also capped, so a
// chain of pointers stepping back two bytes at a time cannot make parsing quadratic.
inline result<std::size_t> read_dns_name(byte_view msg, std::size_t at, std::size_t end, std::string* out) {
  std::size_t pos = at;
  std::size_t limit = end;          // the current run's bytes must end here
  std::size_t run_start = at;       // a pointer must point before this
  std::size_t after_name = 0;       // set at the first pointer: where the name's own bytes end
  std::size_t wire_length = 1;      // the root label's length octet
  unsigned jumps = 0;
  for (;;) {
    if (pos >= limit) return dns_error(errc::truncated);
    auto length = load_u8(msg.data() + pos);
    switch (length & 0xC0) {
      case 0x00: {
        if (length == 0) return jumps == 0 ? pos + 1 : after_name;
        if (limit - pos - 1 < length) return dns_error(errc::truncated);
        // 255 wire bytes also caps the labels at 127: each takes at least two.
        wire_length += 1u + length;
        if (wire_length > dns_max_name_length) return dns_error(errc::dns_bad_name);
        if (out) append_dns_label(*out, msg.data() + pos + 1, length);
        pos += 1u + length;
        break;
      }
      case 0xC0: {
        if (limit - pos < 2) return dns_error(errc::truncated);
        std::size_t target = (std::size_t{length} & 0x3Fu) << 8 | load_u8(msg.data() + pos + 1);
        // Into the header: no compressor writes that, and the bytes there are not labels.
        if (target < dns_header_size) return dns_error(errc::dns_bad_name);
        if (target >= run_start || ++jumps > dns_max_pointer_jumps) return dns_error(errc::dns_pointer_loop);
        if (jumps == 1) after_name = pos + 2;
        // Past the first pointer the labels live elsewhere in the message, not in the rdata.
        limit = msg.size();
        run_start = pos = target;
        break;
      }
      default:  // 0x40 (extended labels, deprecated by RFC 6891 §5) and 0x80 are reserved
        return dns_error(errc::dns_bad_name);
    }
  }
}

inline result<std::size_t> read_dns_question(byte_view msg, std::size_t at, dns_question* out) {
  auto name_end = read_dns_name(msg, at, msg.size(), out ? &out->name : nullptr);
  if (!name_end) return name_end;
  std::size_t pos = *name_end;
  if (msg.size() - pos < 4) return dns_error(errc::truncated);
  if (out) {
    out->type = load_be16(msg.data() + pos);
    out->klass = load_be16(msg.data() + pos + 2);
  }
  return pos + 4;
}

// Reads one resource record (RFC 1035 §4.1.3) and checks the rdata of the types whose contents
// the view interprets (A, AAAA, CNAME); other rdata is only checked to lie inside the message.
inline result<std::size_t> read_dns_record(byte_view msg, std::size_t at, dns_record* out) {
  auto name_end = read_dns_name(msg, at, msg.size(), out ? &out->name : nullptr);
  if (!name_end) return name_end;
  std::size_t pos = *name_end;
  if (msg.size() - pos < 10) return dns_error(errc::truncated);
  auto type = load_be16(msg.data() + pos);
  auto klass = load_be16(msg.data() + pos + 2);
  auto ttl = load_be32(msg.data() + pos + 4);
  std::size_t rdlength = load_be16(msg.data() + pos + 8);
  pos += 10;
  if (msg.size() - pos < rdlength) return dns_error(errc::dns_bad_record);
  std::size_t rdata_end = pos + rdlength;
  if (klass == dns_class::in && ((type == dns_type::a && rdlength != 4) || (type == dns_type::aaaa && rdlength != 16)))
    return dns_error(errc::dns_bad_record);
  std::string* target = out ? &out->target : nullptr;
  if (type == dns_type::cname) {
    // CNAME is class-independent (RFC 1035 §3.3.1). Its name must fill the rdata exactly; a
    // bad label or pointer keeps its own error, as it would in an owner name.
    auto target_end = read_dns_name(msg, pos, rdata_end, target);
    if (!target_end) {
      if (target_end.error() == errc::truncated) return dns_error(errc::dns_bad_record);
      return target_end;
    }
    if (*target_end != rdata_end) return dns_error(errc::dns_bad_record);
  }
  if (out) {
    out->type = type;
    out->klass = klass;
    out->ttl = ttl;
    out->rdata = msg.subspan(pos, rdlength);
  }
  return rdata_end;
}

}  // namespace detail

// A validated DNS message. Cheap to copy: a span and a few offsets. A default-constructed view
// is empty (all counts zero, no bytes); only parse() makes a useful one.
class dns_message_view {
 public:
  dns_message_view() = default;

  // Checks the header, every question and every record; on success no accessor can fail.
  // Errors: truncated (the header, a name, a question or a record's fixed part runs past the
  // end, including counts that claim more entries than are present), dns_bad_name,
  // dns_pointer_loop, dns_bad_record (rdata past the end, A/AAAA of the wrong size, a CNAME
  // whose name does not fill its rdata).
  static result<dns_message_view> parse(byte_view msg) {
    if (msg.size() < dns_header_size) return detail::dns_error(errc::truncated);
    dns_message_view v;
    v.msg_ = msg;
    std::size_t pos = dns_header_size;
    for (unsigned i = 0; i < v.question_count(); ++i) {
      auto next = detail::read_dns_question(msg, pos, nullptr);
      if (!next) return warren::unexpected(next.error());
      pos = *next;
    }
    std::size_t* starts[] = {&v.answers_at_, &v.authority_at_, &v.additional_at_};
    std::uint16_t counts[] = {v.answer_count(), v.authority_count(), v.additional_count()};
    for (std::size_t s = 0; s < 3; ++s) {
      *starts[s] = pos;
      for (unsigned i = 0; i < counts[s]; ++i) {
        auto next = detail::read_dns_record(msg, pos, nullptr);
        if (!next) return warren::unexpected(next.error());
        pos = *next;
      }
    }
    v.end_ = pos;
    return v;
  }

  // Header fields (RFC 1035 §4.1.1; AD and CD from RFC 4035 §3.2).
  std::uint16_t id() const noexcept { return field16(0); }
  bool is_response() const noexcept { return flag(2, 0x80); }
  std::uint8_t opcode() const noexcept { return static_cast<std::uint8_t>(byte_at(2) >> 3 & 0x0F); }
  bool is_authoritative() const noexcept { return flag(2, 0x04); }
  bool is_truncated() const noexcept { return flag(2, 0x02); }  // TC: retry over TCP for the rest
  bool recursion_desired() const noexcept { return flag(2, 0x01); }
  bool recursion_available() const noexcept { return flag(3, 0x80); }
  bool authentic_data() const noexcept { return flag(3, 0x20); }
  bool checking_disabled() const noexcept { return flag(3, 0x10); }
  std::uint8_t rcode() const noexcept { return static_cast<std::uint8_t>(byte_at(3) & 0x0F); }
  std::uint16_t question_count() const noexcept { return field16(4); }
  std::uint16_t answer_count() const noexcept { return field16(6); }
  std::uint16_t authority_count() const noexcept { return field16(8); }
  std::uint16_t additional_count() const noexcept { return field16(10); }

  // The message as given to parse(), and how much of it the header and records cover.
  byte_view bytes() const noexcept { return msg_; }
  std::size_t size() const noexcept { return end_; }

  std::vector<dns_question> questions() const {
    std::vector<dns_question> out(question_count());
    std::size_t pos = dns_header_size;
    for (auto& q : out) {
      // parse() read these same bytes with the same function, so this cannot fail.
      auto next = detail::read_dns_question(msg_, pos, &q);
      if (!next) break;
      pos = *next;
    }
    return out;
  }
  std::vector<dns_record> answers() const { return records(answers_at_, answer_count()); }
  std::vector<dns_record> authority() const { return records(authority_at_, authority_count()); }
  std::vector<dns_record> additional() const { return records(additional_at_, additional_count()); }

 private:
  std::uint8_t byte_at(std::size_t at) const noexcept { return msg_.empty() ? 0 : load_u8(msg_.data() + at); }
  bool flag(std::size_t at, std::uint8_t mask) const noexcept { return (byte_at(at) & mask) != 0; }
  std::uint16_t field16(std::size_t at) const noexcept { return msg_.empty() ? 0 : load_be16(msg_.data() + at); }

  std::vector<dns_record> records(std::size_t at, std::uint16_t count) const {
    std::vector<dns_record> out(count);
    for (auto& r : out) {
      auto next = detail::read_dns_record(msg_, at, &r);
      if (!next) break;
      at = *next;
    }
    return out;
  }

  byte_view msg_;
  std::size_t answers_at_ = 0;
  std::size_t authority_at_ = 0;
  std::size_t additional_at_ = 0;
  std::size_t end_ = 0;
};

// One thing a router learns from a response: `name` (the question's name) resolved to `address`,
// valid for `ttl` seconds.
struct dns_resolution {
  std::string name;
  ip_address address;
  std::uint32_t ttl = 0;
  friend bool operator==(const dns_resolution&, const dns_resolution&) = default;
};

// The addresses the question's name resolved to, following CNAMEs in the answer section:
// "www.example.com CNAME edge.cdn.net" + "edge.cdn.net A 192.0.2.7" yields
// {"www.example.com", 192.0.2.7}. Only A and AAAA records of class IN whose owner is the
// question name or a name reached from it by CNAMEs count: other records in the answer
// section prove nothing about the question, so a server cannot use them to claim addresses
// for names nobody asked about. A DNAME answer carries a synthesised CNAME (RFC 6672 §3.1),
// so it is followed too.
//
// The TTL is the smallest along the chain: the mapping lasts only as long as every link. A TTL
// with its top bit set counts as 0 (RFC 2181 §8). Empty unless the message is a standard query
// response with RCODE 0 and exactly one question of class IN (RFC 9619: a query has one
// question; allowing more would let one crafted response multiply the work and the output).
// A chain longer than dns_max_cname_chain or one that loops stops there, keeping what it
// found. Each answer is reported at most once, so the result is never longer than answers().
inline std::vector<dns_resolution> resolved_addresses(const dns_message_view& msg) {
  std::vector<dns_resolution> out;
  if (!msg.is_response() || msg.opcode() != dns_opcode::query || msg.rcode() != dns_rcode::noerror ||
      msg.question_count() != 1)
    return out;
  auto questions = msg.questions();
  const auto& question = questions.front();
  if (question.klass != dns_class::in) return out;
  auto answers = msg.answers();
  auto effective_ttl = [](std::uint32_t ttl) { return ttl > 0x7FFFFFFFu ? 0u : ttl; };
  std::vector<const std::string*> visited;
  const std::string* current = &question.name;
  std::uint32_t chain_ttl = 0xFFFFFFFFu;
  for (unsigned step = 0; step <= dns_max_cname_chain; ++step) {
    visited.push_back(current);
    const dns_record* next = nullptr;
    for (const auto& r : answers) {
      if (r.klass != dns_class::in || r.name != *current) continue;
      if (auto address = r.address()) {
        out.push_back({question.name, *address, std::min(chain_ttl, effective_ttl(r.ttl))});
      } else if (r.type == dns_type::cname && !next) {
        next = &r;  // a name has at most one CNAME (RFC 2181 §10.1); take the first
      }
    }
    if (!next) break;
    auto is_next = [&](const std::string* name) { return *name == next->target; };
    if (std::any_of(visited.begin(), visited.end(), is_next)) break;
    chain_ttl = std::min(chain_ttl, effective_ttl(next->ttl));
    current = &next->target;
  }
  return out;
}

}  // namespace warren::packet
