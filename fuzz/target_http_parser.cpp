/// @file
/// Fuzz target http_parser: a request stream fed to RequestParser in input-chosen chunks, with
/// pipelining (reset after each complete request). Checks the invariants of every request and
/// that the chunked feed gives the same requests and the same error, at the same stream offset,
/// as feeding everything at once.
///
/// Options byte: bit 0 selects small limits; then bits 1-3 give max_header_bytes (24..192),
/// bits 4-5 max_headers (1, 3, 5, 7) and bits 6-7 max_body_size (0, 1, 16, 100).

#include "fuzz_support.hpp"
#include "fuzz_targets.hpp"

#include <nexios/detail/ascii.hpp>
#include <nexios/http/parser.hpp>
#include <nexios/http/url.hpp>

#include <algorithm>
#include <memory>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

namespace {

using nexios::fuzz::Chunk;
using nexios::http::HttpLimits;
using nexios::http::Request;
using nexios::http::RequestParser;

/// A complete request, copied out of the parser.
struct Record {
  std::size_t begin = 0;  // stream offset of its first byte (leading CRLFs included)
  std::size_t end = 0;    // stream offset just past it
  std::string method;
  std::string target;
  std::string path;
  std::string raw_path;
  std::string query;
  int version_minor = 0;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  bool has_body = false;
  bool keep_alive = false;
  bool expects_continue = false;

