#pragma once
// The handshake as a gate (docs/security.md): the origin check of WebSocket handshakes and the
// running of guards, used by App's dispatcher before a WebSocket session or an HTTP handler.

#include <nexios/guard.hpp>
#include <nexios/http/origin.hpp>
#include <nexios/http/request.hpp>
#include <nexios/http/response.hpp>
#include <nexios/task.hpp>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace nexios::detail {

/// A handshake without `Origin` (not a browser) passes; one with several is refused; otherwise
/// `allowed` decides, or by default the request's own host (`Host`).
bool origin_allowed(const http::Request& req, const std::optional<http::OriginAllowList>& allowed);

/// Runs `guards` in order until one rejects; a guard that throws rejects with 500 (logged), one
/// that throws BadRequest with 400.
Task<GuardResult> run_guards(const Guards& guards, GuardContext& ctx);

/// Fills `res` with a guard's rejection.
void apply_rejection(GuardResult verdict, http::Response& res);

/// The elements of a comma-separated list, trimmed ("a, b" → {"a", "b"}).
std::vector<std::string> split_list(std::string_view list);

}  // namespace nexios::detail
