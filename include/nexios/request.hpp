#pragma once
/// @file
/// `nexios::Request` and `nexios::Response`: what an HTTP route handler receives.

#include <nexios/http/headers.hpp>
#include <nexios/http/request.hpp>
#include <nexios/http/response.hpp>
#include <nexios/http/url.hpp>
#include <nexios/routing/path.hpp>
#include <nexios/state.hpp>
#include <nexios/websocket.hpp>

#include <boost/json/value.hpp>

#include <optional>
#include <string_view>

namespace nexios {

/// The response an HTTP handler fills in (status, headers, text/html/json/bytes/file body).
using Response = http::Response;

/// An HTTP request, as an HTTP route handler sees it. Valid for the duration of the handler.
///
/// @code
/// app.get("/items/{id:int}", [](nx::Request& req, nx::Response& res) -> nx::Task<> {
///   auto id = req.path_params().as<int>("id");
///   auto q = req.query_params().get_or("q", "");
///   res.json({{"id", id}, {"q", q}});
///   co_return;
/// });
/// @endcode
class Request {
 public:
  Request(const http::Request& request, routing::PathParams params, Address client, State& state,
          Attachments attachments = {})
      : req_(request),
        params_(std::move(params)),
        client_(std::move(client)),
        state_(state),
        attachments_(std::move(attachments)) {}

  /// "GET", "POST", ...
  [[nodiscard]] std::string_view method() const noexcept { return req_.method(); }
  /// The percent-decoded path (valid UTF-8: the server refuses a request whose decoded path is not).
  [[nodiscard]] std::string_view path() const noexcept { return req_.path(); }
  /// The request-target as sent, not decoded ("/chat/caf%C3%A9?q=a+b"): the bytes behind `path()`,
  /// `path_params()` and `query_params()`, for an application that decodes them itself.
  [[nodiscard]] std::string_view target() const noexcept { return req_.target(); }
  /// The query string as sent, without the '?', not decoded ("q=a+b"); empty if none.
  [[nodiscard]] std::string_view query_string() const noexcept { return req_.query_string(); }
  [[nodiscard]] URL url() const;
  [[nodiscard]] const Headers& headers() const noexcept { return req_.headers(); }
  [[nodiscard]] const PathParams& path_params() const noexcept { return params_; }
  [[nodiscard]] const QueryParams& query_params() const;
  [[nodiscard]] const Cookies& cookies() const;
  /// The body (de-chunked).
  [[nodiscard]] std::string_view body() const noexcept { return req_.body(); }
  /// The body parsed as JSON; throws std::invalid_argument if it is not valid JSON (the server
  /// answers 400 if the handler lets it escape).
  [[nodiscard]] boost::json::value json() const;
  [[nodiscard]] const Address& client() const noexcept { return client_; }
  [[nodiscard]] State& state() const noexcept { return state_; }
  /// The value of type T a guard attached (e.g. the authenticated user); throws std::logic_error
  /// if none was.
  template <class T>
  [[nodiscard]] T& attached() {
    return attachments_.get<T>();
  }
  /// The value of type T a guard attached, or nullptr.
  template <class T>
  [[nodiscard]] T* find_attached() noexcept {
    return attachments_.find<T>();
  }
  /// The underlying parsed request.
  [[nodiscard]] const http::Request& raw() const noexcept { return req_; }

 private:
  const http::Request& req_;
  routing::PathParams params_;
  Address client_;
  State& state_;
  Attachments attachments_;
  mutable std::optional<QueryParams> query_;
  mutable std::optional<Cookies> cookies_;
};

/// Thrown by `Request::json()` for a body that is not JSON; answered with 400 if uncaught.
class BadRequest : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

}  // namespace nexios
