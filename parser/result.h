// Status and Result<T>: how Postdesk code reports what can fail, without exceptions.
//
// A Status is either ok or an error message meant for an operator ("config: [smtp] listen[0]:
// port must be 1-65535"). Result<T> holds a T or a non-ok Status. Both are plain values: cheap to
// move, safe to pass between threads, and never thrown. Code that calls a throwing library
// (toml++, nlohmann-json, mimetic) converts at the boundary, so no exception crosses a libuv
// callback.
#ifndef POSTDESK_PARSER_RESULT_H_
#define POSTDESK_PARSER_RESULT_H_

#include <cassert>
#include <optional>
#include <string>
#include <utility>

namespace postdesk {

class Status {
 public:
  Status() = default;  // ok
  static Status Ok() { return Status(); }
  static Status Error(std::string message) { return Status(std::move(message), true); }

  bool ok() const { return !failed_; }
  const std::string& message() const { return message_; }

 private:
  Status(std::string message, bool failed) : message_(std::move(message)), failed_(failed) {}
  std::string message_;
  bool failed_ = false;
};

template <typename T>
class Result {
 public:
  Result(T value) : value_(std::move(value)) {}  // NOLINT: implicit by design
  Result(Status status) : status_(std::move(status)) { assert(!status_.ok()); }  // NOLINT

  bool ok() const { return value_.has_value(); }
  const Status& status() const { return status_; }
  const T& value() const& {
    assert(ok());
    return *value_;
  }
  T& value() & {
    assert(ok());
    return *value_;
  }
  T&& value() && {
    assert(ok());
    return std::move(*value_);
  }
  const T* operator->() const { return &value(); }
  T* operator->() { return &value(); }

 private:
  std::optional<T> value_;
  Status status_;
};

}  // namespace postdesk

#endif  // POSTDESK_PARSER_RESULT_H_
