#pragma once
// transport::Connection: one TCP connection, first speaking HTTP/1.1 and, after an upgrade,
// RFC 6455. It owns the socket, the parsers, the buffers and the timers; it knows nothing of
// users' types. The app layer drives it through `Dispatcher` (HTTP requests) and the ws_* calls
// (WebSocket sessions); every call happens on the connection's own event loop thread.

#include "transport/buffer_pool.hpp"
#include "transport/event.hpp"
#include "transport/stats.hpp"

#include <nexios/http/parser.hpp>
#include <nexios/http/response.hpp>
#include <nexios/limits.hpp>
#include <nexios/log.hpp>
#include <nexios/task.hpp>
#include <nexios/ws/frame_parser.hpp>
#include <nexios/ws/rfc6455.hpp>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>

#include <atomic>
#include <chrono>
#include <functional>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace nexios::transport {

class Connection;
struct Worker;

/// What the app layer implements to serve requests.
class Dispatcher {
 public:
  virtual ~Dispatcher() = default;
  /// Handles the complete request `conn.request()`. Either fills `res` and returns false (the
  /// transport writes it), or takes the connection over and returns true: from then on the
  /// dispatcher is responsible for it (a WebSocket session running as its own task, holding a
  /// reference to the connection, until the connection is finished).
  virtual Task<bool> handle(Connection& conn, http::Response& res) = 0;
};

/// A frame encoded once and shared by every connection that sends it (group fan-out, history).
/// Made only by SharedFrame::make, which refuses a text frame whose payload is not valid UTF-8:
/// with Connection::ws_send it is the one path every text payload takes to the wire.
class SharedFrame {
 public:
  /// The unmasked server frame for `payload`, or nullptr when `opcode` is text and `payload` is
  /// not valid UTF-8.
  static std::shared_ptr<const SharedFrame> make(ws::Opcode opcode, std::string_view payload);
  /// The same frame by value, for an owner that embeds it (a saved history entry shares its
  /// control block with the frame); std::nullopt for text that is not valid UTF-8.
  static std::optional<SharedFrame> encode(ws::Opcode opcode, std::string_view payload);

  SharedFrame(SharedFrame&&) noexcept = default;
  SharedFrame& operator=(SharedFrame&&) noexcept = default;
  SharedFrame(const SharedFrame&) = delete;
  SharedFrame& operator=(const SharedFrame&) = delete;
  ~SharedFrame() = default;

  /// Header and payload, as they go on the wire.
  [[nodiscard]] const std::vector<std::uint8_t>& bytes() const noexcept { return bytes_; }
  /// The payload (the frame less its header).
  [[nodiscard]] std::string_view payload() const noexcept {
    return {reinterpret_cast<const char*>(bytes_.data()) + header_size_, bytes_.size() - header_size_};
  }

 private:
  SharedFrame(std::vector<std::uint8_t> frame, std::size_t header_size) noexcept
      : bytes_(std::move(frame)), header_size_(header_size) {}

  std::vector<std::uint8_t> bytes_;
  std::size_t header_size_;
};

/// Outcome of queueing a frame.
enum class SendStatus : std::uint8_t {
  queued,        ///< queued for writing
  closed_by_us,  ///< we already sent a close frame
  peer_gone,     ///< the peer closed or the TCP connection failed
  dropped,       ///< not queued: not a WebSocket yet, or over max_send_queue (slow consumer)
  invalid_utf8,  ///< not queued: a text payload that is not valid UTF-8
};

/// Outcome of waiting for a WebSocket message.
struct Received {
  enum class Kind : std::uint8_t { message, closed } kind = Kind::closed;
  bool binary = false;
  std::string_view data;           ///< the message; valid until the next ws_receive()
  std::uint16_t code = 1006;       ///< closed: the peer's close code (1005 none, 1006 no close frame)
  std::string_view reason;         ///< closed: the peer's reason
};

class Connection : public std::enable_shared_from_this<Connection> {
 public:
  /// `remote` is the peer's address as the acceptor saw it (the per-address limits count it).
  Connection(Worker& worker, boost::asio::ip::tcp::socket socket, boost::asio::ip::tcp::endpoint remote);
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;
  ~Connection();

  /// The connection's session: HTTP requests until close or upgrade. Spawned by the acceptor.
  Task<> run(Dispatcher& dispatcher);

