// examples/chat — the seeds' "Building a Chat Application": chat rooms over WebSocket channels,
// with message history, typing indicators, presence and a browser page.
//
//   chat [--host 127.0.0.1] [--port 8000] [--threads N] [--limit NAME=VALUE]...      (--port 0 picks a free port)
//
//   GET  http://HOST:PORT/                     the chat page (and /page.css, /page.js: nothing from elsewhere,
//                                              served with a strict Content-Security-Policy)
//   ws://HOST:PORT/ws/chat/{room_id}?username=NAME
//                                              one chat connection (NAME defaults to Anonymous-<time>)
//   GET  http://HOST:PORT/api/chat/rooms       [{"room_id","user_count","users":[names]}] by room_id
//   GET  http://HOST:PORT/health               "ok"
//
// The protocol (every message is a JSON object in a text frame):
//   server → all members   {"type":"system","action":"join"|"leave","username","user_id","timestamp","message"}
//   client → server        {"type":"message","content":...}      (type defaults to "message")
//   server → all members   {"type":"message","content","username","user_id","room_id","timestamp"}
//   client → server        {"type":"typing","is_typing":bool}     (is_typing defaults to true)
//   server → all members   {"type":"typing","user_id","is_typing"}   (not saved; no name: the page knows
//                                              each user_id's name from join and chat messages)
//   client → server        any text that is not a JSON object: sent as a message with that content
//   server → the sender    {"type":"error","error":"message too long","limit":2000}   (content over 2000 bytes)
// Limits: a room id of at most 64 bytes and a username of at most 32, both names (valid UTF-8 of
// letters, digits, single inner spaces and -_.,'&@()!?+#; no control or invisible characters —
// examples/common/names.hpp; otherwise the handshake gets 400 saying why), 20 messages a second
// per client (faster ones are throttled), and the
// ChannelLimits of the process (e.g. --limit max_groups=1000: a new room past it is closed with
// 1013 "GROUP_LIMIT_REACHED").
// Joining, leaving and messages are saved in the room's history; a new member gets its own join
// message, then the last 50 saved messages (which end with that same join message).
// (The seed's periodic ChannelBox._clean_expired() task is not needed: the channel system's own
// timer closes channels idle for longer than their time to live, here one hour.)

#include "page.hpp"

#include "common/options.hpp"

#include <nexios/nexios.hpp>

#include <boost/json.hpp>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace nx = nexios;
namespace json = boost::json;

namespace {

/// How many saved messages a new member is sent.
constexpr std::size_t history_replay = 50;
/// What one client may put in a room: bounded, since everyone in the room receives it and the
/// history keeps it. A longer room id or username, or one with characters a name may not hold
/// (examples/common/names.hpp), is refused with 400 before the handshake; a longer message is
/// answered {"type":"error",...} and not sent.
constexpr std::size_t max_room_id_bytes = 64;
constexpr std::size_t max_username_bytes = 32;
constexpr std::size_t max_content_bytes = 2000;

/// Seconds since the epoch, as Python's time.time().
double now_seconds() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

/// The shortest decimal form of `x` (what Python's str(float) prints).
std::string shortest(double x) {
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, x);
  return ec == std::errc{} ? std::string(buf, end) : std::to_string(x);
}

// ---- who is connected --------------------------------------------------------------------------
//
// The seed keeps a process-wide `users` dict. Here each member's name and joining time are its
// channel's metadata, and /api/chat/rooms asks ChannelBox::cluster_groups(): with several servers
// on one Redis (NEXIOS_CHANNEL_LAYER=redis://...) it lists the members of every server.

constexpr std::string_view room_prefix = "chat_room_";

std::string group_name(std::string_view room_id) { return std::string(room_prefix) + std::string(room_id); }

// ---- the messages ------------------------------------------------------------------------------

json::object system_message(std::string_view action, const std::string& username, const std::string& user_id) {
  json::object m;
  m["type"] = "system";
  m["action"] = action;
  m["username"] = username;
  m["user_id"] = user_id;
  m["timestamp"] = now_seconds();
  m["message"] = username + (action == "join" ? " has joined the room" : " has left the room");
  return m;
}

