#pragma once
// Helpers for integration tests: an App served on 127.0.0.1 port 0, and a Mailbox through which
// handlers running on the server's threads report to the test thread (which waits for events,
// with a timeout, never for a fixed time).

#include <nexios/nexios.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>

#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <stdexcept>
#include <string>

namespace nexios::test {

// Runs a coroutine on an event loop of its own in this thread and returns its result: how a test
// (or any thread outside the server) drives the ChannelBox API. Destroying the loop right after is
// safe: a cross-thread group_send keeps it busy until its result has been handed over.
template <class T>
T run(Task<T> task) {
  boost::asio::io_context io(1);
  auto fut = boost::asio::co_spawn(io, std::move(task), boost::asio::use_future);
  io.run();
  return fut.get();
}

template <class T>
class Mailbox {
 public:
  void put(T value) {
    {
      std::lock_guard lock(mutex_);
      items_.push_back(std::move(value));
    }
    cv_.notify_all();
  }

  /// The next item; throws if none arrives within `timeout`.
  T take(std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    std::unique_lock lock(mutex_);
    if (!cv_.wait_for(lock, timeout, [&] { return !items_.empty(); })) {
      throw std::runtime_error("Mailbox: nothing arrived in time");
    }
    T v = std::move(items_.front());
    items_.pop_front();
    return v;
  }

  [[nodiscard]] bool empty() const {
    std::lock_guard lock(mutex_);
    return items_.empty();
  }

 private:
  mutable std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<T> items_;
};

/// A handler that echoes every message unchanged (text as text, binary as binary) from the
/// zero-copy view `receive()` gives, until the peer disconnects.
inline Task<> echo(WebSocket ws) {
  co_await ws.accept();
  for (;;) {
    Message m = co_await ws.receive();
    if (m.type == Message::Type::disconnect) {
      co_return;
    }
    // (Not `co_await (c ? a : b)`: GCC 12 destroys the temporaries of a conditional co_await twice.)
    if (m.binary) {
      co_await ws.send_bytes(m.bytes());
    } else {
      co_await ws.send_text(m.text());
    }
  }
}

/// Serves `app` on 127.0.0.1:0 for the lifetime of the object.
class Served {
 public:
  explicit Served(App& app, std::size_t threads = 1) : app_(app) {
    RunOptions o;
    o.host = "127.0.0.1";
    o.port = 0;
    o.threads = threads;
    port_ = app_.start(o);
  }
  Served(const Served&) = delete;
  Served& operator=(const Served&) = delete;
  ~Served() {
    app_.stop();
    app_.wait();
  }
  [[nodiscard]] std::uint16_t port() const noexcept { return port_; }

 private:
  App& app_;
  std::uint16_t port_ = 0;
};

}  // namespace nexios::test
