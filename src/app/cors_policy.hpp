#pragma once
// The CORS answers of App::cors (see include/nexios/cors.hpp): preflights, and the headers added
// to the responses of HTTP routes.

#include <nexios/cors.hpp>
#include <nexios/http/origin.hpp>
#include <nexios/http/request.hpp>
#include <nexios/http/response.hpp>

#include <string>
#include <string_view>

namespace nexios::detail {

class CorsPolicy {
 public:
  /// Throws std::invalid_argument for a bad pattern, or credentials with any origin or header.
  explicit CorsPolicy(CorsOptions options);

  /// OPTIONS with Origin and Access-Control-Request-Method.
  [[nodiscard]] static bool is_preflight(const http::Request& req) noexcept;
  /// Answers a preflight to a path whose routes allow `route_methods` ("GET, HEAD, POST").
  void preflight(const http::Request& req, std::string_view route_methods, http::Response& res) const;
  /// Adds the CORS headers to a response (for an allowed Origin), and `Vary: Origin`.
  void decorate(const http::Request& req, http::Response& res) const;

 private:
  [[nodiscard]] bool header_allowed(std::string_view name) const;
  void allow_origin(std::string_view origin, http::Response& res) const;

  CorsOptions options_;
  http::OriginAllowList origins_;
  bool any_header_ = false;
  std::string methods_;         // joined allow_methods ("" = the route's)
  std::string expose_;          // joined expose_headers
};

}  // namespace nexios::detail
