/// @file
/// RESP2 parser, encoder and the "nexios.resp" error category.

#include "resp/resp.hpp"

#include <algorithm>
#include <charconv>
#include <limits>
#include <utility>

namespace nexios::resp {

namespace {

class RespCategory final : public std::error_category {
 public:
  [[nodiscard]] const char* name() const noexcept override { return "nexios.resp"; }

  [[nodiscard]] std::string message(int value) const override {
    switch (static_cast<errc>(value)) {
      case errc::bad_type:
        return "RESP value starts with an unknown type byte";
      case errc::bad_length:
        return "RESP bulk or array length is not -1 or a non-negative number";
      case errc::missing_crlf:
        return "RESP line or bulk string not terminated by CRLF";
      case errc::bad_integer:
        return "RESP integer is not a decimal number";
      case errc::integer_overflow:
        return "RESP integer does not fit in 64 bits";
      case errc::line_too_long:
        return "RESP line longer than the parser's limit";
      case errc::bulk_too_big:
        return "RESP bulk string longer than the parser's limit";
      case errc::array_too_big:
        return "RESP array with more elements than the parser's limit";
      case errc::too_deep:
        return "RESP arrays nested deeper than the parser's limit";
    }
    return "unknown RESP error";
  }
};

// A bulk payload is reserved up to this size when its header arrives; beyond it the string grows
// as bytes really arrive, so a 20-byte header cannot make us allocate 512 MiB.
constexpr std::size_t eager_reserve_bytes = std::size_t{1} << 20;

enum class Digits { ok, not_digits, too_big };

// A non-empty run of decimal digits no greater than `max`.
Digits parse_unsigned(std::string_view s, std::uint64_t max, std::uint64_t& out) noexcept {
  if (s.empty()) {
    return Digits::not_digits;
  }
  bool too_big = false;
  std::uint64_t v = 0;
  for (const char c : s) {
    if (c < '0' || c > '9') {
      return Digits::not_digits;
    }
    const auto d = static_cast<std::uint64_t>(c - '0');
    if (!too_big && (d > max || v > (max - d) / 10)) {
      too_big = true;
    }
    if (!too_big) {
      v = v * 10 + d;
    }
  }
  if (too_big) {
    return Digits::too_big;
  }
  out = v;
  return Digits::ok;
}

void append_line(std::string& out, char type, std::string_view body) {
  out.push_back(type);
  out.append(body);
  out.append("\r\n");
}

void append_bulk(std::string& out, std::string_view s) {
  char digits[24];
  const auto res = std::to_chars(std::begin(digits), std::end(digits), s.size());
  out.push_back('$');
  out.append(digits, res.ptr);
  out.append("\r\n");
  out.append(s);
  out.append("\r\n");
}

void append_array_header(std::string& out, std::size_t n) {
  char digits[24];
  const auto res = std::to_chars(std::begin(digits), std::end(digits), n);
  out.push_back('*');
  out.append(digits, res.ptr);
  out.append("\r\n");
}

}  // namespace

const std::error_category& resp_category() noexcept {
  static const RespCategory category;
  return category;
}

std::error_code make_error_code(errc e) noexcept {
  return {static_cast<int>(e), resp_category()};
}

Value Value::simple_string(std::string s) {
  Value v;
  v.type = Type::simple;
  v.str = std::move(s);
  return v;
}

Value Value::error(std::string s) {
  Value v;
  v.type = Type::error;
  v.str = std::move(s);
  return v;
}

Value Value::number(std::int64_t n) {
  Value v;
  v.type = Type::integer;
  v.integer = n;
  return v;
}

Value Value::bulk(std::string s) {
  Value v;
  v.type = Type::bulk;
  v.str = std::move(s);
  return v;
}

Value Value::null() {
  return Value{};
}

Value Value::array(std::vector<Value> items) {
  Value v;
  v.type = Type::array;
  v.elements = std::move(items);
  return v;
}

bool operator==(const Value& a, const Value& b) noexcept {
  if (a.type != b.type) {
    return false;
  }
  switch (a.type) {
    case Value::Type::simple:
    case Value::Type::error:
    case Value::Type::bulk:
      return a.str == b.str;
    case Value::Type::integer:
      return a.integer == b.integer;
    case Value::Type::null:
      return true;
    case Value::Type::array:
      return std::equal(a.elements.begin(), a.elements.end(), b.elements.begin(), b.elements.end());
  }
  return false;
}

std::string_view type_name(Value::Type t) noexcept {
  switch (t) {
    case Value::Type::simple:
      return "simple";
    case Value::Type::error:
      return "error";
    case Value::Type::integer:
      return "integer";
    case Value::Type::bulk:
      return "bulk";
    case Value::Type::null:
      return "null";
    case Value::Type::array:
      return "array";
  }
  return "unknown";
}

std::string to_debug_string(const Value& v) {
  switch (v.type) {
    case Value::Type::simple:
      return v.str;
    case Value::Type::error:
      return "(error) " + v.str;
    case Value::Type::integer:
      return "(integer) " + std::to_string(v.integer);
    case Value::Type::null:
      return "(nil)";
    case Value::Type::bulk: {
      std::string out = "\"";
      for (const char c : v.str) {
        const auto u = static_cast<unsigned char>(c);
        if (u >= 0x20 && u < 0x7F && c != '"' && c != '\\') {
          out.push_back(c);
        } else {
          static constexpr char hex[] = "0123456789abcdef";
          out += "\\x";
          out.push_back(hex[u >> 4]);
          out.push_back(hex[u & 0xF]);
        }
      }
      out.push_back('"');
      return out;
    }
    case Value::Type::array: {
      std::string out = "[";
      for (std::size_t i = 0; i < v.elements.size(); ++i) {
        if (i != 0) {
          out += ", ";
        }
        out += to_debug_string(v.elements[i]);
      }
      out.push_back(']');
      return out;
    }
  }
  return {};
}

// ---------------------------------------------------------------------------------------------
// Parser
// ---------------------------------------------------------------------------------------------

std::error_code Parser::fail(errc e) {
  error_ = make_error_code(e);
  return error_;
}

bool Parser::idle() const noexcept {
  return !has_ready_ && state_ == State::type && stack_.empty();
}

void Parser::reset() noexcept {
  state_ = State::type;
  line_.clear();
  bulk_ = Value{};
  bulk_left_ = 0;
  crlf_seen_ = 0;
  stack_.clear();
  ready_ = Value{};
  has_ready_ = false;
  error_.clear();
}

Value Parser::take() {
  has_ready_ = false;
  return std::exchange(ready_, Value{});
}

bool Parser::finish(Value v) {
  for (;;) {
    if (stack_.empty()) {
      ready_ = std::move(v);
      has_ready_ = true;
      return true;
    }
    Frame& f = stack_.back();
    f.array.elements.push_back(std::move(v));
    if (--f.remaining > 0) {
      return false;
    }
    v = std::move(f.array);
    stack_.pop_back();
  }
}

std::error_code Parser::on_line(std::string_view line) {
  state_ = State::type;
  switch (line_type_) {
    case '+':
      finish(Value::simple_string(std::string(line)));
      return {};
    case '-':
      finish(Value::error(std::string(line)));
      return {};
    case ':': {
      const bool negative = !line.empty() && line.front() == '-';
      const std::string_view digits = negative ? line.substr(1) : line;
      constexpr auto max_positive = static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max());
      std::uint64_t u = 0;
      switch (parse_unsigned(digits, negative ? max_positive + 1 : max_positive, u)) {
        case Digits::not_digits:
          return fail(errc::bad_integer);
        case Digits::too_big:
          return fail(errc::integer_overflow);
        case Digits::ok:
          break;
      }
      std::int64_t n = 0;
      if (negative) {
        n = u == max_positive + 1 ? std::numeric_limits<std::int64_t>::min() : -static_cast<std::int64_t>(u);
      } else {
        n = static_cast<std::int64_t>(u);
      }
      finish(Value::number(n));
      return {};
    }
    case '$':
    case '*': {
      if (line == "-1") {
        finish(Value::null());
        return {};
      }
      const bool is_bulk = line_type_ == '$';
      const std::uint64_t max = is_bulk ? limits_.max_bulk_bytes : limits_.max_array_elements;
      std::uint64_t n = 0;
      switch (parse_unsigned(line, max, n)) {
        case Digits::not_digits:
          return fail(errc::bad_length);
        case Digits::too_big:
          return fail(is_bulk ? errc::bulk_too_big : errc::array_too_big);
        case Digits::ok:
          break;
      }
      if (is_bulk) {
        bulk_ = Value::bulk({});
        bulk_.str.reserve(std::min<std::size_t>(n, eager_reserve_bytes));
        bulk_left_ = n;
        crlf_seen_ = 0;
        state_ = n == 0 ? State::bulk_crlf : State::bulk;
        return {};
      }
      if (stack_.size() + 1 > limits_.max_depth) {
        return fail(errc::too_deep);
      }
      if (n == 0) {
        finish(Value::array({}));
        return {};
      }
      Frame f;
      f.array.type = Value::Type::array;
      f.array.elements.reserve(std::min<std::size_t>(n, 64));
      f.remaining = n;
      stack_.push_back(std::move(f));
      return {};
    }
    default:
      return fail(errc::bad_type);  // not reached: the type byte was checked
  }
}

