#include <warren/packet/dns.hpp>  // first: proves the header stands alone
#include <catch2/catch_test_macros.hpp>

#include <arpa/nameser.h>
#include <resolv.h>

#include <cstdint>
#include <span>
#include <string>
#include <vector>

using namespace warren::packet;

namespace {

using bytes = std::vector<std::uint8_t>;

warren::byte_view view(const bytes& b) { return std::as_bytes(std::span{b}); }
ip_address ip(const char* text) { return ip_address::parse(text).value(); }

std::error_code parse_error(const bytes& b) {
  auto r = dns_message_view::parse(view(b));
  REQUIRE_FALSE(r);
  return r.error();
}

void append(bytes& m, std::initializer_list<std::uint8_t> more) { m.insert(m.end(), more); }
void append_label(bytes& m, std::size_t length, char c) {
  m.push_back(static_cast<std::uint8_t>(length));
  m.insert(m.end(), length, static_cast<std::uint8_t>(c));
}

}  // namespace

TEST_CASE("dns view reads a query", "[packet][dns]") {
  const bytes query = {
      0x12, 0x34,                                      // id
      0x01, 0x00,                                      // flags: RD
      0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,  // 1 question, no records
      3, 'w', 'w', 'w', 7, 'E', 'x', 'a', 'm', 'p', 'l', 'e', 3, 'C', 'O', 'M', 0,
      0x00, 0x1C, 0x00, 0x01,  // AAAA, IN
  };
  auto msg = dns_message_view::parse(view(query));
  REQUIRE(msg);
  CHECK(msg->id() == 0x1234);
  CHECK_FALSE(msg->is_response());
  CHECK(msg->opcode() == dns_opcode::query);
  CHECK(msg->recursion_desired());
  CHECK_FALSE(msg->recursion_available());
  CHECK_FALSE(msg->is_truncated());
  CHECK(msg->rcode() == dns_rcode::noerror);
  CHECK(msg->question_count() == 1);
  CHECK(msg->answer_count() == 0);
  CHECK(msg->size() == query.size());
  auto questions = msg->questions();
  REQUIRE(questions.size() == 1);
  CHECK(questions[0].name == "www.example.com");  // lowercased, no trailing dot
  CHECK(questions[0].type == dns_type::aaaa);
  CHECK(questions[0].klass == dns_class::in);
  CHECK(msg->answers().empty());

  SECTION("bytes after the last record are ignored") {
    bytes padded = query;
    append(padded, {0, 0, 0});
    auto p = dns_message_view::parse(view(padded));
    REQUIRE(p);
    CHECK(p->size() == query.size());
    CHECK(p->bytes().size() == padded.size());
  }
}

