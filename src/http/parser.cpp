#include <nexios/http/parser.hpp>

#include <nexios/detail/ascii.hpp>
#include <nexios/detail/utf8.hpp>

#include <algorithm>
#include <cstdint>
#include <utility>
#include <limits>

namespace nexios::http {

namespace internal {
// Defined in url.cpp.
std::size_t percent_decode_into(std::string_view text, char* out, bool plus_as_space) noexcept;
bool percent_decoded_is_utf8(std::string_view text) noexcept;
bool cookie_header_is_utf8(std::string_view header);
}  // namespace internal

namespace {

using nexios::detail::iequals;
using nexios::detail::is_ows;
using nexios::detail::is_tchar;
using nexios::detail::is_token;
using nexios::detail::trim_ows;

/// Longest chunk-size line (size, extensions and CRLF) accepted.
constexpr std::size_t max_chunk_line = 4096;
/// How many bytes of head are copied and scanned at a time.
constexpr std::size_t head_block = 1024;
/// Body capacity reserved up front from a Content-Length (the rest grows as bytes arrive, so a
/// large declared length alone does not make the parser allocate).
constexpr std::size_t body_reserve = std::size_t{64} * 1024;
/// At most 16 hex digits: a chunk size always fits in 64 bits.
constexpr std::size_t max_chunk_size_digits = 16;

constexpr std::string_view crlf = "\r\n";

/// The field path of an absolute-form target with no path ("http://host").
constexpr std::string_view root_path = "/";

/// RFC 5234 CTL: %x00-1F / %x7F.
constexpr bool is_ctl(char c) noexcept {
  const auto u = static_cast<unsigned char>(c);
  return u < 0x20 || u == 0x7F;
}

constexpr bool is_digit(char c) noexcept {
  return c >= '0' && c <= '9';
}

bool starts_with_icase(std::string_view s, std::string_view prefix) noexcept {
  return s.size() >= prefix.size() && iequals(s.substr(0, prefix.size()), prefix);
}

struct RequestLine {
  std::string_view method;
  std::string_view target;
  std::string_view raw_path;
  std::string_view query;
  int version_minor = 1;
};

std::error_code parse_version(std::string_view version, int& minor) {
  if (version == "HTTP/1.1") {
    minor = 1;
    return {};
  }
  if (version == "HTTP/1.0") {
    minor = 0;
    return {};
  }
  // RFC 9112 §2.3: HTTP-version = "HTTP" "/" DIGIT "." DIGIT
  if (version.size() == 8 && version.substr(0, 5) == "HTTP/" && is_digit(version[5]) && version[6] == '.' &&
      is_digit(version[7])) {
    return errc::unsupported_version;
  }
  return errc::bad_request_line;
}

/// Checks the request-target and splits it into path and query (RFC 9112 §3.2).
std::error_code parse_target(std::string_view method, RequestLine& out) {
  const std::string_view target = out.target;
  if (target.empty()) {
    return errc::bad_target;
  }
  for (const char c : target) {
    if (is_ctl(c) || c == ' ') {
      return errc::bad_target;
    }
  }
  std::string_view path_and_query;
  if (target.front() == '/') {
    path_and_query = target;  // origin-form
  } else if (target == "*") {
    // asterisk-form, only for a server-wide OPTIONS.
    if (method != "OPTIONS") {
      return errc::bad_target;
    }
    out.raw_path = target;
    out.query = {};
    return {};
  } else {
    // absolute-form: scheme "://" authority [path-abempty] ["?" query]
    std::size_t scheme_len = 0;
    if (starts_with_icase(target, "http://")) {
      scheme_len = 7;
    } else if (starts_with_icase(target, "https://")) {
      scheme_len = 8;
    } else {
      return errc::bad_target;
    }
    const std::string_view rest = target.substr(scheme_len);
    const std::size_t authority_end = rest.find_first_of("/?");
    if (authority_end == 0 || rest.empty()) {
      return errc::bad_target;
    }
    path_and_query = authority_end == std::string_view::npos ? std::string_view{} : rest.substr(authority_end);
  }
  const std::size_t question = path_and_query.find('?');
  out.raw_path = path_and_query.substr(0, question);
  out.query = question == std::string_view::npos ? std::string_view{} : path_and_query.substr(question + 1);
  if (out.raw_path.empty()) {
    out.raw_path = root_path;
  }
  return {};
}

/// request-line = method SP request-target SP HTTP-version (without the CRLF).
std::error_code parse_request_line(std::string_view line, RequestLine& out) {
  const std::size_t first_sp = line.find(' ');
  if (first_sp == std::string_view::npos) {
    return errc::bad_request_line;
  }
  out.method = line.substr(0, first_sp);
  if (!is_token(out.method)) {
    return errc::bad_method;
  }
  const std::size_t last_sp = line.rfind(' ');
  if (last_sp == first_sp) {
    return errc::bad_request_line;
  }
  if (auto ec = parse_version(line.substr(last_sp + 1), out.version_minor)) {
    return ec;
  }
  // Anything but exactly one SP on each side of the target leaves a SP in it or an empty target.
  out.target = line.substr(first_sp + 1, last_sp - first_sp - 1);
  return parse_target(out.method, out);
}

/// field-line = field-name ":" OWS field-value OWS (without the CRLF).
std::error_code parse_field_line(std::string_view line, std::string_view& name, std::string_view& value) {
  if (is_ows(line.front())) {
    return errc::obsolete_line_folding;
  }
  const std::size_t colon = line.find(':');
  if (colon == std::string_view::npos) {
    return errc::bad_header;
  }
  name = line.substr(0, colon);
  if (!is_token(name)) {
    return errc::bad_header;  // also catches whitespace between the name and the colon
  }
  value = trim_ows(line.substr(colon + 1));
  for (const char c : value) {
    if (is_ctl(c) && c != '\t') {
      return errc::bad_header;
    }
  }
  return {};
}

/// Content-Length = 1*DIGIT, possibly repeated (several fields or a comma list) with equal values.
bool parse_content_length(const Headers& headers, std::uint64_t& length) {
  bool seen = false;
  std::uint64_t result = 0;
  for (const auto& field : headers) {
    if (!iequals(field.name, "content-length")) {
      continue;
    }
    std::string_view list = field.value;
    while (true) {
      const std::size_t comma = list.find(',');
      const std::string_view element = trim_ows(list.substr(0, comma));
      if (element.empty()) {
        return false;
      }
      std::uint64_t value = 0;
      for (const char c : element) {
        if (!is_digit(c)) {
          return false;
        }
        const auto digit = static_cast<std::uint64_t>(c - '0');
        if (value > (std::numeric_limits<std::uint64_t>::max() - digit) / 10) {
          return false;
        }
        value = value * 10 + digit;
      }
      if (seen && value != result) {
        return false;
      }
      seen = true;
      result = value;
      if (comma == std::string_view::npos) {
        break;
      }
      list.remove_prefix(comma + 1);
    }
  }
  length = result;
  return seen;
}

/// The Transfer-Encoding list, across all fields, must be exactly "chunked".
bool is_chunked_only(const Headers& headers) {
  std::size_t elements = 0;
  bool chunked = false;
  for (const auto& field : headers) {
    if (!iequals(field.name, "transfer-encoding")) {
      continue;
    }
    detail::for_each_list_element(field.value, [&](std::string_view coding) {
      ++elements;
      chunked = iequals(coding, "chunked");
      return false;
    });
  }
  return elements == 1 && chunked;
}

/// chunk-size [ chunk-ext ] (without the CRLF), RFC 9112 §7.1:
///   chunk-ext = *( BWS ";" BWS chunk-ext-name [ BWS "=" BWS chunk-ext-val ] )
///   chunk-ext-val = token / quoted-string
bool parse_chunk_size_line(std::string_view line, std::uint64_t& size) {
  std::size_t i = 0;
  std::uint64_t value = 0;
  while (i < line.size()) {
    const int digit = nexios::detail::hex_digit_value(line[i]);
    if (digit < 0) {
      break;
    }
    if (i == max_chunk_size_digits) {
      return false;
    }
    value = value * 16 + static_cast<std::uint64_t>(digit);
    ++i;
  }
  if (i == 0) {
    return false;
  }
  size = value;
  const auto skip_ows = [&] {
    while (i < line.size() && is_ows(line[i])) {
      ++i;
    }
  };
  const auto skip_token = [&] {
    const std::size_t start = i;
    while (i < line.size() && is_tchar(line[i])) {
      ++i;
    }
    return i > start;
  };
  while (i < line.size()) {
    skip_ows();
    if (i == line.size() || line[i] != ';') {
      return false;
    }
    ++i;
    skip_ows();
    if (!skip_token()) {
      return false;
    }
    skip_ows();
    if (i == line.size() || line[i] != '=') {
      continue;
    }
    ++i;
    skip_ows();
    if (i < line.size() && line[i] == '"') {
      ++i;
      bool closed = false;
      while (i < line.size()) {
        const char c = line[i];
        if (c == '"') {
          ++i;
          closed = true;
          break;
        }
        if (c == '\\') {
          ++i;
          if (i == line.size() || (is_ctl(line[i]) && line[i] != '\t')) {
            return false;
          }
        } else if (is_ctl(c) && c != '\t') {
          return false;
        }
        ++i;
      }
      if (!closed) {
        return false;
      }
    } else if (!skip_token()) {
      return false;
    }
  }
  return true;
}

}  // namespace

RequestParser::RequestParser(HttpLimits limits) : limits_(limits) {
  head_.reserve(std::min<std::size_t>(limits_.max_header_bytes, 2048));
  line_.reserve(64);
  request_.headers_.reserve(std::min<std::size_t>(limits_.max_headers, 32));
}

bool RequestParser::header_done() const noexcept {
  return state_ != State::head && state_ != State::failed;
}

bool RequestParser::done() const noexcept {
  return state_ == State::done;
}

bool RequestParser::in_progress() const noexcept {
  switch (state_) {
    case State::head:
      return !head_.empty();
    case State::done:
    case State::failed:
      return false;
    case State::body_length:
    case State::chunk_size:
    case State::chunk_data:
    case State::chunk_data_crlf:
    case State::trailers:
      return true;
  }
  return false;
}

void RequestParser::reset() noexcept {
  state_ = State::head;
  error_.clear();
  head_.clear();
  path_storage_.clear();
  body_.clear();
  line_.clear();
  remaining_ = 0;
  trailer_bytes_ = 0;
  scan_from_ = 0;
  line_start_ = 0;
  request_start_ = 0;
  field_count_ = 0;
  seen_request_line_ = false;
  request_.method_ = {};
  request_.target_ = {};
  request_.path_ = {};
  request_.raw_path_ = {};
  request_.query_ = {};
  request_.version_minor_ = 1;
  request_.headers_.clear();
  request_.body_ = {};
  request_.has_body_ = false;
  request_.keep_alive_ = true;
  request_.expects_continue_ = false;
}

std::size_t RequestParser::feed(std::string_view data, std::error_code& ec) {
  ec.clear();
  if (state_ == State::failed) {
    ec = error_;
    return 0;
  }
  if (state_ == State::done) {
    return 0;
  }
  std::size_t used = 0;
  if (state_ == State::head) {
    used = feed_head(data, ec);
  }
  if (!ec && state_ != State::head && state_ != State::done) {
    used += feed_body(data.substr(used), ec);
  }
  if (ec) {
    state_ = State::failed;
    error_ = ec;
    return used;
  }
  if (state_ == State::done && !body_.empty()) {
    request_.body_ = std::string_view(body_.data(), body_.size());
  }
  return used;
}

std::size_t RequestParser::feed_head(std::string_view data, std::error_code& ec) {
  const std::size_t limit = limits_.max_header_bytes;
  std::size_t used = 0;
  while (used < data.size()) {
    if (head_.size() >= limit) {
      ec = errc::headers_too_large;
      return used;
    }
    // Never buffer more than the limit. Bytes past the end of the head are dropped again below;
    // taking at most a block at a time keeps that small when requests are pipelined.
    const std::size_t take = std::min({data.size() - used, limit - head_.size(), head_block});
    const std::size_t old_size = head_.size();
    head_.insert(head_.end(), data.data() + used, data.data() + used + take);
    const std::size_t end = scan_head(ec);
    if (ec) {
      return used + (scan_from_ - old_size);
    }
    if (end != 0) {
      head_.resize(end);
      used += end - old_size;
      ec = parse_head();
      return used;
    }
    used += take;
  }
  return used;
}

// Scans the bytes of head_ not scanned yet: checks that every line ends with CRLF, skips leading
// empty lines, validates each line as soon as it is complete and finds the empty line that ends
// the head. Returns the size of the head once complete, else 0. Linear over any split.
std::size_t RequestParser::scan_head(std::error_code& ec) {
  const char* h = head_.data();
  const std::size_t size = head_.size();
  for (std::size_t k = scan_from_; k < size; ++k) {
    const char c = h[k];
    const bool after_cr = k > 0 && h[k - 1] == '\r';
    if (after_cr != (c == '\n')) {
      // A CR not followed by LF, or a LF not preceded by CR.
      ec = seen_request_line_ ? errc::bad_header : errc::bad_request_line;
      scan_from_ = k + 1;
      return 0;
    }
    if (c != '\n') {
      continue;
    }
    const std::string_view line(h + line_start_, k - 1 - line_start_);
    line_start_ = k + 1;
    if (!seen_request_line_) {
      if (line.empty()) {
        request_start_ = k + 1;  // RFC 9112 §2.2: ignore empty lines before the request line
        continue;
      }
      seen_request_line_ = true;
      RequestLine request_line;
      ec = parse_request_line(line, request_line);
    } else if (line.empty()) {
      scan_from_ = k + 1;
      return k + 1;
    } else if (++field_count_ > limits_.max_headers) {
      ec = errc::too_many_headers;
    } else {
      std::string_view name;
      std::string_view value;
      ec = parse_field_line(line, name, value);
    }
    if (ec) {
      scan_from_ = k + 1;
      return 0;
    }
  }
  scan_from_ = size;
  return 0;
}

std::error_code RequestParser::parse_head() {
  // Every line was validated by scan_head(); here they are split again into views of the final
  // head_, which no longer changes until reset().
  const std::string_view head(head_.data() + request_start_, head_.size() - request_start_);
  std::size_t eol = head.find(crlf);
  RequestLine line;
  if (auto ec = parse_request_line(head.substr(0, eol), line)) {
    return ec;
  }
  Request& r = request_;
  r.method_ = line.method;
  r.target_ = line.target;
  r.raw_path_ = line.raw_path;
  r.query_ = line.query;
  r.version_minor_ = line.version_minor;
  for (std::size_t pos = eol + 2;; pos = eol + 2) {
    eol = head.find(crlf, pos);
    if (eol == pos) {
      break;
    }
    std::string_view name;
    std::string_view value;
    if (auto ec = parse_field_line(head.substr(pos, eol - pos), name, value)) {
      return ec;
    }
    r.headers_.add(name, value);
  }

  if (line.raw_path.find('%') == std::string_view::npos) {
    r.path_ = line.raw_path;
  } else {
    path_storage_.resize(line.raw_path.size());
    const std::size_t n = internal::percent_decode_into(line.raw_path, path_storage_.data(), false);
    path_storage_.resize(n);
    r.path_ = std::string_view(path_storage_.data(), n);
  }

  // RFC 9112 §3.2: exactly one Host in HTTP/1.1; never more than one.
  const std::size_t hosts = r.headers_.count("host");
  if (hosts > 1 || (hosts == 0 && r.version_minor_ == 1)) {
    return errc::missing_host;
  }

  // RFC 9112 §6: message body framing.
  const bool has_transfer_encoding = r.headers_.contains("transfer-encoding");
  const bool has_content_length = r.headers_.contains("content-length");
  if (has_transfer_encoding && has_content_length) {
    return errc::content_length_with_chunked;
  }
  bool chunked = false;
  std::uint64_t length = 0;
  if (has_transfer_encoding) {
    if (r.version_minor_ == 0 || !is_chunked_only(r.headers_)) {
      return errc::unsupported_transfer_coding;
    }
    chunked = true;
  } else if (has_content_length) {
    if (!parse_content_length(r.headers_, length)) {
      return errc::bad_content_length;
    }
    if (length > limits_.max_body_size) {
      return errc::body_too_large;
    }
  }

  if (auto ec = check_text(r)) {
    return ec;
  }

  if (r.version_minor_ == 1) {
    r.keep_alive_ = !r.headers_.has_token("connection", "close");
    // RFC 9110 §10.1.1: a 100-continue expectation in an HTTP/1.0 request is ignored.
    r.expects_continue_ = r.headers_.has_token("expect", "100-continue");
  } else {
    r.keep_alive_ = r.headers_.has_token("connection", "keep-alive") && !r.headers_.has_token("connection", "close");
    r.expects_continue_ = false;
  }
  r.has_body_ = chunked || length > 0;

  if (chunked) {
    state_ = State::chunk_size;
  } else if (length > 0) {
    remaining_ = length;
    body_.reserve(static_cast<std::size_t>(std::min<std::uint64_t>(length, body_reserve)));
    state_ = State::body_length;
  } else {
    state_ = State::done;
  }
  return {};
}

// The one place every text the application can get from a request passes: the decoded path
// (and so every path parameter), each decoded query name and value, every header value and every
// cookie must be valid UTF-8, or the request is refused (400) before any handler sees it. The
// undecoded target stays readable through target(), raw_path() and query_string().
std::error_code RequestParser::check_text(const Request& r) {
  if (!detail::is_valid_utf8(r.path_)) {
    return errc::path_not_utf8;
  }
  // '&', '=' and '+' are ASCII, so the whole decoded query is valid UTF-8 exactly when every
  // decoded name and value is.
  if (!internal::percent_decoded_is_utf8(r.query_)) {
    return errc::query_not_utf8;
  }
  for (const auto& f : r.headers_) {
    if (iequals(f.name, "cookie")) {
      if (!internal::cookie_header_is_utf8(f.value)) {
        return errc::cookie_not_utf8;
      }
    } else if (!detail::is_valid_utf8(f.value)) {
      return errc::header_not_utf8;
    }
  }
  return {};
}

std::size_t RequestParser::feed_body(std::string_view data, std::error_code& ec) {
  std::size_t used = 0;
  while (used < data.size() && state_ != State::done && !ec) {
    const std::string_view rest = data.substr(used);
    switch (state_) {
      case State::body_length:
      case State::chunk_data: {
        const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(remaining_, rest.size()));
        body_.insert(body_.end(), rest.data(), rest.data() + n);
        remaining_ -= n;
        used += n;
        if (remaining_ == 0) {
          state_ = state_ == State::body_length ? State::done : State::chunk_data_crlf;
        }
        break;
      }
      case State::chunk_data_crlf: {
        const char c = rest.front();
        ++used;
        if (line_.empty() && c == '\r') {
          line_.push_back(c);
        } else if (!line_.empty() && c == '\n') {
          line_.clear();
          state_ = State::chunk_size;
        } else {
          ec = errc::bad_chunk;
        }
        break;
      }
      case State::chunk_size:
        used += feed_chunk_size(rest, ec);
        break;
      case State::trailers:
        used += feed_trailers(rest, ec);
        break;
      case State::head:
      case State::done:
      case State::failed:
        return used;
    }
  }
  return used;
}

