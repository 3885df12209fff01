#pragma once
// The chat page: its HTML (GET /), stylesheet (GET /page.css) and script (GET /page.js), no
// build step and nothing loaded from elsewhere. They are separate so that the page can be served
// with a strict Content-Security-Policy (no inline script or style; see examples/common/page.hpp).
//
// Stable hooks for tests and scripts:
//   #name #room #join            the join form (#join-form); #rooms lists the active rooms
//   #chat-view                   shown once joined; #room-title, #status (data-state)
//   #messages                    one <li class="msg"> per message, with data-type, data-action,
//                                data-username, data-user-id, data-ts; the text in .content / .text
//   #users                       one <li> per user in the room, with data-username; #user-count
//   #typing                      "X is typing…" (data-users: the names, comma separated)
//   #message #send (#send-form)  the message box; #leave leaves the room
//
// Behaviour: the name and room are kept in sessionStorage, so a reload joins the same room again
// (and the history replay brings the conversation back). A dropped connection is retried with a
// growing delay. Messages are kept in timestamp order and de-duplicated (a reconnect replays the
// history again). Presence comes from GET /api/chat/rooms, refreshed on every join/leave and
// every few seconds. Typing: {"type":"typing","is_typing":true} while typing (repeated every 3 s),
// false after 2.5 s without a keystroke or when the message is sent. The server's typing notices
// carry the member's user_id only, no name: the page names the typist from the join messages and
// chat messages it has seen (live or replayed), which carry both ("someone" until it has one).

#include <string_view>

namespace {

constexpr std::string_view chat_page_html = R"html(<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>nexios chat</title>
<link rel="stylesheet" href="/page.css">
</head>
<body>
<header><h1>nexios chat</h1><span id="status" data-state="idle">not connected</span></header>
<main>
  <section id="join-view">
    <form id="join-form" class="card" autocomplete="off">
      <h2>Join a room</h2>
      <label>Your name <input id="name" maxlength="32" required placeholder="e.g. Ada"></label>
      <label>Room <input id="room" maxlength="64" required value="lobby" pattern="[A-Za-z0-9_\-]+"
        title="letters, digits, '_' and '-'"></label>
      <button id="join" type="submit">Join</button>
    </form>
    <div class="card">
      <h2>Active rooms</h2>
      <ul id="rooms"><li class="empty">nobody is chatting yet</li></ul>
    </div>
  </section>

  <section id="chat-view" hidden>
    <aside class="card">
      <h2>Room <span id="room-title"></span></h2>
      <h3>Online (<span id="user-count">0</span>)</h3>
      <ul id="users"></ul>
      <button id="leave" type="button" class="secondary">Leave room</button>
    </aside>
    <div class="card conversation">
      <ol id="messages"></ol>
      <div id="typing" aria-live="polite" data-users=""></div>
      <form id="send-form" autocomplete="off">
        <input id="message" placeholder="Write a message…" maxlength="4000" disabled>
        <button id="send" type="submit" disabled>Send</button>
      </form>
    </div>
  </section>
</main>
<script src="/page.js"></script>
</body>
</html>
)html";