  // ---- information ----------------------------------------------------------------------------
  [[nodiscard]] const http::Request& request() const noexcept { return parser_.request(); }
  [[nodiscard]] const boost::asio::ip::tcp::endpoint& remote_endpoint() const noexcept { return remote_; }
  [[nodiscard]] const boost::asio::ip::tcp::endpoint& local_endpoint() const noexcept { return local_; }
  [[nodiscard]] boost::asio::any_io_executor executor() const noexcept { return executor_; }
  [[nodiscard]] const Limits& limits() const noexcept;
  [[nodiscard]] Worker& worker() noexcept { return worker_; }
  /// Ask the transport to close the connection after the current response.
  void close_after_response() noexcept { keep_alive_ = false; }

  // ---- observability --------------------------------------------------------------------------
  /// The connection's id: increasing from 1 with each accepted TCP connection of the process.
  [[nodiscard]] std::uint64_t id() const noexcept { return id_; }
  /// The route pattern that matched the current request, named in its access record. The view
  /// must outlive the connection (the app's frozen route table does).
  void set_route(std::string_view pattern) noexcept { route_ = pattern; }
  /// Notes why the WebSocket handshake of the current request is refused: counts it (once per
  /// request) and names the reason in the access record, which then describes a WebSocket.
  void note_handshake_rejected(stats::Reject reason) noexcept;
  /// Writes a record about this connection (its id and client address), if `level` is enabled.
  void log_event(LogLevel level, std::string_view component, std::string_view message,
                 std::initializer_list<LogField> fields = {}) const noexcept;
  void log_event(LogLevel level, std::string_view component, std::string_view message,
                 std::span<const LogField> fields) const noexcept;

  // ---- WebSocket phase ------------------------------------------------------------------------
  /// Writes the 101 response and starts reading frames. Returns false if the peer is gone.
  Task<bool> ws_accept(std::string_view subprotocol, std::span<const std::pair<std::string, std::string>> headers);
  /// Answers the upgrade request with an HTTP response instead, then closes the connection.
  Task<> ws_reject(http::Response response);
  /// Waits for the next data message (releasing the previous one) or the end of the connection.
  Task<Received> ws_receive();
  /// Queues a data frame (text or binary), copying the payload.
  SendStatus ws_send(ws::Opcode opcode, std::string_view payload);
  /// Queues a frame encoded once for many connections. Over `max_send_queue` the slow-consumer
  /// policy applies (close 1008, or drop this frame) and `dropped` is returned.
  SendStatus ws_send_shared(std::shared_ptr<const SharedFrame> frame);
  /// Waits while more than `send_buffer_high_water` bytes are queued and the peer is still there.
  Task<> ws_wait_writable();
  /// Sends a close frame (once) and starts the close handshake; the TCP connection is closed when
  /// the peer answers, or after `close_timeout`. Returns false if a close frame was already sent.
  bool ws_close(std::uint16_t code, std::string_view reason);
  /// Waits until the connection is fully closed.
  Task<> ws_wait_closed();
  /// Closes at once (server shutdown past its drain time).
  void abort() noexcept;

  [[nodiscard]] bool ws_close_sent() const noexcept { return close_sent_; }
  /// True once the peer's close frame arrived or the TCP connection ended.
  [[nodiscard]] bool ws_peer_gone() const noexcept { return peer_closed_ || transport_failed_; }
  /// The code receive() reports at the end: the peer's close code, our failure code, or 1006.
  [[nodiscard]] std::uint16_t ws_end_code() const noexcept { return end_code_; }
  /// The code a send that finds the connection closing reports: the end code once known, else
  /// the code of the close frame the server sent (e.g. 1001 at shutdown), else 1006.
  [[nodiscard]] std::uint16_t ws_disconnect_code() const noexcept {
    if (ended_) {
      return end_code_;
    }
    return close_sent_ ? sent_code_ : ws::close_code::abnormal;
  }
  /// The reason that goes with ws_disconnect_code().
  [[nodiscard]] std::string_view ws_disconnect_reason() const noexcept {
    return ended_ ? std::string_view(end_reason_) : std::string_view();
  }
  [[nodiscard]] std::size_t ws_queued_bytes() const noexcept { return queued_bytes_; }
  /// Messages dropped by the `drop` rate-limit policy on this connection.
  [[nodiscard]] std::uint64_t ws_rate_limited_messages() const noexcept { return rate_limited_messages_; }
  [[nodiscard]] bool is_websocket() const noexcept { return phase_ == Phase::websocket; }
  /// Thread-safe: the WebSocket is open (accepted, no close frame sent or received, not ended).
  [[nodiscard]] bool ws_is_open() const noexcept { return open_.load(std::memory_order_acquire); }
  /// Thread-safe: steady-clock time (ns) of the last data message received / queued for sending.
  [[nodiscard]] std::int64_t last_message_in_ns() const noexcept { return last_in_ns_.load(std::memory_order_relaxed); }
  [[nodiscard]] std::int64_t last_message_out_ns() const noexcept {
    return last_out_ns_.load(std::memory_order_relaxed);
  }
  /// Runs `callback` on the connection's thread as soon as the WebSocket stops being open (a close
  /// frame sent or received, a failure, or the end of the connection), at once if it already
  /// has. Callbacks run once, outside any lock of the connection.
  void on_end(std::function<void()> callback);
  /// Runs `callback` on the connection's thread once the TCP connection is closed (at once if it
  /// already is).
  void on_finish(std::function<void()> callback);