TEST_CASE("dns view reads a response with A and AAAA answers", "[packet][dns]") {
  bytes response = {
      0xBE, 0xEF,                                      // id
      0x81, 0x80,                                      // flags: QR RD RA, RCODE 0
      0x00, 0x01, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00,  // 1 question, 2 answers
      7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 3, 'c', 'o', 'm', 0,  // offset 12
      0x00, 0x01, 0x00, 0x01,                                     // A, IN
      // answer at 29: example.com A 192.0.2.1, TTL 3600
      0xC0, 0x0C, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x0E, 0x10, 0x00, 0x04, 192, 0, 2, 1,
      // answer at 45: example.com AAAA 2001:db8::1, TTL 300
      0xC0, 0x0C, 0x00, 0x1C, 0x00, 0x01, 0x00, 0x00, 0x01, 0x2C, 0x00, 0x10,  //
      0x20, 0x01, 0x0D, 0xB8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1,
  };
  auto msg = dns_message_view::parse(view(response));
  REQUIRE(msg);
  CHECK(msg->is_response());
  CHECK(msg->recursion_available());
  CHECK(msg->answer_count() == 2);

  auto answers = msg->answers();
  REQUIRE(answers.size() == 2);
  CHECK(answers[0].name == "example.com");
  CHECK(answers[0].type == dns_type::a);
  CHECK(answers[0].ttl == 3600);
  CHECK(answers[0].rdata.size() == 4);
  CHECK(answers[0].address() == ip("192.0.2.1"));
  CHECK(answers[0].target.empty());
  CHECK(answers[1].name == "example.com");
  CHECK(answers[1].type == dns_type::aaaa);
  CHECK(answers[1].ttl == 300);
  CHECK(answers[1].address() == ip("2001:db8::1"));
  // rdata is a view into the caller's bytes, not a copy
  CHECK(answers[1].rdata.data() == view(response).data() + 57);

  CHECK(resolved_addresses(*msg) == std::vector<dns_resolution>{
                                         {"example.com", ip("192.0.2.1"), 3600},
                                         {"example.com", ip("2001:db8::1"), 300},
                                     });

  SECTION("a TTL with the top bit set counts as 0 (RFC 2181 §8)") {
    response[35] = 0x80;  // first answer's TTL: 0x80000E10
    auto m = dns_message_view::parse(view(response));
    REQUIRE(m);
    CHECK(m->answers()[0].ttl == 0x80000E10u);
    CHECK(resolved_addresses(*m).at(0).ttl == 0);
  }
  SECTION("nothing is learned from an error response") {
    response[3] = 0x83;  // RCODE 3, NXDOMAIN
    auto m = dns_message_view::parse(view(response));
    REQUIRE(m);
    CHECK(m->rcode() == dns_rcode::nxdomain);
    CHECK(resolved_addresses(*m).empty());
  }
  SECTION("nothing is learned from a query, even one carrying answers") {
    response[2] = 0x01;  // QR clear
    auto m = dns_message_view::parse(view(response));
    REQUIRE(m);
    CHECK(resolved_addresses(*m).empty());
  }
  SECTION("nothing is learned for a question of another class") {
    response[28] = 0x03;  // QCLASS CH
    auto m = dns_message_view::parse(view(response));
    REQUIRE(m);
    CHECK(resolved_addresses(*m).empty());
  }
  SECTION("nothing is learned from a message with two questions (RFC 9619)") {
    const bytes two = {
        0x00, 0x07, 0x81, 0x80, 0x00, 0x02, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00,
        1, 'a', 0, 0x00, 0x01, 0x00, 0x01,  // question at 12: a A IN
        1, 'b', 0, 0x00, 0x01, 0x00, 0x01,  // question at 19: b A IN
        0xC0, 0x0C, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x00, 0x3C, 0x00, 0x04, 192, 0, 2, 1,
    };
    auto m = dns_message_view::parse(view(two));
    REQUIRE(m);
    CHECK(m->questions().size() == 2);
    CHECK(m->answers().at(0).address() == ip("192.0.2.1"));
    CHECK(resolved_addresses(*m).empty());
  }
  SECTION("flags") {
    response[2] = 0x87;  // QR AA TC RD
    response[3] = 0x30;  // AD CD
    auto m = dns_message_view::parse(view(response));
    REQUIRE(m);
    CHECK(m->is_authoritative());
    CHECK(m->is_truncated());
    CHECK_FALSE(m->recursion_available());
    CHECK(m->authentic_data());
    CHECK(m->checking_disabled());
  }
}

TEST_CASE("dns view follows compression pointers, including pointers to pointers", "[packet][dns]") {
  const bytes response = {
      0x00, 0x01, 0x81, 0x80, 0x00, 0x01, 0x00, 0x03, 0x00, 0x00, 0x00, 0x00,
      // question at 12: mail.example.com A IN; "example" starts at 17 (0x11)
      4, 'm', 'a', 'i', 'l', 7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 3, 'c', 'o', 'm', 0, 0x00, 0x01, 0x00, 0x01,
      // answer at 34: name is a pointer to the question
      0xC0, 0x0C, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x00, 0x3C, 0x00, 0x04, 192, 0, 2, 10,
      // answer at 50: "www" + pointer to "example.com" in the question
      3, 'w', 'w', 'w', 0xC0, 0x11, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x00, 0x3C, 0x00, 0x04, 192, 0, 2, 11,
      // answer at 70: "ftp" + pointer to 50, which itself ends in a pointer to 17
      3, 'f', 't', 'p', 0xC0, 0x32, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x00, 0x3C, 0x00, 0x04, 192, 0, 2, 12,
  };
  auto msg = dns_message_view::parse(view(response));
  REQUIRE(msg);
  CHECK(msg->size() == response.size());
  auto answers = msg->answers();
  REQUIRE(answers.size() == 3);
  CHECK(answers[0].name == "mail.example.com");
  CHECK(answers[1].name == "www.example.com");
  CHECK(answers[2].name == "ftp.www.example.com");
  CHECK(answers[2].address() == ip("192.0.2.12"));
  // Only records for the question's name count.
  CHECK(resolved_addresses(*msg) == std::vector<dns_resolution>{{"mail.example.com", ip("192.0.2.10"), 60}});
}

