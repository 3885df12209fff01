/// @file
/// Fuzz target resp: the sans-I/O RESP2 parser (src/resp/resp.hpp). The payload is a reply stream
/// fed in the schedule's chunks; it must give the same values and the same error as one
/// whole-buffer parse and as a small recursive reference parser; every incomplete parse consumes
/// all it was given; each value re-encodes (append_value) to bytes that parse back to the same
/// value and encode to the same bytes again; values respect the limits; whatever match_push (the
/// subscriber's fast path) accepts at the start of a value, Parser parses to the same array.
///
/// Options byte: bit 0 set: tiny limits (bulk 16 bytes, 4 elements, depth 3, lines 8 bytes),
/// else the defaults. Schedule: the chunk sizes.

#include "fuzz_support.hpp"
#include "fuzz_targets.hpp"

#include "resp/resp.hpp"

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace {

using nexios::resp::errc;
using nexios::resp::Parser;
using nexios::resp::ParserLimits;
using nexios::resp::Value;

struct Run {
  std::vector<Value> values;
  std::error_code ec;
};

Run parse_chunks(std::string_view payload, const std::vector<nexios::fuzz::Chunk>& chunks, const ParserLimits& limits) {
  Parser p(limits);
  Run run;
  for (const auto& c : chunks) {
    std::string_view piece = payload.substr(c.begin, c.end - c.begin);
    do {
      const auto r = p.parse(piece);
      FUZZ_CHECK(r.consumed <= piece.size());
      piece.remove_prefix(r.consumed);
      if (r.ec) {
        FUZZ_CHECK(p.failed());
        run.ec = r.ec;
        return run;
      }
      if (r.complete) {
        run.values.push_back(p.take());
      } else {
        FUZZ_CHECK_MSG(piece.empty(), "an incomplete parse left bytes unconsumed");
      }
    } while (!piece.empty());
  }
  return run;
}

// The reference: a whole-buffer recursive parser, written from the protocol description.
class Reference {
 public:
  Reference(std::string_view s, const ParserLimits& limits) : s_(s), limits_(limits) {}

  Run run() {
    Run out;
    while (pos_ < s_.size()) {
      std::optional<Value> v = value(1);
      if (ec_) {
        out.ec = ec_;
        return out;
      }
      if (!v) {
        return out;  // incomplete
      }
      out.values.push_back(std::move(*v));
    }
    return out;
  }

 private:
  std::optional<Value> fail(errc e) {
    ec_ = e;
    return std::nullopt;
  }

  // The line after the type byte, without CRLF; nullopt when incomplete or on error.
  std::optional<std::string_view> line() {
    const std::size_t start = pos_;
    std::size_t lf = start;
    while (lf < s_.size() && s_[lf] != '\n') {
      ++lf;
    }
    const std::size_t len = lf - start;  // bytes before the LF (or before the end)
    const bool too_long = len > limits_.max_line_bytes + 1 ||
                          (len == limits_.max_line_bytes + 1 && s_[lf - 1] != '\r');
    if (too_long) {
      fail(errc::line_too_long);
      return std::nullopt;
    }
    if (lf == s_.size()) {
      return std::nullopt;
    }
    if (len == 0 || s_[lf - 1] != '\r') {
      fail(errc::missing_crlf);
      return std::nullopt;
    }
    const std::string_view content = s_.substr(start, len - 1);
    if (content.find('\r') != std::string_view::npos) {
      fail(errc::missing_crlf);
      return std::nullopt;
    }
    pos_ = lf + 1;
    return content;
  }

  static bool digits(std::string_view d) {
    if (d.empty()) {
      return false;
    }
    for (const char c : d) {
      if (c < '0' || c > '9') {
        return false;
      }
    }
    return true;
  }

  // Compares a digit string with a bound without overflowing.
  static bool greater(std::string_view d, std::uint64_t bound) {
    while (d.size() > 1 && d.front() == '0') {
      d.remove_prefix(1);
    }
    const std::string b = std::to_string(bound);
    return d.size() != b.size() ? d.size() > b.size() : d > std::string_view(b);
  }

  std::optional<Value> value(std::size_t depth) {
    if (pos_ >= s_.size()) {
      return std::nullopt;
    }
    const char type = s_[pos_++];
    if (type != '+' && type != '-' && type != ':' && type != '$' && type != '*') {
      return fail(errc::bad_type);
    }
    const std::optional<std::string_view> l = line();
    if (!l) {
      return std::nullopt;
    }
    if (type == '+') {
      return Value::simple_string(std::string(*l));
    }
    if (type == '-') {
      return Value::error(std::string(*l));
    }
    if (type == ':') {
      const bool neg = !l->empty() && l->front() == '-';
      const std::string_view d = neg ? l->substr(1) : *l;
      if (!digits(d)) {
        return fail(errc::bad_integer);
      }
      if (greater(d, neg ? 9223372036854775808ULL : 9223372036854775807ULL)) {
        return fail(errc::integer_overflow);
      }
      const std::int64_t n = neg ? -static_cast<std::int64_t>(std::stoull(std::string(d)) - 1) - 1
                                 : static_cast<std::int64_t>(std::stoull(std::string(d)));
      return Value::number(n);
    }
    if (*l == "-1") {
      return Value::null();
    }
    if (!digits(*l)) {
      return fail(errc::bad_length);
    }
    if (type == '$') {
      if (greater(*l, limits_.max_bulk_bytes)) {
        return fail(errc::bulk_too_big);
      }
      const std::size_t n = std::stoull(std::string(*l));
      const std::size_t have = s_.size() - pos_;
      // Payload bytes, then CR, then LF: a wrong byte is an error as soon as it is there.
      if (have > n && s_[pos_ + n] != '\r') {
        return fail(errc::missing_crlf);
      }
      if (have > n + 1 && s_[pos_ + n + 1] != '\n') {
        return fail(errc::missing_crlf);
      }
      if (have < n + 2) {
        return std::nullopt;
      }
      Value v = Value::bulk(std::string(s_.substr(pos_, n)));
      pos_ += n + 2;
      return v;
    }
    if (greater(*l, limits_.max_array_elements)) {
      return fail(errc::array_too_big);
    }
    if (depth > limits_.max_depth) {
      return fail(errc::too_deep);
    }
    const std::size_t n = std::stoull(std::string(*l));
    std::vector<Value> items;
    for (std::size_t i = 0; i < n; ++i) {
      std::optional<Value> e = value(depth + 1);
      if (!e) {
        return std::nullopt;
      }
      items.push_back(std::move(*e));
    }
    return Value::array(std::move(items));
  }

  std::string_view s_;
  ParserLimits limits_;
  std::size_t pos_ = 0;
  std::error_code ec_;
};

void check_limits(const Value& v, const ParserLimits& limits, std::size_t depth) {
  if (v.type == Value::Type::bulk) {
    FUZZ_CHECK(v.str.size() <= limits.max_bulk_bytes);
  } else if (v.type == Value::Type::simple || v.type == Value::Type::error) {
    FUZZ_CHECK(v.str.size() <= limits.max_line_bytes);
  } else if (v.is_array()) {
    FUZZ_CHECK(depth <= limits.max_depth);
    FUZZ_CHECK(v.elements.size() <= limits.max_array_elements);
    for (const Value& e : v.elements) {
      check_limits(e, limits, depth + 1);
    }
  }
}

}  // namespace

