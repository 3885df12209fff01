#pragma once
/// @file
/// `nexios::State`: named values shared by the whole application (`app.state`), visible from
/// every handler through `ws.state()` and `req.state()`.

#include <any>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <typeindex>
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
    auto value = std::make_shared<T>(std::forward<Args>(args)...);
    T& ref = *value;
    std::lock_guard lock(mutex_);
    values_.insert_or_assign(std::string(name), Entry{std::move(value), std::type_index(typeid(T))});
    return ref;
  }

  /// The value under `name`. Throws std::out_of_range if there is none and std::bad_any_cast if
  /// it is not a T (the exact type it was stored as).
  template <class T>
  T& get(std::string_view name) const {
    std::optional<Entry> e = find(name);
    if (!e) {
      throw std::out_of_range("nexios::State: no value named '" + std::string(name) + "'");
    }
    if (e->type != std::type_index(typeid(T))) {
      throw std::bad_any_cast();
    }
    return *static_cast<T*>(e->value.get());
  }

  /// A pointer to the value under `name`, or nullptr if there is none or it is not a T.
  template <class T>
  T* try_get(std::string_view name) const {
    std::optional<Entry> e = find(name);
    return e && e->type == std::type_index(typeid(T)) ? static_cast<T*>(e->value.get()) : nullptr;
  }

  [[nodiscard]] bool contains(std::string_view name) const { return find(name).has_value(); }

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
  struct Entry {
    std::shared_ptr<void> value;  // keeps the value alive while a caller uses it
    std::type_index type;
  };

  std::optional<Entry> find(std::string_view name) const {
    std::lock_guard lock(mutex_);
    auto it = values_.find(name);
    if (it == values_.end()) {
      return std::nullopt;
    }
    return it->second;
  }

  mutable std::mutex mutex_;
  std::map<std::string, Entry, std::less<>> values_;
};

}  // namespace nexios
