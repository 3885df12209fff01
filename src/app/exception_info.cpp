#include "app/exception_info.hpp"

#include <boost/core/demangle.hpp>

#include <cxxabi.h>

#include <typeinfo>

namespace nexios::detail {

std::string describe(std::exception_ptr e) {
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& ex) {
    return ex.what();
  } catch (...) {
    return "unknown exception";
  }
}

std::string exception_type(std::exception_ptr e) {
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& ex) {
    return boost::core::demangle(typeid(ex).name());
  } catch (...) {
    if (const std::type_info* t = abi::__cxa_current_exception_type()) {
      return boost::core::demangle(t->name());
    }
    return "unknown";
  }
}

}  // namespace nexios::detail