ParseResult Parser::parse(std::string_view data) {
  ParseResult r;
  if (error_) {
    r.ec = error_;
    return r;
  }
  if (has_ready_) {
    r.complete = true;  // the caller has not taken the last value yet
    return r;
  }
  std::size_t pos = 0;
  while (pos < data.size()) {
    switch (state_) {
      case State::type: {
        const char c = data[pos++];
        if (c != '+' && c != '-' && c != ':' && c != '$' && c != '*') {
          r.consumed = pos;
          r.ec = fail(errc::bad_type);
          return r;
        }
        line_type_ = c;
        line_.clear();
        state_ = State::line;
        break;
      }
      case State::line: {
        const std::string_view rest = data.substr(pos);
        const std::size_t nl = rest.find('\n');
        // Bytes before the LF: the line, its CR, or (one past the limit) more than that.
        const std::size_t before_lf = line_.size() + (nl == std::string_view::npos ? rest.size() : nl);
        // Known too long once more than the limit and a CR have come, or the limit and a byte
        // that is not the CR: the same error whatever the split.
        const std::string_view seen = nl == std::string_view::npos ? rest : rest.substr(0, nl);
        const char last = !seen.empty() ? seen.back() : (line_.empty() ? '\r' : line_.back());
        if (before_lf > limits_.max_line_bytes + 1 || (before_lf == limits_.max_line_bytes + 1 && last != '\r')) {
          r.consumed = data.size();
          r.ec = fail(errc::line_too_long);
          return r;
        }
        if (nl == std::string_view::npos) {
          line_.append(rest);
          pos = data.size();
          break;
        }
        std::string_view line = rest.substr(0, nl);
        if (!line_.empty()) {
          line_.append(line);
          line = line_;
        }
        pos += nl + 1;
        if (line.empty() || line.back() != '\r' || line.substr(0, line.size() - 1).find('\r') != std::string_view::npos) {
          r.consumed = pos;
          r.ec = fail(errc::missing_crlf);
          return r;
        }
        line.remove_suffix(1);
        const std::error_code ec = on_line(line);
        line_.clear();
        if (ec) {
          r.consumed = pos;
          r.ec = ec;
          return r;
        }
        if (has_ready_) {
          r.consumed = pos;
          r.complete = true;
          return r;
        }
        break;
      }
      case State::bulk: {
        const std::size_t n = std::min(bulk_left_, data.size() - pos);
        bulk_.str.append(data.data() + pos, n);
        pos += n;
        bulk_left_ -= n;
        if (bulk_left_ == 0) {
          state_ = State::bulk_crlf;
        }
        break;
      }
      case State::bulk_crlf: {
        const char expected = crlf_seen_ == 0 ? '\r' : '\n';
        if (data[pos++] != expected) {
          r.consumed = pos;
          r.ec = fail(errc::missing_crlf);
          return r;
        }
        if (++crlf_seen_ == 2) {
          state_ = State::type;
          crlf_seen_ = 0;
          if (finish(std::exchange(bulk_, Value{}))) {
            r.consumed = pos;
            r.complete = true;
            return r;
          }
        }
        break;
      }
    }
  }
  r.consumed = pos;
  return r;
}

