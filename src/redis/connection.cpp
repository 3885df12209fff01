/// @file
/// The Redis connection: connect (TCP/TLS, AUTH, SELECT), the pipelined write path, the read
/// loop feeding the RESP parser, pub/sub routing, timeouts and failure; parse_url and describe.

#include "redis/connection.hpp"

#include <nexios/detail/ascii.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <array>
#include <cctype>
#include <charconv>
#include <stdexcept>

namespace nexios::redis::detail {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

namespace {

constexpr auto tuple_awaitable = asio::as_tuple(asio::use_awaitable);

std::string host_port(const ConnectionConfig& cfg) {
  const bool v6 = cfg.host.find(':') != std::string::npos;
  return (v6 ? "[" + cfg.host + "]" : cfg.host) + ":" + std::to_string(cfg.port);
}

std::string lower_first(std::string s) {
  if (!s.empty()) {
    s[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(s[0])));
  }
  return s;
}

bool iequals(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) {
    return false;
  }
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

bool is_subscribe_command(std::string_view name) noexcept {
  for (const std::string_view c : {"SUBSCRIBE", "UNSUBSCRIBE", "PSUBSCRIBE", "PUNSUBSCRIBE", "SSUBSCRIBE", "SUNSUBSCRIBE"}) {
    if (iequals(name, c)) {
      return true;
    }
  }
  return false;
}

// A RESP2 push of subscriber mode: ["message", ch, payload], ["pmessage", pattern, ch, payload]
// or ["smessage", ch, payload]. Gives the channel and payload.
bool as_push(const resp::Value& v, std::string_view& channel, std::string_view& payload) {
  if (!v.is_array() || v.elements.empty() || !v.elements[0].is_string()) {
    return false;
  }
  const auto& e = v.elements;
  const std::string_view kind = e[0].str;
  if ((kind == "message" || kind == "smessage") && e.size() == 3 && e[1].is_string() && e[2].is_string()) {
    channel = e[1].str;
    payload = e[2].str;
    return true;
  }
  if (kind == "pmessage" && e.size() == 4 && e[2].is_string() && e[3].is_string()) {
    channel = e[2].str;
    payload = e[3].str;
    return true;
  }
  return false;
}

// "certificate verify failed (unable to get local issuer certificate)" rather than OpenSSL's
// "certificate verify failed (SSL routines)".
std::string tls_reason(const boost::system::error_code& ec, SSL* ssl) {
  if (ec.category() == asio::error::get_ssl_category()) {
    const char* reason = ::ERR_reason_error_string(static_cast<unsigned long>(ec.value()));
    std::string out = reason != nullptr ? reason : ec.message();
    const long verify = ::SSL_get_verify_result(ssl);
    if (verify != X509_V_OK) {
      out += std::string(" (") + ::X509_verify_cert_error_string(verify) + ")";
    }
    return out;
  }
  if (ec == asio::ssl::error::stream_truncated || ec == asio::error::eof) {
    return "the server closed the connection";
  }
  return lower_first(ec.message());
}

}  // namespace

// The sockets and timers, out of the header so that its users need no OpenSSL headers.
struct Connection::Io {
  explicit Io(const asio::any_io_executor& ex) : socket(ex), resolver(ex), connect_timer(ex), reply_timer(ex) {}

  tcp::socket socket;                                      // TCP, when not TLS
  std::unique_ptr<asio::ssl::context> tls_context;         // TLS only
  std::unique_ptr<asio::ssl::stream<tcp::socket>> tls;     // TLS only: owns its TCP socket
  tcp::resolver resolver;
  asio::steady_timer connect_timer;
  asio::steady_timer reply_timer;
  std::array<char, 64 * 1024> read_buffer{};

  tcp::socket& tcp_socket() { return tls ? tls->next_layer() : socket; }

  // Runs f on the stream in use: the TLS stream or the TCP socket.
  template <class F>
  void with_stream(F&& f) {
    if (tls) {
      f(*tls);
    } else {
      f(socket);
    }
  }
};

std::shared_ptr<Connection> Connection::create(asio::any_io_executor ex, ConnectionConfig cfg) {
  return std::shared_ptr<Connection>(new Connection(std::move(ex), std::move(cfg)));
}

