#pragma once
// The examples' browser pages, served with a strict Content-Security-Policy.
//
// A page is three literals: its HTML (GET /), which links /page.css and loads /page.js, and those
// two. No inline script or style, so the policy needs no 'unsafe-inline', no hash and no nonce:
// whatever a peer manages to get into the page's DOM (the pages only ever set textContent) cannot
// run as script, and the page cannot be framed (clickjacking) or send data anywhere but its own
// origin.

#include <nexios/nexios.hpp>

#include <string>
#include <string_view>

namespace examples {

/// One example's page. The literals must outlive the app.
struct Page {
  std::string_view html;  ///< links /page.css and loads /page.js
  std::string_view css;
  std::string_view js;
};

/// True if `host` (a Host header) can be written into the policy as is: a host name, an IPv4 or a
/// bracketed IPv6 address, and an optional port — nothing that could end a source expression or
/// start another directive.
inline bool plain_host(std::string_view host) noexcept {
  if (host.empty() || host.size() > 255) {
    return false;
  }
  for (const char c : host) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
                    c == '-' || c == ':' || c == '[' || c == ']';
    if (!ok) {
      return false;
    }
  }
  return true;
}

/// The policy of the examples' pages: nothing by default; scripts, styles and images from the
/// page's own origin only; fetch and WebSocket to that origin only; no <base>, no plugins, forms
/// submit nowhere else, no framing. CSP Level 3 lets 'self' match ws:/wss: on the same host and
/// port, but older browsers do not, so the page's own WebSocket origin is also written out (from
/// the Host the browser sent; left out if that is not a plain host[:port]).
inline std::string content_security_policy(std::string_view host) {
  std::string connect = "connect-src 'self'";
  if (plain_host(host)) {
    connect += " ws://" + std::string(host) + " wss://" + std::string(host);
  }
  return "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; " + connect +
         "; base-uri 'none'; form-action 'self'; object-src 'none'; frame-ancestors 'none'";
}

/// Serves `page` at GET / (with its policy and X-Frame-Options: DENY), /page.css and /page.js.
inline void add_page(nexios::App& app, Page page) {
  app.get("/", [html = page.html](nexios::Request& req, nexios::Response& res) -> nexios::Task<> {
    res.html(std::string(html));
    res.set_header("Content-Security-Policy", content_security_policy(req.headers().get_or("Host", "")));
    res.set_header("X-Frame-Options", "DENY");
    res.set_header("Referrer-Policy", "no-referrer");
    co_return;
  });
  app.get("/page.css", [css = page.css](nexios::Request&, nexios::Response& res) -> nexios::Task<> {
    res.bytes(std::string(css), "text/css; charset=utf-8");
    co_return;
  });
  app.get("/page.js", [js = page.js](nexios::Request&, nexios::Response& res) -> nexios::Task<> {
    res.bytes(std::string(js), "text/javascript; charset=utf-8");
    co_return;
  });
}

}  // namespace examples
