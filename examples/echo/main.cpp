// examples/echo — the echo server a WebSocket conformance suite can be pointed at, plus small
// demonstrations of text, JSON and binary handlers, path parameters and a prefixed WSRouter.
//
//   echo [--host 127.0.0.1] [--port 8000] [--threads N] [--limit NAME=VALUE]...
//        (--port 0 picks a free port; --help lists every limit)
//
//   ws://HOST:PORT/ws                      echoes every message unchanged (text as text, binary as binary)
//   ws://HOST:PORT/demo/text               "You said: <text>"
//   ws://HOST:PORT/demo/json               {"status":"success","data":<your JSON>}
//   ws://HOST:PORT/demo/bytes              echoes binary messages
//   ws://HOST:PORT/demo/rooms/{room}/{n:int}  sends the path and query parameters as JSON, then echoes
//   GET  http://HOST:PORT/                 a page to try the echo from a browser
//   GET  http://HOST:PORT/health           "ok"

#include "common/options.hpp"

#include <nexios/nexios.hpp>

#include <boost/json.hpp>

#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <string>
#include <string_view>

namespace nx = nexios;
namespace json = boost::json;

namespace {

// Every message back, unchanged. `receive()` hands out a view of the connection's buffer, so
// nothing is copied on the way through.
nx::Task<> echo_loop(nx::WebSocket ws) {
  for (;;) {
    nx::Message msg = co_await ws.receive();
    if (msg.type == nx::Message::Type::disconnect) {
      co_return;
    }
    if (msg.binary) {
      co_await ws.send_bytes(msg.bytes());
    } else {
      co_await ws.send_text(msg.text());
    }
  }
}

// The conformance endpoint.
nx::Task<> echo(nx::WebSocket ws) {
  co_await ws.accept();
  co_await echo_loop(ws);
}

nx::Task<> text_handler(nx::WebSocket ws) {
  co_await ws.accept();
  try {
    for (;;) {
      std::string text = co_await ws.receive_text();
      co_await ws.send_text("You said: " + text);
    }
  } catch (const nx::WebSocketDisconnect&) {
  }
}

nx::Task<> json_handler(nx::WebSocket ws) {
  co_await ws.accept();
  auto messages = ws.iter_json();
  while (auto data = co_await messages.next()) {
    json::object reply;
    reply["status"] = "success";
    reply["data"] = std::move(*data);
    co_await ws.send_json(reply);
  }
}

nx::Task<> bytes_handler(nx::WebSocket ws) {
  co_await ws.accept();
  try {
    for (;;) {
      co_await ws.send_bytes(co_await ws.receive_bytes());
    }
  } catch (const nx::WebSocketDisconnect&) {
  }
}

nx::Task<> room_handler(nx::WebSocket ws) {
  co_await ws.accept();
  json::object params;
  for (const auto& p : ws.path_params()) {
    params[p.name] = p.value;
  }
  json::object query;
  for (const auto& [k, v] : ws.query_params()) {
    query[k] = v;
  }
  json::object info;
  info["path"] = ws.path();
  info["room"] = ws.path_params().at("room");
  info["n"] = ws.path_params().as<std::int64_t>("n");
  info["params"] = std::move(params);
  info["query"] = std::move(query);
  co_await ws.send_json(info);
  co_await echo_loop(ws);
}

// A minimal page to try the echo endpoint from a browser.
constexpr std::string_view index_html = R"html(<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>nexios echo</title>
<link rel="stylesheet" href="/page.css"></head>
<body><h1>nexios echo</h1>
<form id="f"><input id="msg" autofocus placeholder="say something" size="40"> <button>Send</button></form>
<div id="log"></div>
<script src="/page.js"></script></body></html>
)html";

constexpr std::string_view index_css = R"css(body{font-family:system-ui,sans-serif;max-width:40rem;margin:2rem auto}#log{white-space:pre-wrap;
border:1px solid #ccc;padding:.5rem;min-height:8rem}
)css";

constexpr std::string_view index_js = R"js(const log = (t) => { document.getElementById('log').textContent += t + '\n'; };
const ws = new WebSocket(`ws://${location.host}/ws`);
ws.onopen = () => log('connected');
ws.onmessage = (e) => log('echo: ' + e.data);
ws.onclose = (e) => log(`closed (${e.code})`);
document.getElementById('f').onsubmit = (e) => {
  e.preventDefault();
  const input = document.getElementById('msg');
  ws.send(input.value);
  input.value = '';
};
)js";


}  // namespace

int main(int argc, char** argv) {
  nx::App app;
  app.enable_metrics("/metrics");
  const nx::RunOptions options = examples::configure(app, argc, argv);
  app.ws_route("/ws", echo);

  nx::WSRouter demo{"/demo"};
  demo.add_ws_route("/text", text_handler);
  demo.add_ws_route("/json", json_handler);
  demo.add_ws_route(nx::WebsocketRoutes("/bytes", bytes_handler));
  demo.ws_route("/rooms/{room}/{n:int}", room_handler);
  app.mount_ws_router(demo);

  examples::add_page(app, {index_html, index_css, index_js});
  app.get("/health", [](nx::Request&, nx::Response& res) -> nx::Task<> {
    res.text("ok");
    co_return;
  });

  return examples::serve(app, options, "echo", "/ws");
}
