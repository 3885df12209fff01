#pragma once
/// @file
/// One Redis connection on an Asio loop: TCP or TLS, AUTH and SELECT, pipelined commands whose
/// replies reach their handlers in order, RESP2 pub/sub, reply and connect timeouts. Everything
/// runs on the connection's executor (single-threaded; callers post there). The channel layer
/// (src/redis/layer*.cpp) builds on it.

#include "resp/resp.hpp"

#include <nexios/task.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/system/error_code.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <initializer_list>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

namespace nexios::redis::detail {

/// Where and how to connect, and the connection's bounds.
struct ConnectionConfig {
  /// Host name or IP address (IPv6 without brackets).
  std::string host = "127.0.0.1";
  /// TCP port.
  std::uint16_t port = 6379;
  /// ACL user; empty: AUTH <password> only.
  std::string username;
  /// Empty: no AUTH.
  std::string password;
  /// SELECT when not 0.
  int db = 0;
  /// TLS (rediss://).
  bool tls = false;
  /// CA certificates (PEM) to verify the server with; empty: the system's default paths.
  std::string tls_ca_file;
  /// Optional client certificate chain (PEM).
  std::string tls_cert_file;
  /// The client certificate's private key (PEM).
  std::string tls_key_file;
  /// Verify the server's certificate and name.
  bool tls_verify = true;
  /// SNI (when it is not an IP address) and the name checked; empty: host.
  std::string tls_server_name;
  /// Bound of connect(): TCP + TLS + AUTH + SELECT (or the PING that confirms the server).
  std::chrono::milliseconds connect_timeout{5000};
  /// The oldest outstanding reply waited longer: the connection fails (0: never).
  std::chrono::milliseconds reply_timeout{5000};
  /// Most commands queued or waiting for their reply.
  std::size_t max_pending = 100'000;
  /// Most bytes of commands queued but not yet handed to the socket (one command larger than
  /// this is still accepted when nothing else is queued).
  std::size_t max_write_buffer_bytes = std::size_t{64} * 1024 * 1024;
  /// Bounds of the replies (and so of the memory a reply can take).
  resp::ParserLimits parser_limits{};
};

/// redis://[[user]:password@]host[:port][/db] and rediss:// (TLS); user and password
/// percent-decoded; IPv6 in brackets. A user info without ':' is the password (as redis-cli).
/// Throws std::invalid_argument saying what is wrong.
[[nodiscard]] ConnectionConfig parse_url(std::string_view url);

/// The URL without the password, for logs ("redis://user:***@host:6379/2").
[[nodiscard]] std::string describe(const ConnectionConfig& cfg);

/// One connection to a Redis server. Create it with create(), then co_await connect() on its
/// executor. While open it keeps itself alive (its pending read holds a reference): close() it
/// when done.
class Connection : public std::enable_shared_from_this<Connection> {
 public:
  /// Receives a reply: ec is clear for every reply from Redis (a Redis error reply is a Value of
  /// type error); ec is set when the connection failed or was closed before the reply came.
  using ReplyHandler = std::function<void(std::error_code ec, resp::Value reply)>;
  /// Receives the messages of subscribed channels.
  using MessageHandler = std::function<void(std::string_view channel, std::string_view payload)>;
  /// Receives why the connection failed.
  using CloseHandler = std::function<void(const std::string& why)>;

  /// A connection on `ex`, not connected yet.
  [[nodiscard]] static std::shared_ptr<Connection> create(boost::asio::any_io_executor ex, ConnectionConfig cfg);

  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;
  /// Closes the socket (outstanding handlers are not called any more).
  ~Connection();

  /// Connects (TCP, TLS when configured), then AUTH and SELECT (a PING when neither is needed, so
  /// a success always means a Redis server answered). Returns an empty string on success, else a
  /// clear error ("connection refused: 127.0.0.1:6390", "AUTH failed: WRONGPASS ...", "TLS
  /// handshake failed: certificate verify failed (...)", "timed out after 5000 ms connecting to
  /// 127.0.0.1:6379"). Call it once, on the executor.
  nexios::Task<std::string> connect();

  /// Queues a command; replies reach the handlers in order, on the executor. Everything queued
  /// during one turn of the loop leaves in one write (one write in flight at a time; the next
  /// takes everything queued meanwhile). Returns false (the handler is never called) when the
  /// connection is not open, max_pending commands are outstanding, the write buffer is full,
  /// `args` is empty or the command is a (P|S)(UN)SUBSCRIBE (use subscribe()/unsubscribe()).
  bool send(std::span<const std::string_view> args, ReplyHandler handler);
  /// The same for one command already in RESP (resp::append_command or begin_command/append_arg);
  /// not a (P)(UN)SUBSCRIBE, which the caller must not pass.
  bool send_encoded(std::string_view command, ReplyHandler handler);
  /// The same for a braced list: `send({"SET", key, value}, handler)`.
  bool send(std::initializer_list<std::string_view> args, ReplyHandler handler);
  /// The same, awaited: the ec and the reply; never throws for Redis or connection errors (a
  /// refused send gives std::errc::not_connected, std::errc::resource_unavailable_try_again when
  /// a bound is reached, std::errc::invalid_argument for an empty or (UN)SUBSCRIBE command).
  nexios::Task<std::pair<std::error_code, resp::Value>> command(std::vector<std::string> args);