Connection::Connection(asio::any_io_executor ex, ConnectionConfig cfg)
    : executor_(std::move(ex)),
      cfg_(std::move(cfg)),
      io_(std::make_unique<Io>(executor_)),
      parser_(cfg_.parser_limits) {}

Connection::~Connection() {
  close_transport();
}

void Connection::close_transport() noexcept {
  boost::system::error_code ignored;
  io_->resolver.cancel();
  io_->connect_timer.cancel();
  io_->reply_timer.cancel();
  io_->tcp_socket().close(ignored);
}

// GCC 12 reports a false -Wmismatched-new-delete on this coroutine's frame (Asio's frame
// allocator's operator new/delete pair, inlined into the coroutine's ramp).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif
nexios::Task<std::string> Connection::connect() {
  auto self = shared_from_this();
  if (state_ != State::idle) {
    co_return std::string("connect() may be called once, on a new connection");
  }
  state_ = State::connecting;
  const std::string where = host_port(cfg_);
  io_->connect_timer.expires_after(cfg_.connect_timeout);
  io_->connect_timer.async_wait([self](boost::system::error_code ec) {
    if (!ec && self->state_ == State::connecting) {
      self->connect_timed_out_ = true;
      self->fail(std::make_error_code(std::errc::timed_out), "connect timed out");
    }
  });
  // Every failure path: the connection is closed, and a timeout wins over what it caused.
  auto failed = [&](const std::string& why) -> std::string {
    fail(std::make_error_code(std::errc::not_connected), why);
    if (connect_timed_out_) {
      return "timed out after " + std::to_string(cfg_.connect_timeout.count()) + " ms connecting to " + where;
    }
    return why;
  };

  auto [rec, endpoints] = co_await io_->resolver.async_resolve(cfg_.host, std::to_string(cfg_.port), tuple_awaitable);
  if (rec || state_ != State::connecting) {
    co_return failed("cannot resolve " + cfg_.host + ": " + lower_first(rec.message()));
  }
  if (cfg_.tls) {
    try {
      io_->tls_context = std::make_unique<asio::ssl::context>(asio::ssl::context::tls_client);
      auto& ctx = *io_->tls_context;
      ::SSL_CTX_set_min_proto_version(ctx.native_handle(), TLS1_2_VERSION);
      if (cfg_.tls_ca_file.empty()) {
        ctx.set_default_verify_paths();
      } else {
        ctx.load_verify_file(cfg_.tls_ca_file);
      }
      if (!cfg_.tls_cert_file.empty()) {
        ctx.use_certificate_chain_file(cfg_.tls_cert_file);
        ctx.use_private_key_file(cfg_.tls_key_file.empty() ? cfg_.tls_cert_file : cfg_.tls_key_file,
                                 asio::ssl::context::pem);
      }
      io_->tls = std::make_unique<asio::ssl::stream<tcp::socket>>(executor_, ctx);
    } catch (const boost::system::system_error& e) {
      co_return failed(std::string("TLS setup failed: ") + e.what());
    }
  }
  auto [cec, endpoint] = co_await asio::async_connect(io_->tcp_socket(), endpoints, tuple_awaitable);
  if (cec || state_ != State::connecting) {
    co_return failed(lower_first(cec.message()) + ": " + where);
  }
  (void)endpoint;
  boost::system::error_code ignored;
  io_->tcp_socket().set_option(tcp::no_delay(true), ignored);

  if (io_->tls) {
    std::string why = co_await handshake_tls();
    if (!why.empty()) {
      co_return failed(why);
    }
  }

  start_read();
  bool confirmed = false;
  if (!cfg_.password.empty()) {
    std::vector<std::string> auth{"AUTH"};
    if (!cfg_.username.empty()) {
      auth.push_back(cfg_.username);
    }
    auth.push_back(cfg_.password);
    auto [ec, reply] = co_await request(std::move(auth));
    if (ec) {
      co_return failed("connection lost during AUTH: " + ec.message());
    }
    if (reply.is_error()) {
      co_return failed("AUTH failed: " + reply.str);
    }
    confirmed = true;
  }
  if (cfg_.db != 0) {
    std::vector<std::string> select{"SELECT", std::to_string(cfg_.db)};
    auto [ec, reply] = co_await request(std::move(select));
    if (ec) {
      co_return failed("connection lost during SELECT: " + ec.message());
    }
    if (reply.is_error()) {
      co_return failed("SELECT " + std::to_string(cfg_.db) + " failed: " + reply.str);
    }
    confirmed = true;
  }
  if (!confirmed) {
    std::vector<std::string> ping{"PING"};
    auto [ec, reply] = co_await request(std::move(ping));
    if (ec) {
      co_return failed("connection lost during PING: " + ec.message());
    }
    if (reply.is_error()) {
      co_return failed("PING failed: " + reply.str);
    }
  }
  if (state_ != State::connecting) {
    co_return failed("closed while connecting");
  }
  io_->connect_timer.cancel();
  state_ = State::open;
  co_return std::string{};
}
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