TEST_CASE("dns names are lowercased and escaped; the root is empty", "[packet][dns]") {
  const bytes response = {
      0x00, 0x02, 0x81, 0x80, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01,
      // question: labels "A.b", "\" + 0x07, "Xy " : a dot and a backslash inside labels, two
      // unprintable bytes
      3, 'A', '.', 'b', 2, '\\', 0x07, 3, 'X', 'y', ' ', 0, 0x00, 0x10, 0x00, 0x01,
      // additional: EDNS OPT on the root name, UDP size 1232, no options
      0, 0x00, 0x29, 0x04, 0xD0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
  };
  auto msg = dns_message_view::parse(view(response));
  REQUIRE(msg);
  auto questions = msg->questions();
  REQUIRE(questions.size() == 1);
  CHECK(questions[0].name == R"(a\.b.\\\007.xy\032)");
  CHECK(questions[0].type == dns_type::txt);
  auto additional = msg->additional();
  REQUIRE(additional.size() == 1);
  CHECK(additional[0].name.empty());
  CHECK(additional[0].type == dns_type::opt);
  CHECK(additional[0].klass == 1232);
  CHECK(additional[0].rdata.empty());
  CHECK(msg->authority().empty());
}

TEST_CASE("dns view follows CNAME chains to the question's addresses", "[packet][dns]") {
  SECTION("www.example.com CNAME edge.cdn.net; edge.cdn.net A 192.0.2.7") {
    const bytes response = {
        0x00, 0x03, 0x81, 0x80, 0x00, 0x01, 0x00, 0x03, 0x00, 0x00, 0x00, 0x00,
        // question at 12: www.example.com A IN; "example" at 16 (0x10)
        3, 'w', 'w', 'w', 7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 3, 'c', 'o', 'm', 0, 0x00, 0x01, 0x00, 0x01,
        // answer at 33: www.example.com CNAME edge.cdn.net, TTL 300; rdata at 45 (0x2D)
        0xC0, 0x0C, 0x00, 0x05, 0x00, 0x01, 0x00, 0x00, 0x01, 0x2C, 0x00, 0x0E,  //
        4, 'e', 'd', 'g', 'e', 3, 'c', 'd', 'n', 3, 'n', 'e', 't', 0,
        // answer at 59: edge.cdn.net (pointer into the CNAME's rdata) A 192.0.2.7, TTL 60
        0xC0, 0x2D, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x00, 0x3C, 0x00, 0x04, 192, 0, 2, 7,
        // answer at 75: other.example.com A 198.51.100.1: not on the chain
        5, 'o', 't', 'h', 'e', 'r', 0xC0, 0x10, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x00, 0x3C, 0x00, 0x04,  //
        198, 51, 100, 1,
    };
    auto msg = dns_message_view::parse(view(response));
    REQUIRE(msg);
    auto answers = msg->answers();
    REQUIRE(answers.size() == 3);
    CHECK(answers[0].type == dns_type::cname);
    CHECK(answers[0].target == "edge.cdn.net");
    CHECK_FALSE(answers[0].address());
    CHECK(answers[1].name == "edge.cdn.net");
    CHECK(answers[1].target.empty());
    CHECK(answers[2].name == "other.example.com");
    // The TTL is the chain's smallest.
    CHECK(resolved_addresses(*msg) == std::vector<dns_resolution>{{"www.example.com", ip("192.0.2.7"), 60}});
  }

  SECTION("two hops with compressed CNAME targets") {
    const bytes response = {
        0x00, 0x04, 0x81, 0x80, 0x00, 0x01, 0x00, 0x03, 0x00, 0x00, 0x00, 0x00,
        // question at 12: www.example.com AAAA IN; "example" at 16 (0x10)
        3, 'w', 'w', 'w', 7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 3, 'c', 'o', 'm', 0, 0x00, 0x1C, 0x00, 0x01,
        // answer at 33: www.example.com CNAME a.example.com ("a" + pointer), TTL 300; rdata at 45
        0xC0, 0x0C, 0x00, 0x05, 0x00, 0x01, 0x00, 0x00, 0x01, 0x2C, 0x00, 0x04, 1, 'a', 0xC0, 0x10,
        // answer at 49: a.example.com CNAME b.example.com, TTL 50; rdata at 61 (0x3D)
        0xC0, 0x2D, 0x00, 0x05, 0x00, 0x01, 0x00, 0x00, 0x00, 0x32, 0x00, 0x04, 1, 'b', 0xC0, 0x10,
        // answer at 65: b.example.com AAAA 2001:db8::7, TTL 100
        0xC0, 0x3D, 0x00, 0x1C, 0x00, 0x01, 0x00, 0x00, 0x00, 0x64, 0x00, 0x10,  //
        0x20, 0x01, 0x0D, 0xB8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 7,
    };
    auto msg = dns_message_view::parse(view(response));
    REQUIRE(msg);
    auto answers = msg->answers();
    REQUIRE(answers.size() == 3);
    CHECK(answers[0].target == "a.example.com");
    CHECK(answers[1].name == "a.example.com");
    CHECK(answers[1].target == "b.example.com");
    CHECK(answers[2].name == "b.example.com");
    CHECK(resolved_addresses(*msg) == std::vector<dns_resolution>{{"www.example.com", ip("2001:db8::7"), 50}});
  }

  SECTION("a CNAME loop stops without repeating addresses") {
    const bytes response = {
        0x00, 0x05, 0x81, 0x80, 0x00, 0x01, 0x00, 0x03, 0x00, 0x00, 0x00, 0x00,
        1, 'a', 0, 0x00, 0x01, 0x00, 0x01,  // question at 12: a A IN
        // answer at 19: a CNAME b; rdata at 31 (0x1F)
        0xC0, 0x0C, 0x00, 0x05, 0x00, 0x01, 0x00, 0x00, 0x00, 0x3C, 0x00, 0x03, 1, 'b', 0,
        // answer at 34: b CNAME a
        0xC0, 0x1F, 0x00, 0x05, 0x00, 0x01, 0x00, 0x00, 0x00, 0x3C, 0x00, 0x02, 0xC0, 0x0C,
        // answer at 48: a A 192.0.2.1
        0xC0, 0x0C, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x00, 0x3C, 0x00, 0x04, 192, 0, 2, 1,
    };
    auto msg = dns_message_view::parse(view(response));
    REQUIRE(msg);
    CHECK(msg->answers().at(1).target == "a");
    CHECK(resolved_addresses(*msg) == std::vector<dns_resolution>{{"a", ip("192.0.2.1"), 60}});
  }
}

