#pragma once
// transport::Server: one event loop per thread, each with its own SO_REUSEPORT acceptor; a
// connection lives on the thread that accepted it. Graceful shutdown: stop accepting, close
// WebSockets with 1001, let in-flight HTTP finish, drop what is left after the drain timeout.

#include "transport/address_limiter.hpp"
#include "transport/buffer_pool.hpp"
#include "transport/connection.hpp"
#include "transport/date_cache.hpp"
#include "transport/log_limiter.hpp"
#include "transport/stats.hpp"

#include <nexios/limits.hpp>
#include <nexios/task.hpp>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace nexios::transport {

class Server;

/// Per-thread state: the loop, its acceptor and its connections.
struct Worker {
  Worker(Server& s, std::size_t i);
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;
  ~Worker();

  Server& server;
  std::size_t index;
  BufferPool pool;
  DateCache date;                         // the Date header of this thread's HTTP responses
  std::vector<std::uint8_t> read_buffer;  // shared by the HTTP reads of this thread's connections
  Connection* connections = nullptr;      // intrusive list head
  std::size_t connection_count = 0;
  bool accepting = false;
  bool draining = false;
  bool drain_reported = false;
  /// This loop's counters (it is their only writer; /metrics sums them).
  stats::WorkerStats stats;
  std::chrono::steady_clock::time_point lag_expected{};
  /// A descriptor held in reserve (/dev/null): when accept() fails for want of descriptors it is
  /// closed to accept the waiting client, answer it 503 and close it, then opened again; so a
  /// client past the descriptor limit is answered instead of waiting in the backlog.
  int spare_fd = -1;
  bool accept_failing = false;  // the last accept() failed: the next success logs the recovery
  // Declared last, destroyed first: destroying the loop destroys the handlers that still own
  // connections, and those touch the members above.
  boost::asio::io_context io{1};
  std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> work;
  std::optional<boost::asio::ip::tcp::acceptor> acceptor;
  std::optional<boost::asio::steady_timer> lag_timer;

  void add(Connection* c) noexcept;
  void remove(Connection* c) noexcept;
  /// Measures how late a timer fires on this loop, every `lag_probe_interval`.
  void arm_lag_probe();
};

/// How often each event loop checks its lag.
inline constexpr std::chrono::milliseconds lag_probe_interval{250};

struct ServerOptions {
  std::string host = "127.0.0.1";
  std::uint16_t port = 8000;
  std::size_t threads = 1;
};

class Server {
 public:
  Server(Dispatcher& dispatcher, Limits limits);
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;
  ~Server();

  /// Binds every acceptor and starts the threads. `startup` runs on worker 0 before the first
  /// connection is accepted; if it throws, the server stops and the exception is rethrown here.
  /// Returns the bound port.
  std::uint16_t start(const ServerOptions& options, std::function<Task<>()> startup);

  /// Graceful stop, callable from any thread, once. `shutdown` runs on worker 0 after the
  /// connections have drained (or the drain timeout passed). Returns at once; see `wait()`.
  void stop(std::function<Task<>()> shutdown);

  /// Blocks until every thread has finished.
  void wait();

  [[nodiscard]] std::uint16_t port() const noexcept { return port_; }
  [[nodiscard]] const Limits& limits() const noexcept { return limits_; }
  [[nodiscard]] Dispatcher& dispatcher() noexcept { return dispatcher_; }
  [[nodiscard]] std::size_t worker_count() const noexcept { return workers_.size(); }
  [[nodiscard]] Worker& worker(std::size_t i) noexcept { return *workers_[i]; }
  /// Connections open across all threads.
  [[nodiscard]] std::size_t connection_count() const noexcept { return open_connections_.load(); }
  /// True once `start` has bound the acceptors and started the threads.
  [[nodiscard]] bool running() const noexcept { return !threads_.empty(); }

  // Used by the workers.
  bool try_reserve_connection() noexcept;
  /// A connection from `client` that was admitted has closed.
  void release_connection(const boost::asio::ip::address& client) noexcept;
  [[nodiscard]] AddressLimiter& address_limiter() noexcept { return addresses_; }
  void on_worker_drained(Worker& w);

 private:
  Task<> accept_loop(Worker& w);
  /// accept() failed with `ec` (EMFILE, ENFILE, ENOBUFS, ENOMEM): log it (rate-limited) and, out of
  /// descriptors, answer the waiting client 503 with the spare descriptor.
  void on_accept_failed(Worker& w, const boost::system::error_code& ec);
  /// The effective max_connections: as set, or derived from RLIMIT_NOFILE (`threads` loops).
  void resolve_max_connections(std::size_t threads);
  void begin_drain(Worker& w);
  void finish_stop();

  Dispatcher& dispatcher_;
  Limits limits_;
  std::vector<std::unique_ptr<Worker>> workers_;
  std::vector<std::thread> threads_;
  std::uint16_t port_ = 0;
  std::atomic<std::size_t> open_connections_{0};
  AddressLimiter addresses_;
  std::atomic<bool> stopping_{false};
  std::atomic<std::size_t> drained_workers_{0};
  std::function<Task<>()> shutdown_;
  std::mutex mutex_;       // guards shutdown_
  std::mutex join_mutex_;  // guards joined_
  bool joined_ = false;
  // Repeated warnings, one line per interval with the count of those left out.
  LogLimiter accept_failed_log_{std::chrono::seconds(10)};
  LogLimiter max_connections_log_{std::chrono::seconds(10)};
};

}  // namespace nexios::transport
