// The Redis channel layer: group messages over pub/sub, history in Redis lists, membership in
// expiring hashes, send_to by request and answers. Everything that talks to Redis runs on the
// layer's own event-loop thread (one publishing and one subscribing connection per server);
// the registry's threads hand it work by posting. See docs/scaling.md for the data model.

#include <nexios/redis.hpp>

#include "app/ids.hpp"
#include "redis/connection.hpp"
#include "redis/layer_options.hpp"
#include "redis/wire.hpp"
#include "resp/resp.hpp"

#include <nexios/detail/json.hpp>
#include <nexios/detail/utf8.hpp>
#include <nexios/log.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <deque>
#include <iterator>
#include <cstdlib>
#include <future>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <stdexcept>
#include <thread>

namespace nexios {

namespace asio = boost::asio;
using redis::detail::Connection;
using redis::detail::ConnectionConfig;
namespace wire = redis::detail;

namespace {

constexpr auto awaitable = asio::as_tuple(asio::use_awaitable);

// Saves a group message to the group's history list and publishes it, atomically, so offsets
// are given in the order messages are published. Trims by the same footprints and caps as every
// server's copy; a group with members nowhere (no subscriber, none here) gets nothing.
//   KEYS: history list, history meta hash {o: last offset, b: counted bytes}, group channel
//   ARGV: 1 "nx1|m|<origin>|<kind>|"  2 "|<id>|<ts_us>|<footprint>|"  3 payload  4 footprint
//         5 max count (0: none)  6 max bytes for entries  7 expiry ms (0: none)  8 "1": members here
constexpr std::string_view save_script = R"lua(
if ARGV[8] ~= '1' then
  local n = redis.call('PUBSUB', 'NUMSUB', KEYS[3])[2]
  if n == 0 then return {0, 0} end
end
local fp = tonumber(ARGV[4])
local maxb = tonumber(ARGV[6])
if fp > maxb then
  return {0, redis.call('PUBLISH', KEYS[3], ARGV[1] .. '0' .. ARGV[2] .. ARGV[3])}
end
local off = redis.call('HINCRBY', KEYS[2], 'o', 1)
local msg = ARGV[1] .. off .. ARGV[2] .. ARGV[3]
redis.call('RPUSH', KEYS[1], msg)
local bytes = redis.call('HINCRBY', KEYS[2], 'b', fp)
local count = redis.call('LLEN', KEYS[1])
local maxc = tonumber(ARGV[5])
while count > 1 and (bytes > maxb or (maxc > 0 and count > maxc)) do
  local old = redis.call('LPOP', KEYS[1])
  local ofp = tonumber(string.match(old, '^nx1|m|[^|]*|[^|]*|[^|]*|[^|]*|[^|]*|(%d+)|')) or 0
  bytes = redis.call('HINCRBY', KEYS[2], 'b', -ofp)
  count = count - 1
end
local ttl = tonumber(ARGV[7])
if ttl > 0 then
  redis.call('PEXPIRE', KEYS[1], ttl)
  redis.call('PEXPIRE', KEYS[2], ttl)
end
return {off, redis.call('PUBLISH', KEYS[3], msg)}
)lua";

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::vector<std::string_view> views(const std::vector<std::string>& args) {
  return {args.begin(), args.end()};
}

wire::Kind to_wire(Payload::Kind k) noexcept {
  switch (k) {
    case Payload::Kind::json:
      return wire::Kind::json;
    case Payload::Kind::text:
      return wire::Kind::text;
    case Payload::Kind::bytes:
      break;
  }
  return wire::Kind::bytes;
}

Payload::Kind from_wire(wire::Kind k) noexcept {
  switch (k) {
    case wire::Kind::json:
      return Payload::Kind::json;
    case wire::Kind::text:
      return Payload::Kind::text;
    case wire::Kind::bytes:
      break;
  }
  return Payload::Kind::bytes;
}

LayerMessage to_message(const wire::GroupLine& g) {
  LayerMessage m;
  m.kind = from_wire(g.kind);
  m.data = g.payload;
  m.offset = g.offset;
  m.id = g.id;
  m.timestamp = g.timestamp;
  m.footprint = g.footprint;
  return m;
}

}  // namespace

// =================================================================================================
// Impl: everything below runs on the layer's thread unless it says otherwise.
// =================================================================================================

struct RedisLayer::Impl : std::enable_shared_from_this<RedisLayer::Impl> {
  explicit Impl(RedisLayerOptions o) : options(std::move(o)) {}

  RedisLayerOptions options;
  ConnectionConfig config;
  std::string prefix;
  std::string id;  // this server's id in the cluster: 32 hex digits, new for every start
  // The channel names a received message is matched against (set at start).
  std::string group_prefix, all_name, self_name;

  asio::io_context io{1};
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work;
  std::thread thread;
  std::promise<void> ran_out;  // set when the thread's io.run() returns
  Host* host = nullptr;

  std::shared_ptr<Connection> pub;  // commands, publishes
  std::shared_ptr<Connection> sub;  // the subscriptions
  std::uint64_t generation = 0;     // of the connection pair; a close of an older one is ignored
  std::optional<asio::steady_timer> lost;  // cancelled when the pair is lost (or the layer stops)
  std::optional<asio::steady_timer> beat;  // the heartbeat's (cancelled at stop)
  std::string script_sha;
  bool stopping = false;

  std::atomic<ChannelLayerState> state_{ChannelLayerState::down};
  std::atomic<std::uint64_t> published{0}, not_published{0}, pending_full{0}, received{0}, malformed{0},
      reconnects{0}, pending{0};
  std::uint64_t not_published_at_loss = 0;

