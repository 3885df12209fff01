#pragma once
// The state behind a nexios::WebSocket handle: the transport connection plus the Nexios/Starlette
// state machine (client and application states) and the request data the handler can read.

#include "transport/connection.hpp"

#include <nexios/websocket.hpp>

#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace nexios::detail {

struct WebSocketImpl {
  WebSocketImpl(std::shared_ptr<transport::Connection> c, routing::PathParams p, State& s, Attachments a = {});

  std::shared_ptr<transport::Connection> conn;
  routing::PathParams params;
  State& state;
  Attachments attachments;  // what the guards attached
  WebSocketState client_state = WebSocketState::CONNECTING;
  WebSocketState app_state = WebSocketState::CONNECTING;
  bool receiving = false;
  std::vector<std::string> offered;
  std::string subprotocol;
  mutable std::optional<http::QueryParams> query;
  mutable std::optional<http::Cookies> cookies;

  /// The exception a send throws when it finds the connection gone.
  [[nodiscard]] WebSocketDisconnect disconnect_error() const;
};

/// "ws://host/path?query" pieces for a request.
URL make_url(const http::Request& req, std::string_view scheme, const boost::asio::ip::tcp::endpoint& local);

}  // namespace nexios::detail
