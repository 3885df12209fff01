#include "app/gate.hpp"

#include "app/exception_info.hpp"

#include <nexios/detail/ascii.hpp>
#include <nexios/log.hpp>
#include <nexios/request.hpp>

namespace nexios::detail {

bool origin_allowed(const http::Request& req, const std::optional<http::OriginAllowList>& allowed) {
  const auto values = req.headers().get_all("origin");
  if (values.empty()) {
    return true;
  }
  if (values.size() > 1) {
    return false;  // a browser sends one: several are an attempt to confuse a check
  }
  if (allowed) {
    return allowed->allows(values.front());
  }
  const auto origin = http::parse_origin(values.front());
  const auto host = req.headers().get("host");
  return origin && host && http::is_same_origin(*origin, *host);
}

Task<GuardResult> run_guards(const Guards& guards, GuardContext& ctx) {
  for (const auto& g : guards) {
    std::exception_ptr error;
    GuardResult verdict;
    try {
      verdict = co_await g(ctx);
    } catch (...) {
      error = std::current_exception();
    }
    if (error) {
      // Classified outside the handler: co_await (and so co_return of a coroutine) stays out of catch.
      std::optional<std::string> bad_request;
      try {
        std::rethrow_exception(error);
      } catch (const BadRequest& e) {
        bad_request = e.what();
      } catch (...) {
      }
      if (bad_request) {
        co_return reject(400, std::move(*bad_request));
      }
      log(LogLevel::error, "app", "a guard threw: rejecting with 500",
          {{"route", ctx.route()}, {"path", ctx.path()}, {"exception_type", exception_type(error)},
           {"exception", describe(error)}});
      co_return reject(500, "Internal Server Error");
    }
    if (!verdict.allowed()) {
      co_return verdict;
    }
  }
  co_return allow();
}

void apply_rejection(GuardResult verdict, http::Response& res) {
  res.status(verdict.status).text(std::move(verdict.body));
  for (const auto& [name, value] : verdict.headers) {
    res.header(name, value);
  }
}

std::vector<std::string> split_list(std::string_view list) {
  std::vector<std::string> out;
  for_each_list_element(list, [&](std::string_view e) {
    out.emplace_back(e);
    return false;
  });
  return out;
}

}  // namespace nexios::detail