  bool operator==(const Record&) const = default;
};

/// Everything one feeding produced.
struct Outcome {
  std::vector<Record> requests;
  std::error_code error;
  std::size_t error_offset = 0;  // stream bytes consumed when the error was reported
  std::size_t consumed = 0;      // stream bytes consumed in total
  bool in_progress = false;      // at the end of the input
  bool header_done = false;
};

HttpLimits limits_for(std::uint8_t options) {
  HttpLimits limits;
  if ((options & 1u) != 0) {
    limits.max_header_bytes = 24 + 24 * ((options >> 1) & 7u);
    limits.max_headers = 1 + 2 * ((options >> 4) & 3u);
    static constexpr std::size_t bodies[] = {0, 1, 16, 100};
    limits.max_body_size = bodies[(options >> 6) & 3u];
  }
  return limits;
}

bool has_ctl(std::string_view s, bool allow_tab) {
  for (const char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if ((u < 0x20 || u == 0x7F) && !(allow_tab && c == '\t')) {
      return true;
    }
  }
  return false;
}

bool is_inside(std::string_view inner, std::string_view outer) {
  return nexios::fuzz::points_into(inner.data(), inner.size(), outer.data(), outer.size());
}

/// Checks one complete request against the limits, the stream it came from, and itself.
/// `live` is the caller buffer being fed: no view may point into it.
void check_request(const Request& r, const HttpLimits& limits, std::string_view stream, std::size_t begin,
                   std::size_t end, std::string_view live) {
  using nexios::detail::is_token;
  const std::string_view method = r.method();
  const std::string_view target = r.target();
  FUZZ_CHECK(is_token(method));
  FUZZ_CHECK(!target.empty() && target.find(' ') == std::string_view::npos && !has_ctl(target, false));
  FUZZ_CHECK(r.version_minor() == 0 || r.version_minor() == 1);

  // Views: never into the caller's buffer; the head views lie in one buffer, in order.
  const std::string_view views[] = {method, target, r.path(), r.raw_path(), r.query_string(), r.body()};
  for (const auto v : views) {
    FUZZ_CHECK(!nexios::fuzz::overlaps(v.data(), v.size(), live.data(), live.size()));
  }
  for (const auto& f : r.headers()) {
    FUZZ_CHECK(!nexios::fuzz::overlaps(f.name.data(), f.name.size(), live.data(), live.size()));
    FUZZ_CHECK(!nexios::fuzz::overlaps(f.value.data(), f.value.size(), live.data(), live.size()));
  }
  FUZZ_CHECK(method.data() + method.size() + 1 == target.data());
  const char* last = target.data() + target.size();
  for (const auto& f : r.headers()) {
    FUZZ_CHECK(f.name.data() > last);
    FUZZ_CHECK(f.value.empty() || f.value.data() > f.name.data() + f.name.size());
    last = f.value.empty() ? f.name.data() + f.name.size() : f.value.data() + f.value.size();
  }

  // Target, path and query.
  const std::string_view raw_path = r.raw_path();
  if (raw_path == "*") {
    FUZZ_CHECK(target == "*" && method == "OPTIONS" && r.query_string().empty());
  } else {
    FUZZ_CHECK(!raw_path.empty() && raw_path.front() == '/');
    FUZZ_CHECK(raw_path.find('?') == std::string_view::npos);
    FUZZ_CHECK(is_inside(raw_path, target) || (raw_path == "/" && target.front() != '/'));
    FUZZ_CHECK(r.query_string().empty() || is_inside(r.query_string(), target));
    if (target.front() == '/') {
      const bool has_query = target.find('?') != std::string_view::npos;
      FUZZ_CHECK(target == std::string(raw_path) + (has_query ? "?" + std::string(r.query_string()) : ""));
    }
  }
  const std::string_view path = r.path();
  FUZZ_CHECK(!path.empty() && (path.front() == '/' || path == "*"));
  if (raw_path.find('%') == std::string_view::npos) {
    FUZZ_CHECK(path == raw_path);
  } else {
    FUZZ_CHECK_MSG(path == nexios::http::percent_decode(raw_path), nexios::fuzz::printable(raw_path));
  }

  // Headers.
  const auto& headers = r.headers();
  FUZZ_CHECK(headers.size() <= limits.max_headers);
  for (const auto& f : headers) {
    FUZZ_CHECK(is_token(f.name));
    FUZZ_CHECK(nexios::detail::trim_ows(f.value) == f.value && !has_ctl(f.value, true));
  }
  FUZZ_CHECK(headers.count("host") <= 1);
  FUZZ_CHECK(r.version_minor() == 0 || headers.count("host") == 1);
  const bool chunked = headers.contains("transfer-encoding");
  const bool with_length = headers.contains("content-length");
  FUZZ_CHECK(!(chunked && with_length));
  if (r.version_minor() == 1) {
    FUZZ_CHECK(r.keep_alive() == !headers.has_token("connection", "close"));
    FUZZ_CHECK(r.expects_continue() == headers.has_token("expect", "100-continue"));
  } else {
    FUZZ_CHECK(!chunked);
    FUZZ_CHECK(r.keep_alive() ==
               (headers.has_token("connection", "keep-alive") && !headers.has_token("connection", "close")));
    FUZZ_CHECK(!r.expects_continue());
  }

  // Body.
  const std::string_view body = r.body();
  FUZZ_CHECK(body.size() <= limits.max_body_size);
  FUZZ_CHECK(r.has_body() || body.empty());
  FUZZ_CHECK(r.has_body() == (chunked || !body.empty()));

  // The request as it appears in the stream.
  FUZZ_CHECK(begin < end && end <= stream.size());
  std::string_view raw = stream.substr(begin, end - begin);
  while (raw.starts_with("\r\n")) {
    raw.remove_prefix(2);
  }
  const std::string line = std::string(method) + " " + std::string(target) + " HTTP/1." +
                           std::to_string(r.version_minor()) + "\r\n";
  FUZZ_CHECK_MSG(raw.starts_with(line), nexios::fuzz::printable(raw));
  if (!chunked) {
    FUZZ_CHECK(raw.ends_with(body));
    FUZZ_CHECK(raw.substr(0, raw.size() - body.size()).ends_with("\r\n\r\n"));
  } else {
    FUZZ_CHECK(raw.ends_with("\r\n\r\n") && raw.size() >= body.size());
  }
}

Record record_of(const Request& r, std::size_t begin, std::size_t end) {
  Record rec;
  rec.begin = begin;
  rec.end = end;
  rec.method = r.method();
  rec.target = r.target();
  rec.path = r.path();
  rec.raw_path = r.raw_path();
  rec.query = r.query_string();
  rec.version_minor = r.version_minor();
  for (const auto& f : r.headers()) {
    rec.headers.emplace_back(std::string(f.name), std::string(f.value));
  }
  rec.body = r.body();
  rec.has_body = r.has_body();
  rec.keep_alive = r.keep_alive();
  rec.expects_continue = r.expects_continue();
  return rec;
}

/// Feeds `stream` in `chunks`. Each chunk is a separate heap copy freed right after use, so a view
/// into caller memory that outlives feed() is caught by ASan. With `move_parser`, the parser is
/// moved to a new heap object after every complete request (views must survive moves).
Outcome feed_stream(std::string_view stream, const std::vector<Chunk>& chunks, const HttpLimits& limits,
                    bool move_parser) {
  Outcome out;
  auto parser = std::make_unique<RequestParser>(limits);
  std::size_t offset = 0;         // stream bytes consumed
  std::size_t request_begin = 0;  // stream offset where the current request started
  for (const Chunk& c : chunks) {
    const std::size_t len = c.end - c.begin;
    FUZZ_CHECK(c.begin == offset);  // everything offered before was consumed
    const auto buf = std::make_unique<char[]>(len == 0 ? 1 : len);
    std::copy(stream.data() + c.begin, stream.data() + c.end, buf.get());
    const std::string_view live(buf.get(), len);
    std::size_t pos = 0;
    for (;;) {
      std::error_code ec;
      const std::size_t used = parser->feed(live.substr(pos), ec);
      FUZZ_CHECK(used <= len - pos);
      pos += used;
      offset += used;
      if (ec) {
        FUZZ_CHECK(!parser->done() && !parser->in_progress());
        std::error_code again;
        FUZZ_CHECK(parser->feed(live.substr(pos), again) == 0 && again == ec);
        out.error = ec;
        out.error_offset = offset;
        out.consumed = offset;
        return out;
      }
      if (!parser->done()) {
        FUZZ_CHECK_MSG(pos == len, "feed stopped early without a request or an error");
        break;
      }
      // Complete: nothing more is consumed until reset().
      FUZZ_CHECK(parser->header_done() && !parser->in_progress());
      std::error_code ignored;
      FUZZ_CHECK(parser->feed(live.substr(pos), ignored) == 0 && !ignored);
      if (move_parser) {
        parser = std::make_unique<RequestParser>(std::move(*parser));
      }
      check_request(parser->request(), limits, stream, request_begin, offset, live);
      out.requests.push_back(record_of(parser->request(), request_begin, offset));
      parser->reset();
      FUZZ_CHECK(!parser->done() && !parser->in_progress() && !parser->header_done());
      FUZZ_CHECK(parser->request().headers().empty() && parser->request().method().empty());
      request_begin = offset;
    }
  }
  out.consumed = offset;
  out.in_progress = parser->in_progress();
  out.header_done = parser->header_done();
  FUZZ_CHECK(out.in_progress == (offset != request_begin));
  return out;
}

void check_same(const Outcome& a, const Outcome& b) {
  FUZZ_CHECK(a.requests.size() == b.requests.size());
  for (std::size_t i = 0; i < a.requests.size(); ++i) {
    FUZZ_CHECK_MSG(a.requests[i] == b.requests[i], "request " + std::to_string(i));
  }
  FUZZ_CHECK_MSG(a.error == b.error, a.error.message() + " vs " + b.error.message());
  FUZZ_CHECK_MSG(a.error_offset == b.error_offset,
                 std::to_string(a.error_offset) + " vs " + std::to_string(b.error_offset));
  FUZZ_CHECK(a.consumed == b.consumed);
  FUZZ_CHECK(a.in_progress == b.in_progress);
  FUZZ_CHECK(a.header_done == b.header_done);
}

}  // namespace

int fuzz_http_parser(const std::uint8_t* data, std::size_t size) {
  const auto in = nexios::fuzz::decode_input(data, size);
  const std::string_view stream = in.payload_view();
  const HttpLimits limits = limits_for(in.options);

  const Outcome at_once = feed_stream(stream, nexios::fuzz::whole(stream.size()), limits, false);
  const Outcome chunked = feed_stream(stream, nexios::fuzz::make_chunks(stream.size(), in.schedule), limits, true);
  check_same(at_once, chunked);
  if (at_once.error) {
    // Every error has an HTTP status to answer with.
    const int status = nexios::http::status_for(at_once.error);
    FUZZ_CHECK(status == 400 || status == 413 || status == 431 || status == 501 || status == 505);
  } else {
    FUZZ_CHECK(at_once.consumed == stream.size());
  }
  return 0;
}
