#pragma once
/// @file
/// A sans-I/O, incremental HTTP/1.1 request parser (RFC 9112). It takes bytes in any split and
/// produces `Request`s; it never touches a socket.

#include <nexios/http/request.hpp>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

namespace nexios::http {

/// Size limits, each answered with its own status when exceeded.
struct HttpLimits {
  /// Request line plus all header lines, CRLFs included (→ 431). Also bounds chunked trailers.
  std::size_t max_header_bytes = 16 * 1024;
  /// Number of header fields (→ 431).
  std::size_t max_headers = 100;
  /// Decoded body size (→ 413).
  std::size_t max_body_size = 1024 * 1024;
};

/// Malformed or over-limit requests. `status_for()` gives the HTTP status to answer with; the
/// connection is closed after answering any of them.
enum class errc {
  bad_request_line = 1,        ///< 400
  bad_method,                  ///< 400: method is not a token
  bad_target,                  ///< 400: empty target or one with control characters / spaces
  unsupported_version,         ///< 505: not HTTP/1.0 or HTTP/1.1
  bad_header,                  ///< 400: missing colon, bad name, whitespace before the colon, CTLs
  obsolete_line_folding,       ///< 400: obs-fold (a header line starting with SP/HTAB)
  headers_too_large,           ///< 431: request line + headers over max_header_bytes
  too_many_headers,            ///< 431: more than max_headers fields
  missing_host,                ///< 400: HTTP/1.1 without exactly one Host header
  bad_content_length,          ///< 400: not digits, overflow, or differing values
  content_length_with_chunked, ///< 400: both Content-Length and Transfer-Encoding (smuggling)
  unsupported_transfer_coding, ///< 501: a transfer coding other than a final "chunked"
  bad_chunk,                   ///< 400: bad chunk size line, missing CRLF after data, bad trailer
  body_too_large,              ///< 413: body over max_body_size
  path_not_utf8,               ///< 400: the percent-decoded path is not valid UTF-8
  query_not_utf8,              ///< 400: a percent-decoded query name or value is not valid UTF-8
  header_not_utf8,             ///< 400: a header value is not valid UTF-8
  cookie_not_utf8,             ///< 400: a cookie (after unquoting) is not valid UTF-8
};

const std::error_category& error_category() noexcept;
inline std::error_code make_error_code(errc e) noexcept { return {static_cast<int>(e), error_category()}; }
/// The status code to answer a parse error with (400, 413, 431, 501 or 505).
int status_for(errc e) noexcept;
/// The status code for any error_code from this category (400 for others).
int status_for(const std::error_code& ec) noexcept;

/// Incremental request parser.
///
/// @code
/// RequestParser p;
/// std::error_code ec;
/// std::size_t used = p.feed(bytes, ec);   // may consume less than all: stops at the end of a request
/// if (ec) { reply(status_for(ec)); close(); }
/// else if (p.done()) { handle(p.request()); p.reset(); /* feed the rest (pipelining) */ }
/// @endcode
class RequestParser {
 public:
  explicit RequestParser(HttpLimits limits = {});
  // A copy's request views would point into the original: moving is allowed, copying is not.
  RequestParser(const RequestParser&) = delete;
  RequestParser& operator=(const RequestParser&) = delete;
  RequestParser(RequestParser&&) noexcept = default;
  RequestParser& operator=(RequestParser&&) noexcept = default;
  ~RequestParser() = default;

  /// Consumes bytes and returns how many were used. Stops right after a complete request, so
  /// pipelined bytes stay with the caller. Once `ec` is set the parser stays failed until `reset()`.
  std::size_t feed(std::string_view data, std::error_code& ec);

  /// The request line and headers are complete (`request()` is valid except for the body).
  [[nodiscard]] bool header_done() const noexcept;
  /// The whole request, body included, is complete.
  [[nodiscard]] bool done() const noexcept;
  /// Some bytes of a request that is not complete have been consumed.
  [[nodiscard]] bool in_progress() const noexcept;
  /// The request (see `header_done()` / `done()`).
  [[nodiscard]] const Request& request() const noexcept { return request_; }
  [[nodiscard]] const HttpLimits& limits() const noexcept { return limits_; }

  /// Prepares for the next request on the same connection; keeps allocated capacity.
  void reset() noexcept;

  /// Shrinks the storage of a complete request to what it uses, for a request that is kept for a
  /// long time (a WebSocket's handshake). The request's views stay valid (they are re-pointed).
  void compact();

 private:
  enum class State : std::uint8_t { head, body_length, chunk_size, chunk_data, chunk_data_crlf, trailers, done, failed };

  std::size_t feed_head(std::string_view data, std::error_code& ec);
  std::size_t scan_head(std::error_code& ec);
  std::error_code parse_head();
  static std::error_code check_text(const Request& r);
  std::size_t feed_body(std::string_view data, std::error_code& ec);
  std::size_t feed_chunk_size(std::string_view data, std::error_code& ec);
  std::size_t feed_trailers(std::string_view data, std::error_code& ec);

  // Every view in request_ points into head_, path_storage_ or body_ (or a string literal). They
  // are vectors rather than strings so that moving the parser never moves their bytes (no SSO).
  HttpLimits limits_;
  State state_ = State::head;
  std::error_code error_;          // the error the parser failed with
  std::vector<char> head_;         // leading CRLFs + request line + headers, CRLFCRLF included
  std::vector<char> path_storage_; // percent-decoded path (unused when the path has no '%')
  std::vector<char> body_;         // decoded body
  std::string line_;               // chunk-size line / trailer line / CRLF after chunk data
  std::uint64_t remaining_ = 0;    // body bytes / chunk bytes still expected
  std::size_t trailer_bytes_ = 0;
  std::size_t scan_from_ = 0;      // where to resume scanning head_
  std::size_t line_start_ = 0;     // start of the head line being scanned
  std::size_t request_start_ = 0;  // start of the request line (after leading CRLFs)
  std::size_t field_count_ = 0;    // header lines seen so far
  bool seen_request_line_ = false;
  Request request_;
};

}  // namespace nexios::http

template <>
struct std::is_error_code_enum<nexios::http::errc> : std::true_type {};