  // This server's members, as the registry reported them (group → channel id → metadata JSON).
  std::map<std::string, std::map<std::string, std::string, std::less<>>, std::less<>> local;

  struct Request {
    std::size_t expected = SIZE_MAX;  // servers asked (known once PUBLISH answers)
    std::size_t answered = 0;
    bool ok = false;
    asio::steady_timer* timer = nullptr;
    void check() {
      if (ok || answered >= expected) {
        timer->cancel();
      }
    }
  };
  std::uint64_t next_request = 1;
  std::map<std::uint64_t, Request*> requests;

  // ---- keys and channels -----------------------------------------------------------------------
  std::string key(std::string_view what) const { return prefix + std::string(what); }
  std::string servers_key() const { return key("servers"); }
  std::string members_key(std::string_view server, std::string_view group) const {
    return prefix + "m:" + std::string(server) + ":" + std::string(group);
  }
  std::string server_groups_key(std::string_view server) const { return prefix + "sg:" + std::string(server); }
  std::string history_key(std::string_view group) const { return prefix + "h:" + std::string(group); }
  std::string history_meta_key(std::string_view group) const { return prefix + "hm:" + std::string(group); }
  std::string group_channel(std::string_view group) const { return prefix + "g:" + std::string(group); }
  std::string all_channel() const { return prefix + "all"; }
  std::string server_channel(std::string_view server) const { return prefix + "s:" + std::string(server); }
  std::string ttl_ms() const { return std::to_string(options.membership_ttl.count()); }
  [[nodiscard]] std::int64_t history_expiry_ms(const ChannelLimits& limits) const {
    return limits.history_ttl.count() > 0 ? limits.history_ttl.count() + options.membership_ttl.count() : 0;
  }

  // ---- state -----------------------------------------------------------------------------------
  void set_state(ChannelLayerState s) {
    const ChannelLayerState was = state_.exchange(s);
    if (was == s) {
      return;
    }
    // Losing Redis is worth a warning; starting, coming back and stopping are not.
    const bool lost_it = was == ChannelLayerState::up && s == ChannelLayerState::connecting;
    log(lost_it ? LogLevel::warning : LogLevel::info, "redis",
        std::string("channel layer ") + std::string(to_string(s)),
        {{"redis", std::string_view(redis::detail::describe(config))}, {"server", std::string_view(id)}});
    if (options.on_state) {
      try {
        options.on_state(s);
      } catch (const std::exception& e) {
        log(LogLevel::error, "redis", std::string("on_state threw: ") + e.what());
      }
    }
  }

  bool up() const noexcept { return state_.load() == ChannelLayerState::up && pub && pub->is_open(); }

  /// Sends a command whose reply only matters when it is an error (logged).
  void fire(const std::shared_ptr<Connection>& c, std::vector<std::string> args) {
    if (!c || !c->is_open()) {
      return;
    }
    const auto v = views(args);
    c->send(std::span<const std::string_view>(v), [](std::error_code ec, resp::Value reply) {
      if (!ec && reply.type == resp::Value::Type::error) {
        log(LogLevel::warning, "redis", "command failed: " + reply.str);
      }
    });
  }

  /// Sends every command (pipelined) and waits for every reply; nothing if one fails.
  Task<std::optional<std::vector<resp::Value>>> batch(std::vector<std::vector<std::string>> commands) {
    std::vector<resp::Value> out(commands.size());
    if (commands.empty()) {
      co_return out;
    }
    auto c = pub;
    if (!c || !c->is_open()) {
      co_return std::nullopt;
    }
    struct Batch {
      explicit Batch(asio::any_io_executor ex) : timer(std::move(ex)) {}
      std::size_t left = 0;
      bool failed = false;
      asio::steady_timer timer;
    };
    auto st = std::make_shared<Batch>(co_await asio::this_coro::executor);
    st->timer.expires_at(asio::steady_timer::time_point::max());
    st->left = commands.size();
    for (std::size_t i = 0; i < commands.size(); ++i) {
      const auto v = views(commands[i]);
      const bool queued = c->send(std::span<const std::string_view>(v), [st, &out, i](std::error_code ec, resp::Value r) {
        if (ec) {
          st->failed = true;
        } else {
          out[i] = std::move(r);
        }
        if (--st->left == 0) {
          st->timer.cancel();
        }
      });
      if (!queued) {
        st->failed = true;
        if (--st->left == 0) {
          st->timer.cancel();
        }
      }
    }
    if (st->left != 0) {
      co_await st->timer.async_wait(awaitable);
    }
    if (st->failed) {
      co_return std::nullopt;
    }
    co_return out;
  }

  // ---- connecting ------------------------------------------------------------------------------

  Task<std::string> connect_pair() {
    auto p = Connection::create(io.get_executor(), config);
    std::string err = co_await p->connect();
    if (!err.empty()) {
      co_return err;
    }
    auto s = Connection::create(io.get_executor(), config);
    err = co_await s->connect();
    if (!err.empty()) {
      p->close();
      co_return err;
    }
    std::vector<std::string> cmd1{"SCRIPT", "LOAD", std::string(save_script)};
    auto answer1 = co_await p->command(std::move(cmd1));
    auto& ec = answer1.first;
    auto& reply = answer1.second;
    if (ec || reply.type != resp::Value::Type::bulk) {
      p->close();
      s->close();
      co_return "SCRIPT LOAD failed: " + (ec ? ec.message() : reply.str);
    }
    script_sha = reply.str;
    const std::uint64_t gen = ++generation;
    std::weak_ptr<Impl> weak = weak_from_this();
    auto on_close = [weak, gen](const std::string& why) {
      if (auto self = weak.lock()) {
        self->connection_lost(gen, why);
      }
    };
    p->set_close_handler(on_close);
    s->set_close_handler(on_close);
    s->set_message_handler([weak](std::string_view channel, std::string_view payload) {
      if (auto self = weak.lock()) {
        self->on_message(channel, payload);
      }
    });
    pub = std::move(p);
    sub = std::move(s);
    sub->subscribe(all_channel());
    sub->subscribe(server_channel(id));
    resync();
    co_return std::string();
  }

