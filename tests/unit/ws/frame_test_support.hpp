#pragma once
/// @file
/// Test-side helpers for the frame parser tests: an independent frame builder (it shares no code
/// with nexios::ws::encode_frame_header, so it can also build malformed frames) and a driver that
/// feeds a byte stream to a FrameParser in a given split, checks the event contract on every call
/// and reassembles the messages.

#include <nexios/detail/utf8.hpp>
#include <nexios/ws/frame_parser.hpp>
#include <nexios/ws/rfc6455.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <ostream>
#include <random>
#include <string>
#include <system_error>
#include <vector>

namespace nexios::ws::testing {

/// The random source of the tests (fixed seed: failures are reproducible).
inline std::mt19937_64& rng() {
  static std::mt19937_64 engine(0x6E657869);
  return engine;
}

inline std::array<std::uint8_t, 4> random_key() {
  const auto v = rng()();
  return {static_cast<std::uint8_t>(v), static_cast<std::uint8_t>(v >> 8), static_cast<std::uint8_t>(v >> 16),
          static_cast<std::uint8_t>(v >> 24)};
}

inline std::string random_bytes(std::size_t n) {
  std::string out(n, '\0');
  for (char& c : out) {
    c = static_cast<char>(rng()());
  }
  return out;
}

/// Random valid UTF-8 of exactly `n` bytes, mixing 1- to 4-byte characters.
inline std::string random_utf8(std::size_t n) {
  std::string out;
  while (out.size() < n) {
    const std::size_t room = n - out.size();
    const std::size_t width = std::min<std::size_t>(room, 1 + rng()() % 4);
    switch (width) {
      case 1:
        out += static_cast<char>(0x20 + rng()() % 0x5F);
        break;
      case 2:
        out += "\xC3\xA9";  // é
        break;
      case 3:
        out += "\xE2\x82\xAC";  // €
        break;
      default:
        out += "\xF0\x9F\x98\x80";  // 😀
        break;
    }
  }
  return out;
}

/// How the payload length is written.
enum class LengthForm { minimal, bits7, bits16, bits64 };

/// A frame as it goes on the wire, including things a correct peer never sends. Defaults: final,
/// no RSV bits, masked with a random key, minimal length form.
///
/// @code
/// build(RawFrame(0x1, "abc").fin(false).form(LengthForm::bits64))
/// @endcode
class RawFrame {
 public:
  /// `opcode` is the raw 4-bit value (reserved values allowed).
  RawFrame(std::uint8_t opcode, std::string payload) : opcode_(opcode), payload_(std::move(payload)) {}

  RawFrame& fin(bool v) {
    fin_ = v;
    return *this;
  }
  /// RSV1/2/3 as the bits 0x40/0x20/0x10 of the first byte.
  RawFrame& rsv(std::uint8_t v) {
    rsv_ = v;
    return *this;
  }
  RawFrame& masked(bool v) {
    masked_ = v;
    return *this;
  }
  RawFrame& key(const std::array<std::uint8_t, 4>& k) {
    key_ = k;
    return *this;
  }
  RawFrame& form(LengthForm f) {
    form_ = f;
    return *this;
  }
  /// Written instead of the payload size.
  RawFrame& declared_length(std::uint64_t n) {
    declared_length_ = n;
    return *this;
  }

