// Typed reads of toml++ nodes; every failure names file, position and key.
#include "policy/toml_reader.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/read_file.h"
#include "policy/duration.h"

namespace knockgate {
namespace {

absl::string_view TypeName(const toml::node& n) {
  switch (n.type()) {
    case toml::node_type::string:
      return "a string";
    case toml::node_type::integer:
      return "an integer";
    case toml::node_type::floating_point:
      return "a float";
    case toml::node_type::boolean:
      return "a boolean";
    case toml::node_type::array:
      return "an array";
    case toml::node_type::table:
      return "a table";
    default:
      return "a date/time";
  }
}

}  // namespace

absl::Status TomlReader::Error(SourcePos pos, absl::string_view key, absl::string_view what) const {
  return absl::InvalidArgumentError(
      absl::StrCat(path_, ":", pos.line, ":", pos.column, ": ", key, ": ", what));
}

absl::Status TomlReader::UnknownKey(const toml::key& key,
                                    const std::vector<absl::string_view>& valid) const {
  return Error(PosOf(key.source()), ToAbsl(key.str()),
               absl::StrCat("unknown key (expected one of: ", absl::StrJoin(valid, ", "), ")"));
}

absl::Status TomlReader::WrongType(const toml::node& n, absl::string_view key,
                                   absl::string_view expected) const {
  return Error(n, key, absl::StrCat("expected ", expected, ", got ", TypeName(n)));
}

absl::StatusOr<const toml::table*> TomlReader::Table(const toml::key& key,
                                                     const toml::node& n) const {
  if (const toml::table* t = n.as_table()) {
    return t;
  }
  return WrongType(n, ToAbsl(key.str()), "a table");
}

absl::StatusOr<std::string> TomlReader::String(const toml::node& n, absl::string_view key) const {
  if (const auto* s = n.as_string()) {
    return s->get();
  }
  return WrongType(n, key, "a string");
}

absl::StatusOr<std::string> TomlReader::FileText(const toml::node& n, absl::string_view key,
                                                 const char* what) const {
  KG_ASSIGN_OR_RETURN(const std::string path, String(n, key));
  absl::StatusOr<std::string> file = ReadFileBounded(path, what);
  if (!file.ok()) {
    return Error(n, key, file.status().message());
  }
  return std::string(absl::StripTrailingAsciiWhitespace(*file));
}

absl::StatusOr<bool> TomlReader::Bool(const toml::node& n, absl::string_view key) const {
  if (const auto* b = n.as_boolean()) {
    return b->get();
  }
  return WrongType(n, key, "a boolean (true or false)");
}

absl::StatusOr<uint32_t> TomlReader::Integer(const toml::node& n, absl::string_view key, int64_t lo,
                                             int64_t hi) const {
  const auto* i = n.as_integer();
  if (i == nullptr) {
    return WrongType(n, key, absl::StrCat("an integer ", lo, "..", hi));
  }
  if (i->get() < lo || i->get() > hi) {
    return Error(n, key, absl::StrCat("expected an integer ", lo, "..", hi, ", got ", i->get()));
  }
  return static_cast<uint32_t>(i->get());
}

absl::StatusOr<std::string> TomlReader::StringOrInteger(const toml::node& n, absl::string_view key,
                                                        absl::string_view expected) const {
  if (const auto* s = n.as_string()) {
    return s->get();
  }
  if (const auto* i = n.as_integer()) {
    return std::to_string(i->get());
  }
  return WrongType(n, key, expected);
}

absl::StatusOr<Nanos> TomlReader::Duration(const toml::node& n, absl::string_view key) const {
  KG_ASSIGN_OR_RETURN(std::string text, StringOrInteger(n, key, "a duration"));
  return Checked(n, key, ParseDuration(text));
}

}  // namespace knockgate