  void connection_lost(std::uint64_t gen, const std::string& why) {
    if (gen != generation || stopping) {
      return;
    }
    ++generation;  // the other connection's close is not news
    log(LogLevel::warning, "redis", "channel layer lost its Redis connection: " + why);
    not_published_at_loss = not_published.load();
    if (pub) {
      pub->close();
    }
    if (sub) {
      sub->close();
    }
    set_state(ChannelLayerState::connecting);
    if (lost) {
      lost->cancel();
    }
  }

  /// Writes this server's membership again (after connecting: Redis may have lost it) and
  /// subscribes to its groups.
  void resync() {
    local.clear();
    for (auto& g : host->local_groups()) {
      auto& members = local[g.name];
      for (auto& [cid, meta] : g.members) {
        members.insert_or_assign(cid, boost::json::serialize(meta));
      }
    }
    fire(pub, {"ZADD", servers_key(), std::to_string(now_ms() + options.membership_ttl.count()), id});
    fire(pub, {"DEL", server_groups_key(id)});
    for (const auto& [group, members] : local) {
      write_group(group, members);
    }
  }

  /// Subscribes to a group's messages; once Redis confirms, reads its shared history into this
  /// server's copy (what arrived meanwhile is newer, and kept).
  void subscribe_group(const std::string& group) {
    std::weak_ptr<Impl> weak = weak_from_this();
    sub->subscribe(group_channel(group), [weak, group] {
      auto self = weak.lock();
      if (!self || !self->pub || !self->pub->is_open()) {
        return;
      }
      self->pub->send({"LRANGE", self->history_key(group), "0", "-1"}, [weak, group](std::error_code ec, resp::Value reply) {
        auto me = weak.lock();
        if (!me || ec || reply.type != resp::Value::Type::array || me->local.find(group) == me->local.end()) {
          return;
        }
        std::vector<LayerMessage> older;
        older.reserve(reply.elements.size());
        for (const auto& e : reply.elements) {
          if (auto g = wire::parse_group(e.str)) {
            older.push_back(to_message(*g));
          } else {
            ++me->malformed;
          }
        }
        me->host->load_history(group, older);
      });
    });
  }

  void write_group(const std::string& group, const std::map<std::string, std::string, std::less<>>& members) {
    subscribe_group(group);
    const std::string mk = members_key(id, group);
    fire(pub, {"DEL", mk});
    std::vector<std::string> hset{"HSET", mk};
    for (const auto& [cid, meta] : members) {
      hset.push_back(cid);
      hset.push_back(meta);
      if (hset.size() >= 2 + 2 * 512) {
        fire(pub, std::move(hset));
        hset = {"HSET", mk};
      }
    }
    if (hset.size() > 2) {
      fire(pub, std::move(hset));
    }
    fire(pub, {"PEXPIRE", mk, ttl_ms()});
    fire(pub, {"SADD", server_groups_key(id), group});
    fire(pub, {"PEXPIRE", server_groups_key(id), ttl_ms()});
  }

  Task<> run(std::shared_ptr<std::promise<std::string>> first) {
    auto self = shared_from_this();
    std::mt19937_64 rng(std::random_device{}());
    auto backoff = options.reconnect_min;
    std::string last_error;
    asio::steady_timer delay(io);
    while (!stopping) {
      set_state(ChannelLayerState::connecting);
      const std::string err = co_await connect_pair();
      if (first) {
        first->set_value(err);
        first.reset();
        if (!err.empty()) {
          co_return;  // start() throws with it
        }
      }
      if (stopping) {
        break;
      }
      if (err.empty()) {
        set_state(ChannelLayerState::up);
        backoff = options.reconnect_min;
        last_error.clear();
        if (const auto missed = not_published.load() - not_published_at_loss; generation > 1 && missed != 0) {
          log(LogLevel::warning, "redis", "group messages that reached only this server's members while Redis was away",
              {{"count", missed}});
        }
        asio::co_spawn(io, heartbeat(generation), asio::detached);
        lost.emplace(io);
        lost->expires_at(asio::steady_timer::time_point::max());
        co_await lost->async_wait(awaitable);
        if (stopping) {
          break;
        }
        ++reconnects;
        continue;  // reconnect at once the first time; backoff if that fails
      }
      if (err != last_error) {
        log(LogLevel::warning, "redis", "channel layer cannot connect to Redis (retrying): " + err);
        last_error = err;
      }
      std::uniform_int_distribution<std::int64_t> jitter(0, backoff.count());
      delay.expires_after(std::chrono::milliseconds(jitter(rng)));
      co_await delay.async_wait(awaitable);
      backoff = std::min(backoff * 2, options.reconnect_max);
    }
  }

  /// Refreshes this server's keys every third of membership_ttl while its connection lasts.
  Task<> heartbeat(std::uint64_t gen) {
    auto self = shared_from_this();
    beat.emplace(io);
    auto& timer = *beat;
    const auto period = std::max(options.membership_ttl / 3, std::chrono::milliseconds(10));
    while (!stopping && gen == generation) {
      const auto limits = host->channel_limits();
      const auto hist_ttl = history_expiry_ms(limits);
      fire(pub, {"ZADD", servers_key(), std::to_string(now_ms() + options.membership_ttl.count()), id});
      fire(pub, {"ZREMRANGEBYSCORE", servers_key(), "-inf", std::to_string(now_ms())});
      fire(pub, {"PEXPIRE", server_groups_key(id), ttl_ms()});
      for (const auto& [group, members] : local) {
        fire(pub, {"PEXPIRE", members_key(id, group), ttl_ms()});
        if (hist_ttl > 0) {
          fire(pub, {"PEXPIRE", history_key(group), std::to_string(hist_ttl)});
          fire(pub, {"PEXPIRE", history_meta_key(group), std::to_string(hist_ttl)});
        }
      }
      timer.expires_after(period);
      co_await timer.async_wait(awaitable);
    }
  }

