/// @file
/// Fuzz target frame_parser: the payload parsed as a stream of WebSocket frames by FrameParser,
/// in the server role and in the client role, all at once, one byte at a time and in
/// input-chosen chunks. The three runs must agree on the messages, control frames and error, and
/// the error must surface while feeding the same byte (the first byte that proves it). The byte at
/// a time run is also compared with a simple whole-buffer reference parser written here from
/// RFC 6455 and the FrameParser documentation (items, error, the byte proving the error).
///
/// Options byte: bit 0 set selects max_message_size = options >> 1 (0..127), else the default.

#include "fuzz_reference.hpp"
#include "fuzz_support.hpp"
#include "fuzz_targets.hpp"

#include <nexios/detail/utf8.hpp>
#include <nexios/ws/error.hpp>
#include <nexios/ws/frame_parser.hpp>
#include <nexios/ws/rfc6455.hpp>

#include <algorithm>
#include <optional>
#include <string>
#include <system_error>
#include <vector>

namespace {

using nexios::fuzz::Chunk;
using nexios::ws::FrameEvent;
using nexios::ws::FrameParser;
using nexios::ws::FrameParserOptions;
using nexios::ws::Opcode;
using nexios::ws::Role;

/// A complete data message or control frame, in the order it completed.
struct Item {
  bool control = false;
  Opcode opcode = Opcode::continuation;
  std::string bytes;