nexios::Task<std::string> Connection::handshake_tls() {
  auto& stream = *io_->tls;
  const std::string& name = cfg_.tls_server_name.empty() ? cfg_.host : cfg_.tls_server_name;
  boost::system::error_code not_ip;
  (void)asio::ip::make_address(name, not_ip);
  if (not_ip && ::SSL_ctrl(stream.native_handle(), SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name,
                              const_cast<char*>(name.c_str())) != 1) {
    co_return std::string("TLS setup failed: cannot set the server name ") + name;
  }
  if (cfg_.tls_verify) {
    stream.set_verify_mode(asio::ssl::verify_peer);
    stream.set_verify_callback(asio::ssl::host_name_verification(name));
  } else {
    stream.set_verify_mode(asio::ssl::verify_none);
  }
  auto [ec] = co_await stream.async_handshake(asio::ssl::stream_base::client, tuple_awaitable);
  if (ec) {
    co_return "TLS handshake failed: " + tls_reason(ec, stream.native_handle());
  }
  co_return std::string{};
}

nexios::Task<std::pair<std::error_code, resp::Value>> Connection::request(std::vector<std::string> args) {
  auto self = shared_from_this();
  const std::vector<std::string_view> views(args.begin(), args.end());
  auto initiate = [self, &views](auto handler) {
    auto h = std::make_shared<decltype(handler)>(std::move(handler));
    const bool ok = self->enqueue(
        views, [h](std::error_code ec, resp::Value reply) { (*h)(ec, std::move(reply)); }, Kind::normal, {});
    if (!ok) {
      const std::error_code why = self->state_ == State::open || self->state_ == State::connecting
                                      ? std::make_error_code(std::errc::resource_unavailable_try_again)
                                      : std::make_error_code(std::errc::not_connected);
      asio::post(self->executor_, [h, why] { (*h)(why, resp::Value{}); });
    }
  };
  auto [ec, reply] = co_await asio::async_initiate<decltype(tuple_awaitable), void(std::error_code, resp::Value)>(
      initiate, tuple_awaitable);
  co_return std::pair<std::error_code, resp::Value>{ec, std::move(reply)};
}

nexios::Task<std::pair<std::error_code, resp::Value>> Connection::command(std::vector<std::string> args) {
  if (state_ != State::open) {
    co_return std::pair<std::error_code, resp::Value>{std::make_error_code(std::errc::not_connected), resp::Value{}};
  }
  if (args.empty() || is_subscribe_command(args.front())) {
    co_return std::pair<std::error_code, resp::Value>{std::make_error_code(std::errc::invalid_argument), resp::Value{}};
  }
  co_return co_await request(std::move(args));
}

bool Connection::send(std::span<const std::string_view> args, ReplyHandler handler) {
  if (state_ != State::open || args.empty() || is_subscribe_command(args.front())) {
    return false;
  }
  return enqueue(args, std::move(handler), Kind::normal, {});
}

bool Connection::send(std::initializer_list<std::string_view> args, ReplyHandler handler) {
  return send(std::span<const std::string_view>(args.begin(), args.size()), std::move(handler));
}

bool Connection::enqueue(std::span<const std::string_view> args, ReplyHandler handler, Kind kind,
                         std::function<void()> confirmed) {
  if (state_ != State::open && state_ != State::connecting) {
    return false;
  }
  if (pending_.size() >= cfg_.max_pending) {
    return false;
  }
  const std::size_t before = wbuf_.size();
  resp::append_command(wbuf_, args);
  return commit(before, std::move(handler), kind, std::move(confirmed));
}

