// The Redis channel layer benchmark (issue 9, "Proof: a benchmark scenario"): group_send through
// the public API, to members that are real WebSocket connections of an in-process nx::App.
//
//   redis_layer_bench --mode memory|redis1|redis2|publish [--redis URL] [--members N] [--publishers K]
//                     [--seconds S] [--payload BYTES] [--max-lag MESSAGES]
//
// memory: one registry without a layer, every member local. redis1: the publishers use registry A
// (a RedisLayer, no members), the members are in registry B (another RedisLayer): every message
// crosses Redis. redis2: publishers and members on both A and B, half each (two servers).
// publish: the publishers use registry A and the group has no members anywhere (--members 0):
// what one server's group_send costs to publish, against redis-benchmark's PUBLISH to a channel
// without subscribers.
//
// Flow control (--max-lag, default 64): a publisher waits while the members are more than that
// many messages behind, so the figures are a sustained rate and no member becomes a slow consumer;
// --max-lag 0 is open loop (group_send completes once the message is queued and, with a layer,
// once Redis answered the PUBLISH: then it measures the publishing side alone).
//
// The clients are raw TCP sockets on one epoll thread of their own (handshake by hand, then they
// only read and count frames; client 0 also parses the send time each message carries). Prints one
// JSON object on stdout. Bounded: at most --seconds of load, at most 5,000 members, loopback only.

#include <nexios/nexios.hpp>
#include <nexios/redis.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/json.hpp>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace nx = nexios;
namespace asio = boost::asio;
using namespace std::chrono_literals;

