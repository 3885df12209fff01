#pragma once
/// @file
/// Parsing JSON as the server does for `receive_json`: numbers that do not fit a double
/// (`1e999999`, a 400-digit integer) are an error instead of ±infinity, which JSON cannot carry
/// and which the server would refuse to send on.
///
/// @code
/// boost::system::error_code ec;
/// boost::json::value v = nx::parse_json(text, ec);
/// if (ec == boost::json::error::exponent_overflow) { /* a number out of range */ }
/// @endcode

#include <nexios/detail/json.hpp>

#include <boost/json/error.hpp>

namespace nexios {

/// Like boost::json::parse, and fails with boost::json::error::exponent_overflow for a number out
/// of a double's range.
[[nodiscard]] inline boost::json::value parse_json(std::string_view text, boost::system::error_code& ec) {
  return detail::parse_json(text, ec);
}

}  // namespace nexios
