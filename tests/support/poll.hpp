#pragma once
// Waiting for state that offers nothing to block on (a registry's counters, a layer's state):
// look again after each pause (1 ms, doubling up to 20 ms) until it holds or the time is up.
// Anything a socket or a Mailbox can signal is waited for there instead.

#include <algorithm>
#include <chrono>
#include <thread>

namespace nexios::test {

/// True as soon as `f()` holds; false if it still does not after `timeout`.
template <class F>
bool eventually(F f, std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  auto pause = std::chrono::milliseconds(1);
  while (!f()) {
    if (std::chrono::steady_clock::now() >= deadline) {
      return false;
    }
    std::this_thread::sleep_for(pause);  // the poll interval between two looks at the state
    pause = std::min(pause * 2, std::chrono::milliseconds(20));
  }
  return true;
}

}  // namespace nexios::test
