#pragma once
// Event: a wake-up primitive for coroutines that share one event loop thread.
//
// Waiters always re-check their condition in a loop (`while (!cond) co_await ev.wait();`), so an
// event carries no state: `notify_all()` resumes whoever is waiting right now (by posting, never
// inline, so no caller is re-entered). Single-threaded by design: every call happens on the loop
// that owns the connection.

#include <nexios/task.hpp>

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <utility>
#include <vector>

namespace nexios::transport {

class Event {
 public:
  explicit Event(boost::asio::any_io_executor ex) : ex_(std::move(ex)) {}
  Event(const Event&) = delete;
  Event& operator=(const Event&) = delete;
  ~Event() = default;

  /// Suspends until the next `notify_all()`.
  Task<> wait() {
    return boost::asio::async_initiate<const boost::asio::use_awaitable_t<>&, void()>(
        [this](auto handler) { waiters_.emplace_back(std::move(handler)); }, boost::asio::use_awaitable);
  }

  /// Resumes every current waiter (posted to the loop).
  void notify_all() {
    if (waiters_.empty()) {
      return;
    }
    if (waiters_.size() == 1) {
      boost::asio::post(ex_, std::move(waiters_.front()));
      waiters_.clear();
      return;
    }
    auto waiters = std::move(waiters_);
    waiters_.clear();
    for (auto& w : waiters) {
      boost::asio::post(ex_, std::move(w));
    }
  }

  [[nodiscard]] bool has_waiters() const noexcept { return !waiters_.empty(); }

 private:
  boost::asio::any_io_executor ex_;
  std::vector<boost::asio::any_completion_handler<void()>> waiters_;
};

}  // namespace nexios::transport
