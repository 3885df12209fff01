#pragma once
/// @file
/// The umbrella header: everything a nexios application uses.
///
/// @code
/// #include <nexios/nexios.hpp>
/// namespace nx = nexios;
/// @endcode

#include <nexios/app.hpp>
#include <nexios/channels.hpp>
#include <nexios/command_line.hpp>
#include <nexios/consumer.hpp>
#include <nexios/errors.hpp>
#include <nexios/json.hpp>
#include <nexios/limits.hpp>
#include <nexios/log.hpp>
#include <nexios/request.hpp>
#include <nexios/routing.hpp>
#include <nexios/settings.hpp>
#include <nexios/state.hpp>
#include <nexios/task.hpp>
#include <nexios/version.hpp>
#include <nexios/websocket.hpp>
#include <nexios/ws/rfc6455.hpp>
