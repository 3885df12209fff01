// examples/rooms — the seeds' class-based "Complete Chat Room Example": a WebSocketEndpoint
// consumer per connection, one group per room, JSON in and out.
//
//   rooms [--host 127.0.0.1] [--port 8000] [--threads N] [--limit NAME=VALUE]...      (--port 0 picks a free port)
//
//   ws://HOST:PORT/room/{room_id}?username=NAME     join a room (NAME defaults to "anonymous"; the room id
//                                                   and NAME are names of at most 64 and 32 bytes, see
//                                                   examples/common/names.hpp, or the handshake gets 400)
//   GET  http://HOST:PORT/api/rooms/{room_id}/history  the room's saved messages (a JSON array)
//   GET  http://HOST:PORT/                          a small page to try it from a browser
//
// The protocol (JSON objects in text frames; binary frames holding UTF-8 JSON are accepted too):
//   on join, to the room     {"type":"system","message":"NAME joined the chat","timestamp":T,"users":N}
//   client → server          {"type":"message","content":X}    (other messages are ignored)
//   server → the room        {"type":"chat","user":NAME,"message":X,"timestamp":T}
//   on leave, to the room    {"type":"system","message":"NAME left the chat","timestamp":T,"users":N}
// `users` counts the members of the room whose connection is open: including the new one on join,
// without the one leaving on leave. Everything sent to the room is saved in its history. A message that is not JSON closes
// the connection with 1003 (the consumer's `encoding = "json"`).

#include "common/options.hpp"

#include <nexios/nexios.hpp>

#include <boost/json.hpp>

#include <chrono>
#include <cstdio>
#include <iostream>
#include <optional>
#include <string>
#include <string_view>

namespace nx = nexios;
namespace json = boost::json;

namespace {

double now_seconds() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

class ChatRoom : public nx::WebSocketEndpoint<ChatRoom> {
 public:
  ChatRoom() { encoding = "json"; }

  nx::Task<> on_connect(nx::WebSocket& ws) override {
    co_await ws.accept();
    room_ = std::string(ws.path_params().at("room_id"));
    user_ = std::string(ws.query_params().get_or("username", ""));
    if (user_.empty()) {
      user_ = "anonymous";
    }

    if (const auto joined = join_group(room_); !nx::is_member(joined)) {
      co_await ws.close(1013, nx::to_string(joined));  // a limit of ChannelLimits: try later
      co_return;
    }
    joined_ = true;
    json::object hello;
    hello["type"] = "system";
    hello["message"] = user_ + " joined the chat";
    hello["timestamp"] = now_seconds();
    hello["users"] = user_count();
    co_await broadcast(std::move(hello), room_, true);
  }

  nx::Task<> on_receive(nx::WebSocket&, nx::Payload data) override {
    const json::object* obj = data.json().if_object();
    if (obj == nullptr) {
      co_return;
    }
    const json::value* type = obj->if_contains("type");
    const json::value* content = obj->if_contains("content");
    if (type == nullptr || !type->is_string() || type->get_string() != "message" || content == nullptr) {
      co_return;  // not a chat message: ignored
    }
    json::object chat;
    chat["type"] = "chat";
    chat["user"] = user_;
    chat["message"] = *content;
    chat["timestamp"] = now_seconds();
    co_await broadcast(std::move(chat), room_, true);
  }

  nx::Task<> on_disconnect(nx::WebSocket&, std::uint16_t) override {
    if (!joined_) {
      co_return;
    }
    json::object bye;
    bye["type"] = "system";
    bye["message"] = user_ + " left the chat";
    bye["timestamp"] = now_seconds();
    bye["users"] = others_count();  // the seed's get_user_count() - 1
    co_await broadcast(std::move(bye), room_, true);
    leave_group(room_);
  }

 private:
  /// Members of the room whose connection is open (this one included).
  std::size_t user_count() const {
    std::size_t n = 0;
    for (const auto& member : group(room_)) {
      n += member.is_active() ? 1 : 0;
    }
    return n;
  }

