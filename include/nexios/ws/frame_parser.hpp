#pragma once
/// @file
/// A sans-I/O, incremental RFC 6455 frame parser. It knows nothing of sockets: the caller hands it
/// the bytes it has, in any split, and gets back one event at a time.

#include <nexios/detail/utf8.hpp>
#include <nexios/ws/error.hpp>
#include <nexios/ws/rfc6455.hpp>

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <system_error>

namespace nexios::ws {

/// Which side of the connection the parser reads for.
enum class Role {
  server,  ///< parses client frames: every frame must be masked
  client,  ///< parses server frames: no frame may be masked
};

/// Parser settings.
struct FrameParserOptions {
  Role role = Role::server;
  /// Largest data message (sum of its fragments' payloads), checked against each frame's declared
  /// length before any of its payload is buffered. Exceeding it fails with errc::message_too_big.
  std::uint64_t max_message_size = 16 * 1024 * 1024;
};

/// What `FrameParser::next` found.
struct FrameEvent {
  enum class Type {
    need_more,    ///< every input byte was consumed; feed more
    data,         ///< payload bytes of the current data message: `data`/`size`, `opcode` = text|binary
    message_end,  ///< the current data message is complete; `opcode` = text|binary
    control,      ///< a complete ping, pong or close frame; `opcode` and `data`/`size` (≤125 bytes)
  };
  Type type = Type::need_more;
  Opcode opcode = Opcode::continuation;
  /// data: points into the caller's input (already unmasked in place, and for text already checked
  /// to be a valid UTF-8 prefix). control: points into the parser (valid until the next call).
  std::uint8_t* data = nullptr;
  std::size_t size = 0;

  [[nodiscard]] std::string_view view() const noexcept {
    return {reinterpret_cast<const char*>(data), size};
  }
};

/// Incremental frame parser.
///
/// Call `next(input, size, consumed, ec)` repeatedly, advancing the input by `consumed` each time,
/// until it returns `need_more`. Rules enforced (each violation sets `ec` and the parser is done):
/// masking by role, RSV bits (none negotiated), reserved opcodes, control frames ≤125 bytes and
/// never fragmented, continuation/fragmentation order, minimal-form-agnostic 64-bit lengths with the
/// top bit clear, close payloads (empty, or a valid code plus a UTF-8 reason), UTF-8 of text messages
/// (checked as bytes arrive, across fragments, failing at the first bad byte) and the message size.
///
/// Control frames may arrive between the fragments of a data message. A split frame header is kept
/// inside the parser (at most 14 bytes), so the caller never has to keep header bytes; data payload
/// is returned in place, so a caller that wants a contiguous message moves `data` events next to
/// each other. After a close frame has been returned, further input is consumed and ignored.
///
/// @code
/// FrameParser p;
/// std::size_t used = 0; std::error_code ec;
/// for (;;) {
///   auto ev = p.next(buf + pos, len - pos, used, ec);
///   pos += used;
///   if (ec) { fail(close_code_for(ec)); break; }
///   if (ev.type == FrameEvent::Type::need_more) break;
///   ...
/// }
/// @endcode
class FrameParser {
 public:
  explicit FrameParser(FrameParserOptions options = {}) noexcept : options_(options) {}

  /// Parses from `input[0, size)`. Sets `consumed` to the number of input bytes used (the caller
  /// advances past them) and returns the next event. The input may be modified (unmasking).
  FrameEvent next(std::uint8_t* input, std::size_t size, std::size_t& consumed, std::error_code& ec) noexcept;

  /// True while a data message has started but not ended.
  [[nodiscard]] bool in_message() const noexcept { return in_message_; }
  /// True if a frame header or payload is partially received.
  [[nodiscard]] bool in_frame() const noexcept { return state_ != State::header || header_len_ != 0; }
  /// True once a close frame was returned.
  [[nodiscard]] bool closed() const noexcept { return closed_; }
  /// Bytes of the current data message returned so far.
  [[nodiscard]] std::uint64_t message_size() const noexcept { return message_size_; }
  [[nodiscard]] const FrameParserOptions& options() const noexcept { return options_; }
  /// Forgets all state (a new connection).
  void reset() noexcept;

 private:
  enum class State : std::uint8_t { header, payload, failed };

  FrameParserOptions options_;
  State state_ = State::header;
  bool in_message_ = false;
  bool closed_ = false;
  // Current frame
  bool fin_ = false;
  bool masked_ = false;
  Opcode frame_opcode_ = Opcode::continuation;
  std::array<std::uint8_t, 4> mask_{};
  std::uint64_t payload_remaining_ = 0;
  std::uint64_t payload_offset_ = 0;  // bytes of the current frame's payload already consumed
  // Partial header spill
  std::array<std::uint8_t, 14> header_{};
  std::size_t header_len_ = 0;
  // Current data message
  Opcode message_opcode_ = Opcode::continuation;
  std::uint64_t message_size_ = 0;
  detail::Utf8Validator utf8_;
  // Current control frame payload
  std::array<std::uint8_t, max_control_payload> control_{};
  std::size_t control_len_ = 0;
  // The final fragment's payload has been returned; the next call reports message_end.
  bool end_pending_ = false;
  // The error the parser failed with (State::failed), reported again by every later call.
  errc error_{};

  // Enters State::failed with `e` and reports it.
  FrameEvent fail(errc e, std::size_t used, std::size_t& consumed, std::error_code& ec) noexcept;
  // Takes the fields of a complete, already validated header and starts its payload.
  void start_frame(const std::uint8_t* header) noexcept;
  // Reports message_end (or invalid_utf8 for a text message ending inside a code point).
  FrameEvent end_message(std::size_t used, std::size_t& consumed, std::error_code& ec) noexcept;
};

}  // namespace nexios::ws