json::object chat_message(json::value content, const std::string& username, const std::string& user_id,
                          const std::string& room_id) {
  json::object m;
  m["type"] = "message";
  m["content"] = std::move(content);
  m["username"] = username;
  m["user_id"] = user_id;
  m["room_id"] = room_id;
  m["timestamp"] = now_seconds();
  return m;
}

// ---- the WebSocket endpoint --------------------------------------------------------------------

/// Who is on the other end of one chat connection.
struct Member {
  std::string room_id;
  std::string username;
  std::string user_id;
  std::string group;
};

/// The answer to a message over max_content_bytes (sent to its author only).
json::object too_long() {
  json::object error;
  error["type"] = "error";
  error["error"] = "message too long";
  error["limit"] = max_content_bytes;
  return error;
}

/// One text message from a member.
nx::Task<> on_text(const Member& me, const nx::Channel& channel, std::string_view text) {
  boost::system::error_code ec;
  json::value data = nx::parse_json(text, ec);  // strict: a number out of range is an error
  if (ec == json::error::exponent_overflow) {
    json::object error;
    error["type"] = "error";
    error["error"] = "number out of range";
    co_await channel.send(std::move(error));
    co_return;
  }
  if (ec || !data.is_object()) {
    // Not a JSON object: the text itself is the message.
    if (text.size() > max_content_bytes) {
      co_await channel.send(too_long());
      co_return;
    }
    json::object message = chat_message(json::string(text), me.username, me.user_id, me.room_id);
    co_await nx::ChannelBox::group_send(me.group, std::move(message), true);
    co_return;
  }
  json::object& obj = data.as_object();
  const json::value* type = obj.if_contains("type");
  if (type == nullptr || (type->is_string() && type->get_string() == "message")) {
    const json::value* content = obj.if_contains("content");
    if (content != nullptr && json::serialize(*content).size() > max_content_bytes) {
      co_await channel.send(too_long());
      co_return;
    }
    json::object message = chat_message(content ? *content : json::value(""), me.username, me.user_id, me.room_id);
    co_await nx::ChannelBox::group_send(me.group, std::move(message), true);
  } else if (type->is_string() && type->get_string() == "typing") {
    // A typing indicator: broadcast, never saved. It names the member by id only: typing notices
    // are the most frequent message, and the name is already known from the join message.
    json::object typing;
    typing["type"] = "typing";
    typing["user_id"] = me.user_id;
    const json::value* is_typing = obj.if_contains("is_typing");
    typing["is_typing"] = is_typing ? *is_typing : json::value(true);
    co_await nx::ChannelBox::group_send(me.group, std::move(typing), false);
  }
  // Other types are ignored.
}

/// Joining and the conversation, until the peer disconnects (returns) or a send fails (throws).
nx::Task<> converse(const Member& me, const nx::Channel& channel) {
  // Announce the new user to everyone in the room (the new user included), and save it.
  json::object join = system_message("join", me.username, me.user_id);
  co_await nx::ChannelBox::group_send(me.group, std::move(join), true);

  // Then the last 50 saved messages to the new user; they end with its own join message. Each
  // goes as the frame the history holds (shared, not copied), and nothing stays in this frame.
  co_await nx::ChannelBox::replay_history(channel, me.group, nx::HistoryQuery{.after_offset = 0, .limit = history_replay});

  for (;;) {
    nx::Message msg = co_await channel.websocket().receive();
    if (msg.type == nx::Message::Type::disconnect) {
      co_return;
    }
    if (msg.is_text()) {  // binary frames carry nothing in this protocol
      co_await on_text(me, channel, msg.text());
    }
  }
}

