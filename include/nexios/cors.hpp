#pragma once
/// @file
/// CORS for HTTP routes: which other origins' pages may call them from a browser.
///
/// @code
/// nx::CorsOptions cors;
/// cors.allow_origins = {"https://app.example.com", "https://*.example.com"};
/// cors.allow_headers = {"Content-Type", "Authorization"};
/// cors.allow_credentials = true;
/// app.cors(cors);
/// @endcode
///
/// With it, a preflight (`OPTIONS` with `Origin` and `Access-Control-Request-Method`) to a path
/// that has routes is answered 204 with the allowed origin, methods, headers and max-age — or 403
/// when the origin, the method or a requested header is not allowed — and every response to an
/// allowed origin carries `Access-Control-Allow-Origin` (and `-Credentials`, `-Expose-Headers`),
/// with `Vary: Origin`. A response to an origin that is not allowed carries none, so the browser
/// does not let the page read it. CORS is not access control: a request that is not a preflight is
/// still served (use guards for that). WebSocket handshakes are not subject to CORS: see
/// App::allow_origins.

#include <chrono>
#include <string>
#include <vector>

namespace nexios {

struct CorsOptions {
  /// Origins whose pages may read responses: "https://app.example.com", "https://*.example.com",
  /// "*.example.com" (http or https), "*" (any; not with allow_credentials).
  std::vector<std::string> allow_origins;
  /// Methods a preflight may ask for; empty: the methods the path has routes for.
  std::vector<std::string> allow_methods;
  /// Request headers a preflight may ask for (case-insensitive); "*" any (not with
  /// allow_credentials). CORS-safelisted headers (Accept, Content-Type, ...) need not be listed.
  std::vector<std::string> allow_headers;
  /// Response headers the page may read beyond the safelisted ones.
  std::vector<std::string> expose_headers;
  /// Whether the page may send cookies / credentials and read the response.
  bool allow_credentials = false;
  /// How long a browser may cache a preflight answer.
  std::chrono::seconds max_age{600};
};

}  // namespace nexios
