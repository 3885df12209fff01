#include <nexios/ws/frame_parser.hpp>

#include "frame_test_support.hpp"

#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

namespace nexios::ws {
namespace {

using testing::build;
using testing::client_frame;
using testing::close_payload;
using testing::control;
using testing::expect_every_split;
using testing::Expectation;
using testing::LengthForm;
using testing::message;
using testing::RawFrame;
using testing::Record;
using testing::server_frame;

constexpr auto text = Opcode::text;
constexpr auto binary = Opcode::binary;
constexpr auto cont = Opcode::continuation;
constexpr auto ping = Opcode::ping;
constexpr auto pong = Opcode::pong;
constexpr auto close_op = Opcode::close;

std::error_code err(errc e) {
  return make_error_code(e);
}

FrameParserOptions client_role() {
  FrameParserOptions o;
  o.role = Role::client;
  return o;
}

FrameParserOptions max_size(std::uint64_t max) {
  FrameParserOptions o;
  o.max_message_size = max;
  return o;
}

// ---------------------------------------------------------------------------------------------
// Well-formed streams
// ---------------------------------------------------------------------------------------------

TEST(FrameParser, EveryOpcodeInEverySplit) {
  const std::string bin("\x00\x01\xFF\x80\x7F", 5);
  expect_every_split(client_frame(text, "Hello"), {{message(text, "Hello")}});
  expect_every_split(client_frame(binary, bin), {{message(binary, bin)}});
  expect_every_split(client_frame(ping, "ping!"), {{control(ping, "ping!")}});
  expect_every_split(client_frame(pong, ""), {{control(pong, "")}});
  expect_every_split(client_frame(pong, bin), {{control(pong, bin)}});
  expect_every_split(client_frame(close_op, close_payload(1000, "bye")),
                     {{control(close_op, close_payload(1000, "bye"))}});
  expect_every_split(client_frame(close_op, ""), {{control(close_op, "")}});
}

TEST(FrameParser, PayloadLengthsAndLengthForms) {
  struct Case {
    std::size_t size;
    std::uint8_t len7;
  };
  const Case cases[] = {{0, 0}, {1, 1}, {125, 125}, {126, 126}, {127, 126}, {65535, 126}, {65536, 127}};
  for (const auto& c : cases) {
    for (Opcode op : {text, binary}) {
      SCOPED_TRACE(::testing::Message() << "size " << c.size << " opcode " << static_cast<int>(op));
      const std::string payload = op == text ? testing::random_utf8(c.size) : testing::random_bytes(c.size);
      const std::string frame = client_frame(op, payload);
      ASSERT_EQ(static_cast<std::uint8_t>(frame[1]) & 0x7F, c.len7);
      const auto whole = expect_every_split(frame, {{message(op, payload)}}, {}, 300, c.size < 1000);
      // The hot path: a whole frame in the input comes back as one data event.
      EXPECT_EQ(whole.data_events, c.size == 0 ? 0u : 1u);
    }
  }
}

TEST(FrameParser, OneMebibyteMessage) {
  for (Opcode op : {text, binary}) {
    const std::size_t size = 1 << 20;
    const std::string payload = op == text ? testing::random_utf8(size) : testing::random_bytes(size);
    const std::string frame = client_frame(op, payload);
    ASSERT_EQ(static_cast<std::uint8_t>(frame[1]) & 0x7F, 127);
    const auto whole = expect_every_split(frame, {{message(op, payload)}}, {}, 0, /*pairs=*/false);
    EXPECT_EQ(whole.data_events, 1u);
  }
}

TEST(FrameParser, NonMinimalLengthsAreAccepted) {
  expect_every_split(build(RawFrame(1, "abc").form(LengthForm::bits16)), {{message(text, "abc")}});
  expect_every_split(build(RawFrame(1, "abc").form(LengthForm::bits64)), {{message(text, "abc")}});
  expect_every_split(build(RawFrame(2, "").form(LengthForm::bits64)), {{message(binary, "")}});
  const std::string p200 = testing::random_bytes(200);
  expect_every_split(build(RawFrame(2, p200).form(LengthForm::bits64)), {{message(binary, p200)}});
}

TEST(FrameParser, EmptyMessagesEndWithoutDataEvents) {
  auto r = expect_every_split(client_frame(text, ""), {{message(text, "")}});
  EXPECT_EQ(r.data_events, 0u);
  r = expect_every_split(client_frame(binary, ""), {{message(binary, "")}});
  EXPECT_EQ(r.data_events, 0u);
  // All fragments empty.
  const std::string stream = client_frame(text, "", false) + client_frame(cont, "", false) + client_frame(cont, "");
  r = expect_every_split(stream, {{message(text, "")}});
  EXPECT_EQ(r.data_events, 0u);
}

TEST(FrameParser, ZeroLengthNonFinalFrameOnlyStartsTheMessage) {
  FrameParser p;
  std::string frame = client_frame(binary, "", false);
  std::size_t used = 0;
  std::error_code ec;
  auto ev = p.next(reinterpret_cast<std::uint8_t*>(frame.data()), frame.size(), used, ec);
  EXPECT_FALSE(ec);
  EXPECT_EQ(ev.type, FrameEvent::Type::need_more);
  EXPECT_EQ(used, frame.size());
  EXPECT_TRUE(p.in_message());
  EXPECT_FALSE(p.in_frame());
  EXPECT_EQ(p.message_size(), 0u);
}

TEST(FrameParser, FragmentedMessageWithInterleavedControlFrames) {
  const std::string stream = client_frame(text, "Hel", false) + client_frame(ping, "p1") +
                             client_frame(cont, "lo", false) + client_frame(pong, "") +
                             client_frame(cont, " World", false) + client_frame(ping, std::string(125, 'x')) +
                             client_frame(cont, "!");
  expect_every_split(stream, {{control(ping, "p1"), control(pong, ""), control(ping, std::string(125, 'x')),
                               message(text, "Hello World!")}});
}

TEST(FrameParser, FragmentsWithEmptyPieces) {
  const std::string stream = client_frame(binary, "", false) + client_frame(cont, "abc", false) +
                             client_frame(cont, "", false) + client_frame(ping, "") + client_frame(cont, "");
  const auto r = expect_every_split(stream, {{control(ping, ""), message(binary, "abc")}});
  EXPECT_EQ(r.data_events, 1u);
}

TEST(FrameParser, CodePointsSplitAcrossFragments) {
  // € split 1|2, 😀 split one byte per fragment with pings in between.
  std::string stream = client_frame(text, "a\xE2", false) + client_frame(cont, "\x82\xAC", false);
  stream += client_frame(cont, "\xF0", false) + client_frame(ping, "") + client_frame(cont, "\x9F", false) +
            client_frame(cont, "\x98", false) + client_frame(ping, "x") + client_frame(cont, "\x80z");
  expect_every_split(stream,
                     {{control(ping, ""), control(ping, "x"), message(text, "a\xE2\x82\xAC\xF0\x9F\x98\x80z")}});
}

TEST(FrameParser, SeveralMessagesThenClose) {
  const std::string stream = client_frame(text, "one") + client_frame(binary, "two") +
                             client_frame(text, "thr", false) + client_frame(cont, "ee") + client_frame(ping, "?") +
                             client_frame(close_op, close_payload(1001, "going"));
  const auto r = expect_every_split(stream, {{message(text, "one"), message(binary, "two"), message(text, "three"),
                                              control(ping, "?"), control(close_op, close_payload(1001, "going"))}});
  EXPECT_TRUE(r.closed);
}

TEST(FrameParser, InputAfterCloseIsConsumedAndIgnored) {
  // Garbage (reserved bits, bad opcodes, unmasked frames) after the close frame must not fail.
  const std::string stream = client_frame(close_op, close_payload(1000)) + "\xF3\x00garbage" +
                             server_frame(text, "unmasked") + client_frame(text, "late");
  const auto r = expect_every_split(stream, {{control(close_op, close_payload(1000))}});
  EXPECT_TRUE(r.closed);

  FrameParser p;
  std::string bytes = client_frame(close_op, "") + "tail";
  std::size_t used = 0;
  std::error_code ec;
  auto ev = p.next(reinterpret_cast<std::uint8_t*>(bytes.data()), bytes.size(), used, ec);
  EXPECT_EQ(ev.type, FrameEvent::Type::control);
  EXPECT_EQ(used, 6u);
  for (int i = 0; i < 3; ++i) {
    ev = p.next(reinterpret_cast<std::uint8_t*>(bytes.data()) + 6, bytes.size() - 6, used, ec);
    EXPECT_FALSE(ec);
    EXPECT_EQ(ev.type, FrameEvent::Type::need_more);
    EXPECT_EQ(used, bytes.size() - 6);
  }
  EXPECT_TRUE(p.closed());
}

TEST(FrameParser, ControlPayloadIsCopiedIntoTheParser) {
  FrameParser p;
  std::string frame = client_frame(ping, "split ping");
  std::vector<std::uint8_t> a(frame.begin(), frame.begin() + 9);
  std::vector<std::uint8_t> b(frame.begin() + 9, frame.end());
  std::size_t used = 0;
  std::error_code ec;
  auto ev = p.next(a.data(), a.size(), used, ec);
  EXPECT_EQ(ev.type, FrameEvent::Type::need_more);
  EXPECT_TRUE(p.in_frame());
  ev = p.next(b.data(), b.size(), used, ec);
  ASSERT_EQ(ev.type, FrameEvent::Type::control);
  EXPECT_EQ(ev.view(), "split ping");
  a.assign(a.size(), 0);
  b.assign(b.size(), 0);
  EXPECT_EQ(ev.view(), "split ping");
  EXPECT_FALSE(p.in_frame());
}

TEST(FrameParser, ClientRoleParsesServerFrames) {
  const std::string stream = server_frame(text, "hi", false) + server_frame(ping, "p") + server_frame(cont, " there") +
                             server_frame(binary, std::string(300, 'b')) + server_frame(pong, "") +
                             server_frame(close_op, close_payload(1000, "done"));
  const auto r =
      expect_every_split(stream,
                         {{control(ping, "p"), message(text, "hi there"), message(binary, std::string(300, 'b')),
                           control(pong, ""), control(close_op, close_payload(1000, "done"))}},
                         client_role());
  EXPECT_TRUE(r.closed);
  const std::string big = testing::random_bytes(70000);
  expect_every_split(server_frame(binary, big), {{message(binary, big)}}, client_role(), 0, false);
}

TEST(FrameParser, Accessors) {
  FrameParser p;
  EXPECT_FALSE(p.in_frame());
  EXPECT_FALSE(p.in_message());
  EXPECT_FALSE(p.closed());
  EXPECT_EQ(p.options().role, Role::server);
  std::string s = client_frame(text, "abcdef", false) + client_frame(cont, "gh");
  auto* in = reinterpret_cast<std::uint8_t*>(s.data());
  std::size_t used = 0;
  std::error_code ec;
  // One header byte.
  auto ev = p.next(in, 1, used, ec);
  EXPECT_EQ(ev.type, FrameEvent::Type::need_more);
  EXPECT_TRUE(p.in_frame());
  EXPECT_FALSE(p.in_message());
  // Rest of the header and 2 payload bytes.
  ev = p.next(in + 1, 7, used, ec);
  ASSERT_EQ(ev.type, FrameEvent::Type::data);
  EXPECT_EQ(ev.view(), "ab");
  EXPECT_EQ(used, 7u);
  EXPECT_TRUE(p.in_frame());
  EXPECT_TRUE(p.in_message());
  EXPECT_EQ(p.message_size(), 2u);
  ev = p.next(in + 8, 4, used, ec);
  ASSERT_EQ(ev.type, FrameEvent::Type::data);
  EXPECT_EQ(ev.view(), "cdef");
  EXPECT_FALSE(p.in_frame());
  EXPECT_TRUE(p.in_message());
  EXPECT_EQ(p.message_size(), 6u);
  ev = p.next(in + 12, s.size() - 12, used, ec);
  ASSERT_EQ(ev.type, FrameEvent::Type::data);
  EXPECT_EQ(ev.view(), "gh");
  EXPECT_EQ(p.message_size(), 8u);
  ev = p.next(in + s.size(), 0, used, ec);
  ASSERT_EQ(ev.type, FrameEvent::Type::message_end);
  EXPECT_EQ(ev.opcode, text);
  EXPECT_EQ(used, 0u);
  EXPECT_FALSE(p.in_message());
  EXPECT_FALSE(p.in_frame());
  ev = p.next(in + s.size(), 0, used, ec);
  EXPECT_EQ(ev.type, FrameEvent::Type::need_more);
}

TEST(FrameParser, Reset) {
  FrameParserOptions o;
  o.max_message_size = 1000;
  FrameParser p(o);
  std::size_t used = 0;
  std::error_code ec;
  // Mid-header and mid-message.
  std::string s = client_frame(text, "abc", false) + client_frame(cont, "def");
  p.next(reinterpret_cast<std::uint8_t*>(s.data()), 9, used, ec);
  p.next(reinterpret_cast<std::uint8_t*>(s.data()) + 9, 1, used, ec);
  EXPECT_TRUE(p.in_message());
  EXPECT_TRUE(p.in_frame());
  p.reset();
  EXPECT_FALSE(p.in_message());
  EXPECT_FALSE(p.in_frame());
  EXPECT_EQ(p.message_size(), 0u);
  EXPECT_EQ(p.options().max_message_size, 1000u);
  auto r = testing::run(p, client_frame(binary, "fresh"), {3});
  EXPECT_EQ(r.records, std::vector<Record>{message(binary, "fresh")});
  EXPECT_FALSE(r.error);

  // After a failure.
  p.reset();
  r = testing::run(p, server_frame(text, "x"), {});
  EXPECT_EQ(r.error, err(errc::unmasked_frame));
  p.reset();
  r = testing::run(p, client_frame(text, "ok"), {});
  EXPECT_FALSE(r.error);
  EXPECT_EQ(r.records, std::vector<Record>{message(text, "ok")});

  // After a close.
  r = testing::run(p, client_frame(close_op, ""), {});
  EXPECT_TRUE(p.closed());
  p.reset();
  EXPECT_FALSE(p.closed());
  r = testing::run(p, client_frame(ping, "again"), {});
  EXPECT_EQ(r.records, std::vector<Record>{control(ping, "again")});

  // Mid-text-message with a partial code point: the UTF-8 state is forgotten too.
  p.reset();
  r = testing::run(p, client_frame(text, "\xE2\x82", false), {});
  EXPECT_FALSE(r.error);
  p.reset();
  r = testing::run(p, client_frame(text, "plain"), {});
  EXPECT_FALSE(r.error);
  EXPECT_EQ(r.records, std::vector<Record>{message(text, "plain")});
}

// ---------------------------------------------------------------------------------------------
// Close payloads
// ---------------------------------------------------------------------------------------------

TEST(FrameParser, CloseCodes) {
  struct Case {
    std::uint16_t code;
    bool valid;
  };
  const Case cases[] = {{0, false},    {999, false},  {1000, true},  {1001, true},  {1002, true}, {1003, true},
                        {1004, false}, {1005, false}, {1006, false}, {1007, true},  {1008, true}, {1009, true},
                        {1010, true},  {1011, true},  {1012, true},  {1013, true},  {1014, true}, {1015, false},
                        {1016, false}, {1100, false}, {2000, false}, {2999, false}, {3000, true}, {4999, true},
                        {5000, false}, {65535, false}};
  for (const auto& c : cases) {
    SCOPED_TRACE(c.code);
    for (std::string_view reason : {std::string_view(""), std::string_view("reason")}) {
      const std::string payload = close_payload(c.code, reason);
      const std::string frame = client_frame(close_op, payload);
      if (c.valid) {
        expect_every_split(frame, {{control(close_op, payload)}});
      } else {
        expect_every_split(frame, {{}, err(errc::invalid_close_code), frame.size() - 1});
      }
    }
  }
}

TEST(FrameParser, CloseReasons) {
  // 123-byte reason: a 125-byte payload, the most a control frame can carry.
  const std::string r123 = testing::random_utf8(123);
  expect_every_split(client_frame(close_op, close_payload(1000, r123)),
                     {{control(close_op, close_payload(1000, r123))}});
  // 124 bytes: payload 126 needs the 16-bit length form, which a control frame may not use.
  const std::string r124 = testing::random_utf8(124);
  expect_every_split(client_frame(close_op, close_payload(1000, r124)), {{}, err(errc::control_too_long), 1});
  // Reasons that are not UTF-8.
  for (std::string_view bad : {std::string_view("\xFF"), std::string_view("ok\xC0\x80"),
                               std::string_view("\xED\xA0\x80"), std::string_view("trunc\xE2\x82")}) {
    const std::string frame = client_frame(close_op, close_payload(1000, bad));
    expect_every_split(frame, {{}, err(errc::invalid_close_reason), frame.size() - 1});
  }
  // Valid multi-byte reason.
  expect_every_split(client_frame(close_op, close_payload(4000, "\xE2\x82\xAC")),
                     {{control(close_op, close_payload(4000, "\xE2\x82\xAC"))}});
  // One byte: no room for a code; provable from the length byte.
  expect_every_split(client_frame(close_op, "\x03"), {{}, err(errc::bad_close_payload), 1});
  // Empty close is fine (no status).
  expect_every_split(client_frame(close_op, ""), {{control(close_op, "")}});
}

TEST(FrameParser, ErrorAfterEarlierMessagesKeepsThem) {
  const std::string first = client_frame(text, "fine") + client_frame(ping, "p");
  const std::string frame = client_frame(close_op, close_payload(1005));
  expect_every_split(
      first + frame,
      {{message(text, "fine"), control(ping, "p")}, err(errc::invalid_close_code), first.size() + frame.size() - 1});
}

// ---------------------------------------------------------------------------------------------
// Header errors, reported as soon as the proving byte arrives
// ---------------------------------------------------------------------------------------------

TEST(FrameParser, ReservedBits) {
  for (std::uint8_t rsv : {0x40, 0x20, 0x10, 0x70}) {
    expect_every_split(build(RawFrame(1, "abc").rsv(rsv)), {{}, err(errc::reserved_bits), 0});
    expect_every_split(build(RawFrame(9, "").rsv(rsv)), {{}, err(errc::reserved_bits), 0});
    // On a continuation in the middle of a message.
    const std::string first = client_frame(text, "ab", false);
    expect_every_split(first + build(RawFrame(0, "c").rsv(rsv)), {{}, err(errc::reserved_bits), first.size()});
  }
}

TEST(FrameParser, ReservedOpcodes) {
  for (std::uint8_t op : {3, 4, 5, 6, 7, 11, 12, 13, 14, 15}) {
    SCOPED_TRACE(static_cast<int>(op));
    expect_every_split(build(RawFrame(op, "xyz")), {{}, err(errc::reserved_opcode), 0});
    expect_every_split(build(RawFrame(op, "").fin(false)), {{}, err(errc::reserved_opcode), 0});
  }
}

TEST(FrameParser, MaskingByRole) {
  expect_every_split(server_frame(text, "hello"), {{}, err(errc::unmasked_frame), 1});
  expect_every_split(server_frame(ping, ""), {{}, err(errc::unmasked_frame), 1});
  const std::string first = client_frame(text, "a", false);
  expect_every_split(first + server_frame(cont, "b"), {{}, err(errc::unmasked_frame), first.size() + 1});

  expect_every_split(client_frame(text, "hello"), {{}, err(errc::masked_frame), 1}, client_role());
  expect_every_split(client_frame(close_op, ""), {{}, err(errc::masked_frame), 1}, client_role());
  const std::string sfirst = server_frame(binary, "a");
  expect_every_split(sfirst + client_frame(binary, "b"),
                     {{message(binary, "a")}, err(errc::masked_frame), sfirst.size() + 1}, client_role());
}

TEST(FrameParser, ControlTooLong) {
  expect_every_split(client_frame(ping, std::string(126, 'p')), {{}, err(errc::control_too_long), 1});
  expect_every_split(client_frame(pong, std::string(200, 'p')), {{}, err(errc::control_too_long), 1});
  expect_every_split(build(RawFrame(0x8, std::string(130, 'c')).form(LengthForm::bits64)),
                     {{}, err(errc::control_too_long), 1});
  // A short payload in the 16-bit form: length code 126 is already a violation (either the payload
  // exceeds 125 bytes or the length is not minimally encoded), so it is rejected at byte 1.
  expect_every_split(build(RawFrame(0x9, "short").form(LengthForm::bits16)), {{}, err(errc::control_too_long), 1});
  expect_every_split(client_frame(ping, std::string(125, 'p')), {{control(ping, std::string(125, 'p'))}});
}

TEST(FrameParser, FragmentedControl) {
  for (Opcode op : {ping, pong, close_op}) {
    expect_every_split(client_frame(op, "", false), {{}, err(errc::fragmented_control), 0});
  }
  const std::string first = client_frame(text, "a", false);
  expect_every_split(first + client_frame(ping, "x", false), {{}, err(errc::fragmented_control), first.size()});
}

TEST(FrameParser, UnexpectedContinuation) {
  expect_every_split(client_frame(cont, "x"), {{}, err(errc::unexpected_continuation), 0});
  expect_every_split(client_frame(cont, "", false), {{}, err(errc::unexpected_continuation), 0});
  const std::string first = client_frame(text, "done");
  expect_every_split(first + client_frame(cont, "more"),
                     {{message(text, "done")}, err(errc::unexpected_continuation), first.size()});
  const std::string frag = client_frame(binary, "a", false) + client_frame(cont, "b");
  expect_every_split(frag + client_frame(cont, "c"),
                     {{message(binary, "ab")}, err(errc::unexpected_continuation), frag.size()});
}

TEST(FrameParser, ExpectedContinuation) {
  const std::string first = client_frame(text, "a", false);
  expect_every_split(first + client_frame(text, "b"), {{}, err(errc::expected_continuation), first.size()});
  expect_every_split(first + client_frame(binary, "b"), {{}, err(errc::expected_continuation), first.size()});
  const std::string first2 = client_frame(binary, "", false) + client_frame(ping, "");
  expect_every_split(first2 + client_frame(binary, "", false),
                     {{control(ping, "")}, err(errc::expected_continuation), first2.size()});
}

TEST(FrameParser, BadLength) {
  for (std::uint64_t len : {0x8000000000000000ull, 0xFFFFFFFFFFFFFFFFull, 0x8000000000000001ull}) {
    expect_every_split(build(RawFrame(2, "").form(LengthForm::bits64).declared_length(len)),
                       {{}, err(errc::bad_length), 2});
  }
  // Largest legal 64-bit length is only limited by max_message_size.
  FrameParserOptions huge;
  huge.max_message_size = ~std::uint64_t{0};
  const std::string frame = build(RawFrame(2, "").form(LengthForm::bits64).declared_length(0x7FFFFFFFFFFFFFFFull));
  const auto r = testing::run(frame + "abc", {}, huge);
  EXPECT_FALSE(r.error);
  EXPECT_EQ(r.data_bytes, 3u);
}

TEST(FrameParser, MessageTooBig) {
  const auto opts = max_size(100);
  // Exactly the limit is fine.
  const std::string p100 = testing::random_bytes(100);
  expect_every_split(client_frame(binary, p100), {{message(binary, p100)}}, opts);
  // Each length form, reported once the length is complete, before the key or any payload.
  expect_every_split(client_frame(binary, testing::random_bytes(101)), {{}, err(errc::message_too_big), 1}, opts);
  expect_every_split(client_frame(text, std::string(200, 'x')), {{}, err(errc::message_too_big), 3}, opts);
  expect_every_split(build(RawFrame(2, "").form(LengthForm::bits64).declared_length(70000)),
                     {{}, err(errc::message_too_big), 9}, opts);
  expect_every_split(build(RawFrame(2, "").form(LengthForm::bits64).declared_length(1ull << 62)),
                     {{}, err(errc::message_too_big), 9});
  // Across fragments: the second header fails, after the first fragment was returned in full.
  const std::string first = client_frame(text, std::string(60, 'a'), false) + client_frame(ping, std::string(125, 'p'));
  auto r =
      expect_every_split(first + client_frame(cont, std::string(41, 'b')),
                         {{control(ping, std::string(125, 'p'))}, err(errc::message_too_big), first.size() + 1}, opts);
  EXPECT_EQ(r.data_bytes, 60u);
  r = expect_every_split(
      first + client_frame(cont, std::string(40, 'b')),
      {{control(ping, std::string(125, 'p')), message(text, std::string(60, 'a') + std::string(40, 'b'))}}, opts);
  // Control frames do not count towards the limit, and a new message starts from zero.
  const std::string again = client_frame(binary, p100) + client_frame(binary, p100);
  expect_every_split(again, {{message(binary, p100), message(binary, p100)}}, opts);
  // A limit of zero allows only empty messages.
  expect_every_split(client_frame(text, ""), {{message(text, "")}}, max_size(0));
  expect_every_split(client_frame(text, "x"), {{}, err(errc::message_too_big), 1}, max_size(0));
}

// ---------------------------------------------------------------------------------------------
// UTF-8 of text messages
// ---------------------------------------------------------------------------------------------

TEST(FrameParser, InvalidUtf8InSingleFrame) {
  const std::string frame = client_frame(text,
                                         "abc\xFF"
                                         "def");
  expect_every_split(frame, {{}, err(errc::invalid_utf8), 6 + 3});
  const std::string frame2 = client_frame(text, "\xED\xA0\x80");
  expect_every_split(frame2, {{}, err(errc::invalid_utf8), 6 + 1});
  const std::string frame3 = client_frame(text, "ok \xC0\xAF");
  expect_every_split(frame3, {{}, err(errc::invalid_utf8), 6 + 3});
  // The same bytes in a binary message are fine.
  expect_every_split(client_frame(binary,
                                  "abc\xFF"
                                  "def"),
                     {{message(binary,
                               "abc\xFF"
                               "def")}});
}

TEST(FrameParser, InvalidUtf8InFirstOfThreeFragments) {
  const std::string f1 = client_frame(text,
                                      "good\xF5"
                                      "bad",
                                      false);
  const std::string rest = client_frame(cont, "more", false) + client_frame(cont, "end");
  // Fails at the bad byte: the later fragments are never needed.
  expect_every_split(f1 + rest, {{}, err(errc::invalid_utf8), 6 + 4});
  const auto r = testing::run(f1.substr(0, 6 + 5), {});
  EXPECT_EQ(r.error, err(errc::invalid_utf8));
}

TEST(FrameParser, InvalidUtf8AcrossFragments) {
  // Lead byte in one fragment, bad continuation in the next (with a ping in between).
  std::string s = client_frame(text, "x\xE2", false) + client_frame(ping, "") + client_frame(cont, "\x41", false);
  expect_every_split(s + client_frame(cont, "end"), {{control(ping, "")}, err(errc::invalid_utf8), s.size() - 1});
  // A surrogate split after its lead byte.
  s = client_frame(text, "\xED", false) + client_frame(cont, "\xA0\x80");
  expect_every_split(s, {{}, err(errc::invalid_utf8), s.size() - 2});
}

TEST(FrameParser, IncompleteCodePointAtMessageEnd) {
  std::string s = client_frame(text, "abc\xE2\x82");
  expect_every_split(s, {{}, err(errc::invalid_utf8), s.size() - 1});
  // Ended by an empty final fragment: detected when that header is complete.
  s = client_frame(text, "\xF0\x9F\x98", false) + client_frame(cont, "");
  expect_every_split(s, {{}, err(errc::invalid_utf8), s.size() - 1});
  // A later fragment completing the code point is fine.
  s = client_frame(text, "\xF0\x9F\x98", false) + client_frame(cont, "\x80");
  expect_every_split(s, {{message(text, "\xF0\x9F\x98\x80")}});
}

TEST(FrameParser, Utf8ValidPrefixDeliveredBeforeFailure) {
  // Split right before the bad byte: the valid prefix comes out as data, then the error.
  FrameParser p;
  std::string frame = client_frame(text, "hello\xFF");
  auto* in = reinterpret_cast<std::uint8_t*>(frame.data());
  std::size_t used = 0;
  std::error_code ec;
  auto ev = p.next(in, frame.size() - 1, used, ec);
  ASSERT_EQ(ev.type, FrameEvent::Type::data);
  EXPECT_EQ(ev.view(), "hello");
  ev = p.next(in + used, 1, used, ec);
  EXPECT_EQ(ec, err(errc::invalid_utf8));
  EXPECT_EQ(close_code_for(errc::invalid_utf8), 1007);
}

// ---------------------------------------------------------------------------------------------
// Failed parsers stay failed
// ---------------------------------------------------------------------------------------------

TEST(FrameParser, StaysFailed) {
  FrameParser p;
  std::string bad = build(RawFrame(3, ""));
  std::size_t used = 0;
  std::error_code ec;
  p.next(reinterpret_cast<std::uint8_t*>(bad.data()), bad.size(), used, ec);
  EXPECT_EQ(ec, err(errc::reserved_opcode));
  std::string good = client_frame(text, "fine");
  for (int i = 0; i < 3; ++i) {
    ec.clear();
    used = 77;
    const auto ev = p.next(reinterpret_cast<std::uint8_t*>(good.data()), good.size(), used, ec);
    EXPECT_EQ(ec, err(errc::reserved_opcode));
    EXPECT_EQ(ev.type, FrameEvent::Type::need_more);
    EXPECT_EQ(used, 0u);
  }
}

}  // namespace
}  // namespace nexios::ws
