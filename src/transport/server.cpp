#include "transport/server.hpp"

#include "transport/connection_internal.hpp"

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

#include <sys/socket.h>

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

// Answers a connection refused before its request is read (503 at max_connections, 429 past a
// per-address limit) and closes it.
Task<> refuse_connection(tcp::socket socket, int status, std::string_view why, std::string date) {
  std::string response = "HTTP/1.1 " + std::to_string(status) + " " + std::string(http::reason_phrase(status)) +
                         "\r\nConnection: close\r\nContent-Type: text/plain; charset=utf-8\r\nDate: " + date +
                         (status == 429 ? "\r\nRetry-After: 1" : "") + "\r\nContent-Length: " +
                         std::to_string(why.size() + 1) + "\r\n\r\n" + std::string(why) + "\n";
  auto [ec, n] = co_await asio::async_write(socket, asio::buffer(response), asio::as_tuple(asio::use_awaitable));
  (void)n;
  boost::system::error_code ignored;
  socket.shutdown(tcp::socket::shutdown_both, ignored);
  socket.close(ignored);
}

}  // namespace

// ------------------------------------------------------------------------------------------------

Worker::Worker(Server& s, std::size_t i) : server(s), index(i), read_buffer(thread_read_buffer_size) {}

Worker::~Worker() {
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
      {{"host", options.host}, {"port", static_cast<unsigned>(port_)}, {"threads", n}});
  return port_;
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
      // Out of file descriptors or memory: wait a little instead of spinning.
      if (log_enabled(LogLevel::warning)) {
        log(LogLevel::warning, "server", "accept failed", {{"error", ec.message()}, {"thread", w.index}});
      }
      backoff.expires_after(std::chrono::milliseconds(50));
      co_await backoff.async_wait(asio::as_tuple(asio::use_awaitable));
      continue;
    }
    boost::system::error_code eec;
    const auto remote = socket.remote_endpoint(eec);
    const auto client = remote.address();
    if (eec) {
      continue;  // gone already
    }
    if (!try_reserve_connection()) {
      w.stats.handshakes_rejected[static_cast<std::size_t>(stats::Reject::max_connections)].add();
      log(LogLevel::warning, "server", "connection refused: max_connections reached",
          {{"max_connections", limits_.max_connections}});
      asio::co_spawn(w.io, refuse_connection(std::move(socket), 503, "Server at its connection limit.",
                                             std::string(w.date.now())),
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
                     refuse_connection(std::move(socket), 429,
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