namespace {

constexpr std::size_t max_members = 5000;
constexpr const char* group_name = "bench";

std::int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

double thread_cpu_seconds(clockid_t clock) {
  timespec ts{};
  if (::clock_gettime(clock, &ts) != 0) {
    return 0;
  }
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

double process_cpu_seconds() {
  rusage ru{};
  ::getrusage(RUSAGE_SELF, &ru);
  auto tv = [](const timeval& t) { return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6; };
  return tv(ru.ru_utime) + tv(ru.ru_stime);
}

[[noreturn]] void usage(const std::string& why) {
  std::fprintf(stderr,
               "redis_layer_bench: %s\nusage: redis_layer_bench --mode memory|redis1|redis2 [--redis URL] "
               "[--members N] [--publishers K] [--seconds S] [--payload BYTES] [--max-lag MESSAGES]\n",
               why.c_str());
  std::exit(2);
}

struct Options {
  std::string mode = "memory";
  std::string redis;
  std::size_t members = 100;
  std::size_t publishers = 64;
  double seconds = 5;
  std::size_t payload = 64;
  // Flow control: a publisher waits while the members are more than this many messages behind
  // (0: open loop, group_send as fast as it completes; the members' send queues then fill up).
  std::size_t max_lag = 64;
};

std::size_t parse_size(const std::string& name, const char* v) {
  std::size_t n = 0;
  const std::string_view s(v);
  const auto r = std::from_chars(s.data(), s.data() + s.size(), n);
  if (r.ec != std::errc{} || r.ptr != s.data() + s.size()) {
    usage("bad " + name + ": " + std::string(s));
  }
  return n;
}

Options parse_options(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (i + 1 >= argc) {
      usage("missing value after " + a);
    }
    const char* v = argv[++i];
    if (a == "--mode") {
      o.mode = v;
    } else if (a == "--redis") {
      o.redis = v;
    } else if (a == "--members") {
      o.members = parse_size(a, v);
    } else if (a == "--publishers") {
      o.publishers = parse_size(a, v);
    } else if (a == "--seconds") {
      o.seconds = std::strtod(v, nullptr);
    } else if (a == "--payload") {
      o.payload = parse_size(a, v);
    } else if (a == "--max-lag") {
      o.max_lag = parse_size(a, v);
    } else {
      usage("unknown option " + a);
    }
  }
  if (o.mode != "memory" && o.mode != "redis1" && o.mode != "redis2" && o.mode != "publish") {
    usage("--mode is memory, redis1, redis2 or publish");
  }
  if (o.mode != "memory" && o.redis.empty()) {
    usage("--redis URL is required for mode " + o.mode);
  }
  if (o.mode == "publish" && o.members != 0) {
    usage("--mode publish has no members (--members 0)");
  }
  if (o.mode != "publish" && (o.members < 1 || o.members > max_members)) {
    usage("--members is 1.." + std::to_string(max_members));
  }
  if (o.mode == "redis2" && o.members < 2) {
    usage("--mode redis2 needs at least 2 members");
  }
  if (o.publishers < 1 || o.publishers > 10'000) {
    usage("--publishers is 1..10000");
  }
  if (!(o.seconds > 0 && o.seconds <= 600)) {
    usage("--seconds is in (0, 600]");
  }
  if (o.payload > 1024 * 1024) {
    usage("--payload is at most 1 MiB");
  }
  return o;
}

// ---- the clients: raw sockets, one epoll thread ---------------------------------------------------

struct ClientConn {
  int fd = -1;
  std::string buf;  // bytes not yet parsed (a partial frame)
  bool sample = false;
};

// Connects and upgrades one socket (blocking); returns it non-blocking, with what followed the
// response's header (if anything) in `rest`.
int connect_member(std::uint16_t port, const std::string& path, std::string& rest) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    throw std::runtime_error(std::string("socket: ") + std::strerror(errno));
  }
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    throw std::runtime_error(std::string("connect: ") + std::strerror(errno));
  }
  timeval tv{.tv_sec = 10, .tv_usec = 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  const std::string req = "GET " + path +
                          " HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                          "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
  if (::send(fd, req.data(), req.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(req.size())) {
    ::close(fd);
    throw std::runtime_error("handshake: short write");
  }
  std::string resp;
  char tmp[4096];
  std::size_t end = std::string::npos;
  while ((end = resp.find("\r\n\r\n")) == std::string::npos) {
    const ssize_t n = ::recv(fd, tmp, sizeof tmp, 0);
    if (n <= 0) {
      ::close(fd);
      throw std::runtime_error("handshake: no response");
    }
    resp.append(tmp, static_cast<std::size_t>(n));
  }
  if (resp.compare(0, 12, "HTTP/1.1 101") != 0) {
    ::close(fd);
    throw std::runtime_error("handshake refused: " + resp.substr(0, resp.find("\r\n")));
  }
  rest = resp.substr(end + 4);
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
  return fd;
}

class Clients {
 public:
  explicit Clients(std::vector<ClientConn> conns) : conns_(std::move(conns)) {
    samples_.reserve(1 << 20);
    ep_ = ::epoll_create1(EPOLL_CLOEXEC);
    for (std::size_t i = 0; i < conns_.size(); ++i) {
      epoll_event ev{};
      ev.events = EPOLLIN;
      ev.data.u64 = i;
      ::epoll_ctl(ep_, EPOLL_CTL_ADD, conns_[i].fd, &ev);
    }
    for (auto& c : conns_) {
      parse(c);  // frames that came with the handshake response
    }
    thread_ = std::thread([this] { loop(); });
    pthread_getcpuclockid(thread_.native_handle(), &cpu_clock_);
  }
  ~Clients() { stop(); }
  Clients(const Clients&) = delete;
  Clients& operator=(const Clients&) = delete;

  void stop() {
    if (thread_.joinable()) {
      stop_.store(true);
      thread_.join();
      // The thread is gone: its clock was read last in loop() (cpu_at_exit_).
      for (auto& c : conns_) {
        ::close(c.fd);
      }
      ::close(ep_);
    }
  }

  [[nodiscard]] std::uint64_t frames() const { return frames_.load(std::memory_order_relaxed); }
  [[nodiscard]] std::uint64_t closed() const { return closed_.load(std::memory_order_relaxed); }
  [[nodiscard]] double cpu_seconds() const {
    return thread_.joinable() ? thread_cpu_seconds(cpu_clock_) : cpu_at_exit_;
  }
  // Latencies (ns) of the sampled client's frames received between `from` and `to` (send times).
  void latencies(std::int64_t from, std::int64_t to, std::vector<std::int64_t>& out) {
    std::lock_guard lock(samples_mutex_);
    for (const auto& s : samples_) {
      if (s.first >= from && s.first < to) {
        out.push_back(s.second - s.first);
      }
    }
  }

 private:
  void loop() {
    std::vector<epoll_event> events(256);
    std::vector<char> tmp(1 << 16);
    while (!stop_.load(std::memory_order_relaxed)) {
      const int n = ::epoll_wait(ep_, events.data(), static_cast<int>(events.size()), 20);
      for (int i = 0; i < n; ++i) {
        ClientConn& c = conns_[events[static_cast<std::size_t>(i)].data.u64];
        for (;;) {
          const ssize_t r = ::recv(c.fd, tmp.data(), tmp.size(), 0);
          if (r > 0) {
            c.buf.append(tmp.data(), static_cast<std::size_t>(r));
            if (static_cast<std::size_t>(r) < tmp.size()) {
              break;
            }
            continue;
          }
          if (r == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
            ::epoll_ctl(ep_, EPOLL_CTL_DEL, c.fd, nullptr);
            closed_.fetch_add(1, std::memory_order_relaxed);
          }
          break;
        }
        parse(c);
      }
    }
    cpu_at_exit_ = thread_cpu_seconds(CLOCK_THREAD_CPUTIME_ID);
  }

  // Counts the complete frames in c.buf (server frames are unmasked) and keeps the rest.
  void parse(ClientConn& c) {
    std::size_t pos = 0;
    std::uint64_t count = 0;
    const auto* b = reinterpret_cast<const unsigned char*>(c.buf.data());
    const std::size_t size = c.buf.size();
    for (;;) {
      if (size - pos < 2) {
        break;
      }
      std::size_t header = 2;
      std::uint64_t len = b[pos + 1] & 0x7f;
      if (len == 126) {
        header = 4;
        if (size - pos < header) {
          break;
        }
        len = (std::uint64_t{b[pos + 2]} << 8) | b[pos + 3];
      } else if (len == 127) {
        header = 10;
        if (size - pos < header) {
          break;
        }
        len = 0;
        for (int k = 0; k < 8; ++k) {
          len = (len << 8) | b[pos + 2 + static_cast<std::size_t>(k)];
        }
      }
      if (size - pos - header < len) {
        break;
      }
      const unsigned opcode = b[pos] & 0x0f;
      if (opcode == 0x1 || opcode == 0x2) {
        ++count;
        if (c.sample) {
          sample(std::string_view(c.buf.data() + pos + header, static_cast<std::size_t>(len)));
        }
      }
      pos += header + static_cast<std::size_t>(len);
    }
    if (pos > 0) {
      c.buf.erase(0, pos);
    }
    frames_.fetch_add(count, std::memory_order_relaxed);
  }

  void sample(std::string_view text) {
    const auto at = text.find("\"t\":");
    if (at == std::string_view::npos) {
      return;
    }
    std::int64_t sent = 0;
    const char* first = text.data() + at + 4;
    if (std::from_chars(first, text.data() + text.size(), sent).ec != std::errc{}) {
      return;
    }
    std::lock_guard lock(samples_mutex_);
    if (samples_.size() < (std::size_t{1} << 22)) {
      samples_.emplace_back(sent, now_ns());
    }
  }

  std::vector<ClientConn> conns_;
  int ep_ = -1;
  std::thread thread_;
  clockid_t cpu_clock_{};
  double cpu_at_exit_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<std::uint64_t> frames_{0};
  std::atomic<std::uint64_t> closed_{0};
  std::mutex samples_mutex_;
  std::vector<std::pair<std::int64_t, std::int64_t>> samples_;  // (sent, received) ns
};

// ---- the servers ----------------------------------------------------------------------------------

struct Side {
  nx::ChannelRegistry registry;
  std::shared_ptr<nx::RedisLayer> layer;
};

template <class T>
T run_on(asio::io_context& io, nx::Task<T> task) {
  auto f = asio::co_spawn(io, std::move(task), asio::use_future);
  return f.get();
}

nx::Payload make_payload(std::size_t bytes, const std::string& pad) {
  boost::json::object o;
  o["t"] = now_ns();
  if (bytes > 0) {
    o["p"] = pad;
  }
  return nx::Payload(std::move(o));
}

// Pad so that {"t":<19 digits>,"p":"<pad>"} is about `bytes` long.
std::string make_pad(std::size_t bytes) {
  constexpr std::size_t overhead = 32;
  return std::string(bytes > overhead ? bytes - overhead : 0, 'x');
}

template <class F>
bool wait_until(F f, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!f()) {
    if (std::chrono::steady_clock::now() >= deadline) {
      return false;
    }
    std::this_thread::sleep_for(2ms);  // the poll interval between two looks at a condition
  }
  return true;
}

