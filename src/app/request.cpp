#include <nexios/request.hpp>

#include <nexios/detail/json.hpp>

#include <boost/json/parse.hpp>

namespace nexios {

URL Request::url() const {
  URL u;
  u.scheme = "http";
  u.host = std::string(req_.headers().get_or("host", ""));
  u.path = req_.path();
  u.query = req_.query_string();
  return u;
}

const QueryParams& Request::query_params() const {
  if (!query_) {
    query_ = QueryParams::parse(req_.query_string());
  }
  return *query_;
}

const Cookies& Request::cookies() const {
  if (!cookies_) {
    cookies_ = Cookies::parse(req_.headers().get_all("cookie"));
  }
  return *cookies_;
}

boost::json::value Request::json() const {
  boost::system::error_code ec;
  boost::json::value v = detail::parse_json(req_.body(), ec);
  if (ec) {
    throw BadRequest("request body is not valid JSON: " + ec.message());
  }
  return v;
}

}  // namespace nexios
