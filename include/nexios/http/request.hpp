#pragma once
/// @file
/// `nexios::http::Request`: one parsed HTTP/1.1 request (the output of `RequestParser`).

#include <nexios/http/headers.hpp>

#include <string_view>

namespace nexios::http {

class RequestParser;

/// A parsed request. Every view points into storage owned by the `RequestParser` that produced it
/// and stays valid until that parser's `reset()` (or destruction). Moving the parser keeps the
/// views valid.
class Request {
 public:
  /// The method token as sent, e.g. "GET" (methods are case-sensitive).
  [[nodiscard]] std::string_view method() const noexcept { return method_; }
  /// The request-target as sent, e.g. "/chat/a%20b?x=1".
  [[nodiscard]] std::string_view target() const noexcept { return target_; }
  /// The path of the target, percent-decoded ("/chat/a b"). Invalid escapes are kept as they are.
  [[nodiscard]] std::string_view path() const noexcept { return path_; }
  /// The path of the target, not decoded ("/chat/a%20b").
  [[nodiscard]] std::string_view raw_path() const noexcept { return raw_path_; }
  /// The query string without the '?', not decoded ("x=1"); empty if none.
  [[nodiscard]] std::string_view query_string() const noexcept { return query_; }
  /// 1 for HTTP/1.1, 0 for HTTP/1.0.
  [[nodiscard]] int version_minor() const noexcept { return version_minor_; }
  [[nodiscard]] const Headers& headers() const noexcept { return headers_; }
  /// The body, de-chunked. Valid once the parser is `done()`.
  [[nodiscard]] std::string_view body() const noexcept { return body_; }
  /// True if the request declared a body (Content-Length > 0 or Transfer-Encoding: chunked).
  [[nodiscard]] bool has_body() const noexcept { return has_body_; }
  /// Whether the connection may be kept open after the response: HTTP/1.1 unless
  /// `Connection: close`; HTTP/1.0 only with `Connection: keep-alive`.
  [[nodiscard]] bool keep_alive() const noexcept { return keep_alive_; }
  /// True if the client sent `Expect: 100-continue`.
  [[nodiscard]] bool expects_continue() const noexcept { return expects_continue_; }

 private:
  friend class RequestParser;
  std::string_view method_;
  std::string_view target_;
  std::string_view path_;
  std::string_view raw_path_;
  std::string_view query_;
  int version_minor_ = 1;
  Headers headers_;
  std::string_view body_;
  bool has_body_ = false;
  bool keep_alive_ = true;
  bool expects_continue_ = false;
};

}  // namespace nexios::http