  /// Serialises the frame: header, key, then the (masked) payload.
  [[nodiscard]] std::string build() const {
    std::string out;
    out += static_cast<char>((fin_ ? 0x80 : 0x00) | (rsv_ & 0x70) | (opcode_ & 0x0F));
    const std::uint64_t len = declared_length_.value_or(payload_.size());
    LengthForm form = form_;
    if (form == LengthForm::minimal) {
      form = len <= 125 ? LengthForm::bits7 : (len <= 0xFFFF ? LengthForm::bits16 : LengthForm::bits64);
    }
    const int mask_bit = masked_ ? 0x80 : 0x00;
    if (form == LengthForm::bits7) {
      out += static_cast<char>(mask_bit | static_cast<int>(len & 0x7F));
    } else if (form == LengthForm::bits16) {
      out += static_cast<char>(mask_bit | 126);
      out += static_cast<char>((len >> 8) & 0xFF);
      out += static_cast<char>(len & 0xFF);
    } else {
      out += static_cast<char>(mask_bit | 127);
      for (int shift = 56; shift >= 0; shift -= 8) {
        out += static_cast<char>((len >> shift) & 0xFF);
      }
    }
    if (!masked_) {
      return out + payload_;
    }
    const auto key = key_ ? *key_ : random_key();
    for (std::uint8_t k : key) {
      out += static_cast<char>(k);
    }
    for (std::size_t i = 0; i < payload_.size(); ++i) {
      out += static_cast<char>(static_cast<std::uint8_t>(payload_[i]) ^ key[i % 4]);
    }
    return out;
  }

