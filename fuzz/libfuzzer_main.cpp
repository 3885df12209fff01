/// @file
/// libFuzzer entry point; fuzz/CMakeLists.txt compiles it once per target with
/// NEXIOS_FUZZ_ENTRY set to that target's function (e.g. fuzz_http_parser).

#include "fuzz_targets.hpp"

#ifndef NEXIOS_FUZZ_ENTRY
#error "define NEXIOS_FUZZ_ENTRY to the target function"
#endif

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  return NEXIOS_FUZZ_ENTRY(data, size);
}