bool Connection::send_encoded(std::string_view command, ReplyHandler handler) {
  if (state_ != State::open || command.empty() || pending_.size() >= cfg_.max_pending) {
    return false;
  }
  const std::size_t before = wbuf_.size();
  wbuf_.append(command);
  return commit(before, std::move(handler), Kind::normal, {});
}

bool Connection::commit(std::size_t before, ReplyHandler handler, Kind kind, std::function<void()> confirmed) {
  if (before != 0 && wbuf_.size() > cfg_.max_write_buffer_bytes) {
    wbuf_.resize(before);
    return false;
  }
  Pending p;
  p.handler = std::move(handler);
  p.confirmed = std::move(confirmed);
  p.queued = std::chrono::steady_clock::now();
  p.kind = kind;
  p.subscriber_mode = subscriber_mode_;
  pending_.push_back(std::move(p));
  // Whatever else is queued during this turn of the loop joins the same write.
  if (!writing_ && !write_posted_) {
    write_posted_ = true;
    asio::post(executor_, [self = shared_from_this()] {
      self->write_posted_ = false;
      self->start_write();
    });
  }
  arm_reply_timer();
  return true;
}

void Connection::start_write() {
  if (writing_ || wbuf_.empty() || (state_ != State::open && state_ != State::connecting)) {
    return;
  }
  writing_ = true;
  inflight_.swap(wbuf_);
  wbuf_.clear();
  ++writes_;
  io_->with_stream([this](auto& stream) {
    asio::async_write(stream, asio::buffer(inflight_),
                      [self = shared_from_this()](boost::system::error_code ec, std::size_t) {
                        self->writing_ = false;
                        if (self->inflight_.capacity() > std::size_t{1} << 20) {
                          std::string().swap(self->inflight_);
                        } else {
                          self->inflight_.clear();
                        }
                        if (self->state_ == State::closed) {
                          return;
                        }
                        if (ec) {
                          self->fail(ec, "write failed: " + ec.message());
                          return;
                        }
                        self->start_write();
                      });
  });
}

void Connection::start_read() {
  io_->with_stream([this](auto& stream) {
    stream.async_read_some(asio::buffer(io_->read_buffer),
                           [self = shared_from_this()](boost::system::error_code ec, std::size_t n) {
                             self->on_read(ec, n);
                           });
  });
}

void Connection::on_read(const boost::system::error_code& ec, std::size_t n) {
  if (state_ == State::closed) {
    return;
  }
  if (ec) {
    if (ec == asio::error::eof || ec == asio::ssl::error::stream_truncated) {
      fail(ec, "connection closed by the server");
    } else {
      fail(ec, "connection lost: " + ec.message());
    }
    return;
  }
  std::string_view data(io_->read_buffer.data(), n);
  while (!data.empty()) {
    // A push message whole in the buffer is handed on in place (no value built); the rest, and
    // anything split across reads, goes through the parser.
    resp::PushView push;
    if (parser_.idle() && push_possible()) {
      if (const std::size_t size = resp::match_push(data, parser_.limits(), push)) {
        data.remove_prefix(size);
        if (message_handler_) {
          message_handler_(push.channel, push.payload);
        }
        if (state_ == State::closed) {
          return;
        }
        continue;
      }
    }
    const resp::ParseResult r = parser_.parse(data);
    data.remove_prefix(r.consumed);
    if (r.ec) {
      fail(r.ec, "malformed reply from the server: " + r.ec.message());
      return;
    }
    if (r.complete) {
      dispatch(parser_.take());
      if (state_ == State::closed) {
        return;
      }
    }
  }
  start_read();
}

bool Connection::push_possible() const noexcept {
  return pending_.empty() ? subscriber_mode_
                          : pending_.front().subscriber_mode || pending_.front().kind != Kind::normal;
}

