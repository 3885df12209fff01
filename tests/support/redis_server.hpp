#pragma once
/// @file
/// Test Redis servers for the C++ tests (header-only): RedisServer starts a redis-server on a
/// free loopback port in its own temp dir (optionally with a password or TLS, certificates made
/// with the openssl CLI), waits until it answers, and stops, kills, pauses or restarts it; its
/// command() is a tiny synchronous RESP client for assertions. A test using it links
/// nexios_resp and OpenSSL::SSL (TLS servers are pinged over TLS).
///
/// No process is left behind: the destructor stops the server, and the server gets SIGKILL
/// when the thread that started it exits (PR_SET_PDEATHSIG), so start servers from the test's
/// main thread (or a thread that outlives them).

#include "resp/resp.hpp"

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace nexios::test {

/// How to start a RedisServer.
struct RedisServerOptions {
  /// requirepass (and AUTH in url() and command()); empty: none.
  std::string password;
  /// TLS only (--tls-port, --port 0), with certificates generated in the server's temp dir.
  bool tls = false;
  /// More redis-server arguments ("--maxmemory", "10mb", ...).
  std::vector<std::string> extra_args;
};

/// The files generate_test_certificates() writes.
struct TlsFiles {
  std::string ca_cert;      ///< the CA certificate (give it to clients as tls_ca_file)
  std::string ca_key;       ///< the CA's key
  std::string server_cert;  ///< server certificate for localhost / 127.0.0.1, signed by the CA
  std::string server_key;   ///< its key
};

namespace redis_test_detail {

/// The path of a program: the first match on PATH, else /usr/bin/<name>.
inline std::string find_program(const std::string& name) {
  const char* path = std::getenv("PATH");
  std::stringstream dirs(path != nullptr ? path : "");
  std::string dir;
  while (std::getline(dirs, dir, ':')) {
    const std::string candidate = (dir.empty() ? "." : dir) + "/" + name;
    if (::access(candidate.c_str(), X_OK) == 0) {
      return candidate;
    }
  }
  return "/usr/bin/" + name;
}

/// fork/exec of argv with stdout and stderr appended to `output` (or /dev/null when empty);
/// the child gets SIGKILL when the calling thread exits. Returns the child's pid.
inline pid_t spawn(const std::vector<std::string>& argv, const std::string& output) {
  std::vector<char*> args;
  for (const std::string& a : argv) {
    args.push_back(const_cast<char*>(a.c_str()));
  }
  args.push_back(nullptr);
  const std::string out = output.empty() ? "/dev/null" : output;
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) {
    throw std::runtime_error(std::string("fork: ") + std::strerror(errno));
  }
  if (pid == 0) {
    // Only async-signal-safe calls until exec.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) {
      ::_exit(127);
    }
    const int fd = ::open(out.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd >= 0) {
      ::dup2(fd, 1);
      ::dup2(fd, 2);
      ::close(fd);
    }
    // Nothing else of the test goes with it: a socket the test closes must really close (a
    // restarted redis-server that inherited a client's socket kept the server from seeing EOF).
    ::close_range(3, ~0U, 0);
    ::execv(args[0], args.data());
    ::_exit(127);
  }
  return pid;
}

/// Runs argv to completion; throws with its output when it fails.
inline void run(const std::vector<std::string>& argv, const std::string& log) {
  const pid_t pid = spawn(argv, log);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    std::ifstream in(log);
    std::stringstream text;
    text << in.rdbuf();
    throw std::runtime_error(argv[0] + " " + argv[1] + " failed: " + text.str());
  }
}

/// A loopback port that was free a moment ago (bind to port 0, read it, close).
inline std::uint16_t free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof addr;
  if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    if (fd >= 0) {
      ::close(fd);
    }
    throw std::runtime_error(std::string("free_port: ") + std::strerror(errno));
  }
  ::close(fd);
  return ntohs(addr.sin_port);
}

/// Waits without busy-looping for `ms` milliseconds (between polls of a condition).
inline void pause_ms(int ms) {
  ::poll(nullptr, 0, ms);
}

/// The contents of a file ("" when missing).
inline std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

