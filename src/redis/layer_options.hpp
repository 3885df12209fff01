#pragma once
// Checking RedisLayerOptions (src/redis/layer_options.cpp).

#include "redis/connection.hpp"

#include <nexios/redis.hpp>

namespace nexios::redis::detail {

/// The connection settings `o` asks for; throws std::invalid_argument naming what is wrong.
ConnectionConfig connection_config(const RedisLayerOptions& o);

}  // namespace nexios::redis::detail
