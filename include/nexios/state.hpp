#pragma once
/// @file
/// `nexios::State`: named values shared by the whole application (`app.state`), visible from
/// every handler through `ws.state()` and `req.state()`.

#include <any>
#include <map>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <string_view>
#include <typeinfo>
#include <utility>

namespace nexios {

/// A thread-safe map from names to values of any type.
///
/// Setting and looking up entries is thread-safe; the values themselves are shared by all threads,
/// so a value that handlers mutate must be thread-safe itself (an atomic, or guarded by a mutex).
///
/// @code
/// app.state.set("greeting", std::string("hello"));
/// auto& counter = app.state.emplace<std::atomic<int>>("visits", 0);
/// std::string& g = ws.state().get<std::string>("greeting");
/// @endcode
class State {
 public:
  /// Stores `value` under `name`, replacing any previous value. Returns a reference to the stored
  /// value (valid until the entry is replaced or erased).
  template <class T>
  std::decay_t<T>& set(std::string_view name, T&& value) {
    return emplace<std::decay_t<T>>(name, std::forward<T>(value));
  }

  /// Constructs a T in place under `name`, replacing any previous value.
  template <class T, class... Args>
  T& emplace(std::string_view name, Args&&... args) {
    auto holder = std::make_shared<std::any>(std::in_place_type<T>, std::forward<Args>(args)...);
    T& ref = *std::any_cast<T>(holder.get());
    std::lock_guard lock(mutex_);
    values_[std::string(name)] = std::move(holder);
    return ref;
  }

  /// The value under `name`. Throws std::out_of_range if there is none and std::bad_any_cast if
  /// it is not a T.
  template <class T>
  T& get(std::string_view name) const {
    std::shared_ptr<std::any> holder = find(name);
    if (!holder) {
      throw std::out_of_range("nexios::State: no value named '" + std::string(name) + "'");
    }
    T* p = std::any_cast<T>(holder.get());
    if (p == nullptr) {
      throw std::bad_any_cast();
    }
    return *p;
  }

  /// A pointer to the value under `name`, or nullptr if there is none or it is not a T.
  template <class T>
  T* try_get(std::string_view name) const {
    std::shared_ptr<std::any> holder = find(name);
    return holder ? std::any_cast<T>(holder.get()) : nullptr;
  }

  [[nodiscard]] bool contains(std::string_view name) const { return find(name) != nullptr; }

  /// Removes the value under `name`; returns whether there was one.
  bool erase(std::string_view name) {
    std::lock_guard lock(mutex_);
    auto it = values_.find(name);
    if (it == values_.end()) {
      return false;
    }
    values_.erase(it);
    return true;
  }

 private:
  std::shared_ptr<std::any> find(std::string_view name) const {
    std::lock_guard lock(mutex_);
    auto it = values_.find(name);
    return it == values_.end() ? nullptr : it->second;
  }

  mutable std::mutex mutex_;
  std::map<std::string, std::shared_ptr<std::any>, std::less<>> values_;
};

}  // namespace nexios