TEST_CASE("dns CNAME chains are followed for a bounded number of steps", "[packet][dns]") {
  // c0 CNAME c1, c1 CNAME c2, ..., c<hops-1> CNAME c<hops>, c<hops> A 192.0.2.9; no compression.
  auto chain = [](unsigned hops) {
    auto name = [](bytes& m, unsigned i) {
      auto label = "c" + std::to_string(i);
      m.push_back(static_cast<std::uint8_t>(label.size()));
      m.insert(m.end(), label.begin(), label.end());
      m.push_back(0);
    };
    bytes m = {0x00, 0x06, 0x81, 0x80, 0x00, 0x01, 0x00, static_cast<std::uint8_t>(hops + 1), 0, 0, 0, 0};
    name(m, 0);
    append(m, {0x00, 0x01, 0x00, 0x01});
    for (unsigned i = 0; i < hops; ++i) {
      name(m, i);
      auto target = std::to_string(i + 1);
      append(m, {0x00, 0x05, 0x00, 0x01, 0x00, 0x00, 0x00, 0x3C, 0x00, static_cast<std::uint8_t>(target.size() + 3)});
      name(m, i + 1);
    }
    name(m, hops);
    append(m, {0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x00, 0x3C, 0x00, 0x04, 192, 0, 2, 9});
    return m;
  };
  SECTION("as many CNAMEs as the bound: resolved") {
    auto m = chain(dns_max_cname_chain);
    auto msg = dns_message_view::parse(view(m));
    REQUIRE(msg);
    CHECK(resolved_addresses(*msg) == std::vector<dns_resolution>{{"c0", ip("192.0.2.9"), 60}});
  }
  SECTION("one more: given up") {
    auto m = chain(dns_max_cname_chain + 1);
    auto msg = dns_message_view::parse(view(m));
    REQUIRE(msg);
    CHECK(msg->answers().size() == dns_max_cname_chain + 2);
    CHECK(resolved_addresses(*msg).empty());
  }
}

