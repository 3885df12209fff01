#pragma once
/// @file
/// Origins (RFC 6454) as browsers send them in the `Origin` header, and allow-list patterns —
/// the protocol side of the cross-site WebSocket hijacking defence (App::allow_origins) and of CORS.
/// Pure functions, no I/O.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace nexios::http {

/// A serialized origin, normalized: lower-case scheme and host, the port made explicit when the
/// scheme has a default (http/ws 80, https/wss 443).
struct Origin {
  std::string scheme;
  std::string host;  ///< a name, an IPv4 address, or an IPv6 address in brackets
  std::uint16_t port = 0;
  friend bool operator==(const Origin&, const Origin&) = default;
};

/// Parses an `Origin` header value such as "https://app.example.com" or "http://[::1]:8000".
/// Returns nullopt for "null" and for anything that is not scheme "://" host [":" port] (a path,
/// user info, an empty host, a bad port).
std::optional<Origin> parse_origin(std::string_view value);

/// Whether `origin` is the server itself as the client addressed it: `host_header` is the request's
/// Host ("example.com", "example.com:8443"); a Host without a port means the origin scheme's
/// default port. The scheme is not compared (a TLS-terminating proxy may sit in between).
bool is_same_origin(const Origin& origin, std::string_view host_header);

/// One allow-list entry:
/// - "https://app.example.com" or "http://localhost:3000": exactly that origin;
/// - "https://*.example.com": any subdomain of example.com (not example.com itself) over https;
/// - "app.example.com" or "*.example.com" without a scheme: over http or https;
/// - a port may be given ("https://*.example.com:8443"); without one, the scheme's default port;
/// - "null": the opaque origin some sandboxed pages send (rarely what you want);
/// - "*": any origin.
class OriginPattern {
 public:
  /// Throws std::invalid_argument for an entry that is none of the above.
  explicit OriginPattern(std::string_view pattern);
  /// `origin` is nullopt for an opaque ("null") origin.
  [[nodiscard]] bool matches(const std::optional<Origin>& origin) const;
  [[nodiscard]] const std::string& text() const noexcept { return text_; }
  [[nodiscard]] bool is_any() const noexcept { return any_; }

 private:
  std::string text_;
  bool any_ = false;
  bool null_ = false;
  std::string scheme_;  // empty: http or https
  std::string host_;    // without the "*." of a wildcard
  bool wildcard_ = false;
  std::optional<std::uint16_t> port_;
};

/// A list of OriginPatterns; empty allows nothing.
class OriginAllowList {
 public:
  OriginAllowList() = default;
  /// Throws std::invalid_argument naming the first bad entry.
  explicit OriginAllowList(const std::vector<std::string>& patterns);
  /// Whether the `Origin` header value `value` matches an entry.
  [[nodiscard]] bool allows(std::string_view value) const;
  [[nodiscard]] bool allows_any() const noexcept { return any_; }
  [[nodiscard]] bool empty() const noexcept { return patterns_.empty(); }

 private:
  std::vector<OriginPattern> patterns_;
  bool any_ = false;
};

}  // namespace nexios::http