nx::Task<> chat_room(nx::WebSocket ws) {
  co_await ws.accept();

  Member me;
  me.room_id = std::string(ws.path_params().at("room_id"));
  if (auto name = ws.query_params().get("username"); name && !name->empty()) {
    me.username = std::string(*name);
  } else {
    me.username = "Anonymous-" + shortest(now_seconds());
  }
  me.group = group_name(me.room_id);

  json::object who;
  who["username"] = me.username;
  who["joined_at"] = now_seconds();
  nx::Channel channel(ws, nx::PayloadTypeEnum::JSON, std::chrono::hours(1), std::move(who));  // 1 hour TTL
  me.user_id = channel.id();

  if (const auto joined = nx::ChannelBox::add_channel_to_group(channel, me.group); !nx::is_member(joined)) {
    // Gone before it could join, or past a limit (too many rooms, a full room): say which.
    co_await ws.close(1013, nx::to_string(joined));
    co_return;
  }

  try {
    co_await converse(me, channel);
  } catch (const nx::WebSocketDisconnect&) {
    // The peer went away while we were sending: leave below.
  } catch (const std::exception& e) {
    nx::log(nx::LogLevel::warning, "chat: error in room " + me.room_id + ": " + e.what());
  }

  // The user is leaving (however the connection ended). It leaves the group first, so that
  // whoever gets the leave message and asks /api/chat/rooms sees it gone. (The
  // channel system has already taken the channel out of the group if the connection ended.)
  // Then the leave message goes to the room and into its history (co_await is not allowed
  // inside a catch block, hence here, after the try). If it was the last member, the group is
  // gone and nothing is sent or saved; the room's history stays.
  nx::ChannelBox::remove_channel_from_group(channel, me.group);
  json::object leave = system_message("leave", me.username, me.user_id);
  co_await nx::ChannelBox::group_send(me.group, std::move(leave), true);
  co_await ws.close();  // does nothing if the peer already closed
}

// ---- HTTP --------------------------------------------------------------------------------------

nx::Task<> list_rooms(nx::Request&, nx::Response& res) {
  json::array rooms;
  // Every server's members (this server's alone without a channel layer), rooms by name.
  for (auto& [group, members] : co_await nx::ChannelBox::cluster_groups()) {
    if (!group.starts_with(room_prefix) || members.empty()) {
      continue;
    }
    std::stable_sort(members.begin(), members.end(), [](const nx::ClusterMember& a, const nx::ClusterMember& b) {
      const auto* ta = a.metadata.if_contains("joined_at");
      const auto* tb = b.metadata.if_contains("joined_at");
      return (ta && ta->is_double() ? ta->as_double() : 0.0) < (tb && tb->is_double() ? tb->as_double() : 0.0);
    });
    json::object r;
    r["room_id"] = group.substr(room_prefix.size());
    r["user_count"] = members.size();
    json::array names;
    for (const auto& m : members) {
      const auto* name = m.metadata.if_contains("username");
      names.emplace_back(name && name->is_string() ? name->as_string() : json::string());
    }
    r["users"] = std::move(names);
    rooms.emplace_back(std::move(r));
  }
  res.json(rooms);
}

}  // namespace

int main(int argc, char** argv) {
  nx::App app;
  app.enable_metrics("/metrics");
  // Chat messages are small: refuse anything over 64 KiB (closes with 1009) unless told otherwise.
  app.limits.max_message_size = 64 * 1024;
  // People type: 20 messages a second is plenty; a flooding client is slowed down (throttled), not
  // allowed to fill the room.
  app.limits.max_messages_per_second = 20;
  const nx::RunOptions options = examples::configure(app, argc, argv);

  app.ws_route("/ws/chat/{room_id}", chat_room,
               {examples::valid_names({{"room_id", max_room_id_bytes}, {"username", max_username_bytes}})});
  app.get("/api/chat/rooms", list_rooms);
  examples::add_page(app, {chat_page_html, chat_page_css, chat_page_js});
  app.get("/health", [](nx::Request&, nx::Response& res) -> nx::Task<> {
    res.text("ok");
    co_return;
  });

  return examples::serve(app, options, "chat", "/ws/chat/{room_id}");
}