 private:
  std::uint8_t opcode_;
  std::string payload_;
  bool fin_ = true;
  std::uint8_t rsv_ = 0;
  bool masked_ = true;
  std::optional<std::array<std::uint8_t, 4>> key_;
  LengthForm form_ = LengthForm::minimal;
  std::optional<std::uint64_t> declared_length_;
};

inline std::string build(const RawFrame& f) {
  return f.build();
}

/// A well-formed client frame (masked with a random key).
inline std::string client_frame(Opcode op, std::string_view payload, bool fin = true) {
  return RawFrame(static_cast<std::uint8_t>(op), std::string(payload)).fin(fin).build();
}

/// A well-formed server frame (unmasked).
inline std::string server_frame(Opcode op, std::string_view payload, bool fin = true) {
  return RawFrame(static_cast<std::uint8_t>(op), std::string(payload)).fin(fin).masked(false).build();
}

/// A close frame payload: big-endian code, then the reason.
inline std::string close_payload(std::uint16_t code, std::string_view reason = {}) {
  std::string out;
  out += static_cast<char>(code >> 8);
  out += static_cast<char>(code & 0xFF);
  out += reason;
  return out;
}

/// What the driver saw: complete messages and control frames, in order.
struct Record {
  enum class Kind { message, control };
  Kind kind = Kind::message;
  Opcode opcode = Opcode::continuation;
  std::string payload;
  bool operator==(const Record&) const = default;
};

inline Record message(Opcode op, std::string payload) {
  return {Record::Kind::message, op, std::move(payload)};
}
inline Record control(Opcode op, std::string payload) {
  return {Record::Kind::control, op, std::move(payload)};
}

inline void PrintTo(const Record& r, std::ostream* os) {
  *os << (r.kind == Record::Kind::message ? "message" : "control") << '(' << static_cast<int>(r.opcode) << ", "
      << r.payload.size() << " bytes";
  if (r.payload.size() <= 40) {
    *os << " \"" << r.payload << '"';
  }
  *os << ')';
}

/// The outcome of feeding a stream.
struct RunResult {
  std::vector<Record> records;
  std::error_code error;
  std::size_t error_chunk_begin = 0;  ///< stream offset of the chunk during which the error was reported
  std::size_t error_chunk_end = 0;
  std::size_t data_events = 0;
  std::size_t data_bytes = 0;  ///< payload bytes returned by data events (including an unfinished message)
  bool closed = false;
};

/// Feeds `stream` cut at `cuts` (sorted offsets; empty chunks allowed) to a fresh parser.
/// Every chunk lives in its own heap buffer that is freed after use, so ASan catches a parser that
/// keeps pointers into old input. The event contract is checked with EXPECTs on every call.
inline RunResult run(FrameParser& parser, const std::string& stream, const std::vector<std::size_t>& cuts) {
  RunResult result;
  std::string current;  // payload of the message in progress
  std::optional<Opcode> current_opcode;
  detail::Utf8Validator text_check;
  std::size_t begin = 0;
  for (std::size_t c = 0; c <= cuts.size(); ++c) {
    const std::size_t end = c < cuts.size() ? cuts[c] : stream.size();
    const std::size_t len = end - begin;
    auto buffer = std::make_unique<std::uint8_t[]>(len + 1);
    std::copy(stream.begin() + static_cast<std::ptrdiff_t>(begin), stream.begin() + static_cast<std::ptrdiff_t>(end),
              buffer.get());
    std::size_t pos = 0;
    for (std::size_t guard = 0;; ++guard) {
      if (guard > 4 * len + 16) {
        ADD_FAILURE() << "parser makes no progress";
        return result;
      }
      std::size_t consumed = 12345;
      std::error_code ec = make_error_code(errc::bad_length);  // must be cleared by next()
      const FrameEvent ev = parser.next(buffer.get() + pos, len - pos, consumed, ec);
      if (ec) {
        result.error = ec;
        result.error_chunk_begin = begin;
        result.error_chunk_end = end;
        // The parser stays failed.
        std::size_t again = 999;
        std::error_code ec2;
        std::uint8_t junk[4] = {0x81, 0x80, 0, 0};
        parser.next(junk, sizeof junk, again, ec2);
        EXPECT_EQ(ec2, ec);
        EXPECT_EQ(again, 0u);
        return result;
      }
      EXPECT_LE(consumed, len - pos);
      if (consumed > len - pos) {
        return result;
      }
      switch (ev.type) {
        case FrameEvent::Type::need_more:
          EXPECT_EQ(consumed, len - pos) << "need_more must consume everything";
          break;
        case FrameEvent::Type::data: {
          EXPECT_GT(ev.size, 0u);
          EXPECT_TRUE(ev.opcode == Opcode::text || ev.opcode == Opcode::binary);
          EXPECT_TRUE(parser.in_message());
          // In place: the last `size` bytes of what this call consumed.
          EXPECT_EQ(ev.data + ev.size, buffer.get() + pos + consumed);
          EXPECT_GE(ev.data, buffer.get() + pos);
          if (current_opcode) {
            EXPECT_EQ(*current_opcode, ev.opcode);
          }
          current_opcode = ev.opcode;
          current.append(ev.view());
          if (ev.opcode == Opcode::text) {
            EXPECT_TRUE(text_check.feed(ev.data, ev.size)) << "data event is not a valid UTF-8 prefix";
          }
          ++result.data_events;
          result.data_bytes += ev.size;
          EXPECT_EQ(parser.message_size(), current.size());
          break;
        }
        case FrameEvent::Type::message_end:
          EXPECT_TRUE(ev.opcode == Opcode::text || ev.opcode == Opcode::binary);
          if (current_opcode) {
            EXPECT_EQ(*current_opcode, ev.opcode);
          }
          if (ev.opcode == Opcode::text) {
            EXPECT_TRUE(text_check.complete());
          }
          EXPECT_FALSE(parser.in_message());
          result.records.push_back(message(ev.opcode, std::move(current)));
          current.clear();
          current_opcode.reset();
          text_check.reset();
          break;
        case FrameEvent::Type::control:
          EXPECT_TRUE(is_control(ev.opcode));
          EXPECT_LE(ev.size, max_control_payload);
          EXPECT_EQ(parser.closed(), ev.opcode == Opcode::close);
          result.records.push_back(control(ev.opcode, std::string(ev.view())));
          break;
      }
      pos += consumed;
      if (ev.type == FrameEvent::Type::need_more) {
        break;
      }
    }
    begin = end;
  }
  result.closed = parser.closed();
  return result;
}

inline RunResult run(const std::string& stream, const std::vector<std::size_t>& cuts, FrameParserOptions options = {}) {
  FrameParser parser(options);
  return run(parser, stream, cuts);
}

/// The expected outcome of a stream.
struct Expectation {
  // NOLINTNEXTLINE(google-explicit-constructor): brace-initialised in the tests
  Expectation(std::vector<Record> records_ = {}, std::error_code error_ = {}, std::size_t proof_ = 0)
      : records(std::move(records_)), error(error_), proof(proof_) {}
  std::vector<Record> records;
  std::error_code error;
  /// With an error: the stream offset of the byte whose arrival proves it. The error must be
  /// reported while the chunk holding that byte is parsed, never earlier or later.
  std::size_t proof = 0;
};

inline void check(const RunResult& r, const Expectation& want, const std::string& split) {
  EXPECT_EQ(r.records, want.records) << "split " << split;
  EXPECT_EQ(r.error, want.error) << "split " << split;
  if (want.error && r.error == want.error) {
    EXPECT_LE(r.error_chunk_begin, want.proof) << "reported too early, split " << split;
    EXPECT_GT(r.error_chunk_end, want.proof) << "reported too late, split " << split;
  }
}

inline std::string describe(const std::vector<std::size_t>& cuts) {
  std::string s = "{";
  for (std::size_t c : cuts) {
    s += std::to_string(c) + ",";
  }
  return s + "}";
}

/// Offsets to cut a stream of `n` bytes at: all of them up to `limit` bytes, otherwise the first and
/// last 24, the neighbourhood of `focus` (unless it is `no_focus`) and a random sample.
inline constexpr std::size_t no_focus = ~std::size_t{0};
inline std::vector<std::size_t> cut_points(std::size_t n, std::size_t limit, std::size_t focus) {
  std::vector<std::size_t> points;
  if (n <= limit) {
    for (std::size_t i = 0; i <= n; ++i) {
      points.push_back(i);
    }
    return points;
  }
  for (std::size_t i = 0; i <= 24; ++i) {
    points.push_back(i);
    points.push_back(n - i);
  }
  if (focus != no_focus) {
    for (std::size_t i = focus > 8 ? focus - 8 : 0; i <= std::min(n, focus + 8); ++i) {
      points.push_back(i);
    }
  }
  for (int i = 0; i < 32; ++i) {
    points.push_back(rng()() % (n + 1));
  }
  std::sort(points.begin(), points.end());
  points.erase(std::unique(points.begin(), points.end()), points.end());
  return points;
}

/// Feeds `stream` in every split and checks each outcome against `want`: whole; every single cut
/// (exhaustive up to `single_limit` bytes); every pair of cuts (exhaustive up to `pair_limit` bytes;
/// `pair_limit = 0` samples); one byte at a time. Larger streams use `cut_points` samples. Returns the
/// result of the unsplit run.
inline RunResult expect_every_split(const std::string& stream, const Expectation& want, FrameParserOptions options = {},
                                    std::size_t pair_limit = 300, bool pairs = true, std::size_t single_limit = 4096) {
  const RunResult whole = run(stream, {}, options);
  check(whole, want, "whole");
  const std::size_t n = stream.size();
  const std::size_t focus = want.error ? want.proof : no_focus;

  for (std::size_t a : cut_points(n, single_limit, focus)) {
    check(run(stream, {a}, options), want, describe({a}));
    if (::testing::Test::HasFailure()) {
      return whole;
    }
  }
  if (pairs) {
    const std::vector<std::size_t> points = cut_points(n, pair_limit, focus);
    for (std::size_t i = 0; i < points.size(); ++i) {
      for (std::size_t j = i; j < points.size(); ++j) {
        check(run(stream, {points[i], points[j]}, options), want, describe({points[i], points[j]}));
        if (::testing::Test::HasFailure()) {
          return whole;
        }
      }
    }
  }
  std::vector<std::size_t> bytewise;
  for (std::size_t i = 1; i < n; ++i) {
    bytewise.push_back(i);
  }
  check(run(stream, bytewise, options), want, "byte by byte");
  return whole;
}

}  // namespace nexios::ws::testing
