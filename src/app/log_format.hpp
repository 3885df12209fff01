#pragma once
// The default sink's two line formats (private to the library; unit-tested).
//
// Both write exactly one line, ending in '\n', whatever bytes the record holds: text is UTF-8
// with every invalid byte replaced by U+FFFD and every control character escaped, so a client
// cannot forge a line (or break a JSON parser) through a path or a header it sent.

#include <nexios/log.hpp>

#include <fmt/format.h>

#include <string_view>

namespace nexios::detail {

/// `2024-05-01T12:00:00.123Z INFO    access [c7 127.0.0.1:50312] GET /x 200 status=200 path="/a b"`
void format_human_line(fmt::memory_buffer& out, const LogRecord& record);

/// `{"ts":"2024-05-01T12:00:00.123Z","level":"info","component":"access","conn":7,
///   "client":"127.0.0.1:50312","msg":"GET /x 200","status":200,"path":"/a b"}`
/// (`conn` and `client` only when known).
void format_json_line(fmt::memory_buffer& out, const LogRecord& record);

/// Appends `text` as the inside of a JSON string: valid UTF-8 kept, invalid bytes as U+FFFD,
/// '"', '\\' and control characters escaped.
void append_json_escaped(fmt::memory_buffer& out, std::string_view text);

}  // namespace nexios::detail
