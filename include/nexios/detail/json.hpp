#pragma once
/// @file
/// JSON as RFC 8259 data on the wire. Boost.JSON turns a number too large for a double
/// (`1e999999`, a 400-digit integer) into ±infinity and serializes a non-finite double as the bare
/// tokens `Infinity`/`NaN`, which are not JSON and which browsers' and Node's `JSON.parse` reject.
/// These helpers refuse both, so what the server parses and what it sends is always JSON.

#include <boost/json/value.hpp>
#include <boost/system/error_code.hpp>

#include <string>
#include <string_view>

namespace nexios::detail {

/// True if every number in `v` (at any depth) is finite.
[[nodiscard]] bool is_finite_json(const boost::json::value& v) noexcept;

/// Parses `text` like boost::json::parse, and also fails (with
/// boost::json::error::exponent_overflow) when a number does not fit a double.
[[nodiscard]] boost::json::value parse_json(std::string_view text, boost::system::error_code& ec);

/// Whether `text` is JSON that parse_json accepts, without building the value (no allocation):
/// the same answer and the same error code as parse_json, for checking text that is passed on as
/// it is.
[[nodiscard]] bool validate_json(std::string_view text, boost::system::error_code& ec) noexcept;

/// Serializes `v` as compact JSON into `out` and returns true, or returns false (and leaves `out`
/// empty) when `v` holds a non-finite number, which JSON cannot express.
[[nodiscard]] bool serialize_json(const boost::json::value& v, std::string& out);

}  // namespace nexios::detail