void Connection::dispatch(resp::Value v) {
  std::string_view channel;
  std::string_view payload;
  if (push_possible() && as_push(v, channel, payload)) {
    if (message_handler_) {
      message_handler_(channel, payload);
    }
    return;
  }
  if (pending_.empty()) {
    fail(std::make_error_code(std::errc::protocol_error),
         "reply with no command outstanding: " + resp::to_debug_string(v).substr(0, 200));
    return;
  }
  Pending p = std::move(pending_.front());
  pending_.pop_front();
  const bool confirmation = v.is_array() && v.elements.size() == 3 && v.elements[0].is_string() && v.elements[2].is_integer();
  if (p.kind == Kind::subscribe) {
    --subscribes_pending_;
    if (confirmation && v.elements[0].str == "subscribe") {
      subscriptions_ = static_cast<std::size_t>(v.elements[2].integer);
      if (p.confirmed) {
        p.confirmed();
      }
    }
  } else if (p.kind == Kind::unsubscribe) {
    if (confirmation && v.elements[0].str == "unsubscribe") {
      subscriptions_ = static_cast<std::size_t>(v.elements[2].integer);
    }
  }
  if (subscriptions_ == 0 && subscribes_pending_ == 0) {
    subscriber_mode_ = false;  // Redis leaves subscriber mode with the last channel
  }
  if (p.handler) {
    p.handler({}, std::move(v));
  }
}

void Connection::arm_reply_timer() {
  if (cfg_.reply_timeout.count() <= 0 || reply_timer_armed_ || pending_.empty() || state_ == State::closed) {
    return;
  }
  reply_timer_armed_ = true;
  io_->reply_timer.expires_at(pending_.front().queued + cfg_.reply_timeout);
  io_->reply_timer.async_wait([self = shared_from_this()](boost::system::error_code ec) {
    self->reply_timer_armed_ = false;
    if (ec || self->state_ == State::closed || self->pending_.empty()) {
      return;
    }
    if (std::chrono::steady_clock::now() - self->pending_.front().queued >= self->cfg_.reply_timeout) {
      self->fail(std::make_error_code(std::errc::timed_out),
                 "no reply from the server within " + std::to_string(self->cfg_.reply_timeout.count()) + " ms");
      return;
    }
    self->arm_reply_timer();
  });
}

void Connection::fail(std::error_code ec, const std::string& why) {
  if (state_ == State::closed) {
    return;
  }
  const bool was_open = state_ == State::open;
  state_ = State::closed;
  close_transport();
  wbuf_.clear();
  std::deque<Pending> outstanding;
  outstanding.swap(pending_);
  for (Pending& p : outstanding) {
    if (p.handler) {
      p.handler(ec, resp::Value{});
    }
  }
  if (was_open && close_handler_) {
    CloseHandler h = std::move(close_handler_);
    close_handler_ = nullptr;
    h(why);
  }
}

void Connection::close() {
  if (state_ == State::closed) {
    return;
  }
  close_handler_ = nullptr;  // close() is not a failure
  fail(std::make_error_code(std::errc::operation_canceled), "closed");
}

bool Connection::subscribe(std::string_view channel, std::function<void()> confirmed) {
  if (state_ != State::open) {
    return false;
  }
  const bool was = subscriber_mode_;
  subscriber_mode_ = true;
  const std::array<std::string_view, 2> args{"SUBSCRIBE", channel};
  if (!enqueue(args, nullptr, Kind::subscribe, std::move(confirmed))) {
    subscriber_mode_ = was;
    return false;
  }
  ++subscribes_pending_;
  return true;
}

bool Connection::unsubscribe(std::string_view channel) {
  if (state_ != State::open) {
    return false;
  }
  const std::array<std::string_view, 2> args{"UNSUBSCRIBE", channel};
  return enqueue(args, nullptr, Kind::unsubscribe, {});
}

void Connection::set_message_handler(MessageHandler h) {
  message_handler_ = std::move(h);
}

void Connection::set_close_handler(CloseHandler h) {
  close_handler_ = std::move(h);
}

bool Connection::is_open() const noexcept {
  return state_ == State::open;
}

std::size_t Connection::pending() const noexcept {
  return pending_.size();
}

// ---------------------------------------------------------------------------------------------
// URLs
// ---------------------------------------------------------------------------------------------

