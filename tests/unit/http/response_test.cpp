#include <nexios/http/response.hpp>

#include <gtest/gtest.h>
#include <boost/json.hpp>

#include <unistd.h>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>

namespace nexios::http {
namespace {

using namespace std::string_literals;

constexpr std::string_view nosniff = "X-Content-Type-Options: nosniff\r\n";

// The serialized response without the X-Content-Type-Options field that every response (but a
// 1xx) carries, checked on its own by the Nosniff tests below.
std::string serialized(const Response& res, bool keep_alive = true, bool head_only = false) {
  std::string out;
  res.serialize(out, keep_alive, head_only);
  if (const auto at = out.find(nosniff); at != std::string::npos && res.status() >= 200) {
    out.erase(at, nosniff.size());
  }
  return out;
}

TEST(Response, NosniffOnEveryResponseButInformational) {
  for (int status : {200, 204, 304, 400, 404, 500, 503}) {
    Response res;
    res.status(status).text("x");
    std::string out;
    res.serialize(out, true);
    const auto at = out.find(nosniff);
    ASSERT_NE(at, std::string::npos) << out;
    EXPECT_LT(at, out.find("\r\n\r\n")) << out;                             // a field of the head
    EXPECT_EQ(out.find(nosniff, at + 1), std::string::npos) << out;          // once
  }
  Response informational;
  informational.status(101);
  std::string out;
  informational.serialize(out, true);
  EXPECT_EQ(out.find("X-Content-Type-Options"), std::string::npos) << out;
}

TEST(Response, NosniffNotRepeatedWhenTheAppSetsIt) {
  Response res;
  res.header("x-content-type-options", "nosniff").text("x");
  std::string out;
  res.serialize(out, true);
  EXPECT_EQ(out.find("X-Content-Type-Options"), std::string::npos) << out;
  EXPECT_NE(out.find("x-content-type-options: nosniff\r\n"), std::string::npos) << out;
}

TEST(ReasonPhrase, CommonCodes) {
  const std::vector<std::pair<int, std::string_view>> codes = {
      {100, "Continue"},
      {101, "Switching Protocols"},
      {200, "OK"},
      {201, "Created"},
      {202, "Accepted"},
      {204, "No Content"},
      {206, "Partial Content"},
      {301, "Moved Permanently"},
      {302, "Found"},
      {303, "See Other"},
      {304, "Not Modified"},
      {307, "Temporary Redirect"},
      {308, "Permanent Redirect"},
      {400, "Bad Request"},
      {401, "Unauthorized"},
      {403, "Forbidden"},
      {404, "Not Found"},
      {405, "Method Not Allowed"},
      {406, "Not Acceptable"},
      {408, "Request Timeout"},
      {409, "Conflict"},
      {410, "Gone"},
      {411, "Length Required"},
      {413, "Content Too Large"},
      {414, "URI Too Long"},
      {415, "Unsupported Media Type"},
      {416, "Range Not Satisfiable"},
      {417, "Expectation Failed"},
      {426, "Upgrade Required"},
      {429, "Too Many Requests"},
      {431, "Request Header Fields Too Large"},
      {500, "Internal Server Error"},
      {501, "Not Implemented"},
      {502, "Bad Gateway"},
      {503, "Service Unavailable"},
      {504, "Gateway Timeout"},
      {505, "HTTP Version Not Supported"},
  };
  for (const auto& [code, phrase] : codes) {
    EXPECT_EQ(reason_phrase(code), phrase) << code;
  }
  EXPECT_EQ(reason_phrase(299), "Unknown");
  EXPECT_EQ(reason_phrase(0), "Unknown");
}

TEST(MimeType, Extensions) {
  EXPECT_EQ(mime_type_for(".html"), "text/html; charset=utf-8");
  EXPECT_EQ(mime_type_for("html"), "text/html; charset=utf-8");
  EXPECT_EQ(mime_type_for(".HTM"), "text/html; charset=utf-8");
  EXPECT_EQ(mime_type_for(".css"), "text/css; charset=utf-8");
  EXPECT_EQ(mime_type_for(".js"), "text/javascript; charset=utf-8");
  EXPECT_EQ(mime_type_for(".mjs"), "text/javascript; charset=utf-8");
  EXPECT_EQ(mime_type_for(".json"), "application/json");
  EXPECT_EQ(mime_type_for(".txt"), "text/plain; charset=utf-8");
  EXPECT_EQ(mime_type_for(".svg"), "image/svg+xml");
  EXPECT_EQ(mime_type_for(".png"), "image/png");
  EXPECT_EQ(mime_type_for(".jpg"), "image/jpeg");
  EXPECT_EQ(mime_type_for(".jpeg"), "image/jpeg");
  EXPECT_EQ(mime_type_for(".gif"), "image/gif");
  EXPECT_EQ(mime_type_for(".ico"), "image/x-icon");
  EXPECT_EQ(mime_type_for(".webp"), "image/webp");
  EXPECT_EQ(mime_type_for(".wasm"), "application/wasm");
  EXPECT_EQ(mime_type_for(".woff"), "font/woff");
  EXPECT_EQ(mime_type_for(".woff2"), "font/woff2");
  EXPECT_EQ(mime_type_for(".map"), "application/json");
  EXPECT_EQ(mime_type_for(".xml"), "application/xml");
  EXPECT_EQ(mime_type_for(".pdf"), "application/pdf");
  EXPECT_EQ(mime_type_for(".exe"), "application/octet-stream");
  EXPECT_EQ(mime_type_for(""), "application/octet-stream");
  EXPECT_EQ(mime_type_for("."), "application/octet-stream");
}

TEST(Response, Defaults) {
  Response res;
  EXPECT_EQ(res.status(), 200);
  EXPECT_TRUE(res.headers().empty());
  EXPECT_EQ(res.body(), "");
  EXPECT_EQ(serialized(res), "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
}

TEST(Response, Status) {
  Response res;
  EXPECT_EQ(res.status(404).status(), 404);
  EXPECT_EQ(res.status(100).status(), 100);
  EXPECT_EQ(res.status(999).status(), 999);
  EXPECT_THROW(res.status(99), std::invalid_argument);
  EXPECT_THROW(res.status(1000), std::invalid_argument);
  EXPECT_THROW(res.status(-200), std::invalid_argument);
  EXPECT_EQ(res.status(), 999);
  EXPECT_EQ(serialized(res), "HTTP/1.1 999 Unknown\r\nContent-Length: 0\r\n\r\n");
}

TEST(Response, HeaderValidation) {
  Response res;
  EXPECT_THROW(res.header("", "v"), std::invalid_argument);
  EXPECT_THROW(res.header("Bad Name", "v"), std::invalid_argument);
  EXPECT_THROW(res.header("Bad:Name", "v"), std::invalid_argument);
  EXPECT_THROW(res.header("X", "a\r\nInjected: yes"), std::invalid_argument);
  EXPECT_THROW(res.header("X", "a\rb"), std::invalid_argument);
  EXPECT_THROW(res.header("X", "a\nb"), std::invalid_argument);
  EXPECT_THROW(res.header("X", "a\0b"s), std::invalid_argument);
  EXPECT_THROW(res.header("Content-Length", "5"), std::invalid_argument);
  EXPECT_THROW(res.header("content-length", "5"), std::invalid_argument);
  EXPECT_THROW(res.header("Transfer-Encoding", "chunked"), std::invalid_argument);
  EXPECT_THROW(res.set_header("TRANSFER-ENCODING", "chunked"), std::invalid_argument);
  EXPECT_THROW(res.set_header("X", "\n"), std::invalid_argument);
  EXPECT_TRUE(res.headers().empty());
  EXPECT_NO_THROW(res.header("X-Ok", "tab\tand utf-8 \xC3\xA9 are fine"));
  EXPECT_NO_THROW(res.header("X-Empty", ""));
  EXPECT_EQ(res.headers().size(), 2U);
}

TEST(Response, HeadersKeepOrderAndRepeat) {
  Response res;
  res.header("Set-Cookie", "a=1").header("X-Id", "7").header("Set-Cookie", "b=2");
  EXPECT_EQ(res.get_header("set-cookie"), "a=1");
  EXPECT_EQ(res.get_header("x-id"), "7");
  EXPECT_FALSE(res.get_header("missing").has_value());
  EXPECT_EQ(serialized(res),
            "HTTP/1.1 200 OK\r\nSet-Cookie: a=1\r\nX-Id: 7\r\nSet-Cookie: b=2\r\nContent-Length: 0\r\n\r\n");
  res.set_header("set-cookie", "c=3");
  EXPECT_EQ(serialized(res), "HTTP/1.1 200 OK\r\nset-cookie: c=3\r\nX-Id: 7\r\nContent-Length: 0\r\n\r\n");
  res.set_header("X-New", "n");
  EXPECT_EQ(res.headers().back(), (std::pair<std::string, std::string>{"X-New", "n"}));
}

TEST(Response, Text) {
  Response res;
  res.text("hello");
  EXPECT_EQ(serialized(res),
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 5\r\n\r\nhello");
  EXPECT_EQ(serialized(res, false),
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 5\r\n"
            "Connection: close\r\n\r\nhello");
}

TEST(Response, HeadOnlyKeepsContentLength) {
  Response res;
  res.status(201).header("X-Request-Id", "abc").html("<p>hi</p>");
  EXPECT_EQ(serialized(res, true, true),
            "HTTP/1.1 201 Created\r\nX-Request-Id: abc\r\nContent-Type: text/html; charset=utf-8\r\n"
            "Content-Length: 9\r\n\r\n");
  EXPECT_EQ(serialized(res, false, false),
            "HTTP/1.1 201 Created\r\nX-Request-Id: abc\r\nContent-Type: text/html; charset=utf-8\r\n"
            "Content-Length: 9\r\nConnection: close\r\n\r\n<p>hi</p>");
}

TEST(Response, NoContentLengthFor1xx204And304) {
  Response no_content;
  no_content.status(204);
  EXPECT_EQ(serialized(no_content), "HTTP/1.1 204 No Content\r\n\r\n");
  EXPECT_EQ(serialized(no_content, false), "HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n");
  Response not_modified;
  not_modified.status(304).header("ETag", "\"x\"");
  EXPECT_EQ(serialized(not_modified), "HTTP/1.1 304 Not Modified\r\nETag: \"x\"\r\n\r\n");
  Response switching;
  switching.status(101).header("Upgrade", "websocket").header("Connection", "Upgrade");
  EXPECT_EQ(serialized(switching),
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n");
  // A body set on such a response is never written: it would corrupt the framing.
  Response with_body;
  with_body.status(204).bytes("oops", "text/plain");
  EXPECT_EQ(serialized(with_body), "HTTP/1.1 204 No Content\r\nContent-Type: text/plain\r\n\r\n");
}

TEST(Response, SerializeAppends) {
  Response res;
  res.text("x");
  std::string out = "previous";
  res.serialize(out, true);
  EXPECT_EQ(out,
            "previousHTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\nX-Content-Type-Options: "
            "nosniff\r\nContent-Length: 1\r\n\r\nx");
}

TEST(Response, Json) {
  Response res;
  res.json({{"ok", true}, {"n", 1}, {"list", {1, 2, 3}}});
  EXPECT_EQ(res.get_header("content-type"), "application/json");
  const auto parsed = boost::json::parse(res.body());
  EXPECT_EQ(parsed.at("ok"), true);
  EXPECT_EQ(parsed.at("n"), 1);
  EXPECT_EQ(res.body().find(' '), std::string::npos);  // compact

  Response ordered;
  boost::json::object obj;
  obj["a"] = "b";
  ordered.json(obj);
  EXPECT_EQ(serialized(ordered),
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 9\r\n\r\n{\"a\":\"b\"}");
}

TEST(Response, JsonLeavesUtf8Unescaped) {
  Response res;
  boost::json::object obj;
  obj["a"] = "\xC3\xA9";
  res.json(obj);
  EXPECT_EQ(res.body(), "{\"a\":\"\xC3\xA9\"}");
  Response escapes;
  escapes.json(boost::json::value("q\"\n\x01"));
  EXPECT_EQ(escapes.body(), "\"q\\\"\\n\\u0001\"");
}

TEST(Response, ContentTypeSetByTheUserWins) {
  Response res;
  res.header("Content-Type", "text/x-custom").text("hi");
  EXPECT_EQ(res.get_header("content-type"), "text/x-custom");
  res.json(boost::json::value(1));
  EXPECT_EQ(res.get_header("content-type"), "text/x-custom");
  EXPECT_EQ(res.headers().size(), 1U);

  // A later body replaces the type a previous body chose.
  Response twice;
  twice.text("a").json(boost::json::value(1));
  EXPECT_EQ(twice.headers().size(), 1U);
  EXPECT_EQ(twice.get_header("content-type"), "application/json");

  // A user Content-Type after text() replaces the default instead of adding a second field.
  Response after;
  after.text("a").header("Content-Type", "text/markdown");
  EXPECT_EQ(after.headers().size(), 1U);
  EXPECT_EQ(after.get_header("content-type"), "text/markdown");
  after.html("b");
  EXPECT_EQ(after.get_header("content-type"), "text/markdown");

  Response bytes;
  bytes.bytes("\x01\x02");
  EXPECT_EQ(bytes.get_header("content-type"), "application/octet-stream");
  bytes.bytes("x", "image/png");
  EXPECT_EQ(bytes.get_header("content-type"), "image/png");
}

class TempDir {
 public:
  TempDir() {
    path_ = std::filesystem::temp_directory_path() /
            ("nexios_http_test_" + std::to_string(::getpid()) + "_" + std::to_string(counter_++));
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  [[nodiscard]] std::filesystem::path write(const std::string& name, const std::string& contents) const {
    const auto p = path_ / name;
    std::ofstream(p, std::ios::binary) << contents;
    return p;
  }
  [[nodiscard]] const std::filesystem::path& path() const { return path_; }

 private:
  static inline int counter_ = 0;
  std::filesystem::path path_;
};

TEST(ResponseFile, ServesAFileTypedByItsExtension) {
  TempDir dir;
  const std::string contents = "<h1>hi</h1>\n\0binary"s;
  const auto file = dir.write("index.HTML", contents);
  Response res;
  res.file(file);
  EXPECT_EQ(res.status(), 200);
  EXPECT_EQ(res.body(), contents);
  EXPECT_EQ(res.get_header("content-type"), "text/html; charset=utf-8");
  EXPECT_EQ(serialized(res), "HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: " +
                                 std::to_string(contents.size()) + "\r\n\r\n" + contents);

  Response typed;
  typed.file(file, "text/plain");
  EXPECT_EQ(typed.get_header("content-type"), "text/plain");

  Response unknown;
  unknown.file(dir.write("data.bin", "xyz"));
  EXPECT_EQ(unknown.get_header("content-type"), "application/octet-stream");
  EXPECT_EQ(unknown.body(), "xyz");

  Response empty;
  empty.file(dir.write("empty.json", ""));
  EXPECT_EQ(empty.status(), 200);
  EXPECT_EQ(empty.body(), "");
  EXPECT_EQ(empty.get_header("content-type"), "application/json");

  // A larger file, read in several blocks.
  std::string big(300 * 1024, 'x');
  for (std::size_t i = 0; i < big.size(); i += 7) {
    big[i] = static_cast<char>('a' + i % 26);
  }
  Response large;
  large.file(dir.write("big.txt", big));
  EXPECT_EQ(large.body(), big);
}

TEST(ResponseFile, MissingFileIs404) {
  TempDir dir;
  Response res;
  res.file(dir.path() / "nope.html");
  EXPECT_EQ(res.status(), 404);
  EXPECT_EQ(res.body(), "Not Found");
  EXPECT_EQ(res.get_header("content-type"), "text/plain; charset=utf-8");
  EXPECT_EQ(serialized(res),
            "HTTP/1.1 404 Not Found\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 9\r\n\r\nNot Found");

  Response directory;
  directory.file(dir.path());
  EXPECT_EQ(directory.status(), 404);
  EXPECT_EQ(directory.body(), "Not Found");
}

TEST(ResponseFile, FileWhoseSizeIsNotKnownInAdvance) {
  // procfs files report a size of 0 but have contents: the whole file is still read.
  const std::filesystem::path status = "/proc/self/status";
  if (!std::filesystem::exists(status)) {
    GTEST_SKIP() << "no procfs";
  }
  Response res;
  res.file(status);
  EXPECT_EQ(res.status(), 200);
  EXPECT_NE(res.body().find("Name:"), std::string::npos);
  EXPECT_EQ(res.get_header("content-type"), "application/octet-stream");
}

TEST(ResponseFile, TooLargeFileIs500) {
  TempDir dir;
  const auto path = dir.write("huge.bin", "");
  std::filesystem::resize_file(path, Response::max_file_size + 1);  // sparse: no disk used
  Response res;
  res.file(path);
  EXPECT_EQ(res.status(), 500);
  EXPECT_EQ(res.body(), "Internal Server Error");
  EXPECT_EQ(res.get_header("content-type"), "text/plain; charset=utf-8");
}

}  // namespace
}  // namespace nexios::http