  // ---- membership (posted by the registry) -----------------------------------------------------

  void joined(const std::string& group, const std::string& cid, std::string meta) {
    auto [it, created] = local.try_emplace(group);
    it->second.insert_or_assign(cid, meta);
    if (!up()) {
      return;  // written when connected again (resync)
    }
    if (created) {
      subscribe_group(group);
      fire(pub, {"SADD", server_groups_key(id), group});
      fire(pub, {"PEXPIRE", server_groups_key(id), ttl_ms()});
    }
    fire(pub, {"HSET", members_key(id, group), cid, std::move(meta)});
    fire(pub, {"PEXPIRE", members_key(id, group), ttl_ms()});
  }

  void left(const std::string& group, const std::string& cid) {
    auto it = local.find(group);
    if (it == local.end() || it->second.erase(cid) == 0) {
      return;
    }
    const bool last = it->second.empty();
    if (last) {
      local.erase(it);
    }
    if (!up()) {
      return;
    }
    if (last) {
      sub->unsubscribe(group_channel(group));
      fire(pub, {"SREM", server_groups_key(id), group});
      fire(pub, {"DEL", members_key(id, group)});
    } else {
      fire(pub, {"HDEL", members_key(id, group), cid});
    }
  }

  // ---- what arrives on the subscriptions -------------------------------------------------------

  void on_message(std::string_view channel, std::string_view payload) {
    if (payload.size() > options.max_message_bytes + wire::max_header_bytes) {
      ++malformed;
      return;
    }
    if (channel.size() > group_prefix.size() && channel.starts_with(group_prefix)) {
      on_group_message(channel.substr(group_prefix.size()), payload);
    } else if (channel == all_name) {
      on_send_to(payload);
    } else if (channel == self_name) {
      on_answer(payload);
    } else {
      ++malformed;
    }
  }

  void on_group_message(std::string_view group, std::string_view line) {
    auto g = wire::parse_group(line);
    if (!g) {
      ++malformed;
      return;
    }
    LayerMessage message = to_message(*g);
    message.from_self = g->origin == id;
    if (message.from_self) {
      if (message.offset != 0) {
        host->deliver_group(group, message);  // this server's copy of the history
      }
      return;
    }
    if (!wire::acceptable_payload(g->kind, g->payload)) {
      ++malformed;
      return;
    }
    ++received;
    host->deliver_group(group, message);
    flush_deliveries_later();
  }

  bool deliveries_flush_posted = false;
  /// host->flush_deliveries() once this turn of the layer's loop is over (after the read that
  /// brought the message, with every other message it brought).
  void flush_deliveries_later() {
    if (!deliveries_flush_posted) {
      deliveries_flush_posted = true;
      asio::post(io, [self = shared_from_this()] {
        self->deliveries_flush_posted = false;
        self->host->flush_deliveries();
      });
    }
  }

  void on_send_to(std::string_view line) {
    const auto req = wire::parse_send_to(line);
    if (req && req->origin == id) {
      return;  // our own request
    }
    if (!req || !wire::acceptable_payload(req->kind, req->payload)) {
      ++malformed;
      return;
    }
    ++received;
    std::weak_ptr<Impl> weak = weak_from_this();
    host->deliver_channel(req->channel_id, from_wire(req->kind), req->payload,
                          [weak, origin = std::string(req->origin), r = req->request](bool ok) {
                            auto self = weak.lock();
                            if (!self) {
                              return;
                            }
                            asio::post(self->io, [self, origin, r, ok] {
                              self->fire(self->pub, {"PUBLISH", self->server_channel(origin),
                                                     wire::encode_answer({self->id, r, ok})});
                            });
                          });
  }

  void on_answer(std::string_view line) {
    const auto a = wire::parse_answer(line);
    if (!a) {
      ++malformed;
      return;
    }
    auto it = requests.find(a->request);
    if (it == requests.end()) {
      return;  // answered after its time ran out
    }
    ++it->second->answered;
    it->second->ok = it->second->ok || a->delivered;
    it->second->check();
  }

  // ---- the calls of the registry, on the layer's thread ----------------------------------------

  // ---- publishing: the registry's threads queue, the layer's thread drains ---------------------
  //
  // One queue for every publisher: a publish is appended under a mutex and the layer's thread is
  // woken only when the queue was empty, so a burst of group_sends costs one wake-up and leaves
  // in one write; each reply completes its publisher on the publisher's own executor.

  using PublishHandler = asio::detail::awaitable_handler<asio::any_io_executor, LayerPublishResult>;
  static constexpr std::size_t sha_size = 40;  // an SHA-1 in hex, as EVALSHA takes it

  struct PublishRequest {
    std::string command;     // RESP, built by the publisher; EVALSHA's SHA goes at sha_at
    std::size_t sha_at = 0;  // scripted only
    bool scripted = false;
    bool local_members = false;
    std::uint64_t seq = 0;  // set when it is sent: its reply finds it by this
    std::optional<PublishHandler> handler;
    // Tracked: the publisher's event loop has outstanding work until the result is handed over,
    // so it cannot run out of work (and be torn down) meanwhile.
    std::optional<asio::any_io_executor> work;
  };
  std::mutex queue_mutex;
  std::vector<PublishRequest> queue;     // guarded by queue_mutex
  std::vector<PublishRequest> draining;  // the layer's thread's
  std::deque<PublishRequest> sent;       // sent on `pub`, in the order of their replies
  std::uint64_t next_seq = 1;