  /// Server shutdown: close an idle HTTP connection, finish an in-flight request without
  /// keep-alive, close a WebSocket with 1001.
  void begin_shutdown();

  // Intrusive list of the worker's connections.
  Connection* prev_ = nullptr;
  Connection* next_ = nullptr;

 private:
  enum class Phase : std::uint8_t { http, websocket, closed };
  enum class Deadline : std::uint8_t { none, keep_alive, header, body, close, ping, idle, message, throttle };

  struct Segment {
    std::size_t offset = 0;  // into bytes, when frame is null
    std::size_t size = 0;
    std::shared_ptr<const SharedFrame> frame;
  };
  struct WriteBatch {
    std::vector<std::uint8_t> bytes;
    std::vector<Segment> segments;
    std::size_t total = 0;
    [[nodiscard]] bool empty() const noexcept { return segments.empty(); }
    void clear() noexcept {
      bytes.clear();
      segments.clear();
      total = 0;
    }
  };

  // HTTP phase
  Task<bool> read_request();
  Task<bool> write_all(std::string_view data);
  Task<> linger_close();
  void feed_parser(const std::uint8_t* data, std::size_t size, std::error_code& ec);
  Task<bool> write_error(int status, std::string_view why = {});
  static std::string parse_error_reason(const std::error_code& ec);

  // WebSocket phase
  void pump_reader();
  void on_readable(const boost::system::error_code& ec);
  void end_reader();
  void process_input();
  void on_control(ws::Opcode opcode, std::string_view payload);
  void fail(std::uint16_t code, std::string_view reason);
  void drop_pending() noexcept;
  void mark_ended() noexcept;
  void note_out() noexcept;
  void on_peer_gone(std::uint16_t code, std::string_view reason, bool transport_error);
  bool ensure_read_space(std::size_t want = 4096);
  void release_read_buffer() noexcept;
  void append_frame(ws::Opcode opcode, std::string_view payload);
  void schedule_flush();
  void start_write();
  void on_written(const boost::system::error_code& ec);
  void after_close_flushed();
  void finish() noexcept;

  // Observability
  void note_close(std::uint16_t code, std::string_view reason, bool by_peer);
  void end_request(int status, std::size_t bytes) noexcept;
  void log_ws_access(bool accepted) const noexcept;

  // Watchdog
  void arm(Deadline kind, std::chrono::steady_clock::time_point at);
  void arm_ws_watchdog();
  void on_timer(const boost::system::error_code& ec);

  Worker& worker_;
  boost::asio::ip::tcp::socket socket_;
  boost::asio::any_io_executor executor_;
  boost::asio::ip::tcp::endpoint remote_;
  boost::asio::ip::tcp::endpoint local_;
  boost::asio::steady_timer timer_;
  Deadline deadline_ = Deadline::none;
  std::chrono::steady_clock::time_point deadline_at_{};
  bool timed_out_ = false;

  Phase phase_ = Phase::http;
  bool keep_alive_ = true;
  bool in_request_ = false;   // between the first byte of a request and its response
  bool shutting_down_ = false;

  // HTTP
  http::RequestParser parser_;
  std::vector<std::uint8_t> leftover_;  // bytes read beyond the current request (pipelining)
  std::string out_;                     // serialized response

  // WebSocket: reading
  ws::FrameParser frames_;
  std::uint8_t* rb_ = nullptr;
  std::size_t rb_cap_ = 0;
  std::size_t rb_begin_ = 0;   // first unparsed byte
  std::size_t rb_end_ = 0;     // end of read bytes
  std::size_t msg_begin_ = 0;  // current message payload [msg_begin_, msg_end_)
  std::size_t msg_end_ = 0;
  bool msg_active_ = false;
  bool slot_full_ = false;     // a complete message waits in [msg_begin_, msg_end_)
  bool slot_binary_ = false;
  bool delivered_ = false;     // the slot's message was handed to ws_receive()
  bool receiving_ = false;
  bool reader_running_ = false;
  bool read_pending_ = false;   // a readiness wait is outstanding
  bool pumping_ = false;        // pump_reader() is on the stack
  bool discarding_ = false;     // after our close frame: input only matters for the peer's close
  bool parser_failed_ = false;
  Event msg_ready_;

