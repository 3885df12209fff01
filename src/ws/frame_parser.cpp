/// @file
/// The incremental RFC 6455 frame parser (§5.2–§5.6, §7.4.1).

#include <nexios/ws/frame.hpp>
#include <nexios/ws/frame_parser.hpp>

#include <algorithm>
#include <cstring>

namespace nexios::ws {

namespace {

constexpr std::uint8_t fin_bit = 0x80;
constexpr std::uint8_t rsv_bits = 0x70;
constexpr std::uint8_t opcode_bits = 0x0F;
constexpr std::uint8_t mask_bit = 0x80;
constexpr std::uint8_t length_bits = 0x7F;

/// What the parser needs to know to judge a frame header.
struct HeaderContext {
  Role role;
  bool in_message;
  std::uint64_t message_size;  // bytes of the message in progress
  std::uint64_t max_message_size;
};

/// The verdict on the first `n` bytes of a frame header.
struct HeaderCheck {
  errc error;         // errc{} when the bytes seen so far are fine
  std::size_t total;  // header size as far as it is known (2 until the second byte has arrived)
};

constexpr bool is_known_opcode(std::uint8_t op) noexcept {
  return op <= 0x2 || (op >= 0x8 && op <= 0xA);
}

/// True if a data frame of `length` bytes would make the message exceed the limit.
constexpr bool too_big(const HeaderContext& ctx, std::uint8_t opcode, std::uint64_t length) noexcept {
  const std::uint64_t so_far = opcode == static_cast<std::uint8_t>(Opcode::continuation) ? ctx.message_size : 0;
  return so_far > ctx.max_message_size || length > ctx.max_message_size - so_far;
}

/// Checks whatever part of a frame header is present in `h[0, n)`: every error is reported as soon
/// as the bytes proving it are there. Re-checking a longer prefix repeats the same checks.
HeaderCheck inspect_header(const std::uint8_t* h, std::size_t n, const HeaderContext& ctx) noexcept {
  if (n == 0) {
    return {errc{}, 2};
  }
  const std::uint8_t b0 = h[0];
  const std::uint8_t op = b0 & opcode_bits;
  const bool fin = (b0 & fin_bit) != 0;
  if ((b0 & rsv_bits) != 0) {
    return {errc::reserved_bits, 2};
  }
  if (!is_known_opcode(op)) {
    return {errc::reserved_opcode, 2};
  }
  const bool control = is_control(static_cast<Opcode>(op));
  if (control) {
    if (!fin) {
      return {errc::fragmented_control, 2};
    }
  } else if (op == static_cast<std::uint8_t>(Opcode::continuation)) {
    if (!ctx.in_message) {
      return {errc::unexpected_continuation, 2};
    }
  } else if (ctx.in_message) {
    return {errc::expected_continuation, 2};
  }
  if (n < 2) {
    return {errc{}, 2};
  }

  const std::uint8_t b1 = h[1];
  const bool masked = (b1 & mask_bit) != 0;
  if (ctx.role == Role::server && !masked) {
    return {errc::unmasked_frame, 2};
  }
  if (ctx.role == Role::client && masked) {
    return {errc::masked_frame, 2};
  }
  const std::uint8_t len7 = b1 & length_bits;
  const std::size_t mask_size = masked ? 4 : 0;
  if (len7 <= 125) {
    if (control) {
      if (op == static_cast<std::uint8_t>(Opcode::close) && len7 == 1) {
        return {errc::bad_close_payload, 2};
      }
    } else if (too_big(ctx, op, len7)) {
      return {errc::message_too_big, 2};
    }
    return {errc{}, 2 + mask_size};
  }
  if (control) {
    return {errc::control_too_long, 2};
  }
  if (len7 == 126) {
    const std::size_t total = 4 + mask_size;
    if (n >= 4) {
      const std::uint64_t length = (static_cast<std::uint64_t>(h[2]) << 8) | h[3];
      if (too_big(ctx, op, length)) {
        return {errc::message_too_big, total};
      }
    }
    return {errc{}, total};
  }
  const std::size_t total = 10 + mask_size;
  if (n >= 3 && (h[2] & 0x80) != 0) {
    return {errc::bad_length, total};
  }
  if (n >= 10) {
    std::uint64_t length = 0;
    for (std::size_t i = 2; i < 10; ++i) {
      length = (length << 8) | h[i];
    }
    if (too_big(ctx, op, length)) {
      return {errc::message_too_big, total};
    }
  }
  return {errc{}, total};
}

/// Validates a complete close frame payload (§5.5.1, §7.4.1).
errc check_close_payload(const std::uint8_t* payload, std::size_t size) noexcept {
  if (size == 0) {
    return errc{};
  }
  if (size == 1) {
    return errc::bad_close_payload;
  }
  const auto code = static_cast<std::uint16_t>((payload[0] << 8) | payload[1]);
  if (!is_valid_close_code(code)) {
    return errc::invalid_close_code;
  }
  detail::Utf8Validator reason;
  if (!reason.feed(payload + 2, size - 2) || !reason.complete()) {
    return errc::invalid_close_reason;
  }
  return errc{};
}

}  // namespace

void FrameParser::reset() noexcept {
  *this = FrameParser(options_);
}

FrameEvent FrameParser::fail(errc e, std::size_t used, std::size_t& consumed, std::error_code& ec) noexcept {
  state_ = State::failed;
  error_ = e;
  ec = make_error_code(e);
  consumed = used;
  return {};
}

void FrameParser::start_frame(const std::uint8_t* header) noexcept {
  const std::uint8_t b0 = header[0];
  const std::uint8_t b1 = header[1];
  fin_ = (b0 & fin_bit) != 0;
  frame_opcode_ = static_cast<Opcode>(b0 & opcode_bits);
  masked_ = (b1 & mask_bit) != 0;
  const std::uint8_t len7 = b1 & length_bits;
  std::size_t pos = 2;
  std::uint64_t length = len7;
  if (len7 == 126) {
    length = (static_cast<std::uint64_t>(header[2]) << 8) | header[3];
    pos = 4;
  } else if (len7 == 127) {
    length = 0;
    for (std::size_t i = 2; i < 10; ++i) {
      length = (length << 8) | header[i];
    }
    pos = 10;
  }
  if (masked_) {
    std::memcpy(mask_.data(), header + pos, 4);
  }
  payload_remaining_ = length;
  payload_offset_ = 0;
  control_len_ = 0;
  state_ = State::payload;
  if (frame_opcode_ == Opcode::text || frame_opcode_ == Opcode::binary) {
    in_message_ = true;
    message_opcode_ = frame_opcode_;
    message_size_ = 0;
    utf8_.reset();
  }
}

FrameEvent FrameParser::end_message(std::size_t used, std::size_t& consumed, std::error_code& ec) noexcept {
  end_pending_ = false;
  if (message_opcode_ == Opcode::text && !utf8_.complete()) {
    return fail(errc::invalid_utf8, used, consumed, ec);
  }
  in_message_ = false;
  consumed = used;
  FrameEvent ev;
  ev.type = FrameEvent::Type::message_end;
  ev.opcode = message_opcode_;
  return ev;
}

FrameEvent FrameParser::next(std::uint8_t* input, std::size_t size, std::size_t& consumed,
                             std::error_code& ec) noexcept {
  consumed = 0;
  if (state_ == State::failed) {
    ec = make_error_code(error_);
    return {};
  }
  ec.clear();
  if (closed_) {
    consumed = size;
    return {};
  }
  if (end_pending_) {
    return end_message(0, consumed, ec);
  }

  std::size_t pos = 0;
  for (;;) {
    if (state_ == State::header) {
      const HeaderContext ctx{options_.role, in_message_, message_size_, options_.max_message_size};
      bool started = false;
      if (header_len_ == 0) {
        // Fast path: the whole header is in the input.
        const HeaderCheck check = inspect_header(input + pos, size - pos, ctx);
        if (check.error != errc{}) {
          return fail(check.error, pos, consumed, ec);
        }
        if (size - pos >= check.total) {
          start_frame(input + pos);
          pos += check.total;
          started = true;
        }
      }
      if (!started) {
        // Split header: gather it in the spill buffer, checking each prefix as it grows.
        for (;;) {
          const HeaderCheck check = inspect_header(header_.data(), header_len_, ctx);
          if (check.error != errc{}) {
            return fail(check.error, pos, consumed, ec);
          }
          if (header_len_ >= check.total) {
            break;
          }
          if (pos == size) {
            consumed = pos;
            return {};
          }
          const std::size_t n = std::min(check.total - header_len_, size - pos);
          std::memcpy(header_.data() + header_len_, input + pos, n);
          header_len_ += n;
          pos += n;
        }
        start_frame(header_.data());
        header_len_ = 0;
      }
      if (payload_remaining_ == 0 && !is_control(frame_opcode_)) {
        // An empty data frame: nothing to return unless it ends the message.
        state_ = State::header;
        if (fin_) {
          return end_message(pos, consumed, ec);
        }
        continue;
      }
    }

    const std::size_t available = size - pos;
    const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(payload_remaining_, available));

    if (is_control(frame_opcode_)) {
      if (n != 0) {
        std::memcpy(control_.data() + control_len_, input + pos, n);
        if (masked_) {
          apply_mask(control_.data() + control_len_, n, mask_, control_len_);
        }
        control_len_ += n;
        payload_remaining_ -= n;
        payload_offset_ += n;
        pos += n;
      }
      if (payload_remaining_ != 0) {
        consumed = pos;
        return {};
      }
      state_ = State::header;
      if (frame_opcode_ == Opcode::close) {
        const errc e = check_close_payload(control_.data(), control_len_);
        if (e != errc{}) {
          return fail(e, pos, consumed, ec);
        }
        closed_ = true;
      }
      consumed = pos;
      FrameEvent ev;
      ev.type = FrameEvent::Type::control;
      ev.opcode = frame_opcode_;
      ev.data = control_.data();
      ev.size = control_len_;
      return ev;
    }

    if (n == 0) {
      consumed = pos;
      return {};
    }
    std::uint8_t* payload = input + pos;
    if (masked_) {
      apply_mask(payload, n, mask_, static_cast<std::size_t>(payload_offset_ & 3u));
    }
    if (message_opcode_ == Opcode::text && !utf8_.feed(payload, n)) {
      return fail(errc::invalid_utf8, pos, consumed, ec);
    }
    payload_remaining_ -= n;
    payload_offset_ += n;
    message_size_ += n;
    if (payload_remaining_ == 0) {
      state_ = State::header;
      end_pending_ = fin_;
    }
    consumed = pos + n;
    FrameEvent ev;
    ev.type = FrameEvent::Type::data;
    ev.opcode = message_opcode_;
    ev.data = payload;
    ev.size = n;
    return ev;
  }
}

}  // namespace nexios::ws