constexpr std::string_view chat_page_css = R"css(  :root { --bg:#f4f5f7; --panel:#fff; --line:#dde1e6; --text:#1f2328; --muted:#6a737d; --accent:#3b6fd8; --mine:#e8f0ff; }
  * { box-sizing: border-box; }
  body { margin:0; font:15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; background:var(--bg); color:var(--text); }
  header { display:flex; align-items:center; justify-content:space-between; padding:.6rem 1.2rem; background:#24292f; color:#fff; }
  header h1 { font-size:1.1rem; margin:0; font-weight:600; }
  #status { font-size:.85rem; padding:.15rem .6rem; border-radius:1rem; background:#57606a; }
  #status[data-state="connected"] { background:#2da44e; }
  #status[data-state="connecting"], #status[data-state="reconnecting"] { background:#bf8700; }
  main { max-width:960px; margin:1.2rem auto; padding:0 1rem; }
  .card { background:var(--panel); border:1px solid var(--line); border-radius:10px; padding:1.2rem; }
  #join-view { display:grid; grid-template-columns: 1fr 1fr; gap:1rem; }
  #join-view[hidden], #chat-view[hidden] { display:none; }
  label { display:block; margin-bottom:.8rem; font-weight:500; }
  input { width:100%; padding:.5rem .6rem; margin-top:.25rem; border:1px solid var(--line); border-radius:6px; font:inherit; }
  input:focus { outline:2px solid var(--accent); border-color:transparent; }
  button { padding:.5rem 1rem; border:0; border-radius:6px; background:var(--accent); color:#fff; font:inherit; cursor:pointer; }
  button:disabled { background:#9aa5b1; cursor:default; }
  button.secondary { background:#eaeef2; color:var(--text); }
  h2 { font-size:1rem; margin:0 0 .6rem; }
  #rooms { list-style:none; margin:0; padding:0; }
  #rooms li { padding:.35rem .5rem; border-radius:6px; cursor:pointer; display:flex; justify-content:space-between; }
  #rooms li:hover { background:var(--bg); }
  #rooms .empty { color:var(--muted); cursor:default; }
  #chat-view { display:grid; grid-template-columns: 200px 1fr; gap:1rem; height:calc(100vh - 7rem); min-height:360px; }
  aside { display:flex; flex-direction:column; }
  aside h3 { font-size:.85rem; color:var(--muted); text-transform:uppercase; letter-spacing:.04em; margin:.8rem 0 .4rem; }
  #users { list-style:none; margin:0 0 1rem; padding:0; flex:1; overflow:auto; }
  #users li { padding:.2rem 0; }
  #users li::before { content:"●"; color:#2da44e; margin-right:.4rem; font-size:.7rem; vertical-align:middle; }
  #users li.me { font-weight:600; }
  .conversation { display:flex; flex-direction:column; min-height:0; padding:0; }
  #messages { list-style:none; margin:0; padding:1rem; flex:1; overflow-y:auto; }
  .msg { margin:.35rem 0; }
  .msg.system { text-align:center; color:var(--muted); font-size:.85rem; }
  .msg.chat { max-width:80%; padding:.4rem .7rem; border-radius:10px; background:var(--bg); }
  .msg.chat.mine { margin-left:auto; background:var(--mine); }
  .msg .meta { font-size:.78rem; color:var(--muted); }
  .msg .who { font-weight:600; margin-right:.4rem; }
  .msg .content { white-space:pre-wrap; overflow-wrap:anywhere; }
  #typing { min-height:1.4rem; padding:0 1rem; font-size:.85rem; color:var(--muted); font-style:italic; }
  #send-form { display:flex; gap:.5rem; padding:.8rem 1rem; border-top:1px solid var(--line); }
  #send-form input { margin:0; }
  @media (max-width: 640px) { #join-view, #chat-view { grid-template-columns:1fr; } aside { display:none; } }
)css";

constexpr std::string_view chat_page_js = R"js('use strict';
const $ = (id) => document.getElementById(id);
const STORE = 'nexios-chat';
const TYPING_IDLE_MS = 2500;     // stop "typing" after this long without a keystroke
const TYPING_REPEAT_MS = 3000;   // repeat is_typing:true this often while typing
const TYPING_EXPIRE_MS = 6000;   // forget someone's typing if no update comes for this long

const state = {
  name: '', room: '', wanted: false, ws: null, currentId: null, myIds: new Set(),
  seen: new Set(), typers: new Map(), names: new Map(), typingSent: false, typingSentAt: 0, typingTimer: null,
  reconnectDelay: 1000, reconnectTimer: null, presenceTimer: null, presencePending: false,
};

function setStatus(text, s) {
  $('status').textContent = text;
  $('status').dataset.state = s;
}

function send(obj) {
  if (state.ws && state.ws.readyState === WebSocket.OPEN) {
    state.ws.send(JSON.stringify(obj));
    return true;
  }
  return false;
}

function timeOf(ts) {
  const d = new Date(ts * 1000);
  return isNaN(d) ? '' : d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
}

function colorOf(name) {
  let h = 0;
  for (const c of String(name)) h = (h * 31 + c.codePointAt(0)) % 360;
  return `hsl(${h} 55% 38%)`;
}

// ---- joining and the connection -----------------------------------------------------------------

function join(name, room) {
  if (state.room !== room) clearConversation();
  state.name = name;
  state.room = room;
  state.wanted = true;
  sessionStorage.setItem(STORE, JSON.stringify({ name, room }));
  localStorage.setItem(STORE + '-name', name);
  $('room-title').textContent = room;
  $('join-view').hidden = true;
  $('chat-view').hidden = false;
  document.title = `${room} — nexios chat`;
  connect();
}

function leave() {
  state.wanted = false;
  sessionStorage.removeItem(STORE);
  clearTimeout(state.reconnectTimer);
  stopTyping();
  if (state.ws) state.ws.close(1000, 'left the room');
  state.ws = null;
  clearConversation();
  state.room = '';
  setStatus('not connected', 'idle');
  $('chat-view').hidden = true;
  $('join-view').hidden = false;
  document.title = 'nexios chat';
  refreshRooms();
}

function clearConversation() {
  $('messages').replaceChildren();
  $('users').replaceChildren();
  $('user-count').textContent = '0';
  state.seen.clear();
  state.typers.clear();
  state.names.clear();
  state.myIds.clear();
  renderTypers();
}

function connect() {
  clearTimeout(state.reconnectTimer);
  const proto = location.protocol === 'https:' ? 'wss' : 'ws';
  const url = `${proto}://${location.host}/ws/chat/${encodeURIComponent(state.room)}` +
              `?username=${encodeURIComponent(state.name)}`;
  const ws = new WebSocket(url);
  state.ws = ws;
  state.currentId = null;
  setStatus('connecting…', 'connecting');
  ws.onopen = () => {
    if (state.ws !== ws) return;
    state.reconnectDelay = 1000;
    setStatus('connected', 'connected');
    $('message').disabled = false;
    $('send').disabled = false;
    $('message').focus();
    schedulePresence();
  };
  ws.onmessage = (e) => { if (state.ws === ws) onMessage(e.data); };
  ws.onclose = (e) => {
    if (state.ws !== ws) return;
    state.ws = null;
    state.typingSent = false;
    $('message').disabled = true;
    $('send').disabled = true;
    state.typers.clear();
    renderTypers();
    if (!state.wanted) return;
    const delay = state.reconnectDelay;
    state.reconnectDelay = Math.min(delay * 2, 10000);
    setStatus(`disconnected (${e.code}), retrying in ${Math.round(delay / 1000)} s`, 'reconnecting');
    state.reconnectTimer = setTimeout(connect, delay);
  };
}

// ---- incoming messages --------------------------------------------------------------------------

function onMessage(raw) {
  let m;
  try { m = JSON.parse(raw); } catch { return; }
  if (!m || typeof m !== 'object') return;
  if (m.type === 'typing') { onTyping(m); return; }
  // A reconnect replays the history: show each message once.
  if (state.seen.has(raw)) return;
  state.seen.add(raw);
  // Typing notices name nobody: remember who each id is from the messages that say it.
  if (m.user_id && m.username && (m.type === 'message' || (m.type === 'system' && m.action === 'join'))) {
    state.names.set(String(m.user_id), String(m.username));
  }
  if (m.type === 'system') {
    if (m.action === 'join' && state.currentId === null && m.username === state.name) {
      state.currentId = m.user_id;   // our own join message comes first
      state.myIds.add(m.user_id);
    }
    if (m.user_id) state.typers.delete(m.user_id);
    renderTypers();
    schedulePresence();
  } else if (m.type === 'message') {
    if (state.typers.delete(m.user_id)) renderTypers();
  }
  renderMessage(m);
}

function renderMessage(m) {
  const li = document.createElement('li');
  li.className = 'msg';
  li.dataset.type = String(m.type);
  if (m.action) li.dataset.action = String(m.action);
  li.dataset.username = String(m.username ?? '');
  li.dataset.userId = String(m.user_id ?? '');
  const ts = Number(m.timestamp) || 0;
  li.dataset.ts = String(ts);
  if (m.type === 'system') {
    li.classList.add('system');
    const text = document.createElement('span');
    text.className = 'text';
    text.textContent = String(m.message ?? '');
    const when = document.createElement('span');
    when.className = 'meta';
    when.textContent = ' · ' + timeOf(ts);
    li.append(text, when);
  } else {
    li.classList.add('chat');
    if (state.myIds.has(m.user_id)) li.classList.add('mine');
    const meta = document.createElement('div');
    meta.className = 'meta';
    const who = document.createElement('span');
    who.className = 'who';
    who.style.color = colorOf(m.username);
    who.textContent = String(m.username ?? '');
    const when = document.createElement('span');
    when.textContent = timeOf(ts);
    meta.append(who, when);
    const content = document.createElement('div');
    content.className = 'content';
    content.textContent = typeof m.content === 'string' ? m.content : JSON.stringify(m.content);
    li.append(meta, content);
  }
  // Keep the list in timestamp order (the history replay arrives after our own join message).
  const list = $('messages');
  const atBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 40;
  let before = null;
  for (let el = list.lastElementChild; el && Number(el.dataset.ts) > ts; el = el.previousElementSibling) before = el;
  list.insertBefore(li, before);
  if (atBottom || state.myIds.has(m.user_id)) list.scrollTop = list.scrollHeight;
}

// ---- typing -------------------------------------------------------------------------------------

function onTyping(m) {
  if (state.myIds.has(m.user_id)) return;
  if (m.is_typing === false) state.typers.delete(m.user_id);
  else state.typers.set(m.user_id, { until: Date.now() + TYPING_EXPIRE_MS });
  renderTypers();
}

function renderTypers() {
  const now = Date.now();
  for (const [id, t] of state.typers) if (t.until < now) state.typers.delete(id);
  const names = [...new Set([...state.typers.keys()].map((id) => state.names.get(String(id)) ?? 'someone'))];
  let text = '';
  if (names.length === 1) text = `${names[0]} is typing…`;
  else if (names.length === 2) text = `${names[0]} and ${names[1]} are typing…`;
  else if (names.length > 2) text = `${names[0]}, ${names[1]} and ${names.length - 2} more are typing…`;
  $('typing').textContent = text;
  $('typing').dataset.users = names.join(',');
}
setInterval(renderTypers, 1000);

function onInput() {
  if ($('message').value === '') { stopTyping(); return; }
  const now = Date.now();
  if (!state.typingSent || now - state.typingSentAt > TYPING_REPEAT_MS) {
    if (send({ type: 'typing', is_typing: true })) {
      state.typingSent = true;
      state.typingSentAt = now;
    }
  }
  clearTimeout(state.typingTimer);
  state.typingTimer = setTimeout(stopTyping, TYPING_IDLE_MS);
}

function stopTyping() {
  clearTimeout(state.typingTimer);
  if (state.typingSent) send({ type: 'typing', is_typing: false });
  state.typingSent = false;
}

// ---- presence and rooms -------------------------------------------------------------------------

async function fetchRooms() {
  const res = await fetch('/api/chat/rooms', { cache: 'no-store' });
  if (!res.ok) throw new Error(`HTTP ${res.status}`);
  return res.json();
}

function schedulePresence() {
  if (state.presencePending) return;
  state.presencePending = true;
  setTimeout(refreshPresence, 50);
}

async function refreshPresence() {
  state.presencePending = false;
  if (!state.room) return;
  let rooms;
  try { rooms = await fetchRooms(); } catch { return; }
  const room = rooms.find((r) => r.room_id === state.room);
  const users = room ? room.users : [];
  const list = $('users');
  list.replaceChildren(...users.map((name) => {
    const li = document.createElement('li');
    li.dataset.username = name;
    li.textContent = name;
    if (name === state.name) li.classList.add('me');
    return li;
  }));
  $('user-count').textContent = String(users.length);
}

async function refreshRooms() {
  if ($('join-view').hidden) return;
  let rooms;
  try { rooms = await fetchRooms(); } catch { return; }
  const list = $('rooms');
  if (!rooms.length) {
    const li = document.createElement('li');
    li.className = 'empty';
    li.textContent = 'nobody is chatting yet';
    list.replaceChildren(li);
    return;
  }
  list.replaceChildren(...rooms.map((r) => {
    const li = document.createElement('li');
    li.dataset.room = r.room_id;
    const name = document.createElement('span');
    name.textContent = r.room_id;
    const count = document.createElement('span');
    count.textContent = `${r.user_count} online`;
    li.append(name, count);
    li.title = r.users.join(', ');
    li.onclick = () => { $('room').value = r.room_id; $('name').focus(); };
    return li;
  }));
}

setInterval(() => { if (state.ws) refreshPresence(); else refreshRooms(); }, 5000);

// ---- wiring -------------------------------------------------------------------------------------

$('join-form').addEventListener('submit', (e) => {
  e.preventDefault();
  const name = $('name').value.trim();
  const room = $('room').value.trim();
  if (name && room) join(name, room);
});
$('send-form').addEventListener('submit', (e) => {
  e.preventDefault();
  const text = $('message').value;
  if (!text.trim()) return;
  stopTyping();
  if (send({ type: 'message', content: text })) $('message').value = '';
});
$('message').addEventListener('input', onInput);
$('message').addEventListener('blur', stopTyping);
$('leave').addEventListener('click', leave);
window.addEventListener('online', () => { if (state.wanted && !state.ws) connect(); });

(function start() {
  const hashRoom = new URLSearchParams(location.hash.slice(1)).get('room');
  if (hashRoom) $('room').value = hashRoom;
  $('name').value = localStorage.getItem(STORE + '-name') || '';
  let saved = null;
  try { saved = JSON.parse(sessionStorage.getItem(STORE) || 'null'); } catch { saved = null; }
  if (saved && saved.name && saved.room) {
    $('name').value = saved.name;
    $('room').value = saved.room;
    join(saved.name, saved.room);   // a reload rejoins the same room
  } else {
    refreshRooms();
    $('name').focus();
  }
})();
)js";

}  // namespace