  // Results are handed back in batches: every result completed while the layer's thread handles
  // one read of replies goes to its publisher's loop in one task (one wake-up per batch, not one
  // per group_send: on a loop shared with the layer's thread that was a context switch each).
  struct Completed {
    PublishHandler handler;
    asio::any_io_executor work;
    LayerPublishResult result;
  };
  std::vector<Completed> completed;  // the layer's thread's (or stop()'s, once it has joined)
  bool flush_posted = false;

  void enqueue(PublishRequest r) {
    bool wake = false;
    const asio::any_io_executor caller = *r.work;
    {
      std::lock_guard lock(queue_mutex);
      wake = queue.empty();
      queue.push_back(std::move(r));
    }
    if (wake) {
      // The layer's thread is woken once the publisher's loop has run what it was running: the
      // group_sends its other handlers start meanwhile join this batch (woken at once, the layer's
      // thread can take the core from the publisher's and leave with a batch of one).
      asio::post(caller, [self = shared_from_this()] {
        asio::post(self->io, [self] { self->drain(); });
      });
    }
  }

  void drain() {
    {
      std::lock_guard lock(queue_mutex);
      draining.swap(queue);
    }
    for (auto& r : draining) {
      send_publish(std::move(r));
    }
    draining.clear();
  }

  void send_publish(PublishRequest r) {
    if (!up() || (r.scripted && script_sha.size() != sha_size)) {
      finish_publish(r, std::make_error_code(std::errc::not_connected), resp::Value{});
      return;
    }
    if (r.scripted) {
      r.command.replace(r.sha_at, sha_size, script_sha);
    }
    const std::uint64_t seq = next_seq++;
    // Captures two words: std::function keeps it without allocating. Replies come while the
    // layer's thread runs, which holds the Impl.
    const bool queued = pub->send_encoded(r.command, [this, seq](std::error_code ec, resp::Value reply) {
      on_publish_reply(seq, ec, reply);
    });
    if (!queued) {
      finish_publish(r, std::make_error_code(std::errc::resource_unavailable_try_again), resp::Value{});
      return;
    }
    r.seq = seq;
    r.command = std::string();  // in the connection's buffer now
    sent.push_back(std::move(r));
  }

  void on_publish_reply(std::uint64_t seq, std::error_code ec, const resp::Value& reply) {
    auto it = sent.begin();
    if (it == sent.end() || it->seq != seq) {
      it = std::find_if(sent.begin(), sent.end(), [seq](const PublishRequest& r) { return r.seq == seq; });
    }
    if (it == sent.end() || !it->handler) {
      return;  // finished already (the layer stopped meanwhile)
    }
    finish_publish(*it, ec, reply);
    while (!sent.empty() && !sent.front().handler) {
      sent.pop_front();  // finished (its handler is gone); awaitable handlers cannot be moved over
    }
  }

  /// Publishes that will get no reply any more (the layer stopped): not published.
  void abandon_sent() {
    for (PublishRequest& r : sent) {
      if (r.handler) {
        finish_publish(r, std::make_error_code(std::errc::operation_canceled), resp::Value{});
      }
    }
    sent.clear();
  }

  void complete(PublishRequest& r, const LayerPublishResult& result) {
    if (!r.handler) {
      return;
    }
    completed.push_back(Completed{std::move(*r.handler), std::move(*r.work), result});
    r.handler.reset();
    r.work.reset();
    if (!flush_posted) {
      flush_posted = true;
      asio::post(io, [self = shared_from_this()] { self->flush_completions(); });
    }
  }

  /// Hands every completed result to its publisher's loop: one task per loop per batch.
  void flush_completions() {
    flush_posted = false;
    std::vector<Completed> batch;
    batch.swap(completed);
    std::size_t i = 0;
    while (i < batch.size()) {
      std::size_t j = i + 1;
      while (j < batch.size() && batch[j].work == batch[i].work) {
        ++j;
      }
      std::vector<Completed> part;
      if (i == 0 && j == batch.size()) {
        part = std::move(batch);  // the usual case: one publisher loop
      } else {
        part.reserve(j - i);
        std::move(batch.begin() + static_cast<std::ptrdiff_t>(i), batch.begin() + static_cast<std::ptrdiff_t>(j),
                  std::back_inserter(part));
      }
      const asio::any_io_executor ex = part.front().work;
      asio::post(ex, [part = std::move(part)]() mutable {
        for (Completed& c : part) {
          std::move(c.handler)(c.result);
        }
      });
      i = j;
    }
  }

  void finish_publish(PublishRequest& r, std::error_code ec, const resp::Value& reply) {
    pending.fetch_sub(1);
    LayerPublishResult result;
    if (!ec && r.scripted && reply.type == resp::Value::Type::error && reply.str.starts_with("NOSCRIPT")) {
      reload_script();  // the script cache was flushed (SCRIPT FLUSH): this one is not published, the next are
    }
    std::int64_t receivers = 0;
    bool ok = !ec && reply.type != resp::Value::Type::error;
    if (!ok && !ec) {
      log(LogLevel::warning, "redis", "publish failed: " + reply.str);
    }
    if (ok && r.scripted) {
      ok = reply.type == resp::Value::Type::array && reply.elements.size() == 2;
      if (ok) {
        if (reply.elements[0].integer > 0) {
          result.history_offset = static_cast<std::uint64_t>(reply.elements[0].integer);
        }
        receivers = reply.elements[1].integer;
      }
    } else if (ok) {
      receivers = reply.integer;
    }
    if (!ok) {
      ++not_published;
      complete(r, result);
      return;
    }
    ++published;
    result.published = true;
    // This server is one of the receivers when it has members (it subscribes to the group).
    const std::int64_t others = receivers - (r.local_members ? 1 : 0);
    result.servers = others > 0 ? static_cast<std::size_t>(others) : 0;
    result.remote_members = result.servers > 0;
    complete(r, result);
  }