// ---------------------------------------------------------------------------------------------
// Encoder
// ---------------------------------------------------------------------------------------------

namespace {
// "<digits>\r\n" at data[pos] (1 to 10 digits, no leading zero but "0", at most `max`): the number
// and the position after the CRLF, or false.
bool plain_length(std::string_view data, std::size_t& pos, std::uint64_t max, std::uint64_t& out) noexcept {
  std::uint64_t v = 0;
  std::size_t i = pos;
  while (i < data.size() && data[i] >= '0' && data[i] <= '9' && i - pos < 10) {
    v = v * 10 + static_cast<std::uint64_t>(data[i] - '0');
    ++i;
  }
  const std::size_t digits = i - pos;
  if (digits == 0 || (digits > 1 && data[pos] == '0') || v > max || data.size() - i < 2 || data[i] != '\r' ||
      data[i + 1] != '\n') {
    return false;
  }
  out = v;
  pos = i + 2;
  return true;
}

// "$<n>\r\n<n bytes>\r\n" at data[pos], whole: the bytes, or false.
bool plain_bulk(std::string_view data, std::size_t& pos, const ParserLimits& limits, std::string_view& out) noexcept {
  std::uint64_t n = 0;
  std::size_t p = pos + 1;
  if (pos >= data.size() || data[pos] != '$' || !plain_length(data, p, limits.max_bulk_bytes, n) ||
      data.size() - p < n + 2 || data[p + n] != '\r' || data[p + n + 1] != '\n') {
    return false;
  }
  out = data.substr(p, n);
  pos = p + n + 2;
  return true;
}
}  // namespace