  // WebSocket: close
  bool close_sent_ = false;
  bool close_flushed_ = false;
  bool peer_closed_ = false;
  bool transport_failed_ = false;
  bool send_shutdown_ = false;
  bool finished_ = false;
  bool peer_eof_ = false;
  bool ended_ = false;          // receive() now reports the end: end_code_/end_reason_
  std::uint16_t end_code_ = ws::close_code::abnormal;
  std::uint16_t sent_code_ = ws::close_code::abnormal;  // code of the close frame we sent
  std::string end_reason_;
  std::chrono::steady_clock::time_point close_deadline_{};
  Event closed_;

  // WebSocket: writing
  WriteBatch pending_;
  WriteBatch inflight_;
  std::vector<boost::asio::const_buffer> gather_;
  std::size_t queued_bytes_ = 0;
  bool writing_ = false;
  bool flush_scheduled_ = false;
  Event writable_;

  // Shared with other threads (channels, groups)
  std::atomic<bool> open_{false};
  std::atomic<std::int64_t> last_in_ns_{0};
  std::atomic<std::int64_t> last_out_ns_{0};
  std::vector<std::function<void()>> end_callbacks_;
  std::vector<std::function<void()>> finish_callbacks_;
  bool end_notified_ = false;

  // Liveness. Activity is a complete data message, ping or pong (not a byte: a peer dribbling
  // bytes of a message it never finishes is not active); idle_timeout counts from it.
  void note_activity(std::chrono::steady_clock::time_point now) noexcept;
  /// Called before each wait for input: starts the message_timeout clock when the input ends
  /// inside a frame or a fragmented message.
  void note_partial_input();
  void note_reader_paused();
  void timed_out_ws(std::uint16_t code, std::string_view reason);
  std::chrono::steady_clock::time_point last_activity_{};
  std::chrono::steady_clock::time_point next_ping_{};
  std::chrono::steady_clock::time_point partial_since_{};  // first wait with a message unfinished
  bool partial_ = false;
  bool reader_paused_ = false;  // the reader stopped without waiting for input (message clock stopped)
  std::chrono::steady_clock::time_point paused_at_{};

  // Inbound rate limits: token buckets holding one second's worth (Limits::max_messages_per_second,
  // max_bytes_per_second), refilled from the time of each read.
  void refill_buckets(std::chrono::steady_clock::time_point now) noexcept;
  /// Charges `n` bytes read; past the budget applies rate_limit_policy.
  void charge_bytes(std::size_t n, std::chrono::steady_clock::time_point now);
  /// Charges a completed message; returns false when it is not to be delivered (dropped, or the
  /// connection is being closed for its rate).
  bool admit_message(std::chrono::steady_clock::time_point now);
  /// Stops reading until the overdrawn buckets are back at zero.
  void throttle(std::chrono::steady_clock::time_point now);
  void count_rate_limited(stats::RateKind kind, stats::RateAction action) noexcept;
  [[nodiscard]] bool over_rate() const noexcept { return message_tokens_ < 0 || byte_tokens_ < 0; }
  double message_tokens_ = 0;
  double byte_tokens_ = 0;
  std::chrono::steady_clock::time_point refilled_at_{};
  std::chrono::steady_clock::time_point throttle_until_{};
  bool throttled_ = false;
  std::uint64_t rate_limited_messages_ = 0;  // dropped (drop policy)

  // Observability (the access record, the worker's counters)
  enum class Closer : std::uint8_t { none, client, server };
  std::uint64_t id_ = 0;
  std::string_view route_;
  std::optional<stats::Reject> reject_;    // the current handshake is refused, and why
  int reject_status_ = 0;                  // the status of a refusal written by ws_reject
  bool request_started_ = false;           // request_start_ is set for the current request
  std::chrono::steady_clock::time_point opened_at_{};
  std::chrono::steady_clock::time_point request_start_{};
  std::uint64_t requests_ = 0;
  std::uint64_t msgs_in_ = 0;
  std::uint64_t msgs_out_ = 0;
  std::uint64_t bytes_in_ = 0;
  std::uint64_t bytes_out_ = 0;
  Closer closer_ = Closer::none;           // who sent the first close frame
  std::uint16_t close_code_ = ws::close_code::abnormal;
  std::string close_reason_;
};

}  // namespace nexios::transport
