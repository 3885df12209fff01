#pragma once
/// @file
/// The fuzz targets' entry functions, shared by the libFuzzer executables (libfuzzer_main.cpp)
/// and the GoogleTest replay of the corpus (tests/fuzz_regression/replay_test.cpp).
/// Each returns 0; an invariant violation goes through FUZZ_CHECK (fuzz_support.hpp).

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

int fuzz_http_parser(const std::uint8_t* data, std::size_t size);
int fuzz_frame_parser(const std::uint8_t* data, std::size_t size);
int fuzz_utf8(const std::uint8_t* data, std::size_t size);
int fuzz_handshake(const std::uint8_t* data, std::size_t size);
int fuzz_route_match(const std::uint8_t* data, std::size_t size);
int fuzz_origin(const std::uint8_t* data, std::size_t size);
int fuzz_json(const std::uint8_t* data, std::size_t size);
int fuzz_resp(const std::uint8_t* data, std::size_t size);
int fuzz_redis_wire(const std::uint8_t* data, std::size_t size);

namespace nexios::fuzz {

struct Target {
  std::string_view name;  // also the directory under fuzz/corpus and fuzz/regressions
  int (*run)(const std::uint8_t*, std::size_t);
};

inline constexpr std::array<Target, 9> targets{{
    {"http_parser", &fuzz_http_parser},
    {"frame_parser", &fuzz_frame_parser},
    {"utf8", &fuzz_utf8},
    {"handshake", &fuzz_handshake},
    {"route_match", &fuzz_route_match},
    {"origin", &fuzz_origin},
    {"json", &fuzz_json},
    {"resp", &fuzz_resp},
    {"redis_wire", &fuzz_redis_wire},
}};

}  // namespace nexios::fuzz
