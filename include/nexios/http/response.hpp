#pragma once
/// @file
/// `nexios::http::Response`: what an HTTP handler fills in, and its serialization.

#include <boost/json/value.hpp>

#include <filesystem>
#include <optional>
#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace nexios::http {

/// The reason phrase of a status code ("Not Found"), or "Unknown".
std::string_view reason_phrase(int status) noexcept;

/// A media type for a file extension (".html" → "text/html; charset=utf-8"), or
/// "application/octet-stream".
std::string_view mime_type_for(std::string_view extension) noexcept;

/// An HTTP response under construction. Setters return `*this` so calls chain.
///
/// @code
/// res.status(201).header("X-Request-Id", id).json({{"ok", true}});
/// res.text("hello");                   // 200 text/plain; charset=utf-8
/// res.file("static/index.html");       // type from the extension; 404 if missing
/// @endcode
class Response {
 public:
  /// Sets the status code (100–999, else std::invalid_argument).
  Response& status(int code);
  [[nodiscard]] int status() const noexcept { return status_; }

  /// Appends a header field. Throws std::invalid_argument for a name that is not a token or a
  /// value containing CR, LF or NUL. Content-Length and Transfer-Encoding are managed by the
  /// server and rejected here.
  Response& header(std::string_view name, std::string_view value);
  /// Replaces every field called `name` with one field.
  Response& set_header(std::string_view name, std::string_view value);
  /// The first value of a header field set on this response.
  [[nodiscard]] std::optional<std::string_view> get_header(std::string_view name) const noexcept;
  [[nodiscard]] const std::vector<std::pair<std::string, std::string>>& headers() const noexcept { return headers_; }

  /// A text/plain; charset=utf-8 body.
  Response& text(std::string body);
  /// A text/html; charset=utf-8 body.
  Response& html(std::string body);
  /// An application/json body: compact JSON, UTF-8 not escaped.
  Response& json(const boost::json::value& value);
  /// A body of any type.
  Response& bytes(std::string body, std::string_view content_type = "application/octet-stream");
  /// The contents of a file, typed by its extension unless `content_type` is given. A missing or
  /// unreadable file gives 404 with a text body. Files larger than `max_file_size` give 500.
  Response& file(const std::filesystem::path& path, std::string_view content_type = {});
  /// The body as it stands.
  [[nodiscard]] const std::string& body() const noexcept { return body_; }

  /// Appends the serialized response to `out`: status line, the fields, `Date: <date>` when
  /// `date` is given and the handler set none, Content-Length (except for 1xx/204/304),
  /// `Connection: close` when `keep_alive` is false, the body unless `head_only`.
  void serialize(std::string& out, bool keep_alive, bool head_only = false, std::string_view date = {}) const;

  /// Largest file `file()` will load.
  static constexpr std::size_t max_file_size = 64 * 1024 * 1024;

 private:
  void set_default_content_type(std::string_view type);
  void add_field(std::string_view name, std::string_view value, bool replace);

  int status_ = 200;
  std::vector<std::pair<std::string, std::string>> headers_;
  std::string body_;
  bool content_type_is_default_ = false;  // the Content-Type field was set by text()/json()/...
};

/// An IMF-fixdate (RFC 9110 §5.6.7) for `unix_seconds`: "Sun, 06 Nov 1994 08:49:37 GMT".
std::array<char, 29> format_http_date(std::int64_t unix_seconds) noexcept;

}  // namespace nexios::http
