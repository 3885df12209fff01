#include "app/cors_policy.hpp"

#include <nexios/detail/ascii.hpp>

#include <stdexcept>

namespace nexios::detail {

namespace {

std::string join(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& i : items) {
    if (!out.empty()) {
      out += ", ";
    }
    out += i;
  }
  return out;
}

// Headers a browser sends without asking (CORS-safelisted request headers, Fetch §2.2.2).
bool safelisted(std::string_view name) noexcept {
  for (std::string_view s : {"accept", "accept-language", "content-language", "content-type", "range"}) {
    if (iequals(name, s)) {
      return true;
    }
  }
  return false;
}

bool list_contains(std::string_view list, std::string_view item) {
  return for_each_list_element(list, [&](std::string_view e) { return iequals(e, item); });
}

}  // namespace

CorsPolicy::CorsPolicy(CorsOptions options) : options_(std::move(options)), origins_(options_.allow_origins) {
  for (const auto& h : options_.allow_headers) {
    if (h == "*") {
      any_header_ = true;
    } else if (!is_token(h)) {
      throw std::invalid_argument("cors: allow_headers: \"" + h + "\" is not a header name");
    }
  }
  for (const auto& m : options_.allow_methods) {
    if (!is_token(m)) {
      throw std::invalid_argument("cors: allow_methods: \"" + m + "\" is not a method");
    }
  }
  for (const auto& h : options_.expose_headers) {
    if (!is_token(h)) {
      throw std::invalid_argument("cors: expose_headers: \"" + h + "\" is not a header name");
    }
  }
  if (options_.allow_credentials && (origins_.allows_any() || any_header_)) {
    throw std::invalid_argument(
        "cors: allow_credentials cannot go with any origin (\"*\") or any header: list them, so that "
        "no other site can make credentialed requests");
  }
  if (options_.max_age.count() < 0) {
    throw std::invalid_argument("cors: max_age must not be negative");
  }
  methods_ = join(options_.allow_methods);
  expose_ = join(options_.expose_headers);
}

bool CorsPolicy::is_preflight(const http::Request& req) noexcept {
  return req.method() == "OPTIONS" && req.headers().get("origin") && req.headers().get("access-control-request-method");
}

bool CorsPolicy::header_allowed(std::string_view name) const {
  if (any_header_ || safelisted(name)) {
    return true;
  }
  for (const auto& h : options_.allow_headers) {
    if (iequals(h, name)) {
      return true;
    }
  }
  return false;
}

void CorsPolicy::allow_origin(std::string_view origin, http::Response& res) const {
  // "*" only when any origin is allowed and no credentials; otherwise the origin itself.
  res.set_header("Access-Control-Allow-Origin", origins_.allows_any() ? std::string_view("*") : origin);
  if (options_.allow_credentials) {
    res.set_header("Access-Control-Allow-Credentials", "true");
  }
}

void CorsPolicy::preflight(const http::Request& req, std::string_view route_methods, http::Response& res) const {
  res.set_header("Vary", "Origin, Access-Control-Request-Method, Access-Control-Request-Headers");
  const std::string_view origin = req.headers().get_or("origin", "");
  if (!origins_.allows(origin)) {
    res.status(403).text("CORS: origin not allowed");
    return;
  }
  const std::string_view method = trim_ows(req.headers().get_or("access-control-request-method", ""));
  const std::string_view allowed_methods = methods_.empty() ? route_methods : std::string_view(methods_);
  if (!is_token(method) || !list_contains(allowed_methods, method)) {
    res.status(403).text("CORS: method not allowed");
    return;
  }
  std::string requested;
  bool headers_ok = true;
  for (auto value : req.headers().get_all("access-control-request-headers")) {
    for_each_list_element(value, [&](std::string_view h) {
      if (!is_token(h) || !header_allowed(h)) {
        headers_ok = false;
        return true;
      }
      if (!requested.empty()) {
        requested += ", ";
      }
      requested += h;
      return false;
    });
  }
  if (!headers_ok) {
    res.status(403).text("CORS: header not allowed");
    return;
  }
  res.status(204);
  allow_origin(origin, res);
  res.set_header("Access-Control-Allow-Methods", allowed_methods);
  if (!requested.empty()) {
    res.set_header("Access-Control-Allow-Headers", requested);
  }
  res.set_header("Access-Control-Max-Age", std::to_string(options_.max_age.count()));
}

void CorsPolicy::decorate(const http::Request& req, http::Response& res) const {
  if (!origins_.allows_any() || options_.allow_credentials) {
    // The answer depends on the Origin: caches must keep one per origin.
    if (auto v = res.get_header("vary"); !v || !list_contains(*v, "origin")) {
      res.header("Vary", "Origin");
    }
  }
  const auto origin = req.headers().get("origin");
  if (!origin || !origins_.allows(*origin)) {
    return;
  }
  allow_origin(*origin, res);
  if (!expose_.empty()) {
    res.set_header("Access-Control-Expose-Headers", expose_);
  }
}

}  // namespace nexios::detail