struct PublisherStats {
  std::atomic<std::uint64_t> sends{0};        // completed inside the measured window
  std::atomic<std::uint64_t> all_sends{0};    // completed, from start to end
  std::atomic<std::uint64_t> unpublished{0};  // GroupSendResult::published == false (layer modes)
  std::atomic<std::uint64_t> waits{0};        // times a publisher waited for the members (flow control)
};

// Flow control: how far behind the members may be.
struct Lag {
  const Clients* clients = nullptr;
  std::uint64_t base = 0;     // frames before the load
  std::uint64_t members = 0;  // each group_send reaches every member
  std::uint64_t max = 0;      // messages per member; 0: no flow control
  [[nodiscard]] bool too_far(std::uint64_t sends) const {
    return max > 0 && sends * members > clients->frames() - base + max * members;
  }
};

nx::Task<> publisher(nx::ChannelRegistry& registry, std::string pad, std::size_t bytes, std::int64_t start,
                     std::int64_t end, bool layered, PublisherStats& stats, const Lag& lag) {
  asio::steady_timer timer(co_await asio::this_coro::executor);
  while (now_ns() < end) {
    if (lag.too_far(stats.all_sends.load(std::memory_order_relaxed))) {
      stats.waits.fetch_add(1, std::memory_order_relaxed);
      timer.expires_after(100us);  // the members are behind: look again in a moment
      co_await timer.async_wait(asio::use_awaitable);
      continue;
    }
    const std::int64_t sent = now_ns();
    nx::GroupSendResult r = co_await registry.group_send(group_name, make_payload(bytes, pad), false);
    stats.all_sends.fetch_add(1, std::memory_order_relaxed);
    if (sent >= start) {
      stats.sends.fetch_add(1, std::memory_order_relaxed);
    }
    if (layered && !r.published) {
      stats.unpublished.fetch_add(1, std::memory_order_relaxed);
    }
  }
}

