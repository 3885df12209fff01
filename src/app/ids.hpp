#pragma once
// Channel and message ids.

#include <array>
#include <string>

namespace nexios::detail {

/// A random RFC 4122 version-4 UUID in its 36-character text form, from the kernel's CSPRNG
/// (getrandom(2), fetched 4 KiB at a time into a per-thread buffer): 122 unpredictable bits, so
/// an id seen tells nothing about any other. Thread-safe; a forked child never repeats its
/// parent's ids. Throws std::system_error if the kernel gives no random bytes.
std::string uuid4();
/// The same, written to `out` (no allocation).
void uuid4_into(std::array<char, 36>& out);

}  // namespace nexios::detail