/// A blocking RESP client over TCP or TLS (no certificate check: it talks to our own server).
class SyncClient {
 public:
  /// Connects to 127.0.0.1:port (TLS handshake too); every read and write is bounded by
  /// `timeout`. Throws std::runtime_error.
  SyncClient(std::uint16_t port, bool tls, std::chrono::milliseconds timeout) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd_ < 0) {
      throw std::runtime_error("socket failed");
    }
    timeval tv{};
    tv.tv_sec = static_cast<time_t>(timeout.count() / 1000);
    tv.tv_usec = static_cast<suseconds_t>((timeout.count() % 1000) * 1000);
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ::setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(port);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      const std::string why = std::strerror(errno);
      close();
      throw std::runtime_error("connect to 127.0.0.1:" + std::to_string(port) + ": " + why);
    }
    if (tls) {
      ctx_ = ::SSL_CTX_new(::TLS_client_method());
      ::SSL_CTX_set_verify(ctx_, SSL_VERIFY_NONE, nullptr);
      ssl_ = ::SSL_new(ctx_);
      ::SSL_set_fd(ssl_, fd_);
      if (::SSL_connect(ssl_) != 1) {
        close();
        throw std::runtime_error("TLS handshake with the test server failed");
      }
    }
  }
  SyncClient(const SyncClient&) = delete;
  SyncClient& operator=(const SyncClient&) = delete;
  /// Closes the connection.
  ~SyncClient() { close(); }

  /// Sends the commands in one write and returns their replies.
  std::vector<resp::Value> roundtrip(const std::vector<std::vector<std::string>>& commands) {
    std::string out;
    for (const auto& c : commands) {
      std::vector<std::string_view> views(c.begin(), c.end());
      resp::append_command(out, views);
    }
    std::size_t sent = 0;
    while (sent < out.size()) {
      const long n = ssl_ != nullptr ? ::SSL_write(ssl_, out.data() + sent, static_cast<int>(out.size() - sent))
                                     : ::send(fd_, out.data() + sent, out.size() - sent, MSG_NOSIGNAL);
      if (n <= 0) {
        throw std::runtime_error("write to the test server failed");
      }
      sent += static_cast<std::size_t>(n);
    }
    std::vector<resp::Value> replies;
    resp::Parser parser;
    char buf[16384];
    while (replies.size() < commands.size()) {
      const long n = ssl_ != nullptr ? ::SSL_read(ssl_, buf, sizeof buf) : ::recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) {
        throw std::runtime_error("no reply from the test server");
      }
      std::string_view data(buf, static_cast<std::size_t>(n));
      while (!data.empty()) {
        const auto r = parser.parse(data);
        data.remove_prefix(r.consumed);
        if (r.ec) {
          throw std::runtime_error("malformed reply from the test server: " + r.ec.message());
        }
        if (r.complete) {
          replies.push_back(parser.take());
        }
      }
    }
    return replies;
  }

 private:
  /// Frees the TLS state and closes the socket.
  void close() {
    if (ssl_ != nullptr) {
      ::SSL_free(ssl_);
      ssl_ = nullptr;
    }
    if (ctx_ != nullptr) {
      ::SSL_CTX_free(ctx_);
      ctx_ = nullptr;
    }
    if (fd_ >= 0) {
      ::close(fd_);
      fd_ = -1;
    }
  }

  int fd_ = -1;              ///< the TCP socket
  SSL_CTX* ctx_ = nullptr;   ///< TLS only
  SSL* ssl_ = nullptr;       ///< TLS only
};

}  // namespace redis_test_detail

