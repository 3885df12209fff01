#include <nexios/guard.hpp>

#include <nexios/http/response.hpp>

#include <stdexcept>

namespace nexios {

GuardResult reject(int status, std::string body, std::vector<std::pair<std::string, std::string>> headers) {
  if (status < 400 || status > 599) {
    throw std::invalid_argument("nx::reject: status must be 400-599, not " + std::to_string(status));
  }
  GuardResult r;
  r.status = status;
  r.body = body.empty() ? std::string(http::reason_phrase(status)) : std::move(body);
  r.headers = std::move(headers);
  return r;
}

std::string_view GuardContext::method() const noexcept { return req_.method(); }

std::string_view GuardContext::path() const noexcept { return req_.path(); }

const http::Headers& GuardContext::headers() const noexcept { return req_.headers(); }

const http::QueryParams& GuardContext::query_params() const {
  if (!query_) {
    query_ = http::QueryParams::parse(req_.query_string());
  }
  return *query_;
}

const http::Cookies& GuardContext::cookies() const {
  if (!cookies_) {
    cookies_ = http::Cookies::parse(req_.headers().get_all("cookie"));
  }
  return *cookies_;
}

}  // namespace nexios