// Accumulates one chunk-size line in line_ and acts on it; returns the bytes used.
std::size_t RequestParser::feed_chunk_size(std::string_view data, std::error_code& ec) {
  for (std::size_t i = 0; i < data.size(); ++i) {
    const char c = data[i];
    const bool after_cr = !line_.empty() && line_.back() == '\r';
    if (after_cr != (c == '\n')) {
      ec = errc::bad_chunk;
      return i + 1;
    }
    if (c != '\n') {
      if (line_.size() + 2 > max_chunk_line) {
        ec = errc::bad_chunk;
        return i + 1;
      }
      line_.push_back(c);
      continue;
    }
    line_.pop_back();  // the CR
    std::uint64_t size = 0;
    if (!parse_chunk_size_line(line_, size)) {
      ec = errc::bad_chunk;
      return i + 1;
    }
    line_.clear();
    if (size == 0) {
      trailer_bytes_ = 0;
      state_ = State::trailers;
    } else if (size > limits_.max_body_size - body_.size()) {
      ec = errc::body_too_large;
    } else {
      remaining_ = size;
      state_ = State::chunk_data;
    }
    return i + 1;
  }
  return data.size();
}

// Accumulates trailer lines in line_, checks and drops them; the empty line ends the request.
std::size_t RequestParser::feed_trailers(std::string_view data, std::error_code& ec) {
  for (std::size_t i = 0; i < data.size(); ++i) {
    const char c = data[i];
    if (++trailer_bytes_ > limits_.max_header_bytes) {
      ec = errc::headers_too_large;
      return i + 1;
    }
    const bool after_cr = !line_.empty() && line_.back() == '\r';
    if (after_cr != (c == '\n')) {
      ec = errc::bad_chunk;
      return i + 1;
    }
    if (c != '\n') {
      line_.push_back(c);
      continue;
    }
    line_.pop_back();  // the CR
    if (line_.empty()) {
      state_ = State::done;
      return i + 1;
    }
    std::string_view name;
    std::string_view value;
    if (parse_field_line(line_, name, value)) {
      ec = errc::bad_chunk;
      return i + 1;
    }
    line_.clear();
  }
  return data.size();
}

