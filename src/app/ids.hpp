#pragma once
// Channel and message ids.

#include <string>

namespace nexios::detail {

/// A random RFC 4122 version-4 UUID in its 36-character text form.
std::string uuid4();

}  // namespace nexios::detail
