// TableReader: reads one TOML table of the configuration, remembering which keys were asked for
// so that Finish() refuses the rest (a misspelt key must not silently fall back to a default).
// Errors name the key with its table ("[limits].max_errors: must be between 1 and 1000").
// Internal to the configuration code (config.cc, notify_config.cc); one thread at a time.
#ifndef POSTDESK_GATEWAY_TOML_TABLE_READER_H_
#define POSTDESK_GATEWAY_TOML_TABLE_READER_H_

#include <toml++/toml.h>

#include <chrono>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "gateway/config.h"
#include "parser/result.h"

namespace postdesk {

#define RETURN_IF_ERROR(expr)          \
  do {                                 \
    ::postdesk::Status _s = (expr);    \
    if (!_s.ok()) return _s;           \
  } while (0)

class TableReader {
 public:
  TableReader(const toml::table& table, std::string path) : table_(table), path_(std::move(path)) {}

  const std::string& path() const { return path_; }
  std::string Name(std::string_view key) const {
    return path_.empty() ? std::string(key) : path_ + "." + std::string(key);
  }

  // The keys asked for so far (Get and the typed readers), present in the table or not.
  const std::set<std::string>& asked() const { return known_; }

  const toml::node* Get(std::string_view key) {
    known_.insert(std::string(key));
    return table_.get(key);
  }

  Status String(std::string_view key, std::string* out) {
    const toml::node* node = Get(key);
    if (!node) return Status::Ok();
    if (!node->is_string()) return Status::Error(Name(key) + ": expected a string");
    *out = node->as_string()->get();
    return Status::Ok();
  }

  Status Bool(std::string_view key, bool* out) {
    const toml::node* node = Get(key);
    if (!node) return Status::Ok();
    if (!node->is_boolean()) return Status::Error(Name(key) + ": expected true or false");
    *out = node->as_boolean()->get();
    return Status::Ok();
  }

  Status Integer(std::string_view key, int64_t min, int64_t max, int64_t* out) {
    const toml::node* node = Get(key);
    if (!node) return Status::Ok();
    if (!node->is_integer()) return Status::Error(Name(key) + ": expected an integer");
    int64_t v = node->as_integer()->get();
    if (v < min || v > max) {
      return Status::Error(Name(key) + ": must be between " + std::to_string(min) + " and " +
                           std::to_string(max));
    }
    *out = v;
    return Status::Ok();
  }

  // A count (connections, recipients...) kept as size_t.
  Status Count(std::string_view key, int64_t min, int64_t max, size_t* out) {
    int64_t value = static_cast<int64_t>(*out);
    RETURN_IF_ERROR(Integer(key, min, max, &value));
    *out = static_cast<size_t>(value);
    return Status::Ok();
  }

  Status StringList(std::string_view key, std::vector<std::string>* out) {
    const toml::node* node = Get(key);
    if (!node) return Status::Ok();
    const toml::array* array = node->as_array();
    if (!array) return Status::Error(Name(key) + ": expected an array of strings");
    out->clear();
    for (size_t i = 0; i < array->size(); ++i) {
      const toml::node& item = *array->get(i);
      if (!item.is_string()) {
        return Status::Error(Name(key) + "[" + std::to_string(i) + "]: expected a string");
      }
      out->push_back(item.as_string()->get());
    }
    return Status::Ok();
  }

  // A size ("25MiB") or duration ("5m"): TOML strings, or plain integers of bytes / seconds.
  Status Size(std::string_view key, size_t* out) {
    const toml::node* node = Get(key);
    if (!node) return Status::Ok();
    if (node->is_integer() && node->as_integer()->get() >= 0) {
      *out = static_cast<size_t>(node->as_integer()->get());
      return Status::Ok();
    }
    if (!node->is_string()) return Status::Error(Name(key) + ": expected a size like \"25MiB\"");
    Result<size_t> size = ParseSize(node->as_string()->get());
    if (!size.ok()) return Status::Error(Name(key) + ": " + size.status().message());
    *out = size.value();
    return Status::Ok();
  }

  Status Duration(std::string_view key, std::chrono::milliseconds* out,
                  std::chrono::milliseconds min = std::chrono::milliseconds(0),
                  std::chrono::milliseconds max = std::chrono::milliseconds::max()) {
    const toml::node* node = Get(key);
    if (!node) return Status::Ok();
    if (!node->is_string()) return Status::Error(Name(key) + ": expected a duration like \"5m\"");
    Result<std::chrono::milliseconds> d = ParseDuration(node->as_string()->get());
    if (!d.ok()) return Status::Error(Name(key) + ": " + d.status().message());
    if (d.value() < min) {
      return Status::Error(Name(key) + ": must be at least " + std::to_string(min.count()) + "ms");
    }
    if (d.value() > max) {
      return Status::Error(Name(key) + ": must be at most " + std::to_string(max.count()) + "ms");
    }
    *out = d.value();
    return Status::Ok();
  }

  Status Finish() const {
    for (const auto& [key, node] : table_) {
      if (!known_.count(std::string(key.str()))) {
        return Status::Error(Name(key.str()) + ": unknown key");
      }
    }
    return Status::Ok();
  }

 private:
  const toml::table& table_;
  std::string path_;
  std::set<std::string> known_;
};

}  // namespace postdesk

#endif  // POSTDESK_GATEWAY_TOML_TABLE_READER_H_