int fuzz_resp(const std::uint8_t* data, std::size_t size) {
  const nexios::fuzz::FuzzInput in = nexios::fuzz::decode_input(data, size);
  ParserLimits limits;
  if ((in.options & 1u) != 0) {
    limits.max_bulk_bytes = 16;
    limits.max_array_elements = 4;
    limits.max_depth = 3;
    limits.max_line_bytes = 8;
  }
  // A heap copy so reads past the end are caught.
  const std::string payload(in.payload_view());
  const Run chunked = parse_chunks(payload, nexios::fuzz::make_chunks(payload.size(), in.schedule), limits);
  const Run whole = parse_chunks(payload, nexios::fuzz::whole(payload.size()), limits);
  const Run reference = Reference(payload, limits).run();

  FUZZ_CHECK_MSG(chunked.ec == whole.ec, chunked.ec.message() + " vs " + whole.ec.message());
  FUZZ_CHECK(chunked.values == whole.values);
  FUZZ_CHECK_MSG(whole.ec == reference.ec, whole.ec.message() + " vs reference " + reference.ec.message());
  FUZZ_CHECK(whole.values == reference.values);

  for (const Value& v : whole.values) {
    check_limits(v, limits, v.is_array() ? 1 : 0);
    std::string encoded;
    nexios::resp::append_value(encoded, v);
    Parser again(limits);
    const auto r = again.parse(encoded);
    FUZZ_CHECK(!r.ec);
    FUZZ_CHECK(r.complete);
    FUZZ_CHECK(r.consumed == encoded.size());
    const Value back = again.take();
    FUZZ_CHECK(back == v);
    std::string twice;
    nexios::resp::append_value(twice, back);
    FUZZ_CHECK(twice == encoded);
  }

  // match_push, wherever a value starts: what it accepts, Parser parses to the same array of
  // bulk strings in the same bytes.
  std::string_view rest = payload;
  Parser stepper(limits);
  while (!rest.empty()) {
    nexios::resp::PushView push;
    const std::size_t n = nexios::resp::match_push(rest, limits, push);
    Parser p(limits);
    const auto r = p.parse(rest);
    if (n > 0) {
      FUZZ_CHECK_MSG(!r.ec && r.complete && r.consumed == n, "match_push accepted what Parser does not parse alike");
      const Value v = p.take();
      FUZZ_CHECK(v.is_array() && (v.elements.size() == 3 || v.elements.size() == 4));
      for (const Value& e : v.elements) {
        FUZZ_CHECK(e.type == Value::Type::bulk);
      }
      const bool pm = v.elements.size() == 4;
      FUZZ_CHECK(v.elements[0].str == push.kind);
      FUZZ_CHECK(!pm || v.elements[1].str == push.pattern);
      FUZZ_CHECK(v.elements[pm ? 2 : 1].str == push.channel);
      FUZZ_CHECK(v.elements[pm ? 3 : 2].str == push.payload);
      FUZZ_CHECK(push.kind == (pm ? "pmessage" : push.kind == "smessage" ? "smessage" : "message"));
    }
    if (r.ec || !r.complete) {
      break;
    }
    rest.remove_prefix(r.consumed);
  }
  return 0;
}
