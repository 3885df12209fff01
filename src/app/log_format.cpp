#include "app/log_format.hpp"

#include <cmath>
#include <ctime>

namespace nexios::detail {

namespace {

constexpr char hex_digits[] = "0123456789abcdef";

void put(fmt::memory_buffer& out, std::string_view s) {
  out.append(s.data(), s.data() + s.size());
}
void put(fmt::memory_buffer& out, char c) {
  out.push_back(c);
}

// The length of the valid UTF-8 sequence at s[i], or 0 if the byte there does not start one.
std::size_t utf8_sequence(std::string_view s, std::size_t i) noexcept {
  const auto b0 = static_cast<unsigned char>(s[i]);
  std::size_t n = 0;
  unsigned char lo = 0x80;
  unsigned char hi = 0xBF;
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    n = 2;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    n = 3;
    if (b0 == 0xE0) {
      lo = 0xA0;  // no overlong forms
    } else if (b0 == 0xED) {
      hi = 0x9F;  // no surrogates
    }
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    n = 4;
    if (b0 == 0xF0) {
      lo = 0x90;
    } else if (b0 == 0xF4) {
      hi = 0x8F;  // nothing above U+10FFFF
    }
  } else {
    return 0;
  }
  if (i + n > s.size()) {
    return 0;
  }
  for (std::size_t k = 1; k < n; ++k) {
    const auto b = static_cast<unsigned char>(s[i + k]);
    if (k == 1 ? (b < lo || b > hi) : (b < 0x80 || b > 0xBF)) {
      return 0;
    }
  }
  return n;
}

// Escapes for one line: control characters as \n, \t, \u00XX; invalid UTF-8 as U+FFFD. With
// `quote_chars`, '"' and '\\' are escaped too. Runs of bytes that need nothing are appended at
// once.
void append_escaped(fmt::memory_buffer& out, std::string_view s, bool quote_chars) {
  std::size_t i = 0;
  std::size_t run = 0;  // start of the pending run of bytes copied as they are
  auto flush_run = [&](std::size_t upto) {
    if (upto > run) {
      put(out, s.substr(run, upto - run));
    }
  };
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c < 0x7F && !(quote_chars && (c == '"' || c == '\\'))) {
      ++i;
      continue;
    }
    if (c >= 0x80) {
      if (const std::size_t n = utf8_sequence(s, i); n != 0) {
        i += n;
        continue;
      }
    }
    flush_run(i);
    switch (c) {
      case '"':
        put(out, "\\\"");
        break;
      case '\\':
        put(out, "\\\\");
        break;
      case '\n':
        put(out, "\\n");
        break;
      case '\r':
        put(out, "\\r");
        break;
      case '\t':
        put(out, "\\t");
        break;
      default:
        if (c >= 0x80) {
          put(out, "\xEF\xBF\xBD");  // U+FFFD REPLACEMENT CHARACTER
        } else {
          put(out, "\\u00");
          put(out, hex_digits[c >> 4]);
          put(out, hex_digits[c & 0xF]);
        }
        break;
    }
    ++i;
    run = i;
  }
  flush_run(i);
}

void append_time(fmt::memory_buffer& out, std::chrono::system_clock::time_point t) {
  using namespace std::chrono;
  const auto ms_total = duration_cast<milliseconds>(t.time_since_epoch()).count();
  auto secs = static_cast<std::time_t>(ms_total / 1000);
  auto ms = static_cast<int>(ms_total % 1000);
  if (ms < 0) {
    ms += 1000;
    --secs;
  }
  std::tm tm{};
  gmtime_r(&secs, &tm);
  // "YYYY-MM-DDTHH:MM:SS.mmmZ", digit by digit (fmt's width specs cost ten times more).
  char buf[24];
  auto digits = [&](std::size_t at, int value, int width) {
    for (int k = width - 1; k >= 0; --k) {
      buf[at + static_cast<std::size_t>(k)] = static_cast<char>('0' + value % 10);
      value /= 10;
    }
  };
  digits(0, tm.tm_year + 1900, 4);
  buf[4] = '-';
  digits(5, tm.tm_mon + 1, 2);
  buf[7] = '-';
  digits(8, tm.tm_mday, 2);
  buf[10] = 'T';
  digits(11, tm.tm_hour, 2);
  buf[13] = ':';
  digits(14, tm.tm_min, 2);
  buf[16] = ':';
  digits(17, tm.tm_sec, 2);
  buf[19] = '.';
  digits(20, ms, 3);
  buf[23] = 'Z';
  put(out, std::string_view(buf, sizeof(buf)));
}

