// The program a new nexios user writes first, built by tests/package the three ways a project can
// use nexios: find_package on an installed nexios, add_subdirectory, and pkg-config.
//
// It serves a WebSocket echo on ws://127.0.0.1:PORT/ws (a free port), prints
// "nexios consumer (nexios VERSION) listening on http://127.0.0.1:PORT", and shuts down gracefully
// on SIGINT or SIGTERM, or when its standard input reaches end of file; it then exits with 0.

#include <nexios/nexios.hpp>

#include <poll.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <string>

namespace nx = nexios;

namespace {

nx::Task<> echo(nx::WebSocket ws) {
  co_await ws.accept();
  try {
    for (;;) {
      std::string text = co_await ws.receive_text();
      co_await ws.send_text(text);
    }
  } catch (const nx::WebSocketDisconnect&) {
    // the client left
  }
}

// Blocks until SIGINT/SIGTERM arrives on `signal_fd` or stdin reaches end of file.
void wait_for_stop(int signal_fd) {
  pollfd fds[2] = {{signal_fd, POLLIN, 0}, {STDIN_FILENO, POLLIN, 0}};
  for (;;) {
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR) {
        continue;
      }
      return;
    }
    if (fds[0].revents != 0) {
      return;
    }
    if (fds[1].revents != 0) {
      char buf[256];
      if (::read(STDIN_FILENO, buf, sizeof buf) <= 0) {
        return;
      }
    }
  }
}

}  // namespace

int main() {
  // Block the stop signals before the server's threads start (they inherit the mask), so they
  // arrive on the signalfd read here.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  const int signal_fd = ::signalfd(-1, &stop_signals, SFD_CLOEXEC);
  if (signal_fd < 0) {
    std::perror("signalfd");
    return 1;
  }

  try {
    nx::App app;
    app.ws_route("/ws", echo);
    const std::uint16_t port = app.start({.host = "127.0.0.1", .port = 0, .threads = 1});
    std::printf("nexios consumer (nexios %.*s) listening on http://127.0.0.1:%u\n",
                static_cast<int>(nx::version().size()), nx::version().data(), static_cast<unsigned>(port));
    std::fflush(stdout);
    wait_for_stop(signal_fd);
    app.stop();
    app.wait();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "consumer: %s\n", e.what());
    return 1;
  }
  return 0;
}