  Task<std::optional<bool>> do_send_to(std::string channel_id, Payload::Kind kind, std::string data) {
    if (!up()) {
      co_return std::nullopt;
    }
    const std::uint64_t req = next_request++;
    std::string line = wire::encode_send_to({id, req, to_wire(kind), channel_id, data});
    asio::steady_timer timer(io);
    timer.expires_after(options.send_to_timeout);
    Request r;
    r.timer = &timer;
    requests.emplace(req, &r);
    std::vector<std::string> cmd2{"PUBLISH", all_channel(), std::move(line)};
    auto answer3 = co_await pub->command(std::move(cmd2));
    auto& ec = answer3.first;
    auto& reply = answer3.second;
    if (ec || reply.type != resp::Value::Type::integer) {
      requests.erase(req);
      co_return std::nullopt;
    }
    ++published;
    r.expected = reply.integer > 0 ? static_cast<std::size_t>(reply.integer - 1) : 0;  // not us
    if (!r.ok && r.answered < r.expected) {
      co_await timer.async_wait(awaitable);
    }
    requests.erase(req);
    co_return r.ok;
  }

  Task<std::optional<std::vector<HistoryEntry>>> do_history(std::string group, HistoryQuery query) {
    if (!up()) {
      co_return std::nullopt;
    }
    const std::string start = query.limit != 0 && query.after_offset == 0 ? "-" + std::to_string(query.limit) : "0";
    std::vector<std::string> cmd3{"LRANGE", history_key(group), start, "-1"};
    auto answer4 = co_await pub->command(std::move(cmd3));
    auto& ec = answer4.first;
    auto& reply = answer4.second;
    if (ec || reply.type != resp::Value::Type::array) {
      co_return std::nullopt;
    }
    std::vector<HistoryEntry> out;
    out.reserve(reply.elements.size());
    for (const auto& e : reply.elements) {
      auto g = wire::parse_group(e.str);
      if (!g || g->offset <= query.after_offset) {
        if (!g) {
          ++malformed;
        }
        continue;
      }
      out.push_back(make_history_entry(from_wire(g->kind), g->payload, g->id, g->timestamp, g->offset));
    }
    if (query.limit != 0 && out.size() > query.limit) {
      out.erase(out.begin(), out.end() - static_cast<std::ptrdiff_t>(query.limit));
    }
    co_return out;
  }

  Task<> do_flush(std::string group) {
    if (!up()) {
      co_return;
    }
    if (!group.empty()) {
      fire(pub, {"DEL", history_key(group)});
      fire(pub, {"HDEL", history_meta_key(group), "b"});  // offsets keep increasing
      co_return;
    }
    std::string cursor = "0";
    do {
      std::vector<std::string> cmd4{"SCAN", cursor, "MATCH", history_key("*"), "COUNT", "1000"};
      auto answer5 = co_await pub->command(std::move(cmd4));
      auto& ec = answer5.first;
      auto& reply = answer5.second;
      if (ec || reply.type != resp::Value::Type::array || reply.elements.size() != 2) {
        co_return;
      }
      cursor = reply.elements[0].str;
      for (const auto& k : reply.elements[1].elements) {
        fire(pub, {"DEL", k.str});
        fire(pub, {"HDEL", prefix + "hm:" + k.str.substr(history_key("").size()), "b"});
      }
    } while (cursor != "0");
  }

  Task<std::optional<std::map<std::string, std::vector<ClusterMember>>>> do_groups(std::string only) {
    if (!up()) {
      co_return std::nullopt;
    }
    std::vector<std::string> cmd5{"ZRANGEBYSCORE", servers_key(), std::to_string(now_ms()), "+inf"};
    auto answer6 = co_await pub->command(std::move(cmd5));
    auto& ec = answer6.first;
    auto& reply = answer6.second;
    if (ec || reply.type != resp::Value::Type::array) {
      co_return std::nullopt;
    }
    std::vector<std::string> servers;
    for (auto& e : reply.elements) {
      servers.push_back(std::move(e.str));
    }
    // (server, group) pairs to read.
    std::vector<std::pair<std::string, std::string>> pairs;
    if (!only.empty()) {
      for (const auto& s : servers) {
        pairs.emplace_back(s, only);
      }
    } else {
      std::vector<std::vector<std::string>> cmds;
      for (const auto& s : servers) {
        cmds.push_back({"SMEMBERS", server_groups_key(s)});
      }
      auto sets = co_await batch(std::move(cmds));
      if (!sets) {
        co_return std::nullopt;
      }
      for (std::size_t i = 0; i < servers.size(); ++i) {
        for (auto& g : (*sets)[i].elements) {
          pairs.emplace_back(servers[i], std::move(g.str));
        }
      }
    }
    std::vector<std::vector<std::string>> cmds;
    for (const auto& [s, g] : pairs) {
      cmds.push_back({"HGETALL", members_key(s, g)});
    }
    auto hashes = co_await batch(std::move(cmds));
    if (!hashes) {
      co_return std::nullopt;
    }
    std::map<std::string, std::vector<ClusterMember>> out;
    for (std::size_t i = 0; i < pairs.size(); ++i) {
      const auto& fields = (*hashes)[i].elements;
      if (fields.empty()) {
        continue;
      }
      auto& members = out[pairs[i].second];
      for (std::size_t k = 0; k + 1 < fields.size(); k += 2) {
        ClusterMember m;
        m.channel_id = fields[k].str;
        m.server_id = pairs[i].first;
        boost::system::error_code jec;
        auto v = detail::parse_json(fields[k + 1].str, jec);
        if (!jec && v.is_object()) {
          m.metadata = std::move(v.as_object());
        } else {
          ++malformed;
        }
        members.push_back(std::move(m));
      }
    }
    co_return out;
  }