  bool operator==(const Item&) const = default;
};

struct Outcome {
  std::vector<Item> items;
  bool in_message = false;  // at the end (or at the error)
  Opcode partial_opcode = Opcode::continuation;
  std::string partial;      // data of the unfinished message
  std::error_code error;
  std::optional<Chunk> error_chunk;  // the chunk whose feeding reported the error
  bool closed = false;
};

bool is_data_opcode(Opcode op) {
  return op == Opcode::text || op == Opcode::binary;
}

Outcome parse(std::string_view stream, const std::vector<Chunk>& chunks, const FrameParserOptions& options) {
  Outcome out;
  FrameParser parser(options);
  // The parser unmasks in place: every run works on its own copy, one heap block per chunk.
  for (const Chunk& c : chunks) {
    const std::size_t len = c.end - c.begin;
    std::vector<std::uint8_t> buf(stream.begin() + static_cast<std::ptrdiff_t>(c.begin),
                                  stream.begin() + static_cast<std::ptrdiff_t>(c.end));
    std::uint8_t* const input = buf.data();
    std::size_t pos = 0;
    for (;;) {
      std::size_t used = 0;
      std::error_code ec;
      const bool was_closed = parser.closed();
      const FrameEvent ev = parser.next(input + pos, len - pos, used, ec);
      FUZZ_CHECK(used <= len - pos);
      if (ec) {
        FUZZ_CHECK(ec.category() == nexios::ws::error_category());
        FUZZ_CHECK(ev.type == FrameEvent::Type::need_more);
        const std::uint16_t code = nexios::ws::close_code_for(ec);
        FUZZ_CHECK(code == 1002 || code == 1007 || code == 1009);
        // Failed for good: no more events, nothing consumed, the same error.
        std::size_t used_after = 1;
        std::error_code again;
        const FrameEvent after = parser.next(input + pos + used, len - pos - used, used_after, again);
        FUZZ_CHECK(after.type == FrameEvent::Type::need_more && used_after == 0 && again == ec);
        out.error = ec;
        out.error_chunk = c;
        out.in_message = parser.in_message();
        return out;
      }
      if (was_closed) {
        // After a close frame everything is consumed and ignored.
        FUZZ_CHECK(ev.type == FrameEvent::Type::need_more && used == len - pos);
      }
      pos += used;
      switch (ev.type) {
        case FrameEvent::Type::need_more:
          FUZZ_CHECK_MSG(pos == len, "need_more before consuming the whole input");
          break;
        case FrameEvent::Type::data:
          FUZZ_CHECK(ev.size > 0);
          FUZZ_CHECK(nexios::fuzz::points_into(ev.data, ev.size, input, len));
          FUZZ_CHECK(ev.data + ev.size == input + pos);  // the payload ends where the parser stopped
          FUZZ_CHECK(is_data_opcode(ev.opcode));
          FUZZ_CHECK(parser.in_message());
          if (!out.in_message) {
            out.in_message = true;
            out.partial_opcode = ev.opcode;
          }
          FUZZ_CHECK(ev.opcode == out.partial_opcode);
          out.partial.append(ev.view());
          FUZZ_CHECK(out.partial.size() <= options.max_message_size);
          FUZZ_CHECK(parser.message_size() == out.partial.size());
          break;
        case FrameEvent::Type::message_end:
          FUZZ_CHECK(is_data_opcode(ev.opcode));
          FUZZ_CHECK(!parser.in_message());
          // An empty message has no data events.
          FUZZ_CHECK(!out.in_message || ev.opcode == out.partial_opcode);
          if (ev.opcode == Opcode::text) {
            FUZZ_CHECK(nexios::detail::is_valid_utf8(out.partial));
          }
          out.items.push_back({false, ev.opcode, out.partial});
          out.partial.clear();
          out.in_message = false;
          break;
        case FrameEvent::Type::control: {
          FUZZ_CHECK(nexios::ws::is_control(ev.opcode));
          FUZZ_CHECK(ev.size <= nexios::ws::max_control_payload);
          FUZZ_CHECK(ev.size == 0 || ev.data != nullptr);
          const std::string payload(ev.view());
          if (ev.opcode == Opcode::close) {
            FUZZ_CHECK(parser.closed());
            FUZZ_CHECK(payload.size() != 1);
            if (payload.size() >= 2) {
              const auto code = static_cast<std::uint16_t>((static_cast<std::uint8_t>(payload[0]) << 8) |
                                                           static_cast<std::uint8_t>(payload[1]));
              FUZZ_CHECK(nexios::ws::is_valid_close_code(code));
              FUZZ_CHECK(nexios::detail::is_valid_utf8(std::string_view(payload).substr(2)));
            }
          } else {
            FUZZ_CHECK(!parser.closed());
          }
          out.items.push_back({true, ev.opcode, payload});
          break;
        }
      }
      if (ev.type == FrameEvent::Type::need_more) {
        break;
      }
    }
  }
  FUZZ_CHECK(out.in_message == parser.in_message() || (parser.in_message() && out.partial.empty()));
  out.in_message = parser.in_message();
  out.closed = parser.closed();
  return out;
}

/// `a` and `b` parsed the same stream with different splits.
void check_same(const Outcome& a, const Outcome& b, const char* what) {
  FUZZ_CHECK_MSG(a.error == b.error, std::string(what) + ": " + a.error.message() + " vs " + b.error.message());
  FUZZ_CHECK_MSG(a.items.size() == b.items.size(), what);
  for (std::size_t i = 0; i < a.items.size(); ++i) {
    FUZZ_CHECK_MSG(a.items[i] == b.items[i], std::string(what) + ": item " + std::to_string(i));
  }
  FUZZ_CHECK_MSG(a.in_message == b.in_message, what);
  FUZZ_CHECK(a.closed == b.closed);
  if (a.error) {
    // A split can deliver some payload of the failing message before the error: both are
    // prefixes of the same message.
    const std::string& shorter = a.partial.size() <= b.partial.size() ? a.partial : b.partial;
    const std::string& longer = a.partial.size() <= b.partial.size() ? b.partial : a.partial;
    FUZZ_CHECK_MSG(longer.starts_with(shorter), what);
  } else {
    FUZZ_CHECK_MSG(a.partial == b.partial, what);
  }
}

/// What the reference parser expects from a byte-at-a-time run.
struct RefResult {
  std::vector<Item> items;
  bool in_message = false;
  std::string partial;
  std::error_code error;
  std::size_t error_at = 0;  // index of the byte that proves the error
  bool closed = false;
};

/// A straightforward whole-buffer frame parser. Errors are placed at the first byte proving them:
/// header errors at the header byte that shows them (the length bytes for message_too_big and
/// bad_length), UTF-8 errors at the first bad byte (or at the last byte of the final frame for a
/// message ending inside a code point), close payload errors at the last byte of the close frame.
RefResult reference_parse(std::string_view s, Role role, std::uint64_t max) {
  using nexios::ws::errc;
  RefResult r;
  const std::size_t n = s.size();
  const auto byte = [&](std::size_t i) { return static_cast<std::uint8_t>(s[i]); };
  const auto fail = [&](errc e, std::size_t at) {
    r.error = nexios::ws::make_error_code(e);
    r.error_at = at;
    return r;
  };
  Opcode message_opcode = Opcode::continuation;
  std::vector<std::size_t> positions;  // stream index of each byte of r.partial
  std::size_t h = 0;
  while (h < n && !r.closed) {
    const std::uint8_t b0 = byte(h);
    const bool fin = (b0 & 0x80) != 0;
    const std::uint8_t op = b0 & 0x0F;
    if ((b0 & 0x70) != 0) {
      return fail(errc::reserved_bits, h);
    }
    if (!(op <= 2 || (op >= 8 && op <= 10))) {
      return fail(errc::reserved_opcode, h);
    }
    const bool control = op >= 8;
    if (control && !fin) {
      return fail(errc::fragmented_control, h);
    }
    if (op == 0 && !r.in_message) {
      return fail(errc::unexpected_continuation, h);
    }
    if ((op == 1 || op == 2) && r.in_message) {
      return fail(errc::expected_continuation, h);
    }
    if (h + 1 >= n) {
      break;
    }
    const std::uint8_t b1 = byte(h + 1);
    const bool masked = (b1 & 0x80) != 0;
    if (role == Role::server && !masked) {
      return fail(errc::unmasked_frame, h + 1);
    }
    if (role == Role::client && masked) {
      return fail(errc::masked_frame, h + 1);
    }
    const std::uint64_t so_far = op == 0 ? r.partial.size() : 0;
    const auto too_big = [&](std::uint64_t len) { return so_far > max || len > max - so_far; };
    const std::uint8_t len7 = b1 & 0x7F;
    std::uint64_t len = len7;
    std::size_t header = 2;
    if (len7 <= 125) {
      if (op == 8 && len7 == 1) {
        return fail(errc::bad_close_payload, h + 1);
      }
      if (!control && too_big(len)) {
        return fail(errc::message_too_big, h + 1);
      }
    } else if (control) {
      return fail(errc::control_too_long, h + 1);
    } else if (len7 == 126) {
      if (h + 3 >= n) {
        break;
      }
      len = (std::uint64_t{byte(h + 2)} << 8) | byte(h + 3);
      if (too_big(len)) {
        return fail(errc::message_too_big, h + 3);
      }
      header = 4;
    } else {
      if (h + 2 >= n) {
        break;
      }
      if ((byte(h + 2) & 0x80) != 0) {
        return fail(errc::bad_length, h + 2);
      }
      if (h + 9 >= n) {
        break;
      }
      len = 0;
      for (std::size_t i = 2; i < 10; ++i) {
        len = (len << 8) | byte(h + i);
      }
      if (too_big(len)) {
        return fail(errc::message_too_big, h + 9);
      }
      header = 10;
    }
    header += masked ? 4 : 0;
    if (h + header > n) {
      break;
    }
    std::uint8_t key[4] = {0, 0, 0, 0};
    for (std::size_t i = 0; masked && i < 4; ++i) {
      key[i] = byte(h + header - 4 + i);
    }
    if (op == 1 || op == 2) {
      r.in_message = true;
      message_opcode = static_cast<Opcode>(op);
      r.partial.clear();
      positions.clear();
    }
    const std::size_t start = h + header;
    const std::size_t avail = static_cast<std::size_t>(std::min<std::uint64_t>(len, n - start));
    std::string payload;
    for (std::size_t i = 0; i < avail; ++i) {
      payload.push_back(static_cast<char>(byte(start + i) ^ key[i % 4]));
    }
    if (control) {
      if (avail < len) {
        break;
      }
      const std::size_t last = start + avail - 1;  // len >= 1 whenever a check below fails
      if (op == 8 && payload.size() >= 2) {
        const auto code = static_cast<std::uint16_t>((static_cast<std::uint8_t>(payload[0]) << 8) |
                                                     static_cast<std::uint8_t>(payload[1]));
        if (!nexios::ws::is_valid_close_code(code)) {
          return fail(errc::invalid_close_code, last);
        }
        const auto reason = nexios::fuzz::reference_utf8(
            reinterpret_cast<const std::uint8_t*>(payload.data()) + 2, payload.size() - 2);
        if (reason.first_bad != nexios::fuzz::npos || !reason.boundary.back()) {
          return fail(errc::invalid_close_reason, last);
        }
      }
      r.closed = op == 8;
      r.items.push_back({true, static_cast<Opcode>(op), payload});
      h = start + avail;
      continue;
    }
    r.partial += payload;
    for (std::size_t i = 0; i < avail; ++i) {
      positions.push_back(start + i);
    }
    const bool text = message_opcode == Opcode::text;
    const auto utf8 = text ? nexios::fuzz::reference_utf8(reinterpret_cast<const std::uint8_t*>(r.partial.data()),
                                                           r.partial.size())
                           : nexios::fuzz::Utf8Reference{};
    if (text && utf8.first_bad != nexios::fuzz::npos) {
      const std::size_t at = positions[utf8.first_bad];
      r.partial.resize(utf8.first_bad);
      return fail(errc::invalid_utf8, at);
    }
    if (avail < len) {
      break;
    }
    h = start + avail;
    if (fin) {
      if (text && !utf8.boundary.back()) {
        return fail(errc::invalid_utf8, h - 1);  // last payload byte, or last header byte if empty
      }
      r.items.push_back({false, message_opcode, r.partial});
      r.partial.clear();
      positions.clear();
      r.in_message = false;
    }
  }
  return r;
}

void check_reference(const Outcome& by_byte, const RefResult& ref) {
  FUZZ_CHECK_MSG(by_byte.error == ref.error, by_byte.error.message() + " vs reference " + ref.error.message());
  if (ref.error) {
    FUZZ_CHECK_MSG(by_byte.error_chunk->begin == ref.error_at,
                   "error at byte " + std::to_string(by_byte.error_chunk->begin) + ", reference at " +
                       std::to_string(ref.error_at));
  }
  FUZZ_CHECK_MSG(by_byte.items.size() == ref.items.size(),
                 std::to_string(by_byte.items.size()) + " items vs reference " + std::to_string(ref.items.size()));
  for (std::size_t i = 0; i < ref.items.size(); ++i) {
    FUZZ_CHECK_MSG(by_byte.items[i] == ref.items[i], "item " + std::to_string(i) + " differs from the reference");
  }
  FUZZ_CHECK(by_byte.in_message == ref.in_message);
  FUZZ_CHECK_MSG(by_byte.partial == ref.partial, "partial message differs from the reference");
  FUZZ_CHECK(by_byte.closed == ref.closed);
}

void run_role(std::string_view stream, const nexios::fuzz::FuzzInput& in, Role role) {
  FrameParserOptions options;
  options.role = role;
  if ((in.options & 1u) != 0) {
    options.max_message_size = in.options >> 1;
  }
  const Outcome at_once = parse(stream, nexios::fuzz::whole(stream.size()), options);
  const Outcome by_byte = parse(stream, nexios::fuzz::bytewise(stream.size()), options);
  const Outcome chunked = parse(stream, nexios::fuzz::make_chunks(stream.size(), in.schedule), options);
  check_same(at_once, by_byte, "whole vs bytewise");
  check_same(at_once, chunked, "whole vs chunked");
  check_reference(by_byte, reference_parse(stream, role, options.max_message_size));
  if (by_byte.error) {
    // Byte at a time pins down the byte that proves the error; every split reports it while
    // feeding the chunk holding that byte.
    const std::size_t bad = by_byte.error_chunk->begin;
    FUZZ_CHECK(by_byte.error_chunk->end == bad + 1);
    FUZZ_CHECK_MSG(chunked.error_chunk->begin <= bad && bad < chunked.error_chunk->end,
                   "error at byte " + std::to_string(bad) + " reported in chunk [" +
                       std::to_string(chunked.error_chunk->begin) + ", " + std::to_string(chunked.error_chunk->end) +
                       ")");
  }
}

}  // namespace

int fuzz_frame_parser(const std::uint8_t* data, std::size_t size) {
  const auto in = nexios::fuzz::decode_input(data, size);
  const std::string_view stream = in.payload_view();
  run_role(stream, in, Role::server);
  run_role(stream, in, Role::client);
  return 0;
}