/// Writes into `dir` a CA (ca.crt, ca.key) and a server certificate (server.crt, server.key) for
/// `name`, localhost and 127.0.0.1 signed by it, with the openssl CLI (EC P-256, one day).
inline TlsFiles generate_test_certificates(const std::string& dir, const std::string& name = "localhost") {
  namespace d = redis_test_detail;
  const std::string openssl = d::find_program("openssl");
  const std::string log = dir + "/openssl.log";
  TlsFiles f{dir + "/ca.crt", dir + "/ca.key", dir + "/server.crt", dir + "/server.key"};
  const std::string csr = dir + "/server.csr";
  const std::string ext = dir + "/server.ext";
  std::ofstream(ext) << "subjectAltName=DNS:" << name << ",DNS:localhost,IP:127.0.0.1\n";
  d::run({openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
          "-keyout", f.ca_key, "-out", f.ca_cert, "-days", "1", "-subj", "/CN=nexios test CA"},
         log);
  d::run({openssl, "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout",
          f.server_key, "-out", csr, "-subj", "/CN=" + name},
         log);
  d::run({openssl, "x509", "-req", "-in", csr, "-CA", f.ca_cert, "-CAkey", f.ca_key, "-CAcreateserial", "-out",
          f.server_cert, "-days", "1", "-extfile", ext},
         log);
  return f;
}

/// A redis-server process for one test (see the file comment).
class RedisServer {
 public:
  /// Not started.
  RedisServer() = default;
  /// Started with `options`.
  explicit RedisServer(RedisServerOptions options) { start(std::move(options)); }
  RedisServer(const RedisServer&) = delete;
  RedisServer& operator=(const RedisServer&) = delete;
  /// Stops the server and removes its temp dir.
  ~RedisServer() {
    try {
      stop();
    } catch (...) {
    }
    if (!dir_.empty()) {
      std::error_code ignored;
      std::filesystem::remove_all(dir_, ignored);
    }
  }

  /// Starts redis-server on a free loopback port (retrying on "address in use") and waits, at
  /// most 10 s, until it answers PING. Throws std::runtime_error with the log when it fails.
  void start(RedisServerOptions options = {}) {
    if (pid_ > 0) {
      throw std::logic_error("RedisServer::start: already running");
    }
    options_ = std::move(options);
    if (dir_.empty()) {
      std::string tmpl = (std::filesystem::temp_directory_path() / "nexios-redis-XXXXXX").string();
      if (::mkdtemp(tmpl.data()) == nullptr) {
        throw std::runtime_error("mkdtemp failed");
      }
      dir_ = tmpl;
    }
    if (options_.tls && tls_.ca_cert.empty()) {
      tls_ = generate_test_certificates(dir_);
    }
    for (int attempt = 0;; ++attempt) {
      port_ = redis_test_detail::free_port();
      if (launch() || attempt == 9) {
        if (pid_ <= 0) {
          throw std::runtime_error("redis-server did not start: " + log());
        }
        return;
      }
    }
  }

  /// SIGTERM, then SIGKILL when it has not exited within 5 s. Nothing when not running.
  void stop() {
    if (pid_ <= 0) {
      return;
    }
    ::kill(pid_, SIGCONT);  // a paused server cannot handle SIGTERM
    ::kill(pid_, SIGTERM);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (std::chrono::steady_clock::now() < deadline) {
      if (::waitpid(pid_, nullptr, WNOHANG) == pid_) {
        pid_ = -1;
        return;
      }
      redis_test_detail::pause_ms(5);
    }
    kill();
  }

  /// SIGKILL now (and reap it).
  void kill() {
    if (pid_ <= 0) {
      return;
    }
    ::kill(pid_, SIGKILL);
    while (::waitpid(pid_, nullptr, 0) < 0 && errno == EINTR) {
    }
    pid_ = -1;
  }

  /// SIGSTOP: the server stops answering (connections stay open).
  void pause() const {
    if (pid_ > 0) {
      ::kill(pid_, SIGSTOP);
    }
  }

  /// SIGCONT after pause().
  void resume() const {
    if (pid_ > 0) {
      ::kill(pid_, SIGCONT);
    }
  }

  /// Stops and starts again on the same port with the same options; waits until it answers.
  void restart() {
    stop();
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (!launch()) {
      if (std::chrono::steady_clock::now() > deadline) {
        throw std::runtime_error("redis-server did not restart on port " + std::to_string(port_) + ": " + log());
      }
      redis_test_detail::pause_ms(20);
    }
  }