  void reload_script() {
    if (!pub || !pub->is_open()) {
      return;
    }
    std::weak_ptr<Impl> weak = weak_from_this();
    pub->send({"SCRIPT", "LOAD", save_script}, [weak](std::error_code ec, resp::Value reply) {
      auto self = weak.lock();
      if (self && !ec && reply.type == resp::Value::Type::bulk) {
        self->script_sha = std::move(reply.str);
      }
    });
  }

  void stop_on_thread(const std::shared_ptr<std::promise<void>>& done) {
    stopping = true;
    set_state(ChannelLayerState::down);  // publishes from now on are not published
    drain();
    if (beat) {
      beat->cancel();
    }
    for (auto& [r, req] : requests) {
      req->timer->cancel();
    }
    // Forget this server's members in Redis at once (they would expire anyway).
    if (pub && pub->is_open()) {
      for (const auto& [group, members] : local) {
        fire(pub, {"DEL", members_key(id, group)});
      }
      fire(pub, {"DEL", server_groups_key(id)});
      auto p = pub;
      auto s = sub;
      const bool queued = p->send({"ZREM", servers_key(), id}, [p, s, done](std::error_code, resp::Value) {
        p->close();
        if (s) {
          s->close();
        }
        done->set_value();
      });
      if (lost) {
        lost->cancel();
      }
      if (queued) {
        return;
      }
    }
    if (pub) {
      pub->close();
    }
    if (sub) {
      sub->close();
    }
    if (lost) {
      lost->cancel();
    }
    done->set_value();
  }
};

// =================================================================================================
// RedisLayer
// =================================================================================================

RedisLayer::RedisLayer(RedisLayerOptions options) : impl_(std::make_shared<Impl>(std::move(options))) {
  impl_->config = redis::detail::connection_config(impl_->options);  // throws std::invalid_argument
  impl_->prefix = impl_->options.key_prefix;
}

RedisLayer::~RedisLayer() = default;

const RedisLayerOptions& RedisLayer::options() const noexcept { return impl_->options; }

void RedisLayer::start(Host& host) {
  auto impl = impl_;
  if (impl->thread.joinable()) {
    throw std::logic_error("RedisLayer: started already");
  }
  impl->host = &host;
  impl->stopping = false;
  std::string uuid = detail::uuid4();
  uuid.erase(std::remove(uuid.begin(), uuid.end(), '-'), uuid.end());
  impl->id = std::move(uuid);
  impl->group_prefix = impl->prefix + "g:";
  impl->all_name = impl->all_channel();
  impl->self_name = impl->server_channel(impl->id);
  impl->io.restart();
  impl->work.emplace(impl->io.get_executor());
  impl->ran_out = std::promise<void>();
  impl->thread = std::thread([impl] {
    impl->io.run();
    impl->ran_out.set_value();
  });
  auto first = std::make_shared<std::promise<std::string>>();
  auto result = first->get_future();
  asio::co_spawn(impl->io, impl->run(first), asio::detached);
  const std::string err = result.get();
  if (!err.empty()) {
    impl->work.reset();
    impl->io.stop();
    impl->thread.join();
    impl->set_state(ChannelLayerState::down);
    throw std::runtime_error("Redis channel layer: cannot use " + redis::detail::describe(impl->config) + ": " + err);
  }
}

void RedisLayer::stop() noexcept {
  auto impl = impl_;
  if (!impl->thread.joinable()) {
    return;
  }
  auto done = std::make_shared<std::promise<void>>();
  auto finished = done->get_future();
  asio::post(impl->io, [impl, done] { impl->stop_on_thread(done); });
  // Bounded: a Redis that does not answer does not hold the shutdown.
  (void)finished.wait_for(impl->options.reply_timeout);
  // Then the loop runs out of work (every timer cancelled, both connections closed), so that
  // nothing waiting in it keeps the layer alive; a loop that does not, is stopped.
  impl->work.reset();
  (void)impl->ran_out.get_future().wait_for(impl->options.reply_timeout);
  impl->io.stop();
  impl->thread.join();
  // Publishes queued after the layer's thread stopped, or sent and never answered: not
  // published, never lost; their results go to their publishers now.
  impl->drain();
  impl->abandon_sent();
  impl->flush_completions();
  impl->deliveries_flush_posted = false;
  impl->host->flush_deliveries();  // what the last read brought goes to the members
  impl->pub.reset();
  impl->sub.reset();
  impl->lost.reset();
  impl->beat.reset();
  impl->set_state(ChannelLayerState::down);
}

std::string RedisLayer::server_id() const { return impl_->id; }

ChannelLayerState RedisLayer::state() const noexcept { return impl_->state_.load(); }

ChannelLayerStats RedisLayer::stats() const {
  ChannelLayerStats st;
  st.state = impl_->state_.load();
  st.published = impl_->published.load();
  st.not_published = impl_->not_published.load();
  st.pending_full = impl_->pending_full.load();
  st.received = impl_->received.load();
  st.malformed = impl_->malformed.load();
  st.reconnects = impl_->reconnects.load();
  st.pending = impl_->pending.load();
  return st;
}