void RequestParser::compact() {
  std::vector<char> head(head_.begin(), head_.end());
  std::vector<char> path(path_storage_.begin(), path_storage_.end());
  std::vector<char> body(body_.begin(), body_.end());
  // A view into one of the old buffers moves to the same offset of its copy; views elsewhere
  // (string literals) stay.
  auto rebase = [&](std::string_view v) -> std::string_view {
    if (v.data() == nullptr) {
      return v;
    }
    const auto p = reinterpret_cast<std::uintptr_t>(v.data());
    const std::pair<const std::vector<char>*, std::vector<char>*> pairs[] = {
        {&head_, &head}, {&path_storage_, &path}, {&body_, &body}};
    for (const auto& [from, to] : pairs) {
      const auto b = reinterpret_cast<std::uintptr_t>(from->data());
      if (!from->empty() && p >= b && p + v.size() <= b + from->size()) {
        return {to->data() + (p - b), v.size()};
      }
    }
    return v;
  };
  Request& r = request_;
  r.method_ = rebase(r.method_);
  r.target_ = rebase(r.target_);
  r.path_ = rebase(r.path_);
  r.raw_path_ = rebase(r.raw_path_);
  r.query_ = rebase(r.query_);
  r.body_ = rebase(r.body_);
  Headers headers;
  headers.reserve(r.headers_.size());
  for (const auto& f : r.headers_) {
    headers.add(rebase(f.name), rebase(f.value));
  }
  r.headers_ = std::move(headers);
  head_ = std::move(head);
  path_storage_ = std::move(path);
  body_ = std::move(body);
  line_ = std::string();
}

}  // namespace nexios::http
