/// @file
/// Fuzz target json: the strict JSON helpers (nexios/detail/json.hpp). Whatever parse_json
/// accepts is JSON that the server can send on: every number finite, serialize_json succeeds,
/// its output is valid UTF-8 and parses back to the same value (doubles within
/// rounding). parse_json refuses exactly what
/// Boost.JSON accepts with a non-finite number in it, and validate_json gives parse_json's answer.
///
/// Options byte and schedule: unused (the payload is the JSON text).

#include "fuzz_support.hpp"
#include "fuzz_targets.hpp"

#include <nexios/detail/json.hpp>
#include <nexios/detail/utf8.hpp>

#include <boost/json/error.hpp>
#include <boost/json/parse.hpp>

#include <cmath>
#include <string>
#include <string_view>

namespace {

// Equal values, except that doubles may differ in the last bits: Boost.JSON 1.81 does not round
// long decimal numbers correctly, so a double can move by an ulp through serialize and parse.
bool same(const boost::json::value& a, const boost::json::value& b) {
  if (a.is_number() && b.is_number() && (a.is_double() || b.is_double())) {
    const double x = a.to_number<double>();
    const double y = b.to_number<double>();
    return x == y || std::fabs(x - y) <= 1e-12 * std::fmax(std::fabs(x), std::fabs(y));
  }
  if (a.kind() != b.kind()) {
    return false;
  }
  if (a.is_array()) {
    const auto& x = a.get_array();
    const auto& y = b.get_array();
    if (x.size() != y.size()) {
      return false;
    }
    for (std::size_t i = 0; i < x.size(); ++i) {
      if (!same(x[i], y[i])) {
        return false;
      }
    }
    return true;
  }
  if (a.is_object()) {
    const auto& x = a.get_object();
    const auto& y = b.get_object();
    if (x.size() != y.size()) {
      return false;
    }
    for (const auto& kv : x) {
      const auto* other = y.if_contains(kv.key());
      if (other == nullptr || !same(kv.value(), *other)) {
        return false;
      }
    }
    return true;
  }
  return a == b;
}

}  // namespace

int fuzz_json(const std::uint8_t* data, std::size_t size) {
  const nexios::fuzz::FuzzInput in = nexios::fuzz::decode_input(data, size);
  // A heap copy so reads past the end are caught.
  const std::string text(reinterpret_cast<const char*>(in.payload.data()), in.payload.size());
  boost::system::error_code ec;
  const boost::json::value v = nexios::detail::parse_json(text, ec);

  boost::system::error_code checked;
  FUZZ_CHECK(nexios::detail::validate_json(text, checked) == !ec);
  FUZZ_CHECK(checked == ec);  // validate_json answers as parse_json does, error code included

  boost::system::error_code boost_ec;
  const boost::json::value plain = boost::json::parse(text, boost_ec);
  if (boost_ec) {
    FUZZ_CHECK(ec == boost_ec);  // the same error for what is not JSON at all
    return 0;
  }
  if (!nexios::detail::is_finite_json(plain)) {
    FUZZ_CHECK(ec == boost::json::error::exponent_overflow);
    return 0;
  }
  FUZZ_CHECK(!ec);
  FUZZ_CHECK(v == plain);
  std::string out;
  FUZZ_CHECK(nexios::detail::serialize_json(v, out));
  FUZZ_CHECK(nexios::detail::is_valid_utf8(out));
  boost::system::error_code again;
  const boost::json::value back = nexios::detail::parse_json(out, again);
  FUZZ_CHECK(!again);
  FUZZ_CHECK(same(back, v));
  return 0;
}