TEST_CASE("dns view rejects malformed messages", "[packet][dns]") {
  SECTION("truncated header") {
    // 11 of the 12 header bytes
    CHECK(parse_error({0x12, 0x34, 0x81, 0x80, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00}) == errc::truncated);
    CHECK(parse_error({}) == errc::truncated);
  }
  SECTION("truncated question") {
    // QCLASS is missing its second byte
    CHECK(parse_error({0, 1, 0x01, 0, 0, 1, 0, 0, 0, 0, 0, 0, 1, 'a', 0, 0x00, 0x01, 0x00}) == errc::truncated);
  }
  SECTION("a label running past the end") {
    // the label claims 7 bytes, 3 are there
    CHECK(parse_error({0, 1, 0x01, 0, 0, 1, 0, 0, 0, 0, 0, 0, 7, 'e', 'x', 'a'}) == errc::truncated);
  }
  SECTION("a name without its terminating root label") {
    CHECK(parse_error({0, 1, 0x01, 0, 0, 1, 0, 0, 0, 0, 0, 0, 1, 'a'}) == errc::truncated);
  }
  SECTION("a pointer to itself") {
    // answer at 19 whose name is a pointer to 19
    CHECK(parse_error({0, 1, 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0, 1, 'a', 0, 0, 1, 0, 1,  //
                       0xC0, 0x13, 0, 1, 0, 1, 0, 0, 0, 0, 0, 4, 1, 2, 3, 4}) == errc::dns_pointer_loop);
  }
  SECTION("two pointers pointing at each other") {
    // answer at 19: pointer to 21, which holds a pointer back to 19
    CHECK(parse_error({0, 1, 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0, 1, 'a', 0, 0, 1, 0, 1,  //
                       0xC0, 0x15, 0xC0, 0x13, 0, 1, 0, 0, 0, 0, 0, 4, 1, 2, 3, 4}) == errc::dns_pointer_loop);
  }
  SECTION("a label followed by a pointer back to that label") {
    // the pointer at 21 points before itself, yet following it reaches it again
    CHECK(parse_error({0, 1, 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0, 1, 'a', 0, 0, 1, 0, 1,  //
                       1, 'x', 0xC0, 0x13, 0, 1, 0, 1, 0, 0, 0, 0, 0, 4, 1, 2, 3, 4}) == errc::dns_pointer_loop);
  }
  SECTION("a forward pointer") {
    // answer at 19 points at 31, its own CNAME target: a valid name, but ahead of the pointer
    CHECK(parse_error({0, 1, 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0, 1, 'a', 0, 0, 1, 0, 1,  //
                       0xC0, 0x1F, 0, 5, 0, 1, 0, 0, 0, 0, 0, 3, 1, 'b', 0}) == errc::dns_pointer_loop);
  }
  SECTION("a pointer into the header") {
    CHECK(parse_error({0, 1, 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0, 1, 'a', 0, 0, 1, 0, 1,  //
                       0xC0, 0x04, 0, 1, 0, 1, 0, 0, 0, 0, 0, 4, 1, 2, 3, 4}) == errc::dns_bad_name);
  }
  SECTION("a name longer than 255 bytes") {
    // 4 labels of 63: 4 * 64 + 1 = 257 bytes
    bytes m = {0, 1, 0x01, 0, 0, 1, 0, 0, 0, 0, 0, 0};
    for (int i = 0; i < 4; ++i) append_label(m, 63, 'a');
    append(m, {0, 0, 1, 0, 1});
    CHECK(parse_error(m) == errc::dns_bad_name);
  }
  SECTION("too many labels") {
    // 128 labels of one byte: 257 bytes
    bytes m = {0, 1, 0x01, 0, 0, 1, 0, 0, 0, 0, 0, 0};
    for (int i = 0; i < 128; ++i) append_label(m, 1, 'a');
    append(m, {0, 0, 1, 0, 1});
    CHECK(parse_error(m) == errc::dns_bad_name);
  }
  SECTION("a name that passes 255 bytes only after a pointer") {
    // question of 3 * 64 + 51 + 1 = 244 bytes; the answer adds a 20-byte label in front: 265
    bytes m = {0, 1, 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0};
    for (int i = 0; i < 3; ++i) append_label(m, 63, 'a');
    append_label(m, 50, 'b');
    append(m, {0, 0, 1, 0, 1});
    append_label(m, 20, 'c');
    append(m, {0xC0, 0x0C, 0, 1, 0, 1, 0, 0, 0, 0, 0, 4, 1, 2, 3, 4});
    CHECK(parse_error(m) == errc::dns_bad_name);
  }
  SECTION("reserved label types") {
    // 0x40 (extended label) and 0x80 in the top bits of a length octet
    CHECK(parse_error({0, 1, 0x01, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0x41, 'a', 0, 0, 1, 0, 1}) == errc::dns_bad_name);
    CHECK(parse_error({0, 1, 0x01, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0x81, 'a', 0, 0, 1, 0, 1}) == errc::dns_bad_name);
  }
  SECTION("an A record with 5 bytes of rdata") {
    CHECK(parse_error({0, 1, 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0, 1, 'a', 0, 0, 1, 0, 1,  //
                       0xC0, 0x0C, 0, 1, 0, 1, 0, 0, 0, 0, 0, 5, 1, 2, 3, 4, 5}) == errc::dns_bad_record);
  }
  SECTION("an AAAA record with 4 bytes of rdata") {
    CHECK(parse_error({0, 1, 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0, 1, 'a', 0, 0, 1, 0, 1,  //
                       0xC0, 0x0C, 0, 28, 0, 1, 0, 0, 0, 0, 0, 4, 1, 2, 3, 4}) == errc::dns_bad_record);
  }
  SECTION("rdata length past the end") {
    // rdlength 10, 3 bytes follow
    CHECK(parse_error({0, 1, 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0, 1, 'a', 0, 0, 1, 0, 1,  //
                       0xC0, 0x0C, 0xFF, 0x00, 0, 1, 0, 0, 0, 0, 0, 10, 1, 2, 3}) == errc::dns_bad_record);
  }
  SECTION("a record's fixed fields cut short") {
    CHECK(parse_error({0, 1, 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0, 1, 'a', 0, 0, 1, 0, 1,  //
                       0xC0, 0x0C, 0, 1, 0, 1, 0, 0}) == errc::truncated);
  }
  SECTION("counts larger than the records present") {
    // 2 questions claimed, 1 present
    CHECK(parse_error({0, 1, 0x01, 0, 0, 2, 0, 0, 0, 0, 0, 0, 1, 'a', 0, 0, 1, 0, 1}) == errc::truncated);
    // 2 answers claimed, 1 present
    CHECK(parse_error({0, 1, 0x81, 0x80, 0, 1, 0, 2, 0, 0, 0, 0, 1, 'a', 0, 0, 1, 0, 1,  //
                       0xC0, 0x0C, 0, 1, 0, 1, 0, 0, 0, 0, 0, 4, 1, 2, 3, 4}) == errc::truncated);
    // 1 authority record claimed, none present
    CHECK(parse_error({0, 1, 0x81, 0x80, 0, 1, 0, 0, 0, 1, 0, 0, 1, 'a', 0, 0, 1, 0, 1}) == errc::truncated);
    // 1 additional record claimed, none present
    CHECK(parse_error({0, 1, 0x81, 0x80, 0, 1, 0, 0, 0, 0, 0, 1, 1, 'a', 0, 0, 1, 0, 1}) == errc::truncated);
  }
  SECTION("a CNAME whose name runs past its rdata") {
    // rdlength 3, but "edge" takes 6; the message goes on, so only the rdata bound catches it
    CHECK(parse_error({0, 1, 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0, 1, 'a', 0, 0, 1, 0, 1,  //
                       0xC0, 0x0C, 0, 5, 0, 1, 0, 0, 0, 0, 0, 3, 4, 'e', 'd', 'g', 'e', 0}) == errc::dns_bad_record);
  }
  SECTION("a CNAME whose name is shorter than its rdata") {
    CHECK(parse_error({0, 1, 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0, 1, 'a', 0, 0, 1, 0, 1,  //
                       0xC0, 0x0C, 0, 5, 0, 1, 0, 0, 0, 0, 0, 5, 1, 'b', 0, 0xAA, 0xBB}) == errc::dns_bad_record);
  }
  SECTION("a CNAME whose name has a reserved label type or a looping pointer") {
    CHECK(parse_error({0, 1, 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0, 1, 'a', 0, 0, 1, 0, 1,  //
                       0xC0, 0x0C, 0, 5, 0, 1, 0, 0, 0, 0, 0, 3, 0x81, 'b', 0}) == errc::dns_bad_name);
    // rdata at 31 is a pointer to 31
    CHECK(parse_error({0, 1, 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0, 1, 'a', 0, 0, 1, 0, 1,  //
                       0xC0, 0x0C, 0, 5, 0, 1, 0, 0, 0, 0, 0, 2, 0xC0, 0x1F}) == errc::dns_pointer_loop);
  }
}