void RedisLayer::member_joined(std::string_view group, const Channel& channel, bool /*first*/) {
  asio::post(impl_->io, [impl = impl_, g = std::string(group), cid = channel.id(),
                         meta = boost::json::serialize(channel.metadata())]() mutable {
    impl->joined(g, cid, std::move(meta));
  });
}

void RedisLayer::member_left(std::string_view group, std::string_view channel_id, bool /*last*/) {
  asio::post(impl_->io, [impl = impl_, g = std::string(group), cid = std::string(channel_id)] { impl->left(g, cid); });
}

Task<LayerPublishResult> RedisLayer::publish(std::string_view group, const LayerMessage& message, bool save_history,
                                             bool local_members) {
  auto impl = impl_;
  if (impl->state_.load() != ChannelLayerState::up || message.data.size() > impl->options.max_message_bytes) {
    ++impl->not_published;
    co_return LayerPublishResult{};
  }
  if (impl->pending.fetch_add(1) >= impl->options.max_pending_publishes) {
    impl->pending.fetch_sub(1);
    ++impl->pending_full;
    ++impl->not_published;
    co_return LayerPublishResult{};
  }
  wire::GroupLine line;
  line.origin = impl->id;
  line.kind = to_wire(message.kind);
  line.id = message.id;
  line.timestamp = message.timestamp;
  line.footprint = message.footprint;
  // The line's fixed parts, in buffers of this thread's that stop allocating once warm.
  thread_local std::string head;
  thread_local std::string tail;
  head.clear();
  tail.clear();
  wire::append_group_head(head, line.origin, line.kind);
  wire::append_group_tail(tail, line);
  // One argument written in pieces: prefix, what, group.
  const auto key_arg = [&impl, group](std::string& out, std::string_view what) {
    resp::begin_arg(out, impl->prefix.size() + what.size() + group.size());
    out.append(impl->prefix).append(what).append(group);
    resp::end_arg(out);
  };
  const auto number_arg = [](std::string& out, std::uint64_t n) {
    char digits[24];
    const auto r = std::to_chars(std::begin(digits), std::end(digits), n);
    resp::append_arg(out, std::string_view(digits, static_cast<std::size_t>(r.ptr - digits)));
  };
  Impl::PublishRequest r;
  r.scripted = save_history;
  r.local_members = local_members;
  std::string& cmd = r.command;
  cmd.reserve(3 * impl->prefix.size() + 3 * group.size() + head.size() + tail.size() + message.data.size() + 192);
  if (save_history) {
    const ChannelLimits limits = impl->host->channel_limits();
    const std::size_t overhead = history_group_overhead(group);
    const std::size_t cap = std::min(limits.history_max_bytes, limits.history_max_total_bytes);
    const std::size_t max_bytes = cap > overhead ? cap - overhead : 0;
    resp::begin_command(cmd, 14);
    resp::append_arg(cmd, "EVALSHA");
    resp::begin_arg(cmd, Impl::sha_size);
    r.sha_at = cmd.size();
    cmd.append(Impl::sha_size, '0');  // the script's SHA, filled in on the layer's thread
    resp::end_arg(cmd);
    resp::append_arg(cmd, "3");
    key_arg(cmd, "h:");
    key_arg(cmd, "hm:");
    key_arg(cmd, "g:");
    resp::append_arg(cmd, head);
    resp::append_arg(cmd, tail);
    resp::append_arg(cmd, message.data);
    number_arg(cmd, message.footprint);
    number_arg(cmd, limits.history_max_count);
    number_arg(cmd, max_bytes);
    number_arg(cmd, static_cast<std::uint64_t>(impl->history_expiry_ms(limits)));
    resp::append_arg(cmd, local_members ? "1" : "0");
  } else {
    resp::begin_command(cmd, 3);
    resp::append_arg(cmd, "PUBLISH");
    key_arg(cmd, "g:");
    resp::begin_arg(cmd, head.size() + 1 + tail.size() + message.data.size());
    cmd.append(head).append(1, '0').append(tail).append(message.data);
    resp::end_arg(cmd);
  }
  co_return co_await asio::async_initiate<const asio::use_awaitable_t<>&, void(LayerPublishResult)>(
      [&](auto handler) {
        // The result goes back through the publisher's executor (never runs it on the layer's thread).
        r.work.emplace(asio::prefer(asio::get_associated_executor(handler), asio::execution::outstanding_work.tracked));
        r.handler.emplace(std::move(handler));
        impl->enqueue(std::move(r));
      },
      asio::use_awaitable);
}

Task<std::optional<bool>> RedisLayer::send_to(std::string_view channel_id, Payload::Kind kind, std::string data) {
  auto impl = impl_;
  if (impl->state_.load() != ChannelLayerState::up || data.size() > impl->options.max_message_bytes ||
      channel_id.empty() || channel_id.size() > wire::max_origin_bytes || channel_id.find('|') != std::string_view::npos) {
    co_return std::nullopt;
  }
  co_return co_await asio::co_spawn(impl->io, impl->do_send_to(std::string(channel_id), kind, std::move(data)),
                                    asio::use_awaitable);
}

Task<std::optional<std::vector<HistoryEntry>>> RedisLayer::history(std::string_view group, HistoryQuery query) {
  auto impl = impl_;
  co_return co_await asio::co_spawn(impl->io, impl->do_history(std::string(group), query), asio::use_awaitable);
}

void RedisLayer::flush_history(std::string_view group) {
  asio::co_spawn(impl_->io, impl_->do_flush(std::string(group)), asio::detached);
}

Task<std::optional<std::map<std::string, std::vector<ClusterMember>>>> RedisLayer::groups(std::string_view only) {
  auto impl = impl_;
  co_return co_await asio::co_spawn(impl->io, impl->do_groups(std::string(only)), asio::use_awaitable);
}

}  // namespace nexios
