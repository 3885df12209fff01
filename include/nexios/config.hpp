#pragma once
/// @file
/// Compile-time checks for code that includes the nexios headers (included by <nexios/task.hpp>,
/// so by every header that uses Asio).
///
/// Linking the CMake target `nexios::nexios`, or compiling with `pkg-config --cflags nexios`,
/// provides everything checked here.

#if __cplusplus < 202002L
#error "nexios needs C++20: compile with -std=c++20 (the CMake target nexios::nexios requires cxx_std_20)"
#endif

// The library is compiled with these Asio settings. Every translation unit that includes a nexios
// header must see the same Asio configuration, or its inline Asio code would not match the
// library's (an ODR violation that no linker reports).
#ifndef BOOST_ASIO_NO_DEPRECATED
#error "nexios: BOOST_ASIO_NO_DEPRECATED is not defined. Compile with -DBOOST_ASIO_NO_DEPRECATED -DBOOST_ASIO_DISABLE_BOOST_COROUTINE (the settings the library is built with): link the CMake target nexios::nexios, or use `pkg-config --cflags nexios`. See docs/packaging.md."
#endif
#ifndef BOOST_ASIO_DISABLE_BOOST_COROUTINE
#error "nexios: BOOST_ASIO_DISABLE_BOOST_COROUTINE is not defined. Compile with -DBOOST_ASIO_NO_DEPRECATED -DBOOST_ASIO_DISABLE_BOOST_COROUTINE (the settings the library is built with): link the CMake target nexios::nexios, or use `pkg-config --cflags nexios`. See docs/packaging.md."
#endif
