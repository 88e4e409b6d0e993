// A [[hook]] table to a HookSection: what it runs on, for which lists, the
// argv it runs and how long it may take.
#include "absl/strings/str_cat.h"
#include "policy/section_loaders.h"

namespace knockgate {
namespace {

// A string or an array of strings, each non-empty.
absl::StatusOr<std::vector<std::string>> Strings(const TomlReader& in, const toml::node& v,
                                                 absl::string_view key, absl::string_view example) {
  std::vector<std::string> out;
  KG_RETURN_IF_ERROR(in.ForEachString(v, key, example, [&](const toml::node& item, std::string s) {
    if (s.empty()) {
      return in.Error(item, key, "expected a non-empty string");
    }
    out.push_back(std::move(s));
    return absl::OkStatus();
  }));
  return out;
}

}  // namespace

absl::Status LoadHook(const TomlReader& in, const toml::table& t, Config& config) {
  HookSection h;
  h.pos = PosOf(t.source());
  bool have_on = false;
  for (auto&& [k, v] : t) {
    const absl::string_view key = ToAbsl(k.str());
    if (key == "on") {
      KG_ASSIGN_OR_RETURN(std::vector<std::string> names,
                          Strings(in, v, key, "an array such as [\"grant\", \"jail\"]"));
      for (const std::string& n : names) {
        uint8_t bit = 0;
        for (uint8_t b : hook_on::kAll) {
          bit = n == HookOnName(b) ? b : bit;
        }
        if (bit == 0) {
          return in.Error(
              v, key,
              absl::StrCat("\"", n, "\": expected grant, expire, remove, jail or spa-grant"));
        }
        h.on |= bit;
      }
      have_on = true;
    } else if (key == "list") {
      KG_ASSIGN_OR_RETURN(h.lists, Strings(in, v, key, "a list name or an array of them"));
      h.lists_pos = PosOf(v.source());
    } else if (key == "command") {
      const toml::array* arr = v.as_array();
      if (arr == nullptr || arr->empty()) {
        return in.WrongType(v, key,
                            "an argv array such as [\"/usr/local/bin/notify\", \"--grant\"] "
                            "(run without a shell)");
      }
      KG_ASSIGN_OR_RETURN(h.command, Strings(in, v, key, ""));
    } else if (key == "timeout") {
      KG_ASSIGN_OR_RETURN(h.timeout, in.Duration(v, key));
      if (h.timeout == kNever || h.timeout < kNanosPerSecond / 1000 ||
          h.timeout > 3600 * kNanosPerSecond) {
        return in.Error(v, key, "expected a duration from \"1ms\" to \"1h\"");
      }
    } else {
      return in.UnknownKey(k, {"on", "list", "command", "timeout"});
    }
  }
  if (!have_on || h.on == 0) {
    return in.Error(h.pos, "on",
                    "missing: every [[hook]] needs on = [...] (grant, expire, remove, jail, "
                    "spa-grant)");
  }
  if (h.command.empty()) {
    return in.Error(h.pos, "command", "missing: every [[hook]] needs command = [\"PROGRAM\", ...]");
  }
  config.hooks.push_back(std::move(h));
  return absl::OkStatus();
}

}  // namespace knockgate
