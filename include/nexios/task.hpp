#pragma once
/// @file
/// `nexios::Task<T>`: the coroutine type of every handler and every awaitable call.

#include <nexios/config.hpp>

#include <boost/asio/awaitable.hpp>

namespace nexios {

/// A coroutine returning T, run on the connection's event loop. It is Asio's `awaitable<T>`, so
/// handlers can also `co_await` any Asio operation (timers, sockets) with `boost::asio::use_awaitable`.
///
/// @code
/// nx::Task<> handler(nx::WebSocket ws) { co_await ws.accept(); }
/// @endcode
template <class T = void>
using Task = boost::asio::awaitable<T>;

}  // namespace nexios
