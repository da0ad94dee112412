#pragma once
// Errors as values for the low levels of the library: a function that can fail
// returns Result<T>; the caller decides whether the failure belongs to one image
// (recorded, batch goes on) or ends the command (thrown once, caught at the top).

#include <string>
#include <utility>
#include <variant>

namespace wsp::util {

struct Error {
  std::string message;
  int os_error = 0;  // errno when the cause was the operating system, so callers can tell a full disk
};

template <typename T>
class [[nodiscard]] Result {
public:
  Result(T value) : m_value(std::move(value)) {}
  Result(Error error) : m_value(std::move(error)) {}

  bool ok() const { return m_value.index() == 0; }
  explicit operator bool() const { return ok(); }

  T& value() & { return std::get<0>(m_value); }
  const T& value() const& { return std::get<0>(m_value); }
  T&& value() && { return std::get<0>(std::move(m_value)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  const Error& error() const { return std::get<1>(m_value); }
  const std::string& message() const { return error().message; }

private:
  std::variant<T, Error> m_value;
};

// A Result with no value: success, or an Error.
class [[nodiscard]] Status {
public:
  Status() = default;
  Status(Error error) : m_error(std::move(error)), m_failed(true) {}

  static Status success() { return {}; }
  bool ok() const { return !m_failed; }
  explicit operator bool() const { return ok(); }
  const std::string& message() const { return m_error.message; }
  int os_error() const { return m_error.os_error; }

private:
  Error m_error;
  bool m_failed = false;
};

}  // namespace wsp::util
