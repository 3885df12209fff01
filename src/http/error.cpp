#include <nexios/http/parser.hpp>

#include <string>

namespace nexios::http {

namespace {

class HttpErrorCategory final : public std::error_category {
 public:
  [[nodiscard]] const char* name() const noexcept override { return "nexios.http"; }

  [[nodiscard]] std::string message(int value) const override {
    switch (static_cast<errc>(value)) {
      case errc::bad_request_line:
        return "malformed request line";
      case errc::bad_method:
        return "request method is not a token";
      case errc::bad_target:
        return "invalid request target";
      case errc::unsupported_version:
        return "HTTP version not supported";
      case errc::bad_header:
        return "malformed header field";
      case errc::obsolete_line_folding:
        return "obsolete header line folding";
      case errc::headers_too_large:
        return "request header fields too large";
      case errc::too_many_headers:
        return "too many header fields";
      case errc::missing_host:
        return "missing or repeated Host header";
      case errc::bad_content_length:
        return "invalid Content-Length";
      case errc::content_length_with_chunked:
        return "both Content-Length and Transfer-Encoding";
      case errc::unsupported_transfer_coding:
        return "unsupported transfer coding";
      case errc::bad_chunk:
        return "malformed chunked body";
      case errc::body_too_large:
        return "request body too large";
      case errc::path_not_utf8:
        return "request path is not valid UTF-8 once percent-decoded";
      case errc::query_not_utf8:
        return "query parameter is not valid UTF-8 once percent-decoded";
      case errc::header_not_utf8:
        return "header value is not valid UTF-8";
      case errc::cookie_not_utf8:
        return "cookie is not valid UTF-8";
    }
    return "unknown nexios.http error";
  }
};

}  // namespace

const std::error_category& error_category() noexcept {
  static const HttpErrorCategory category;
  return category;
}

int status_for(errc e) noexcept {
  switch (e) {
    case errc::unsupported_version:
      return 505;
    case errc::headers_too_large:
    case errc::too_many_headers:
      return 431;
    case errc::unsupported_transfer_coding:
      return 501;
    case errc::body_too_large:
      return 413;
    case errc::bad_request_line:
    case errc::bad_method:
    case errc::bad_target:
    case errc::bad_header:
    case errc::obsolete_line_folding:
    case errc::missing_host:
    case errc::bad_content_length:
    case errc::content_length_with_chunked:
    case errc::bad_chunk:
    case errc::path_not_utf8:
    case errc::query_not_utf8:
    case errc::header_not_utf8:
    case errc::cookie_not_utf8:
      return 400;
  }
  return 400;
}

int status_for(const std::error_code& ec) noexcept {
  if (ec.category() == error_category()) {
    return status_for(static_cast<errc>(ec.value()));
  }
  return 400;
}

}  // namespace nexios::http
