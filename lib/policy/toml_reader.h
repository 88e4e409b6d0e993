// Typed reads of toml++ nodes that fail with knockgate's one error form,
// "FILE:LINE:COL: KEY: what was expected". Every section loader reads through it.
#pragma once

#include <toml++/toml.h>

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "common/nanos.h"
#include "common/source_pos.h"
#include "common/status_macros.h"
#include "common/strings.h"

namespace knockgate {

inline SourcePos PosOf(const toml::source_region& r) {
  return SourcePos{static_cast<int>(r.begin.line), static_cast<int>(r.begin.column)};
}

// Splits off RouterOS's leading "!".
inline absl::string_view StripNegation(absl::string_view s, bool& negated) {
  negated = !s.empty() && s[0] == '!';
  return negated ? s.substr(1) : s;
}

class TomlReader {
 public:
  explicit TomlReader(absl::string_view path) : path_(path) {}
  absl::string_view path() const { return path_; }

  absl::Status Error(SourcePos pos, absl::string_view key, absl::string_view what) const;
  absl::Status Error(const toml::node& n, absl::string_view key, absl::string_view what) const {
    return Error(PosOf(n.source()), key, what);
  }
  absl::Status UnknownKey(const toml::key& key, const std::vector<absl::string_view>& valid) const;
  absl::Status WrongType(const toml::node& n, absl::string_view key,
                         absl::string_view expected) const;

  absl::StatusOr<const toml::table*> Table(const toml::key& key, const toml::node& n) const;
  absl::StatusOr<std::string> String(const toml::node& n, absl::string_view key) const;
  absl::StatusOr<bool> Bool(const toml::node& n, absl::string_view key) const;
  absl::StatusOr<uint32_t> Integer(const toml::node& n, absl::string_view key, int64_t lo,
                                   int64_t hi) const;
  // A string, or an integer written bare (ports, protocol numbers, seconds).
  absl::StatusOr<std::string> StringOrInteger(const toml::node& n, absl::string_view key,
                                              absl::string_view expected) const;
  // A file's text, its trailing whitespace stripped, the file named by this
  // string (password-file, secret-file); a read error is this node's.
  absl::StatusOr<std::string> FileText(const toml::node& n, absl::string_view key,
                                       const char* what) const;
  // A RouterOS duration (duration.h), "none-dynamic" included.
  absl::StatusOr<Nanos> Duration(const toml::node& n, absl::string_view key) const;
  // `parsed` as it is, or its message as this node's error.
  template <typename T>
  absl::StatusOr<T> Checked(const toml::node& n, absl::string_view key,
                            absl::StatusOr<T> parsed) const {
    if (!parsed.ok()) {
      return Error(n, key, parsed.status().message());
    }
    return parsed;
  }

  // Calls fn(item, text) for a string, or for each string of an array of
  // them; anything else is a type error naming `expected`.
  template <typename Fn>
  absl::Status ForEachString(const toml::node& n, absl::string_view key, absl::string_view expected,
                             Fn fn) const {
    if (const toml::array* arr = n.as_array()) {
      for (const toml::node& item : *arr) {
        KG_ASSIGN_OR_RETURN(std::string s, String(item, key));
        KG_RETURN_IF_ERROR(fn(item, std::move(s)));
      }
      return absl::OkStatus();
    }
    if (!n.is_string()) {
      return WrongType(n, key, expected);
    }
    KG_ASSIGN_OR_RETURN(std::string s, String(n, key));
    return fn(n, std::move(s));
  }

  // Calls fn(table) for each table of an array of tables ([[key]]).
  template <typename Fn>
  absl::Status ForEachTable(const toml::key& key, const toml::node& n, Fn fn) const {
    const toml::array* arr = n.as_array();
    if (arr == nullptr || !arr->is_array_of_tables()) {
      return WrongType(n, ToAbsl(key.str()),
                       absl::StrCat("an array of tables ([[", ToAbsl(key.str()), "]])"));
    }
    for (const toml::node& element : *arr) {
      KG_RETURN_IF_ERROR(fn(*element.as_table()));
    }
    return absl::OkStatus();
  }

 private:
  absl::string_view path_;
};

}  // namespace knockgate