double percentile(std::vector<std::int64_t>& v, double p) {
  if (v.empty()) {
    return 0;
  }
  const auto k = static_cast<std::size_t>(p * static_cast<double>(v.size() - 1));
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(k), v.end());
  return static_cast<double>(v[k]);
}

int run_bench(const Options& opt) {
  // Up to 5,000 members: two descriptors each in this process.
  rlimit rl{};
  if (::getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &rl);
  }
  const bool layered = opt.mode != "memory";
  const std::string prefix = "bench" + std::to_string(::getpid()) + ":";

  Side a;
  Side b;
  if (layered) {
    for (Side* side : {&a, &b}) {
      nx::RedisLayerOptions o;
      o.url = opt.redis;
      o.key_prefix = prefix;
      side->layer = std::make_shared<nx::RedisLayer>(o);
      side->registry.start_layer(side->layer);
    }
  }
  std::atomic<std::size_t> joined{0};
  std::atomic<std::size_t> refused{0};
  nx::App app;
  // Every member comes from 127.0.0.1, many at once.
  app.limits.max_connections_per_address = max_members + 16;
  app.limits.max_connection_rate_per_address = 0;
  app.ws_route("/join/{side}", [&](nx::WebSocket ws) -> nx::Task<> {
    co_await ws.accept();
    nx::Channel channel(ws, nx::PayloadTypeEnum::JSON, 0);
    Side& side = ws.path_params().at("side") == "a" ? a : b;
    if (nx::is_member(side.registry.add_channel_to_group(channel, group_name))) {
      joined.fetch_add(1);
    } else {
      refused.fetch_add(1);
    }
    try {
      for (;;) {
        co_await ws.receive_text();
      }
    } catch (const nx::WebSocketDisconnect&) {
    }
  });
  const std::uint16_t port = app.start({.host = "127.0.0.1", .port = 0, .threads = 1});

  // Members: memory all on A; redis1 all on B; redis2 half on each.
  std::vector<ClientConn> conns;
  conns.reserve(opt.members);
  std::size_t on_a = 0;
  for (std::size_t i = 0; i < opt.members; ++i) {
    const bool side_a = opt.mode == "memory" || (opt.mode == "redis2" && i % 2 == 0);
    on_a += side_a ? 1 : 0;
    ClientConn c;
    c.fd = connect_member(port, side_a ? "/join/a" : "/join/b", c.buf);
    c.sample = i == 0;
    conns.push_back(std::move(c));
  }
  if (!wait_until([&] { return joined.load() + refused.load() >= opt.members; }, 30s) || refused.load() > 0) {
    throw std::runtime_error("members did not join: " + std::to_string(joined.load()) + " joined, " +
                             std::to_string(refused.load()) + " refused");
  }
  Clients clients(std::move(conns));

  asio::io_context pub_io;
  auto work = asio::make_work_guard(pub_io);
  std::thread pub_thread([&] { pub_io.run(); });

  // Ready: every server with members is subscribed (Redis says how many other servers received a
  // message), and every member gets what is sent now.
  const std::string pad = make_pad(opt.payload);
  if (layered && opt.mode != "publish") {
    std::vector<nx::ChannelRegistry*> from{&a.registry};
    if (opt.mode == "redis2") {
      from.push_back(&b.registry);
    }
    for (nx::ChannelRegistry* r : from) {
      const bool ok = wait_until(
          [&] {
            nx::GroupSendResult res = run_on(pub_io, r->group_send(group_name, make_payload(opt.payload, pad), false));
            return res.published && res.servers >= 1;
          },
          30s);
      if (!ok) {
        throw std::runtime_error("the other server never subscribed to the group");
      }
    }
  }
  // The warm-up messages have arrived when the count stops moving.
  {
    std::uint64_t last = clients.frames();
    auto still = std::chrono::steady_clock::now();
    wait_until(
        [&] {
          const std::uint64_t f = clients.frames();
          if (f != last) {
            last = f;
            still = std::chrono::steady_clock::now();
          }
          return std::chrono::steady_clock::now() - still > 200ms;
        },
        10s);
  }
  const std::uint64_t frames_before = clients.frames();
  const auto stats_before_a = layered ? a.layer->stats() : nx::ChannelLayerStats{};
  const auto stats_before_b = layered ? b.layer->stats() : nx::ChannelLayerStats{};

  // Load: K publishers (split over A and B in redis2) for --seconds.
  PublisherStats ps;
  const Lag lag{.clients = &clients, .base = frames_before, .members = opt.members, .max = opt.max_lag};
  const std::int64_t start = now_ns() + 20'000'000;  // 20 ms for the publishers to get going
  const std::int64_t end = start + static_cast<std::int64_t>(opt.seconds * 1e9);
  std::vector<std::future<void>> done;
  for (std::size_t k = 0; k < opt.publishers; ++k) {
    nx::ChannelRegistry& r = (opt.mode == "redis2" && k % 2 == 1) ? b.registry : a.registry;
    done.push_back(
        asio::co_spawn(pub_io, publisher(r, pad, opt.payload, start, end, layered, ps, lag), asio::use_future));
  }
  while (now_ns() < start) {
    std::this_thread::sleep_for(1ms);  // until the window opens (a fixed start time)
  }
  const double cpu0 = process_cpu_seconds();
  const double client_cpu0 = clients.cpu_seconds();
  const std::uint64_t frames0 = clients.frames();
  while (now_ns() < end) {
    std::this_thread::sleep_for(std::chrono::nanoseconds(std::min<std::int64_t>(end - now_ns(), 10'000'000)));
  }
  const double cpu1 = process_cpu_seconds();
  const double client_cpu1 = clients.cpu_seconds();
  const std::uint64_t frames1 = clients.frames();
  const double wall = static_cast<double>(now_ns() - start) / 1e9;
  for (auto& f : done) {
    f.get();
  }
  work.reset();
  pub_thread.join();

  // Drain: every member should get every message (until the count reaches it, or stops moving).
  const std::uint64_t expected = ps.all_sends.load() * opt.members;
  {
    std::uint64_t last = clients.frames();
    auto still = std::chrono::steady_clock::now();
    wait_until(
        [&] {
          const std::uint64_t f = clients.frames();
          if (f - frames_before >= expected) {
            return true;
          }
          if (f != last) {
            last = f;
            still = std::chrono::steady_clock::now();
          }
          return std::chrono::steady_clock::now() - still > 2s;
        },
        60s);
  }
  const std::uint64_t delivered_total = clients.frames() - frames_before;
  const std::uint64_t client_closed = clients.closed();
  std::vector<std::int64_t> lat;
  clients.latencies(start, end, lat);
  clients.stop();

  nx::ChannelLayerStats sa{};
  nx::ChannelLayerStats sb{};
  if (layered) {
    sa = a.layer->stats();
    sb = b.layer->stats();
  }
  app.stop();
  app.wait();
  if (layered) {
    a.registry.stop_layer();
    b.registry.stop_layer();
  }

  const double sends = static_cast<double>(ps.sends.load());
  const double server_cpu = (cpu1 - cpu0) - (client_cpu1 - client_cpu0);
  boost::json::object out;
  out["mode"] = opt.mode;
  out["members"] = opt.members;
  out["members_on_a"] = on_a;
  out["publishers"] = opt.publishers;
  out["seconds"] = opt.seconds;
  out["payload_bytes"] = opt.payload;
  out["max_lag"] = opt.max_lag;
  out["flow_control_waits"] = ps.waits.load();
  out["wall_s"] = wall;
  out["group_sends"] = ps.sends.load();
  out["group_sends_per_s"] = sends / wall;
  out["deliveries"] = frames1 - frames0;
  out["deliveries_per_s"] = static_cast<double>(frames1 - frames0) / wall;
  out["group_sends_total"] = ps.all_sends.load();
  out["expected_deliveries"] = expected;
  out["delivered_after_drain"] = delivered_total;
  out["lost"] = expected > delivered_total ? expected - delivered_total : 0;
  out["client_connections_closed"] = client_closed;
  out["latency_samples"] = lat.size();
  out["latency_p50_us"] = percentile(lat, 0.50) / 1e3;
  out["latency_p99_us"] = percentile(lat, 0.99) / 1e3;
  out["published"] = (sa.published - stats_before_a.published) + (sb.published - stats_before_b.published);
  out["not_published"] =
      (sa.not_published - stats_before_a.not_published) + (sb.not_published - stats_before_b.not_published);
  out["pending_full"] =
      (sa.pending_full - stats_before_a.pending_full) + (sb.pending_full - stats_before_b.pending_full);
  out["received"] = (sa.received - stats_before_a.received) + (sb.received - stats_before_b.received);
  out["malformed"] = (sa.malformed - stats_before_a.malformed) + (sb.malformed - stats_before_b.malformed);
  out["reconnects"] = (sa.reconnects - stats_before_a.reconnects) + (sb.reconnects - stats_before_b.reconnects);
  out["unpublished_results"] = ps.unpublished.load();
  out["server_cpu_s"] = server_cpu;
  out["server_cpu_us_per_group_send"] = sends > 0 ? server_cpu / sends * 1e6 : 0.0;
  out["client_cpu_s"] = client_cpu1 - client_cpu0;
  out["client_cpu_share"] = (client_cpu1 - client_cpu0) / wall;
  std::printf("%s\n", boost::json::serialize(out).c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run_bench(parse_options(argc, argv));
  } catch (const std::exception& e) {
    std::fprintf(stderr, "redis_layer_bench: %s\n", e.what());
    return 1;
  }
}