TEST_CASE("dns record sizes are only checked where the class defines them", "[packet][dns]") {
  // An A record of class CH (3) holds a name and an address, not 4 bytes (RFC 1035 §3.4.1).
  const bytes response = {0, 1, 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0, 1, 'a', 0, 0, 1, 0, 3,  //
                          0xC0, 0x0C, 0, 1, 0, 3, 0, 0, 0, 0, 0, 5, 1, 2, 3, 4, 5};
  auto msg = dns_message_view::parse(view(response));
  REQUIRE(msg);
  auto answers = msg->answers();
  REQUIRE(answers.size() == 1);
  CHECK(answers[0].rdata.size() == 5);
  CHECK_FALSE(answers[0].address());
}

TEST_CASE("dns pointer chains are capped", "[packet][dns]") {
  // Question "a" at 12. An answer of a private type (65280) carries `pointers` pointers in its
  // rdata, each to the one before and the first to 12; a second answer's name points at the
  // last, so reading it takes pointers + 1 jumps, each strictly backwards.
  auto message = [](unsigned pointers) {
    bytes m = {0, 1, 0x81, 0x80, 0, 1, 0, 2, 0, 0, 0, 0, 1, 'a', 0, 0, 1, 0, 1};
    auto rdlength = static_cast<std::uint16_t>(2 * pointers);
    append(m, {0xC0, 0x0C, 0xFF, 0x00, 0, 1, 0, 0, 0, 0, static_cast<std::uint8_t>(rdlength >> 8),
               static_cast<std::uint8_t>(rdlength)});
    std::size_t previous = 12;
    for (unsigned i = 0; i < pointers; ++i) {
      std::size_t here = m.size();
      append(m, {static_cast<std::uint8_t>(0xC0 | previous >> 8), static_cast<std::uint8_t>(previous)});
      previous = here;
    }
    append(m, {static_cast<std::uint8_t>(0xC0 | previous >> 8), static_cast<std::uint8_t>(previous)});
    append(m, {0, 1, 0, 1, 0, 0, 0, 0, 0, 4, 192, 0, 2, 1});
    return m;
  };
  SECTION("as many jumps as the cap: accepted") {
    auto m = message(dns_max_pointer_jumps - 1);
    auto msg = dns_message_view::parse(view(m));
    REQUIRE(msg);
    CHECK(msg->answers().at(1).name == "a");
  }
  SECTION("one more: rejected") {
    CHECK(parse_error(message(dns_max_pointer_jumps)) == errc::dns_pointer_loop);
  }
}