  /// "redis://127.0.0.1:P/0", with ":password@" and rediss:// as configured.
  [[nodiscard]] std::string url() const {
    std::string out = options_.tls ? "rediss://" : "redis://";
    if (!options_.password.empty()) {
      out += ":" + options_.password + "@";
    }
    return out + "127.0.0.1:" + std::to_string(port_) + "/0";
  }
  /// The port (the TLS port with tls).
  [[nodiscard]] std::uint16_t port() const noexcept { return port_; }
  /// The process id, -1 when not running.
  [[nodiscard]] pid_t pid() const noexcept { return pid_; }
  /// Whether the process runs (started and not stopped or killed by us).
  [[nodiscard]] bool running() const noexcept { return pid_ > 0; }
  /// The temp dir (logs, certificates).
  [[nodiscard]] const std::string& dir() const noexcept { return dir_; }
  /// The certificates of a TLS server.
  [[nodiscard]] const TlsFiles& tls_files() const noexcept { return tls_; }
  /// The options it was started with.
  [[nodiscard]] const RedisServerOptions& options() const noexcept { return options_; }
  /// The server's log and its stderr.
  [[nodiscard]] std::string log() const {
    return redis_test_detail::read_file(dir_ + "/redis.log") + redis_test_detail::read_file(dir_ + "/stderr.log");
  }

  /// One command over a new blocking connection (AUTH first when there is a password); returns
  /// the reply. Throws std::runtime_error when the server does not answer within `timeout`.
  template <class... Args>
  resp::Value command(const Args&... args) const {
    return command_args({std::string(args)...});
  }

  /// The same with the arguments in a vector.
  resp::Value command_args(const std::vector<std::string>& args,
                           std::chrono::milliseconds timeout = std::chrono::milliseconds(5000)) const {
    redis_test_detail::SyncClient client(port_, options_.tls, timeout);
    std::vector<std::vector<std::string>> commands;
    if (!options_.password.empty()) {
      commands.push_back({"AUTH", options_.password});
    }
    commands.push_back(args);
    return client.roundtrip(commands).back();
  }

 private:
  // Starts the process on port_ and waits until it answers. False when the port was taken (the
  // caller picks another); throws on any other failure.
  bool launch() {
    std::vector<std::string> argv{redis_test_detail::find_program("redis-server"), "--bind", "127.0.0.1"};
    if (options_.tls) {
      for (const std::string& a : {std::string("--port"), std::string("0"), std::string("--tls-port"), std::to_string(port_),
                                   std::string("--tls-cert-file"), tls_.server_cert, std::string("--tls-key-file"),
                                   tls_.server_key, std::string("--tls-ca-cert-file"), tls_.ca_cert,
                                   std::string("--tls-auth-clients"), std::string("no")}) {
        argv.push_back(a);
      }
    } else {
      argv.insert(argv.end(), {"--port", std::to_string(port_)});
    }
    argv.insert(argv.end(), {"--dir", dir_, "--save", "", "--appendonly", "no", "--daemonize", "no", "--logfile",
                             dir_ + "/redis.log"});
    if (!options_.password.empty()) {
      argv.insert(argv.end(), {"--requirepass", options_.password});
    }
    argv.insert(argv.end(), options_.extra_args.begin(), options_.extra_args.end());
    std::filesystem::remove(dir_ + "/redis.log");
    std::filesystem::remove(dir_ + "/stderr.log");
    pid_ = redis_test_detail::spawn(argv, dir_ + "/stderr.log");

    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (std::chrono::steady_clock::now() < deadline) {
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        const std::string text = log();
        if (text.find("Address already in use") != std::string::npos) {
          return false;
        }
        throw std::runtime_error("redis-server exited at start: " + text);
      }
      try {
        redis_test_detail::SyncClient client(port_, options_.tls, std::chrono::milliseconds(500));
        (void)client.roundtrip({{"PING"}});  // any reply (PONG, NOAUTH) means it is up
        return true;
      } catch (const std::runtime_error&) {
        redis_test_detail::pause_ms(5);
      }
    }
    kill();
    throw std::runtime_error("redis-server did not answer PING within 10 s: " + log());
  }

  RedisServerOptions options_;  ///< as started
  TlsFiles tls_;                ///< generated once per server (restart keeps them)
  std::string dir_;             ///< the temp dir, removed by the destructor
  std::uint16_t port_ = 0;      ///< kept by restart()
  pid_t pid_ = -1;              ///< -1: not running
};

}  // namespace nexios::test
