// examples/notifications — server push: WebSocket subscribers in one group, and an HTTP endpoint
// that broadcasts an alert to all of them (the seeds' "notifications" group).
//
//   notifications [--host 127.0.0.1] [--port 8000] [--threads N] [--limit NAME=VALUE]...    (--port 0 picks a free port)
//
//   ws://HOST:PORT/ws/notifications      subscribe: first {"type":"subscribed","group":"notifications",
//                                        "subscribers":N,"channel_id":ID}, then every alert as
//                                        {"type":"alert","message":M}
//   POST http://HOST:PORT/api/notify     body {"message": "..."}: broadcasts the alert and answers
//                                        {"status":"GROUP_SEND"|"NO_SUCH_GROUP","delivered":N,"dropped":M,
//                                         "published":bool,"servers":S}  (S: other servers reached)
//                                        body {"message": "...", "to": ID}: only to that subscriber
//                                        (ChannelBox::send_to, on whichever server it is), answers
//                                        {"status":"SENT"|"NO_SUCH_CHANNEL"}
//                                        (400 {"error": ...} for a body without a string "message",
//                                        or with a "to" that is not a string)
//   GET  http://HOST:PORT/api/notify/subscribers   {"subscribers":N}   (on every server, with a layer)
//   GET  http://HOST:PORT/               a page that subscribes and can send alerts
//
// A subscriber leaves the group by itself when its connection ends, however it ends: the channel
// system removes it, so it gets nothing more and is not counted.
//
//   curl -d '{"message":"System maintenance in 5 minutes"}' http://127.0.0.1:8000/api/notify

#include "common/options.hpp"

#include <nexios/nexios.hpp>

#include <boost/json.hpp>

#include <cstdio>
#include <iostream>
#include <optional>
#include <string>
#include <string_view>

namespace nx = nexios;
namespace json = boost::json;

namespace {

constexpr std::string_view group_name = "notifications";

nx::Task<> subscribe(nx::WebSocket ws) {
  co_await ws.accept();
  // Subscribers only listen: their channel never expires.
  nx::Channel channel(ws, nx::PayloadTypeEnum::JSON, 0);
  if (const auto joined = nx::ChannelBox::add_channel_to_group(channel, group_name); !nx::is_member(joined)) {
    // Already gone, or the group is full (ChannelLimits::max_members_per_group): try later.
    co_await ws.close(1013, nx::to_string(joined));
    co_return;
  }
  try {
    // Tell the client it is in the group: alerts sent from now on reach it.
    json::object hello;
    hello["type"] = "subscribed";
    hello["group"] = group_name;
    hello["subscribers"] = co_await nx::ChannelBox::registry().cluster_group_size(group_name);
    hello["channel_id"] = channel.id();
    co_await channel.send(std::move(hello));
    // Keep the connection open until the client leaves; what it sends is ignored.
    for (;;) {
      nx::Message msg = co_await ws.receive();
      if (msg.type == nx::Message::Type::disconnect) {
        break;
      }
    }
  } catch (const nx::WebSocketDisconnect&) {
  }
  // Nothing to clean up: the channel leaves the group when the connection ends.
}

nx::Task<> notify(nx::Request& req, nx::Response& res) {
  boost::system::error_code ec;
  json::value body = nx::parse_json(req.body(), ec);  // strict: numbers out of range refused
  const json::value* message = nullptr;
  const json::value* to = nullptr;
  if (!ec && body.is_object()) {
    message = body.as_object().if_contains("message");
    to = body.as_object().if_contains("to");
  }
  if (message == nullptr || !message->is_string() || (to != nullptr && !to->is_string())) {
    json::object error;
    error["error"] = "expected a JSON object with a string \"message\" (and optionally a string \"to\")";
    res.status(400).json(error);
    co_return;
  }

  json::object alert;
  alert["type"] = "alert";
  alert["message"] = *message;
  json::object report;
  if (to != nullptr) {
    // One subscriber, on whichever server holds its connection.
    const bool sent = co_await nx::ChannelBox::send_to(std::string(to->get_string()), std::move(alert));
    report["status"] = sent ? "SENT" : "NO_SUCH_CHANNEL";
    res.json(report);
    co_return;
  }
  const nx::GroupSendResult sent = co_await nx::ChannelBox::group_send(group_name, std::move(alert));
  report["status"] = nx::to_string(sent.status);
  report["delivered"] = sent.delivered;
  report["dropped"] = sent.dropped;
  report["published"] = sent.published;
  report["servers"] = sent.servers;
  res.json(report);
}

constexpr std::string_view index_html = R"html(<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>nexios notifications</title>
<link rel="stylesheet" href="/page.css"></head>
<body><h1>nexios notifications</h1>
<p id="status">connecting…</p>
<form id="f"><input id="msg" size="40" placeholder="an alert for every subscriber"> <button>Broadcast</button> <span id="result"></span></form>
<ul id="alerts"></ul>
<script src="/page.js"></script></body></html>
)html";

constexpr std::string_view index_css = R"css(body{font-family:system-ui,sans-serif;max-width:40rem;margin:2rem auto;padding:0 1rem}
#alerts{list-style:none;padding:0}#alerts li{background:#fff4d6;border-left:4px solid #d89b00;margin:.4rem 0;padding:.5rem .7rem}
#status{color:#666}
)css";

constexpr std::string_view index_js = R"js(const $ = (id) => document.getElementById(id);
function connect() {
  const ws = new WebSocket(`ws://${location.host}/ws/notifications`);
  ws.onmessage = (e) => {
    const m = JSON.parse(e.data);
    if (m.type === 'subscribed') $('status').textContent = `subscribed (${m.subscribers} subscriber(s))`;
    if (m.type === 'alert') {
      const li = document.createElement('li');
      li.textContent = `${new Date().toLocaleTimeString()} — ${m.message}`;
      $('alerts').prepend(li);
    }
  };
  ws.onclose = () => { $('status').textContent = 'disconnected, retrying…'; setTimeout(connect, 2000); };
}
connect();
$('f').onsubmit = async (e) => {
  e.preventDefault();
  const res = await fetch('/api/notify', { method: 'POST', headers: { 'Content-Type': 'application/json' },
                                           body: JSON.stringify({ message: $('msg').value }) });
  const r = await res.json();
  $('result').textContent = res.ok ? `${r.status}: ${r.delivered} delivered, ${r.dropped} dropped` : r.error;
  $('msg').value = '';
};
)js";

}  // namespace

int main(int argc, char** argv) {
  nx::App app;
  app.enable_metrics("/metrics");
  const nx::RunOptions options = examples::configure(app, argc, argv);
  app.ws_route("/ws/notifications", subscribe);
  app.post("/api/notify", notify);
  app.get("/api/notify/subscribers", [](nx::Request&, nx::Response& res) -> nx::Task<> {
    json::object out;
    out["subscribers"] = co_await nx::ChannelBox::registry().cluster_group_size(group_name);
    res.json(out);
  });
  examples::add_page(app, {index_html, index_css, index_js});

  return examples::serve(app, options, "notifications", "/ws/notifications");
}