TEST_CASE("dns names of exactly 255 bytes are accepted", "[packet][dns]") {
  // 3 * 64 + 62 + 1 = 255
  bytes m = {0, 1, 0x01, 0, 0, 1, 0, 0, 0, 0, 0, 0};
  for (int i = 0; i < 3; ++i) append_label(m, 63, 'a');
  append_label(m, 61, 'b');
  append(m, {0, 0, 1, 0, 1});
  auto msg = dns_message_view::parse(view(m));
  REQUIRE(msg);
  CHECK(msg->questions().at(0).name.size() == 253);
}

TEST_CASE("dns view reads back glibc's res_mkquery and dn_comp output", "[packet][dns]") {
  unsigned char buf[512] = {};
  int n = res_mkquery(ns_o_query, "www.Example.COM", ns_c_in, ns_t_aaaa, nullptr, 0, nullptr, buf, sizeof buf);
  REQUIRE(n > 0);
  auto query = dns_message_view::parse(std::as_bytes(std::span{buf, static_cast<std::size_t>(n)}));
  REQUIRE(query);
  CHECK(query->id() == (buf[0] << 8 | buf[1]));
  CHECK_FALSE(query->is_response());
  CHECK(query->recursion_desired());
  CHECK(query->size() == static_cast<std::size_t>(n));
  auto questions = query->questions();
  REQUIRE(questions.size() == 1);
  CHECK(questions[0].name == "www.example.com");
  CHECK(questions[0].type == dns_type::aaaa);
  CHECK(questions[0].klass == dns_class::in);

  SECTION("turned into a response compressed by dn_comp") {
    // dn_comp only reuses names it has written itself, so write the question name once more
    // (same bytes) to register it, then append the answers.
    unsigned char* dnptrs[16] = {buf, nullptr};
    unsigned char** last = dnptrs + 16;
    REQUIRE(dn_comp("www.Example.COM", buf + 12, 255, dnptrs, last) == 17);
    unsigned char* p = buf + n;
    auto put = [&](std::initializer_list<std::uint8_t> more) {
      for (auto b : more) *p++ = b;
    };
    auto name = [&](const char* text, unsigned char* at) {
      int len = dn_comp(text, at, static_cast<int>(buf + sizeof buf - at), dnptrs, last);
      REQUIRE(len > 0);
      return len;
    };
    p += name("www.example.com", p);
    put({0x00, 0x05, 0x00, 0x01, 0x00, 0x00, 0x01, 0x2C, 0x00, 0x00});  // CNAME, TTL 300
    int rdlength = name("cdn.EXAMPLE.com", p);
    p[-1] = static_cast<unsigned char>(rdlength);
    p += rdlength;
    p += name("cdn.example.com", p);
    put({0x00, 0x1C, 0x00, 0x01, 0x00, 0x00, 0x00, 0x1E, 0x00, 0x10});  // AAAA, TTL 30
    put({0x20, 0x01, 0x0D, 0xB8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x42});
    buf[2] |= 0x80;  // QR
    buf[3] = 0x80;   // RA, RCODE 0
    buf[7] = 2;      // ANCOUNT

    auto response = dns_message_view::parse(std::as_bytes(std::span{buf, static_cast<std::size_t>(p - buf)}));
    REQUIRE(response);
    auto answers = response->answers();
    REQUIRE(answers.size() == 2);
    CHECK(answers[0].name == "www.example.com");
    CHECK(answers[0].target == "cdn.example.com");
    CHECK(answers[0].rdata.size() < 17);  // dn_comp did compress: "cdn" + a pointer
    CHECK(answers[1].name == "cdn.example.com");
    CHECK(resolved_addresses(*response) ==
          std::vector<dns_resolution>{{"www.example.com", ip("2001:db8::42"), 30}});
  }
}
