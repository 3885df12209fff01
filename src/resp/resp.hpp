#pragma once
/// @file
/// Sans-I/O RESP2 (the Redis serialization protocol): reply values, an incremental parser with
/// named limits and its own error category, and the command encoder. No sockets, no Asio: the
/// Redis connection (src/redis/connection.hpp) feeds the parser from the buffer it reads into.

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <vector>

namespace nexios::resp {

/// What makes a RESP stream malformed or too large (category "nexios.resp").
enum class errc {
  bad_type = 1,      ///< a value starts with a byte that is not one of + - : $ *
  bad_length,        ///< a bulk or array length that is not -1 or a non-negative decimal number
  missing_crlf,      ///< a line or a bulk payload not ended by CRLF (or a bare CR or LF in a line)
  bad_integer,       ///< an integer reply that is not an optional '-' followed by digits
  integer_overflow,  ///< an integer reply outside the range of int64
  line_too_long,     ///< a line longer than ParserLimits::max_line_bytes
  bulk_too_big,      ///< a bulk string longer than ParserLimits::max_bulk_bytes
  array_too_big,     ///< an array with more than ParserLimits::max_array_elements elements
  too_deep,          ///< arrays nested deeper than ParserLimits::max_depth
};

/// The "nexios.resp" error category.
[[nodiscard]] const std::error_category& resp_category() noexcept;

/// Makes an error_code of the "nexios.resp" category (found by ADL for `ec == errc::...`).
[[nodiscard]] std::error_code make_error_code(errc e) noexcept;

/// Bounds of what the parser accepts; one past each gives the matching errc.
struct ParserLimits {
  /// Longest bulk string payload (bytes).
  std::size_t max_bulk_bytes = std::size_t{512} * 1024 * 1024;
  /// Most elements in one array.
  std::size_t max_array_elements = std::size_t{1} << 20;
  /// Deepest nesting of arrays (a flat array is depth 1).
  std::size_t max_depth = 8;
  /// Longest line after the type byte and before CRLF (simple strings, errors, integers, lengths).
  std::size_t max_line_bytes = std::size_t{64} * 1024;
};

/// One RESP2 value. Null bulk strings and null arrays are both Type::null.
struct Value {
  /// The RESP2 types.
  enum class Type : std::uint8_t { simple, error, integer, bulk, null, array };

  /// The type; decides which member below holds the value.
  Type type = Type::null;
  /// simple, error and bulk: the bytes (binary safe for bulk).
  std::string str;
  /// integer: the number.
  std::int64_t integer = 0;
  /// array: the elements.
  std::vector<Value> elements;

  /// A simple string ("+OK").
  [[nodiscard]] static Value simple_string(std::string s);
  /// An error reply ("-ERR ...").
  [[nodiscard]] static Value error(std::string s);
  /// An integer reply.
  [[nodiscard]] static Value number(std::int64_t n);
  /// A bulk string.
  [[nodiscard]] static Value bulk(std::string s);
  /// A null (bulk or array).
  [[nodiscard]] static Value null();
  /// An array.
  [[nodiscard]] static Value array(std::vector<Value> items);

  /// Whether this is an error reply.
  [[nodiscard]] bool is_error() const noexcept { return type == Type::error; }
  /// Whether this is an array.
  [[nodiscard]] bool is_array() const noexcept { return type == Type::array; }
  /// Whether this is a null bulk string or a null array.
  [[nodiscard]] bool is_null() const noexcept { return type == Type::null; }
  /// Whether this is an integer.
  [[nodiscard]] bool is_integer() const noexcept { return type == Type::integer; }
  /// Whether this is a simple or bulk string.
  [[nodiscard]] bool is_string() const noexcept { return type == Type::simple || type == Type::bulk; }
  /// The bytes of a simple string, error or bulk string; empty for the other types.
  [[nodiscard]] std::string_view as_string_view() const noexcept { return str; }