void append_number(fmt::memory_buffer& out, double v, bool json) {
  if (!std::isfinite(v)) {
    put(out, json ? std::string_view("null") : std::string_view(std::isnan(v) ? "nan" : (v > 0 ? "inf" : "-inf")));
    return;
  }
  fmt::format_to(fmt::appender(out), "{}", v);
}

// A human-format value needs quotes when it is empty or holds a space, '"', '=' or anything
// escaped.
bool needs_quotes(std::string_view s) noexcept {
  if (s.empty()) {
    return true;
  }
  for (char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (c <= 0x20 || c == '"' || c == '=' || c == '\\' || c == 0x7F) {
      return true;
    }
  }
  return false;
}

void append_value(fmt::memory_buffer& out, const LogValue& v, bool json) {
  std::visit(
      [&](const auto& x) {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, bool>) {
          put(out, x ? "true" : "false");
        } else if constexpr (std::is_same_v<T, double>) {
          append_number(out, x, json);
        } else if constexpr (std::is_same_v<T, std::string_view>) {
          if (json) {
            put(out, '"');
            append_escaped(out, x, true);
            put(out, '"');
          } else if (needs_quotes(x)) {
            put(out, '"');
            append_escaped(out, x, true);
            put(out, '"');
          } else {
            append_escaped(out, x, false);
          }
        } else {
          fmt::format_to(fmt::appender(out), "{}", x);
        }
      },
      v);
}

std::string_view upper_level(LogLevel l) noexcept {
  switch (l) {
    case LogLevel::debug:
      return "DEBUG  ";
    case LogLevel::info:
      return "INFO   ";
    case LogLevel::warning:
      return "WARNING";
    case LogLevel::error:
      return "ERROR  ";
    case LogLevel::off:
      break;
  }
  return "OFF    ";
}

}  // namespace

void append_json_escaped(fmt::memory_buffer& out, std::string_view text) {
  append_escaped(out, text, true);
}

void format_human_line(fmt::memory_buffer& out, const LogRecord& r) {
  append_time(out, r.time);
  put(out, ' ');
  put(out, upper_level(r.level));
  put(out, ' ');
  append_escaped(out, r.component, true);
  if (r.connection_id != 0 || !r.client.empty()) {
    put(out, " [");
    if (r.connection_id != 0) {
      fmt::format_to(fmt::appender(out), "c{}", r.connection_id);
      if (!r.client.empty()) {
        put(out, ' ');
      }
    }
    append_escaped(out, r.client, true);
    put(out, ']');
  }
  put(out, ' ');
  append_escaped(out, r.message, false);
  for (const auto& f : r.fields) {
    put(out, ' ');
    append_escaped(out, f.key, true);
    put(out, '=');
    append_value(out, f.value, false);
  }
  put(out, '\n');
}

void format_json_line(fmt::memory_buffer& out, const LogRecord& r) {
  put(out, "{\"ts\":\"");
  append_time(out, r.time);
  put(out, "\",\"level\":\"");
  put(out, to_string(r.level));
  put(out, "\",\"component\":\"");
  append_escaped(out, r.component, true);
  put(out, '"');
  if (r.connection_id != 0) {
    fmt::format_to(fmt::appender(out), ",\"conn\":{}", r.connection_id);
  }
  if (!r.client.empty()) {
    put(out, ",\"client\":\"");
    append_escaped(out, r.client, true);
    put(out, '"');
  }
  put(out, ",\"msg\":\"");
  append_escaped(out, r.message, true);
  put(out, '"');
  for (const auto& f : r.fields) {
    put(out, ",\"");
    append_escaped(out, f.key, true);
    put(out, "\":");
    append_value(out, f.value, true);
  }
  put(out, "}\n");
}

}  // namespace nexios::detail
