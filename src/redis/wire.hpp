#pragma once
// The Redis layer's messages between servers, as text lines on its pub/sub channels (and in its
// history lists). Pure functions: no Redis, no sockets; fuzzed (fuzz/target_redis_wire.cpp).
//
//   nx1|m|<origin>|<kind j/t/b>|<offset, 0: not saved>|<id: 36 chars or empty>|<timestamp µs>|<footprint>|<payload>
//   nx1|s|<origin>|<request>|<kind>|<channel id>|<payload>        send_to request, on <prefix>all
//   nx1|a|<origin>|<request>|<1: delivered, 0: not here>          its answer, on <prefix>s:<asker>
//
// The payload is everything after the last fixed field (it may hold '|'). A line that does not
// parse is the caller's to count and drop.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace nexios::redis::detail {

/// Server ids and channel ids may not hold these (they separate the fields).
inline constexpr std::size_t max_origin_bytes = 64;
/// Bytes a line may hold besides its payload (RedisLayerOptions::max_message_bytes bounds the
/// payload): the fixed fields, with room to spare.
inline constexpr std::size_t max_header_bytes = 512;

/// What a payload is (Payload::Kind of the app layer, which this file does not depend on).
enum class Kind : char { json = 'j', text = 't', bytes = 'b' };
std::optional<Kind> kind_of(std::string_view c) noexcept;

/// A group message (its views point into the parsed line).
struct GroupLine {
  std::string_view origin;
  Kind kind = Kind::json;
  std::uint64_t offset = 0;  // 0: not saved
  std::string_view id;       // 36 characters, or empty
  std::chrono::system_clock::time_point timestamp{};
  std::size_t footprint = 0;
  std::string_view payload;
};
std::optional<GroupLine> parse_group(std::string_view line) noexcept;
/// The line before the offset ("nx1|m|<origin>|<kind>|") and after it ("|<id>|<ts>|<fp>|"):
/// the history script puts the offset it gives between them.
std::string group_head(std::string_view origin, Kind kind);
std::string group_tail(const GroupLine& g);
/// The same, appended to `out`.
void append_group_head(std::string& out, std::string_view origin, Kind kind);
void append_group_tail(std::string& out, const GroupLine& g);
/// A whole line.
std::string encode_group(const GroupLine& g);

struct SendToLine {
  std::string_view origin;
  std::uint64_t request = 0;
  Kind kind = Kind::json;
  std::string_view channel_id;
  std::string_view payload;
};
std::optional<SendToLine> parse_send_to(std::string_view line) noexcept;
std::string encode_send_to(const SendToLine& s);

struct AnswerLine {
  std::string_view origin;
  std::uint64_t request = 0;
  bool delivered = false;
};
std::optional<AnswerLine> parse_answer(std::string_view line) noexcept;
std::string encode_answer(const AnswerLine& a);

/// What a message from another server may put on a client's wire: JSON that is JSON (strict:
/// numbers that fit a double), text that is valid UTF-8; bytes are anything.
bool acceptable_payload(Kind kind, std::string_view data);

}  // namespace nexios::redis::detail