std::size_t match_push(std::string_view data, const ParserLimits& limits, PushView& out) noexcept {
  if (data.size() < 4 || data[0] != '*' || limits.max_depth < 1) {
    return 0;
  }
  std::uint64_t count = 0;
  std::size_t pos = 1;
  if (!plain_length(data, pos, limits.max_array_elements, count) || (count != 3 && count != 4)) {
    return 0;
  }
  std::string_view parts[4];
  for (std::uint64_t k = 0; k < count; ++k) {
    if (!plain_bulk(data, pos, limits, parts[k])) {
      return 0;
    }
  }
  if (count == 3 && (parts[0] == "message" || parts[0] == "smessage")) {
    out = PushView{parts[0], {}, parts[1], parts[2]};
    return pos;
  }
  if (count == 4 && parts[0] == "pmessage") {
    out = PushView{parts[0], parts[1], parts[2], parts[3]};
    return pos;
  }
  return 0;
}

void append_command(std::string& out, std::span<const std::string_view> args) {
  append_array_header(out, args.size());
  for (const std::string_view a : args) {
    append_bulk(out, a);
  }
}

void begin_command(std::string& out, std::size_t args) { append_array_header(out, args); }

void append_arg(std::string& out, std::string_view s) { append_bulk(out, s); }

void begin_arg(std::string& out, std::size_t size) {
  char digits[24];
  const auto res = std::to_chars(std::begin(digits), std::end(digits), size);
  out.push_back('$');
  out.append(digits, res.ptr);
  out.append("\r\n");
}

void end_arg(std::string& out) { out.append("\r\n"); }

void append_command(std::string& out, std::initializer_list<std::string_view> args) {
  append_command(out, std::span<const std::string_view>(args.begin(), args.size()));
}

void append_value(std::string& out, const Value& v) {
  switch (v.type) {
    case Value::Type::simple:
      append_line(out, '+', v.str);
      return;
    case Value::Type::error:
      append_line(out, '-', v.str);
      return;
    case Value::Type::integer:
      append_line(out, ':', std::to_string(v.integer));
      return;
    case Value::Type::bulk:
      append_bulk(out, v.str);
      return;
    case Value::Type::null:
      out.append("$-1\r\n");
      return;
    case Value::Type::array:
      append_array_header(out, v.elements.size());
      for (const Value& e : v.elements) {
        append_value(out, e);
      }
      return;
  }
}

}  // namespace nexios::resp