  /// Members of the room other than this connection whose connection is open: who stays when it
  /// leaves (the seed's `get_user_count() - 1`). Counting them, rather than subtracting one, is
  /// right however the group looks at this point: a connection that just ended may still be
  /// listed until its own on_disconnect has finished, and this one is no longer listed when its
  /// TCP connection is already gone.
  std::size_t others_count() {
    std::size_t n = 0;
    for (const auto& member : group(room_)) {
      if (member.is_active() && !(member == channel())) {
        ++n;
      }
    }
    return n;
  }

  std::string room_;
  std::string user_;
  bool joined_ = false;
};

constexpr std::string_view index_html = R"html(<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>nexios rooms</title>
<link rel="stylesheet" href="/page.css"></head>
<body><h1>nexios rooms</h1>
<form id="join">Room <input id="room" value="general" size="12"> Name <input id="name" size="12" placeholder="anonymous">
<button>Join</button> <span id="status">not connected</span></form>
<ul id="log"></ul>
<form id="say"><input id="text" size="50" placeholder="message" disabled> <button id="send" disabled>Send</button></form>
<script src="/page.js"></script></body></html>
)html";

constexpr std::string_view index_css = R"css(body{font-family:system-ui,sans-serif;max-width:44rem;margin:2rem auto;padding:0 1rem}
#log{list-style:none;padding:.5rem;border:1px solid #ccc;border-radius:6px;min-height:10rem}
#log li{margin:.2rem 0}#log .system{color:#666;font-style:italic}input{padding:.3rem}
)css";

constexpr std::string_view index_js = R"js(const $ = (id) => document.getElementById(id);
let ws = null;
function add(cls, text) {
  const li = document.createElement('li');
  li.className = cls;
  li.textContent = text;
  $('log').append(li);
}
$('join').onsubmit = (e) => {
  e.preventDefault();
  if (ws) ws.close();
  const name = $('name').value.trim();
  const q = name ? `?username=${encodeURIComponent(name)}` : '';
  ws = new WebSocket(`ws://${location.host}/room/${encodeURIComponent($('room').value.trim())}${q}`);
  ws.onopen = () => { $('status').textContent = 'connected'; $('text').disabled = $('send').disabled = false; };
  ws.onclose = (ev) => { $('status').textContent = `closed (${ev.code})`; $('text').disabled = $('send').disabled = true; };
  ws.onmessage = (ev) => {
    const m = JSON.parse(ev.data);
    if (m.type === 'system') add('system', `${m.message} — ${m.users} online`);
    else if (m.type === 'chat') add('chat', `${m.user}: ${typeof m.message === 'string' ? m.message : JSON.stringify(m.message)}`);
  };
};
$('say').onsubmit = (e) => {
  e.preventDefault();
  if (ws && $('text').value) ws.send(JSON.stringify({ type: 'message', content: $('text').value }));
  $('text').value = '';
};
)js";

}  // namespace

int main(int argc, char** argv) {
  nx::App app;
  app.enable_metrics("/metrics");
  const nx::RunOptions options = examples::configure(app, argc, argv);
  app.ws_route<ChatRoom>("/room/{room_id}", {examples::valid_names({{"room_id", 64}, {"username", 32}})});

  app.get("/api/rooms/{room_id}/history", [](nx::Request& req, nx::Response& res) -> nx::Task<> {
    // Shared handles to the saved messages; each is already compact JSON (or text): joined, not re-encoded.
    std::string body = "[";
    for (const auto& entry : nx::ChannelBox::history(req.path_params().at("room_id"))) {
      if (body.size() > 1) {
        body += ',';
      }
      if (entry->kind() == nx::Payload::Kind::json) {
        body += entry->data();
      } else {
        body += json::serialize(json::value(json::string(entry->data())));
      }
    }
    body += ']';
    res.bytes(std::move(body), "application/json");
    co_return;
  });
  examples::add_page(app, {index_html, index_css, index_js});

  return examples::serve(app, options, "rooms", "/room/{room_id}");
}
