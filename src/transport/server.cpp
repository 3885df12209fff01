#include "transport/server.hpp"

#include "transport/connection_internal.hpp"
#include "transport/log_fields.hpp"

#include <nexios/http/response.hpp>
#include <nexios/log.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <fcntl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

#include <future>
#include <stdexcept>
#include <system_error>

namespace nexios::transport {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

using internal::log_exception;

namespace {

constexpr std::size_t thread_read_buffer_size = 64 * 1024;

[[noreturn]] void throw_listen_error(const boost::system::error_code& ec, const std::string& host,
                                     std::uint16_t port) {
  throw std::system_error(ec, "nexios: cannot listen on " + host + ":" + std::to_string(port));
}

Task<> run_connection(std::shared_ptr<Connection> conn, Dispatcher& dispatcher) { co_await conn->run(dispatcher); }

// Runs a hook held by value in this coroutine's frame: a coroutine lambda's captures live in the
// closure object, which must outlive the coroutine.
Task<> run_hook(std::function<Task<>()> hook) { co_await hook(); }

// The response to a connection refused before its request is read.
std::string refusal_response(int status, std::string_view why, std::string_view date) {
  return "HTTP/1.1 " + std::to_string(status) + " " + std::string(http::reason_phrase(status)) +
         "\r\nConnection: close\r\nContent-Type: text/plain; charset=utf-8\r\n"
         "X-Content-Type-Options: nosniff\r\nDate: " + std::string(date) +
         (status == 429 || status == 503 ? "\r\nRetry-After: 1" : "") + "\r\nContent-Length: " +
         std::to_string(why.size() + 1) + "\r\n\r\n" + std::string(why) + "\n";
}

// The access record of a connection refused before its request was read: no method or path,
// the limit that refused it as `reason`.
void log_refusal(const tcp::endpoint& remote, int status, std::string_view reason, std::size_t bytes) noexcept {
  if (!access_log_enabled()) {
    return;
  }
  std::array<char, 64> buf{};
  std::array<char, 96> msg{};
  const auto r = fmt::format_to_n(msg.data(), msg.size(), "refused {} {}", status, reason);
  const LogField fields[] = {LogField("kind", "connection"), LogField("status", status),
                             LogField("outcome", "refused"), LogField("reason", reason),
                             LogField("bytes", bytes)};
  log(LogLevel::info, "access", {msg.data(), std::min<std::size_t>(r.size, msg.size())}, fields,
      LogContext{0, log_fields::format_endpoint(remote, buf)});
}

// Answers a connection refused before its request is read (503 at max_connections, 429 past a
// per-address limit), writes its access record and closes it.
Task<> refuse_connection(tcp::socket socket, tcp::endpoint remote, int status, std::string_view reason,
                         std::string_view why, std::string date) {
  const std::string response = refusal_response(status, why, date);
  auto [ec, n] = co_await asio::async_write(socket, asio::buffer(response), asio::as_tuple(asio::use_awaitable));
  log_refusal(remote, status, reason, ec ? 0 : n);
  boost::system::error_code ignored;
  socket.shutdown(tcp::socket::shutdown_both, ignored);
  socket.close(ignored);
}

int open_spare_fd() noexcept { return ::open("/dev/null", O_RDONLY | O_CLOEXEC); }

}  // namespace

// ------------------------------------------------------------------------------------------------

Worker::Worker(Server& s, std::size_t i) : server(s), index(i), read_buffer(thread_read_buffer_size) {}

Worker::~Worker() {
  if (spare_fd >= 0) {
    ::close(spare_fd);
  }
  lag_timer.reset();
  acceptor.reset();
  work.reset();
}

void Worker::arm_lag_probe() {
  if (!lag_timer) {
    lag_timer.emplace(io);
  }
  lag_expected = std::chrono::steady_clock::now() + lag_probe_interval;
  lag_timer->expires_at(lag_expected);
  lag_timer->async_wait([this](const boost::system::error_code& ec) {
    if (ec) {
      return;
    }
    const auto lag = std::chrono::steady_clock::now() - lag_expected;
    const std::int64_t ns = std::max<std::int64_t>(0, std::chrono::duration_cast<std::chrono::nanoseconds>(lag).count());
    stats.lag_last_ns.set(ns);
    stats.lag.observe(ns);
    arm_lag_probe();
  });
}

void Worker::add(Connection* c) noexcept {
  c->prev_ = nullptr;
  c->next_ = connections;
  if (connections != nullptr) {
    connections->prev_ = c;
  }
  connections = c;
  ++connection_count;
}

void Worker::remove(Connection* c) noexcept {
  if (c->prev_ != nullptr) {
    c->prev_->next_ = c->next_;
  } else if (connections == c) {
    connections = c->next_;
  } else {
    return;  // not in the list
  }
  if (c->next_ != nullptr) {
    c->next_->prev_ = c->prev_;
  }
  c->prev_ = c->next_ = nullptr;
  --connection_count;
  server.release_connection(c->remote_endpoint().address());
  if (draining && !drain_reported && connection_count == 0) {
    server.on_worker_drained(*this);
  }
}

// ------------------------------------------------------------------------------------------------

Server::Server(Dispatcher& dispatcher, Limits limits)
    : dispatcher_(dispatcher),
      limits_(limits),
      addresses_(limits.max_connections_per_address, limits.max_connection_rate_per_address) {}

Server::~Server() {
  if (!threads_.empty()) {
    stop(nullptr);
    wait();
  }
}

bool Server::try_reserve_connection() noexcept {
  std::size_t n = open_connections_.load(std::memory_order_relaxed);
  while (n < limits_.max_connections) {
    if (open_connections_.compare_exchange_weak(n, n + 1, std::memory_order_relaxed)) {
      return true;
    }
  }
  return false;
}

void Server::release_connection(const boost::asio::ip::address& client) noexcept {
  open_connections_.fetch_sub(1, std::memory_order_relaxed);
  addresses_.release(client);
}

std::uint16_t Server::start(const ServerOptions& options, std::function<Task<>()> startup) {
  if (!workers_.empty()) {
    throw std::logic_error("nexios: server already started");
  }
  const std::size_t n = options.threads == 0 ? 1 : options.threads;
  resolve_max_connections(n);
  boost::system::error_code ec;
  const auto address = asio::ip::make_address(options.host, ec);
  if (ec) {
    throw std::invalid_argument("nexios: invalid host address '" + options.host + "'");
  }
  tcp::endpoint endpoint(address, options.port);

  // With SO_REUSEPORT another process could silently share a busy port; probe it first.
  if (n > 1 && options.port != 0) {
    asio::io_context probe_io;
    tcp::acceptor probe(probe_io);
    probe.open(endpoint.protocol(), ec);
    probe.set_option(tcp::acceptor::reuse_address(true), ec);
    probe.bind(endpoint, ec);
    if (ec) {
      throw_listen_error(ec, options.host, options.port);
    }
  }

  for (std::size_t i = 0; i < n; ++i) {
    workers_.push_back(std::make_unique<Worker>(*this, i));
    Worker& w = *workers_.back();
    w.spare_fd = open_spare_fd();
    w.acceptor.emplace(w.io);
    auto& acc = *w.acceptor;
    acc.open(endpoint.protocol(), ec);
    if (!ec) {
      acc.set_option(tcp::acceptor::reuse_address(true), ec);
    }
    if (!ec && n > 1) {
      const int one = 1;
      if (::setsockopt(acc.native_handle(), SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) != 0) {
        ec.assign(errno, boost::system::system_category());
      }
    }
    if (!ec) {
      acc.bind(endpoint, ec);
    }
    if (!ec) {
      acc.listen(asio::socket_base::max_listen_connections, ec);
    }
    if (ec) {
      workers_.clear();
      throw_listen_error(ec, options.host, options.port);
    }
    if (i == 0) {
      endpoint.port(acc.local_endpoint().port());
    }
  }
  port_ = endpoint.port();

  for (auto& wp : workers_) {
    Worker& w = *wp;
    w.work.emplace(asio::make_work_guard(w.io));
    threads_.emplace_back([&w] {
      stats::set_thread_block(&w.stats);
      for (;;) {
        try {
          w.io.run();
          break;
        } catch (...) {
          log_exception(std::current_exception(), "event loop");
        }
      }
    });
  }

  if (startup) {
    std::promise<void> done;
    asio::co_spawn(workers_[0]->io, run_hook(std::move(startup)), [&done](std::exception_ptr e) {
      if (e) {
        done.set_exception(e);
      } else {
        done.set_value();
      }
    });
    try {
      done.get_future().get();
    } catch (...) {
      for (auto& w : workers_) {
        w->work.reset();
        w->io.stop();
      }
      for (auto& t : threads_) {
        t.join();
      }
      threads_.clear();
      workers_.clear();
      throw;
    }
  }

  for (auto& wp : workers_) {
    Worker& w = *wp;
    asio::post(w.io, [this, &w] {
      if (stopping_) {
        return;
      }
      w.accepting = true;
      w.arm_lag_probe();
      asio::co_spawn(w.io, accept_loop(w), [](std::exception_ptr e) { log_exception(e, "acceptor"); });
    });
  }
  log(LogLevel::info, "server", "listening",
      {{"host", options.host},
       {"port", static_cast<unsigned>(port_)},
       {"threads", n},
       {"max_connections", limits_.max_connections}});
  return port_;
}

void Server::resolve_max_connections(std::size_t threads) {
  rlimit rl{};
  if (::getrlimit(RLIMIT_NOFILE, &rl) != 0) {
    if (limits_.max_connections == 0) {
      limits_.max_connections = 100'000;
    }
    return;
  }
  const std::uint64_t soft = rl.rlim_cur == RLIM_INFINITY ? std::uint64_t{1} << 20 : rl.rlim_cur;
  // Each event loop holds an epoll descriptor, an eventfd, its acceptor and its spare descriptor.
  const std::uint64_t reserve = limits_.fd_reserve + 4 * threads;
  const std::uint64_t usable = soft > reserve ? soft - reserve : 0;
  if (limits_.max_connections == 0) {
    limits_.max_connections = static_cast<std::size_t>(std::clamp<std::uint64_t>(usable, 1, 10'000'000));
    if (usable < 256) {
      log(LogLevel::warning, "server", "few file descriptors: raise the limit (ulimit -n, LimitNOFILE=)",
          {{"rlimit_nofile", soft}, {"fd_reserve", limits_.fd_reserve}, {"max_connections", limits_.max_connections}});
    }
  } else if (limits_.max_connections > usable) {
    log(LogLevel::warning, "server",
        "max_connections is above the descriptor limit: past it accept() fails and clients are answered 503 "
        "one at a time; raise the limit (ulimit -n, LimitNOFILE=)",
        {{"max_connections", limits_.max_connections}, {"rlimit_nofile", soft}, {"fd_reserve", limits_.fd_reserve}});
  }
}

void Server::on_accept_failed(Worker& w, const boost::system::error_code& ec) {
  w.accept_failing = true;
  std::uint64_t suppressed = 0;
  if (log_enabled(LogLevel::warning) && accept_failed_log_.admit(std::chrono::steady_clock::now(), suppressed)) {
    std::array<char, 160> buf{};
    log(LogLevel::warning, "server", with_suppressed("accept failed", suppressed, buf),
        {{"error", ec.message()}, {"thread", w.index}, {"suppressed", suppressed}});
  }
  if (ec.value() != EMFILE && ec.value() != ENFILE) {
    return;
  }
  if (w.spare_fd < 0) {
    w.spare_fd = open_spare_fd();  // descriptors may have come back since it was last used
    return;
  }
  // Free one descriptor to take the waiting client out of the backlog and answer it.
  ::close(w.spare_fd);
  w.spare_fd = -1;
  boost::system::error_code aec;
  tcp::endpoint remote;
  w.acceptor->non_blocking(true, aec);
  tcp::socket socket = w.acceptor->accept(remote, aec);
  w.acceptor->non_blocking(false, aec);
  if (socket.is_open()) {
    w.stats.handshakes_rejected[static_cast<std::size_t>(stats::Reject::max_connections)].add();
    const std::string response = refusal_response(503, "Server out of file descriptors.", w.date.now());
    // A fresh socket's send buffer takes the few hundred bytes at once.
    const ssize_t sent = ::send(socket.native_handle(), response.data(), response.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
    log_refusal(remote, 503, "file_descriptors", sent > 0 ? static_cast<std::size_t>(sent) : 0);
    boost::system::error_code ignored;
    socket.shutdown(tcp::socket::shutdown_both, ignored);
    socket.close(ignored);
  }
  w.spare_fd = open_spare_fd();
}

Task<> Server::accept_loop(Worker& w) {
  asio::steady_timer backoff(w.io);
  while (w.accepting) {
    auto [ec, socket] = co_await w.acceptor->async_accept(asio::as_tuple(asio::use_awaitable));
    if (!w.accepting) {
      break;
    }
    if (ec) {
      if (ec == asio::error::operation_aborted) {
        break;
      }
      // Out of file descriptors or memory: answer the client with the spare descriptor, and wait
      // a little instead of spinning.
      on_accept_failed(w, ec);
      backoff.expires_after(std::chrono::milliseconds(50));
      co_await backoff.async_wait(asio::as_tuple(asio::use_awaitable));
      continue;
    }
    if (w.accept_failing) {
      w.accept_failing = false;
      if (w.spare_fd < 0) {
        w.spare_fd = open_spare_fd();
      }
      const std::uint64_t suppressed = accept_failed_log_.take_suppressed();
      std::array<char, 160> buf{};
      log(LogLevel::info, "server", with_suppressed("accepting connections again", suppressed, buf),
          {{"thread", w.index}, {"suppressed", suppressed}});
    }
    boost::system::error_code eec;
    const auto remote = socket.remote_endpoint(eec);
    const auto client = remote.address();
    if (eec) {
      continue;  // gone already
    }
    if (!try_reserve_connection()) {
      w.stats.handshakes_rejected[static_cast<std::size_t>(stats::Reject::max_connections)].add();
      std::uint64_t suppressed = 0;
      if (log_enabled(LogLevel::warning) &&
          max_connections_log_.admit(std::chrono::steady_clock::now(), suppressed)) {
        std::array<char, 160> buf{};
        log(LogLevel::warning, "server", with_suppressed("connection refused: max_connections reached", suppressed, buf),
            {{"max_connections", limits_.max_connections}, {"suppressed", suppressed}});
      }
      asio::co_spawn(w.io,
                     refuse_connection(std::move(socket), remote, 503, "max_connections",
                                       "Server at its connection limit.", std::string(w.date.now())),
                     asio::detached);
      continue;
    }
    const auto verdict = addresses_.admit(client, std::chrono::steady_clock::now());
    if (verdict != AddressLimiter::Verdict::admitted) {
      open_connections_.fetch_sub(1, std::memory_order_relaxed);
      const bool too_many = verdict == AddressLimiter::Verdict::too_many_open;
      if (too_many) {
        w.stats.handshakes_rejected[static_cast<std::size_t>(stats::Reject::address_limit)].add();
      } else {
        w.stats.handshakes_rejected[static_cast<std::size_t>(stats::Reject::rate_limit)].add();
        stats::count_rate_limited(stats::RateKind::connections, stats::RateAction::close);
      }
      // Debug only: a flood of refusals must not become a flood of log lines.
      if (log_enabled(LogLevel::debug)) {
        log(LogLevel::debug, "server", "connection refused",
            {{"client", client.to_string()},
             {"limit", too_many ? "max_connections_per_address" : "max_connection_rate_per_address"}});
      }
      asio::co_spawn(w.io,
                     refuse_connection(std::move(socket), remote, 429,
                                       too_many ? "max_connections_per_address" : "max_connection_rate_per_address",
                                       too_many ? "Too many connections from your address."
                                                : "Too many new connections from your address; retry in a second.",
                                       std::string(w.date.now())),
                     asio::detached);
      continue;
    }
    auto conn = std::make_shared<Connection>(w, std::move(socket), remote);
    asio::co_spawn(w.io, run_connection(std::move(conn), dispatcher_),
                   [](std::exception_ptr e) { log_exception(e, "connection"); });
  }
}

void Server::stop(std::function<Task<>()> shutdown) {
  if (stopping_.exchange(true)) {
    return;
  }
  log(LogLevel::info, "server", "stopping", {{"connections", connection_count()}});
  {
    std::lock_guard lock(mutex_);
    shutdown_ = std::move(shutdown);
  }
  if (workers_.empty()) {
    return;
  }
  for (auto& wp : workers_) {
    Worker& w = *wp;
    asio::post(w.io, [this, &w] { begin_drain(w); });
  }
}

void Server::begin_drain(Worker& w) {
  w.accepting = false;
  w.draining = true;
  if (w.acceptor) {
    boost::system::error_code ec;
    w.acceptor->close(ec);
  }
  // begin_shutdown may remove connections from the list; walk a snapshot of strong references.
  std::vector<std::shared_ptr<Connection>> snapshot;
  for (Connection* c = w.connections; c != nullptr; c = c->next_) {
    snapshot.push_back(c->shared_from_this());
  }
  for (auto& c : snapshot) {
    c->begin_shutdown();
  }
  snapshot.clear();
  if (w.connection_count == 0) {
    on_worker_drained(w);
    return;
  }
  // Past the drain timeout, drop what is left.
  auto timer = std::make_shared<asio::steady_timer>(w.io, limits_.drain_timeout);
  timer->async_wait([timer, &w](const boost::system::error_code& ec) {
    if (ec) {
      return;
    }
    std::vector<std::shared_ptr<Connection>> rest;
    for (Connection* c = w.connections; c != nullptr; c = c->next_) {
      rest.push_back(c->shared_from_this());
    }
    if (!rest.empty()) {
      log(LogLevel::warning, "server", "drain timeout: dropping connections",
          {{"connections", rest.size()}, {"thread", w.index}});
    }
    for (auto& c : rest) {
      c->abort();
    }
  });
}

void Server::on_worker_drained(Worker& w) {
  if (w.drain_reported) {
    return;
  }
  w.drain_reported = true;
  if (drained_workers_.fetch_add(1) + 1 != workers_.size()) {
    return;
  }
  std::function<Task<>()> hook;
  {
    std::lock_guard lock(mutex_);
    hook = std::move(shutdown_);
  }
  Worker& first = *workers_[0];
  if (hook) {
    asio::co_spawn(first.io, run_hook(std::move(hook)), [this](std::exception_ptr e) {
      log_exception(e, "shutdown hook");
      finish_stop();
    });
  } else {
    asio::post(first.io, [this] { finish_stop(); });
  }
}

void Server::finish_stop() {
  log(LogLevel::info, "server", "stopped");
  for (auto& wp : workers_) {
    Worker& w = *wp;
    asio::post(w.io, [&w] {
      w.work.reset();
      w.io.stop();
    });
  }
}

void Server::wait() {
  std::lock_guard lock(join_mutex_);
  if (joined_) {
    return;
  }
  for (auto& t : threads_) {
    if (t.joinable()) {
      t.join();
    }
  }
  joined_ = true;
}

}  // namespace nexios::transport
