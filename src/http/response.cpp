#include <nexios/http/response.hpp>

#include <nexios/detail/ascii.hpp>
#include <nexios/detail/json.hpp>

#include <boost/json/serialize.hpp>

#include <cstring>

#include <algorithm>
#include <array>
#include <charconv>
#include <fstream>
#include <stdexcept>
#include <system_error>

namespace nexios::http {

namespace {

using nexios::detail::iequals;

constexpr std::string_view text_plain = "text/plain; charset=utf-8";
constexpr std::string_view text_html = "text/html; charset=utf-8";
constexpr std::string_view application_json = "application/json";
constexpr std::string_view nosniff_field = "X-Content-Type-Options: nosniff\r\n";

void check_field(std::string_view name, std::string_view value) {
  if (!nexios::detail::is_token(name)) {
    throw std::invalid_argument("Response::header: invalid header name");
  }
  if (value.find_first_of(std::string_view("\r\n\0", 3)) != std::string_view::npos) {
    throw std::invalid_argument("Response::header: header value contains CR, LF or NUL");
  }
  if (iequals(name, "content-length") || iequals(name, "transfer-encoding")) {
    throw std::invalid_argument("Response::header: Content-Length and Transfer-Encoding are set by the server");
  }
}

/// 1xx, 204 and 304 responses have no body and no Content-Length (RFC 9110 §8.6, RFC 9112 §6.3).
constexpr bool status_has_no_body(int status) noexcept {
  return status < 200 || status == 204 || status == 304;
}

}  // namespace

std::string_view reason_phrase(int status) noexcept {
  switch (status) {
    case 100:
      return "Continue";
    case 101:
      return "Switching Protocols";
    case 200:
      return "OK";
    case 201:
      return "Created";
    case 202:
      return "Accepted";
    case 203:
      return "Non-Authoritative Information";
    case 204:
      return "No Content";
    case 205:
      return "Reset Content";
    case 206:
      return "Partial Content";
    case 300:
      return "Multiple Choices";
    case 301:
      return "Moved Permanently";
    case 302:
      return "Found";
    case 303:
      return "See Other";
    case 304:
      return "Not Modified";
    case 307:
      return "Temporary Redirect";
    case 308:
      return "Permanent Redirect";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 402:
      return "Payment Required";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 406:
      return "Not Acceptable";
    case 407:
      return "Proxy Authentication Required";
    case 408:
      return "Request Timeout";
    case 409:
      return "Conflict";
    case 410:
      return "Gone";
    case 411:
      return "Length Required";
    case 412:
      return "Precondition Failed";
    case 413:
      return "Content Too Large";
    case 414:
      return "URI Too Long";
    case 415:
      return "Unsupported Media Type";
    case 416:
      return "Range Not Satisfiable";
    case 417:
      return "Expectation Failed";
    case 418:
      return "I'm a teapot";
    case 421:
      return "Misdirected Request";
    case 422:
      return "Unprocessable Content";
    case 425:
      return "Too Early";
    case 426:
      return "Upgrade Required";
    case 428:
      return "Precondition Required";
    case 429:
      return "Too Many Requests";
    case 431:
      return "Request Header Fields Too Large";
    case 451:
      return "Unavailable For Legal Reasons";
    case 500:
      return "Internal Server Error";
    case 501:
      return "Not Implemented";
    case 502:
      return "Bad Gateway";
    case 503:
      return "Service Unavailable";
    case 504:
      return "Gateway Timeout";
    case 505:
      return "HTTP Version Not Supported";
    case 511:
      return "Network Authentication Required";
    default:
      return "Unknown";
  }
}

std::string_view mime_type_for(std::string_view extension) noexcept {
  if (!extension.empty() && extension.front() == '.') {
    extension.remove_prefix(1);
  }
  struct Entry {
    std::string_view extension;
    std::string_view type;
  };
  static constexpr std::array<Entry, 20> types{{
      {"html", text_html},
      {"htm", text_html},
      {"css", "text/css; charset=utf-8"},
      {"js", "text/javascript; charset=utf-8"},
      {"mjs", "text/javascript; charset=utf-8"},
      {"json", application_json},
      {"txt", text_plain},
      {"svg", "image/svg+xml"},
      {"png", "image/png"},
      {"jpg", "image/jpeg"},
      {"jpeg", "image/jpeg"},
      {"gif", "image/gif"},
      {"ico", "image/x-icon"},
      {"webp", "image/webp"},
      {"wasm", "application/wasm"},
      {"woff", "font/woff"},
      {"woff2", "font/woff2"},
      {"map", application_json},
      {"xml", "application/xml"},
      {"pdf", "application/pdf"},
  }};
  for (const auto& entry : types) {
    if (iequals(entry.extension, extension)) {
      return entry.type;
    }
  }
  return "application/octet-stream";
}

Response& Response::status(int code) {
  if (code < 100 || code > 999) {
    throw std::invalid_argument("Response::status: status code must be in 100-999");
  }
  status_ = code;
  return *this;
}

void Response::add_field(std::string_view name, std::string_view value, bool replace) {
  check_field(name, value);
  if (iequals(name, "content-type") && content_type_is_default_) {
    // The user's Content-Type replaces the one text()/json()/... chose.
    replace = true;
    content_type_is_default_ = false;
  }
  if (replace) {
    auto first = std::find_if(headers_.begin(), headers_.end(), [&](const auto& f) { return iequals(f.first, name); });
    if (first != headers_.end()) {
      first->first = std::string(name);
      first->second = std::string(value);
      headers_.erase(
          std::remove_if(std::next(first), headers_.end(), [&](const auto& f) { return iequals(f.first, name); }),
          headers_.end());
      return;
    }
  }
  headers_.emplace_back(std::string(name), std::string(value));
}

Response& Response::header(std::string_view name, std::string_view value) {
  add_field(name, value, false);
  return *this;
}

Response& Response::set_header(std::string_view name, std::string_view value) {
  add_field(name, value, true);
  return *this;
}

std::optional<std::string_view> Response::get_header(std::string_view name) const noexcept {
  for (const auto& field : headers_) {
    if (iequals(field.first, name)) {
      return std::string_view(field.second);
    }
  }
  return std::nullopt;
}

void Response::set_default_content_type(std::string_view type) {
  const auto field =
      std::find_if(headers_.begin(), headers_.end(), [](const auto& f) { return iequals(f.first, "content-type"); });
  if (field == headers_.end()) {
    headers_.emplace_back("Content-Type", std::string(type));
    content_type_is_default_ = true;
  } else if (content_type_is_default_) {
    field->second = std::string(type);
  }
  // Otherwise the user set a Content-Type: it wins.
}

Response& Response::text(std::string body) {
  body_ = std::move(body);
  set_default_content_type(text_plain);
  return *this;
}

Response& Response::html(std::string body) {
  body_ = std::move(body);
  set_default_content_type(text_html);
  return *this;
}

Response& Response::json(const boost::json::value& value) {
  if (!detail::serialize_json(value, body_)) {
    throw std::invalid_argument("Response::json: a number is not finite (JSON has no Infinity or NaN)");
  }
  set_default_content_type(application_json);
  return *this;
}

Response& Response::bytes(std::string body, std::string_view content_type) {
  body_ = std::move(body);
  set_default_content_type(content_type);
  return *this;
}

Response& Response::file(const std::filesystem::path& path, std::string_view content_type) {
  std::error_code ec;
  const bool regular = std::filesystem::is_regular_file(path, ec);
  std::ifstream in;
  if (regular && !ec) {
    in.open(path, std::ios::in | std::ios::binary);
  }
  if (!in.is_open()) {
    status_ = 404;
    return text("Not Found");
  }
  const std::uintmax_t size = std::filesystem::file_size(path, ec);
  if (!ec && size > max_file_size) {
    status_ = 500;
    return text("Internal Server Error");
  }
  // Read to the end rather than trusting the size: the file may change while it is read. Asking
  // for one byte more than expected sees the end of the file in a single read.
  std::string contents;
  std::size_t want = (ec ? 0 : static_cast<std::size_t>(size)) + 1;
  while (true) {
    const std::size_t old_size = contents.size();
    const std::size_t chunk = std::min(want, max_file_size + 1 - old_size);
    contents.resize(old_size + chunk);
    in.read(contents.data() + old_size, static_cast<std::streamsize>(chunk));
    contents.resize(old_size + static_cast<std::size_t>(in.gcount()));
    if (contents.size() > max_file_size) {
      status_ = 500;
      return text("Internal Server Error");
    }
    if (!in) {
      break;
    }
    want = std::size_t{64} * 1024;
  }
  if (in.bad()) {
    status_ = 404;
    return text("Not Found");
  }
  const std::string extension = path.extension().string();
  return bytes(std::move(contents), content_type.empty() ? mime_type_for(extension) : content_type);
}

std::array<char, 29> format_http_date(std::int64_t unix_seconds) noexcept {
  static constexpr std::array<std::string_view, 7> days{"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static constexpr std::array<std::string_view, 12> months{"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                           "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm), no locale, no libc state.
  std::int64_t z = unix_seconds >= 0 ? unix_seconds / 86400 : (unix_seconds - 86399) / 86400;
  const std::int64_t secs = unix_seconds - z * 86400;
  const int weekday = static_cast<int>((z + 4) % 7 + 7) % 7;  // 1970-01-01 was a Thursday
  z += 719468;
  const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const auto doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const std::int64_t y0 = static_cast<std::int64_t>(yoe) + era * 400;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  const unsigned day = doy - (153 * mp + 2) / 5 + 1;
  const unsigned month = mp < 10 ? mp + 3 : mp - 9;
  const std::int64_t year = y0 + (month <= 2 ? 1 : 0);
  std::array<char, 29> out{};
  auto put2 = [&](std::size_t at, unsigned v) {
    out[at] = static_cast<char>('0' + v / 10);
    out[at + 1] = static_cast<char>('0' + v % 10);
  };
  std::memcpy(out.data(), days[static_cast<std::size_t>(weekday)].data(), 3);
  out[3] = ',';
  out[4] = ' ';
  put2(5, day);
  out[7] = ' ';
  std::memcpy(out.data() + 8, months[month - 1].data(), 3);
  out[11] = ' ';
  const auto y = static_cast<unsigned>(year % 10000);
  put2(12, y / 100);
  put2(14, y % 100);
  out[16] = ' ';
  put2(17, static_cast<unsigned>(secs / 3600));
  out[19] = ':';
  put2(20, static_cast<unsigned>(secs / 60 % 60));
  out[22] = ':';
  put2(23, static_cast<unsigned>(secs % 60));
  std::memcpy(out.data() + 25, " GMT", 4);
  return out;
}

void Response::serialize(std::string& out, bool keep_alive, bool head_only, std::string_view date) const {
  const std::string_view reason = reason_phrase(status_);
  std::array<char, 24> number{};
  auto [end, ec] = std::to_chars(number.data(), number.data() + number.size(), status_);
  (void)ec;
  const bool no_body = status_has_no_body(status_);

  std::size_t size = 9 + 4 + reason.size() + 2 + 2 + 40 + 37 + nosniff_field.size() + (head_only || no_body ? 0 : body_.size());
  for (const auto& field : headers_) {
    size += field.first.size() + field.second.size() + 4;
  }
  out.reserve(out.size() + size);

  out.append("HTTP/1.1 ");
  out.append(number.data(), end);
  out.push_back(' ');
  out.append(reason);
  out.append("\r\n");
  bool has_date = false;
  bool has_nosniff = false;
  for (const auto& field : headers_) {
    out.append(field.first);
    out.append(": ");
    out.append(field.second);
    out.append("\r\n");
    has_date = has_date || iequals(field.first, "date");
    has_nosniff = has_nosniff || iequals(field.first, "x-content-type-options");
  }
  if (!date.empty() && !has_date) {
    out.append("Date: ");
    out.append(date);
    out.append("\r\n");
  }
  // Browsers must not guess another type than the one declared (a text/plain error page that
  // echoes a request is not to run as HTML). Not on 1xx: they carry no content.
  if (!has_nosniff && status_ >= 200) {
    out.append(nosniff_field);
  }
  if (!no_body) {
    auto [length_end, length_ec] = std::to_chars(number.data(), number.data() + number.size(), body_.size());
    (void)length_ec;
    out.append("Content-Length: ");
    out.append(number.data(), length_end);
    out.append("\r\n");
  }
  if (!keep_alive) {
    out.append("Connection: close\r\n");
  }
  out.append("\r\n");
  if (!head_only && !no_body) {
    out.append(body_);
  }
}

}  // namespace nexios::http
