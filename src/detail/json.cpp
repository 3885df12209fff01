#include <nexios/detail/json.hpp>

#include <boost/json/basic_parser_impl.hpp>
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

namespace {
// The events of boost::json::basic_parser, kept nowhere: only a number that does not fit a double
// is noted here (the parser refuses everything else that is not JSON).
struct Validator {
  static constexpr std::size_t max_object_size = std::size_t(-1);
  static constexpr std::size_t max_array_size = std::size_t(-1);
  static constexpr std::size_t max_key_size = std::size_t(-1);
  static constexpr std::size_t max_string_size = std::size_t(-1);
  using ec_t = boost::system::error_code;
  using sv = boost::json::string_view;
  bool on_document_begin(ec_t&) { return true; }
  bool on_document_end(ec_t&) { return true; }
  bool on_array_begin(ec_t&) { return true; }
  bool on_array_end(std::size_t, ec_t&) { return true; }
  bool on_object_begin(ec_t&) { return true; }
  bool on_object_end(std::size_t, ec_t&) { return true; }
  bool on_string_part(sv, std::size_t, ec_t&) { return true; }
  bool on_string(sv, std::size_t, ec_t&) { return true; }
  bool on_key_part(sv, std::size_t, ec_t&) { return true; }
  bool on_key(sv, std::size_t, ec_t&) { return true; }
  bool on_number_part(sv, ec_t&) { return true; }
  bool on_int64(std::int64_t, sv, ec_t&) { return true; }
  bool on_uint64(std::uint64_t, sv, ec_t&) { return true; }
  bool on_double(double d, sv, ec_t&) {
    overflow = overflow || !std::isfinite(d);  // reported after the parse, as parse_json does
    return true;
  }
  bool on_bool(bool, ec_t&) { return true; }
  bool on_null(ec_t&) { return true; }
  bool on_comment_part(sv, ec_t&) { return true; }
  bool on_comment(sv, ec_t&) { return true; }
  bool overflow = false;
};
}  // namespace

bool validate_json(std::string_view text, boost::system::error_code& ec) noexcept {
  boost::json::basic_parser<Validator> p{boost::json::parse_options{}};
  const std::size_t n = p.write_some(false, text.data(), text.size(), ec);
  if (!ec && n < text.size()) {
    ec = boost::json::error::extra_data;
  }
  if (!ec && p.handler().overflow) {
    ec = boost::json::error::exponent_overflow;
  }
  return !ec;
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
