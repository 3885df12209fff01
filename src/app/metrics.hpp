#pragma once
// The Prometheus text exposition (format 0.0.4) behind `App::enable_metrics` (private).

#include <string>
#include <string_view>

namespace nexios::transport {
class Server;
}

namespace nexios::detail {

/// The Content-Type of the text format.
inline constexpr std::string_view prometheus_content_type = "text/plain; version=0.0.4; charset=utf-8";

/// Every nexios_* metric of `server` (null before it starts: its counters read as zero) and of
/// the process (the channel registry, the log). Safe on any thread while the server runs.
std::string render_prometheus(transport::Server* server);

}  // namespace nexios::detail
