// What an HTTP handler reads from a request: decoded text that is valid UTF-8, or no handler runs
// (400 with the reason); the undecoded target beside it.

#include "support/test_client.hpp"
#include "support/test_server.hpp"

#include <nexios/nexios.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <string>

namespace nx = nexios;
using nx::test::Served;
using nx::test::TestClient;

TEST(RequestText, DecodedTextAndTheRawTarget) {
  nx::App app;
  std::atomic<int> calls{0};
  app.get("/r/{name}", [&calls](nx::Request& req, nx::Response& res) -> nx::Task<> {
    ++calls;
    res.text(std::string(req.path_params().at("name")) + "|" +
             std::string(req.query_params().get_or("q", "")) + "|" + std::string(req.target()) + "|" +
             std::string(req.query_string()));
    co_return;
  });
  Served s(app);
  TestClient c(s.port());
  const auto ok = c.request("GET", "/r/caf%C3%A9?q=a+b%26c");
  EXPECT_EQ(ok.status, 200);
  EXPECT_EQ(ok.body, "caf\xC3\xA9|a b&c|/r/caf%C3%A9?q=a+b%26c|q=a+b%26c");
  EXPECT_EQ(calls.load(), 1);

  for (const char* target : {"/r/bad%FF", "/r/x?q=%C0%AF", "/r/x?q=%ED%A0%80"}) {
    TestClient bad(s.port());
    const auto r = bad.request("GET", target);
    EXPECT_EQ(r.status, 400) << target;
    EXPECT_NE(r.body.find("not valid UTF-8"), std::string::npos) << target << ": " << r.body;
    EXPECT_EQ(r.header("X-Content-Type-Options"), "nosniff") << target;
  }
  EXPECT_EQ(calls.load(), 1);  // no handler ran for them
}