namespace {

[[noreturn]] void bad_url(const std::string& what) {
  throw std::invalid_argument("invalid Redis URL: " + what);
}

std::string percent_decode(std::string_view s, const char* what) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') {
      out.push_back(s[i]);
      continue;
    }
    const int hi = i + 2 < s.size() ? nexios::detail::hex_digit_value(s[i + 1]) : -1;
    const int lo = i + 2 < s.size() ? nexios::detail::hex_digit_value(s[i + 2]) : -1;
    if (hi < 0 || lo < 0) {
      bad_url(std::string("bad percent-encoding in the ") + what);
    }
    out.push_back(static_cast<char>(hi * 16 + lo));
    i += 2;
  }
  return out;
}

template <class T>
bool parse_number(std::string_view s, T& out) {
  if (s.empty()) {
    return false;
  }
  for (const char c : s) {
    if (c < '0' || c > '9') {
      return false;
    }
  }
  const auto r = std::from_chars(s.data(), s.data() + s.size(), out);
  return r.ec == std::errc{} && r.ptr == s.data() + s.size();
}

}  // namespace

ConnectionConfig parse_url(std::string_view url) {
  ConnectionConfig cfg;
  std::string_view rest;
  const std::size_t scheme_end = url.find("://");
  if (scheme_end == std::string_view::npos) {
    bad_url("expected redis:// or rediss://");
  }
  const std::string_view scheme = url.substr(0, scheme_end);
  if (iequals(scheme, "redis")) {
    cfg.tls = false;
  } else if (iequals(scheme, "rediss")) {
    cfg.tls = true;
  } else {
    bad_url("unknown scheme '" + std::string(scheme) + "' (expected redis or rediss)");
  }
  rest = url.substr(scheme_end + 3);
  if (rest.find_first_of("?#") != std::string_view::npos) {
    bad_url("query strings and fragments are not supported");
  }
  const std::size_t slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  const std::string_view path = slash == std::string_view::npos ? std::string_view{} : rest.substr(slash + 1);

  const std::size_t at = authority.rfind('@');
  if (at != std::string_view::npos) {
    const std::string_view userinfo = authority.substr(0, at);
    const std::size_t colon = userinfo.find(':');
    if (colon == std::string_view::npos) {
      cfg.password = percent_decode(userinfo, "password");
    } else {
      cfg.username = percent_decode(userinfo.substr(0, colon), "user name");
      cfg.password = percent_decode(userinfo.substr(colon + 1), "password");
    }
    authority = authority.substr(at + 1);
  }

  std::string_view port;
  if (!authority.empty() && authority.front() == '[') {
    const std::size_t close = authority.find(']');
    if (close == std::string_view::npos) {
      bad_url("IPv6 address without ']'");
    }
    cfg.host = std::string(authority.substr(1, close - 1));
    boost::system::error_code ec;
    const auto addr = asio::ip::make_address(cfg.host, ec);
    if (ec || !addr.is_v6()) {
      bad_url("'" + cfg.host + "' in brackets is not an IPv6 address");
    }
    const std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') {
        bad_url("unexpected text after the IPv6 address");
      }
      port = after.substr(1);
      if (port.empty()) {
        bad_url("empty port");
      }
    }
  } else {
    const std::size_t colon = authority.find(':');
    cfg.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) {
      port = authority.substr(colon + 1);
      if (port.empty()) {
        bad_url("empty port");
      }
    }
    if (cfg.host.find_first_of(" []%") != std::string::npos) {
      bad_url("bad host name '" + cfg.host + "'");
    }
  }
  if (cfg.host.empty()) {
    bad_url("no host");
  }
  if (!port.empty()) {
    unsigned value = 0;
    if (!parse_number(port, value) || value == 0 || value > 65535) {
      bad_url("port '" + std::string(port) + "' is not a number from 1 to 65535");
    }
    cfg.port = static_cast<std::uint16_t>(value);
  }
  if (!path.empty()) {
    int db = 0;
    if (!parse_number(path, db)) {
      bad_url("database '" + std::string(path) + "' is not a non-negative number");
    }
    cfg.db = db;
  }
  return cfg;
}

std::string describe(const ConnectionConfig& cfg) {
  std::string out = cfg.tls ? "rediss://" : "redis://";
  if (!cfg.username.empty() || !cfg.password.empty()) {
    out += cfg.username;
    if (!cfg.password.empty()) {
      out += ":***";
    }
    out += "@";
  }
  out += host_port(cfg);
  out += "/" + std::to_string(cfg.db);
  return out;
}

}  // namespace nexios::redis::detail
