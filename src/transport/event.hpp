#pragma once
// Event: a wake-up primitive for coroutines that share one event loop thread.
//
// Waiters always re-check their condition in a loop (`while (!cond) co_await ev.wait();`), so an
// event carries no state: `notify_all()` resumes whoever is waiting right now (by posting, never
// inline, so no caller is re-entered). Single-threaded by design: every call happens on the loop
// that owns the connection.
//
// The waiting coroutine's completion handler is stored as its concrete type rather than through
// any_completion_handler: type-erasing it converts executors in a way that allocates on every
// wake-up, and this sits on the per-message path.

#include <nexios/task.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <type_traits>
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
        [this](auto handler) {
          static_assert(std::is_same_v<decltype(handler), Handler>,
                        "the awaitable completion handler type changed with this Boost version");
          waiters_.push_back(std::move(handler));
        },
        boost::asio::use_awaitable);
  }

  /// Resumes every current waiter (posted to the loop).
  void notify_all() {
    if (waiters_.empty()) {
      return;
    }
    if (waiters_.size() == 1) {
      Handler h = std::move(waiters_.front());
      waiters_.clear();
      boost::asio::post(ex_, std::move(h));
      return;
    }
    std::vector<Handler> waiters;
    waiters.swap(waiters_);
    for (auto& w : waiters) {
      boost::asio::post(ex_, std::move(w));
    }
  }

  [[nodiscard]] bool has_waiters() const noexcept { return !waiters_.empty(); }

 private:
  using Handler = boost::asio::detail::awaitable_handler<boost::asio::any_io_executor>;
  boost::asio::any_io_executor ex_;
  std::vector<Handler> waiters_;
};

}  // namespace nexios::transport
