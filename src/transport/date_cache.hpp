#pragma once
// transport::DateCache: the `Date` header value of HTTP responses, formatted once per second per
// event loop thread (each Worker has one; no lock, no allocation).

#include <nexios/http/response.hpp>

#include <array>
#include <cstdint>
#include <ctime>
#include <string_view>

namespace nexios::transport {

class DateCache {
 public:
  /// The current time as an IMF-fixdate ("Sun, 06 Nov 1994 08:49:37 GMT"), valid until the next call.
  std::string_view now() noexcept {
    const std::int64_t t = static_cast<std::int64_t>(std::time(nullptr));
    if (t != second_) {
      second_ = t;
      text_ = http::format_http_date(t);
    }
    return {text_.data(), text_.size()};
  }

 private:
  std::int64_t second_ = -1;
  std::array<char, 29> text_{};
};

}  // namespace nexios::transport
