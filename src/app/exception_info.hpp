#pragma once
// What the logs say about an exception: its message and its demangled dynamic type.

#include <exception>
#include <string>

namespace nexios::detail {

/// The exception's message (what()), or "unknown exception".
std::string describe(std::exception_ptr e);
/// The exception's dynamic type, demangled ("std::runtime_error", "my::DbError").
std::string exception_type(std::exception_ptr e);

}  // namespace nexios::detail
