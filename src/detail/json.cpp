#include <nexios/detail/json.hpp>

#include <boost/json/error.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <cmath>
#include <cstring>

namespace nexios::detail {

bool is_finite_json(const boost::json::value& v) noexcept {
  switch (v.kind()) {
    case boost::json::kind::double_:
      return std::isfinite(v.get_double());
    case boost::json::kind::array:
      for (const auto& e : v.get_array()) {
        if (!is_finite_json(e)) {
          return false;
        }
      }
      return true;
    case boost::json::kind::object:
      for (const auto& kv : v.get_object()) {
        if (!is_finite_json(kv.value())) {
          return false;
        }
      }
      return true;
    default:
      return true;
  }
}

namespace {
// A number overflows a double only with an exponent or with more than 308 digits: texts without
// either need no second look (the common case, at no cost beyond two scans for 'e').
bool may_overflow(std::string_view text) noexcept {
  return text.size() > 308 || std::memchr(text.data(), 'e', text.size()) != nullptr ||
         std::memchr(text.data(), 'E', text.size()) != nullptr;
}
}  // namespace

boost::json::value parse_json(std::string_view text, boost::system::error_code& ec) {
  boost::json::value v = boost::json::parse(text, ec);
  if (!ec && may_overflow(text) && !is_finite_json(v)) {
    ec = boost::json::error::exponent_overflow;
    return {};
  }
  return v;
}

bool serialize_json(const boost::json::value& v, std::string& out) {
  if (!is_finite_json(v)) {
    out.clear();
    return false;
  }
  out = boost::json::serialize(v);
  return true;
}

}  // namespace nexios::detail
