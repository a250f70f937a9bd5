// Fuzz target for warren::packet::dns_message_view: parse anything, and when parse accepts,
// walk every accessor and resolved_addresses(). parse() promises the accessors cannot fail, so
// the walk also checks that they agree with the counts and stay inside the input.
#include <warren/packet/dns.hpp>

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace {

// Header reads go here so that an optimised build cannot drop them.
volatile std::uint64_t sink = 0;

void check(bool ok) {
  if (!ok) __builtin_trap();
}

void walk(const std::vector<warren::packet::dns_record>& records, std::size_t count, warren::byte_view msg) {
  check(records.size() == count);
  for (const auto& r : records) {
    check(r.name.size() <= 4 * warren::packet::dns_max_name_length);  // escapes take up to 4 chars a byte
    check(r.rdata.data() >= msg.data() && r.rdata.data() + r.rdata.size() <= msg.data() + msg.size());
    if (auto a = r.address()) check(a->bytes().size() == r.rdata.size());
    check(r.type == warren::packet::dns_type::cname || r.target.empty());
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto msg = std::as_bytes(std::span{data, size});
  auto parsed = warren::packet::dns_message_view::parse(msg);
  if (!parsed) return 0;
  const auto& m = *parsed;
  check(m.size() >= warren::packet::dns_header_size && m.size() <= size);
  sink = sink + m.id() + m.is_response() + m.opcode() + m.is_authoritative() + m.is_truncated() +
         m.recursion_desired() + m.recursion_available() + m.authentic_data() + m.checking_disabled() +
         m.rcode();
  auto questions = m.questions();
  check(questions.size() == m.question_count());
  walk(m.answers(), m.answer_count(), msg);
  walk(m.authority(), m.authority_count(), msg);
  walk(m.additional(), m.additional_count(), msg);
  for (const auto& r : warren::packet::resolved_addresses(m)) {
    bool asked = false;
    for (const auto& q : questions) asked = asked || q.name == r.name;
    check(asked);
    check(r.ttl <= 0x7FFFFFFFu);
  }
  return 0;
}