  /// Deep equality (type and the member that type uses).
  friend bool operator==(const Value& a, const Value& b) noexcept;
};

/// Name of a type ("simple", "error", ...), for messages.
[[nodiscard]] std::string_view type_name(Value::Type t) noexcept;

/// A short readable rendering for tests and logs (`["message", "ch", "x"]`, `(error) ERR ...`).
[[nodiscard]] std::string to_debug_string(const Value& v);

/// What one Parser::parse call did.
struct ParseResult {
  /// Bytes of the input consumed (all of them unless a value completed or an error occurred).
  std::size_t consumed = 0;
  /// A complete top-level value is ready: take it with Parser::take().
  bool complete = false;
  /// Set when the stream is malformed or passes a limit; the parser then stays failed.
  std::error_code ec;
};

/// Incremental RESP2 parser. Feed it the bytes in any split (one byte at a time works); it keeps
/// partial lines, bulk payloads and arrays itself, so the caller can reuse its read buffer for
/// whatever was consumed. A bulk payload is copied once, from the caller's buffer into the
/// value. Malformed input gives an error code, never an exception (other than std::bad_alloc).
class Parser {
 public:
  /// A parser with the given limits.
  explicit Parser(ParserLimits limits = {}) noexcept : limits_(limits) {}

  /// Parses from the front of `data` up to the end of the first value that completes (then
  /// `complete` is set and the rest is left for the next call) or the end of `data`.
  ParseResult parse(std::string_view data);

  /// The value that the last parse() completed (moves it out).
  [[nodiscard]] Value take();

  /// Whether a previous parse() failed (parse() then returns the same error, consuming nothing).
  [[nodiscard]] bool failed() const noexcept { return static_cast<bool>(error_); }

  /// Whether the parser is between values (no partial value held).
  [[nodiscard]] bool idle() const noexcept;

  /// Forgets any partial value and error.
  void reset() noexcept;

  /// The limits in force.
  [[nodiscard]] const ParserLimits& limits() const noexcept { return limits_; }

 private:
  enum class State : std::uint8_t { type, line, bulk, bulk_crlf };
  struct Frame {
    Value array;
    std::size_t remaining = 0;
  };

  std::error_code fail(errc e);
  // A finished value: into the enclosing array, or ready as the top-level value.
  bool finish(Value v);
  std::error_code on_line(std::string_view line);

  ParserLimits limits_;
  State state_ = State::type;
  char line_type_ = 0;
  std::string line_;            // partial line (without what is still to come)
  Value bulk_;                  // bulk string being filled
  std::size_t bulk_left_ = 0;   // payload bytes still expected
  std::size_t crlf_seen_ = 0;   // bytes of the bulk's CRLF seen
  std::vector<Frame> stack_;    // arrays being filled, outermost first
  Value ready_;
  bool has_ready_ = false;
  std::error_code error_;
};

/// A subscriber's push message, read in place: "message"/"smessage" (kind, channel, payload) or
/// "pmessage" (kind, pattern, channel, payload), each part a view into the parsed bytes.
struct PushView {
  std::string_view kind;
  std::string_view pattern;  ///< pmessage only
  std::string_view channel;
  std::string_view payload;
};

/// The fast path for the messages a subscriber reads most: when `data` starts with a complete
/// push message in the form Redis writes it (an array of 3 or 4 bulk strings, lengths in plain
/// digits, within `limits`), fills `out` with views into `data` and returns its size in bytes;
/// otherwise returns 0 and the bytes are for Parser, which answers everything (a value this
/// accepts, Parser parses to the same array in the same bytes).
[[nodiscard]] std::size_t match_push(std::string_view data, const ParserLimits& limits, PushView& out) noexcept;

/// Appends a command as a RESP array of bulk strings (binary safe).
void append_command(std::string& out, std::span<const std::string_view> args);
/// The same for a braced list: `append_command(out, {"SET", key, value})`.
void append_command(std::string& out, std::initializer_list<std::string_view> args);
/// A command written in place, argument by argument: begin_command(out, n), then n arguments,
/// each append_arg(out, s), or begin_arg(out, size) + exactly `size` bytes + end_arg(out).
void begin_command(std::string& out, std::size_t args);
void append_arg(std::string& out, std::string_view s);
void begin_arg(std::string& out, std::size_t size);
void end_arg(std::string& out);

/// Appends the RESP2 encoding of any value (null encodes as a null bulk string). Simple strings
/// and errors must not contain CR or LF.
void append_value(std::string& out, const Value& v);

}  // namespace nexios::resp

template <>
struct std::is_error_code_enum<nexios::resp::errc> : std::true_type {};