  /// Messages of subscribed channels (["message", channel, payload], and pmessage's channel).
  void set_message_handler(MessageHandler h);
  /// SUBSCRIBE one channel; `confirmed` runs when Redis confirms it (messages published after
  /// that point arrive). Once subscribed, only subscribe/unsubscribe and PING (answered
  /// ["pong", ""], routed to the PING's handler) may be sent. Returns false like send().
  bool subscribe(std::string_view channel, std::function<void()> confirmed = {});
  /// UNSUBSCRIBE one channel. Returns false like send().
  bool unsubscribe(std::string_view channel);

  /// Runs once when an open connection fails or the peer closes it (not after close()).
  void set_close_handler(CloseHandler h);
  /// Closes now; outstanding handlers get std::errc::operation_canceled. Idempotent.
  void close();
  /// Whether connect() succeeded and the connection has not failed or been closed since.
  [[nodiscard]] bool is_open() const noexcept;
  /// Commands queued or waiting for their reply.
  [[nodiscard]] std::size_t pending() const noexcept;
  /// Channels Redis has confirmed and not yet unsubscribed.
  [[nodiscard]] std::size_t subscriptions() const noexcept { return subscriptions_; }
  /// Writes handed to the socket so far (pipelining statistics; tests check it).
  [[nodiscard]] std::size_t writes_started() const noexcept { return writes_; }
  /// The configuration.
  [[nodiscard]] const ConnectionConfig& config() const noexcept { return cfg_; }

 private:
  /// What a queued command expects back.
  enum class Kind : std::uint8_t { normal, subscribe, unsubscribe };
  /// idle → connecting → open → closed (or connecting → closed).
  enum class State : std::uint8_t { idle, connecting, open, closed };
  /// A command queued or waiting for its reply.
  struct Pending {
    ReplyHandler handler;
    std::function<void()> confirmed;  // subscribe: Redis confirmed
    std::chrono::steady_clock::time_point queued;
    Kind kind = Kind::normal;
    bool subscriber_mode = false;  // sent while in subscriber mode: pushes may precede its reply
  };
  /// The sockets, TLS context and timers (defined in connection.cpp: no OpenSSL in this header).
  struct Io;

  /// Use create().
  Connection(boost::asio::any_io_executor ex, ConnectionConfig cfg);

  /// Appends the command to the write buffer and the pending queue (while connecting too);
  /// schedules the write for the end of this loop turn. False when a bound is reached.
  bool enqueue(std::span<const std::string_view> args, ReplyHandler handler, Kind kind,
               std::function<void()> confirmed);
  /// The bounds, then the command (already appended from `before` on) joins the pending queue.
  bool commit(std::size_t before, ReplyHandler handler, Kind kind, std::function<void()> confirmed);
  /// enqueue() awaited (connect() uses it before the connection is open).
  nexios::Task<std::pair<std::error_code, resp::Value>> request(std::vector<std::string> args);
  /// SNI, verification and the TLS handshake; an empty string or the error text.
  nexios::Task<std::string> handshake_tls();
  /// Writes everything queued, unless a write is in flight (its completion starts the next).
  void start_write();
  /// One read into the read buffer; on_read parses it and reads again.
  void start_read();
  /// Feeds the parser and dispatches each reply; a read error or malformed stream fails.
  void on_read(const boost::system::error_code& ec, std::size_t n);
  /// A reply to the oldest pending command, or a pub/sub message.
  void dispatch(resp::Value v);
  // Whether the next value may be a push message rather than the reply to pending_.front().
  [[nodiscard]] bool push_possible() const noexcept;
  /// Arms the timer for the oldest pending command's reply_timeout, if not armed.
  void arm_reply_timer();
  /// Closes, gives every outstanding handler `ec`, runs the close handler once if it was open.
  void fail(std::error_code ec, const std::string& why);
  /// Cancels the resolver and timers and closes the socket.
  void close_transport() noexcept;

  boost::asio::any_io_executor executor_;
  ConnectionConfig cfg_;
  std::unique_ptr<Io> io_;
  resp::Parser parser_;
  State state_ = State::idle;
  std::deque<Pending> pending_;
  std::string wbuf_;      // queued, not yet written
  std::string inflight_;  // being written
  bool writing_ = false;
  bool write_posted_ = false;
  bool reply_timer_armed_ = false;
  bool connect_timed_out_ = false;
  bool subscriber_mode_ = false;
  std::size_t subscribes_pending_ = 0;
  std::size_t subscriptions_ = 0;
  std::size_t writes_ = 0;
  MessageHandler message_handler_;
  CloseHandler close_handler_;
};

}  // namespace nexios::redis::detail
