// TOML -> Config: the front door. Bounds what reaches toml++ (size, depth),
// parses, and hands each section to its loader (section_loaders.h).
#include "policy/config_loader.h"

#include <toml++/toml.h>

#include "absl/strings/str_cat.h"
#include "common/read_file.h"
#include "common/status_macros.h"
#include "common/strings.h"
#include "policy/config_shape.h"
#include "policy/section_loaders.h"
#include "policy/toml_reader.h"

namespace knockgate {
namespace {

const std::vector<absl::string_view> kTopKeys = {
    "eal",       "interfaces", "dataplane",       "policy",       "lists",   "log",
    "conntrack", "dst-limit",  "layer7-protocol", "address-list", "filter",  "knock",
    "spa",       "hook",       "control",         "state",        "metrics", "sync"};

}  // namespace

absl::StatusOr<Config> LoadConfig(absl::string_view text, absl::string_view path) {
  const TomlReader in(path);
  Config config;
  std::vector<FilterRule> knock_rules;  // from [[knock]], appended after [[filter]]
  KG_RETURN_IF_ERROR(CheckConfigShape(text, path));
  toml::table root;
  try {
    root = toml::parse(std::string_view(text.data(), text.size()), std::string(path));
  } catch (const toml::parse_error& e) {
    const SourcePos pos = PosOf(e.source());
    return absl::InvalidArgumentError(
        absl::StrCat(path, ":", pos.line, ":", pos.column, ": toml: ", ToAbsl(e.description())));
  }
  config.path = std::string(path);
  for (auto&& [key, node] : root) {
    const absl::string_view k = ToAbsl(key.str());
    if (k == "eal") {
      KG_RETURN_IF_ERROR(LoadEal(in, key, node, config));
    } else if (k == "interfaces") {
      KG_RETURN_IF_ERROR(LoadInterfaces(in, key, node, config));
    } else if (k == "dataplane") {
      KG_RETURN_IF_ERROR(LoadDataplane(in, key, node, config));
    } else if (k == "policy") {
      KG_RETURN_IF_ERROR(LoadPolicyDefaults(in, key, node, config));
    } else if (k == "lists") {
      KG_RETURN_IF_ERROR(LoadLists(in, key, node, config));
    } else if (k == "log") {
      KG_RETURN_IF_ERROR(LoadLog(in, key, node, config));
    } else if (k == "metrics") {
      KG_RETURN_IF_ERROR(LoadMetrics(in, key, node, config));
    } else if (k == "sync") {
      KG_RETURN_IF_ERROR(LoadSync(in, key, node, config));
    } else if (k == "state") {
      KG_RETURN_IF_ERROR(LoadState(in, key, node, config));
    } else if (k == "control") {
      KG_RETURN_IF_ERROR(LoadControl(in, key, node, config));
    } else if (k == "dst-limit") {
      KG_RETURN_IF_ERROR(LoadDstLimit(in, key, node, config));
    } else if (k == "conntrack") {
      KG_RETURN_IF_ERROR(LoadConntrack(in, key, node, config));
    } else if (k == "layer7-protocol") {
      KG_RETURN_IF_ERROR(in.ForEachTable(
          key, node, [&](const toml::table& t) { return LoadLayer7(in, t, config); }));
    } else if (k == "address-list") {
      KG_RETURN_IF_ERROR(in.ForEachTable(
          key, node, [&](const toml::table& t) { return LoadStaticAddress(in, t, config); }));
    } else if (k == "filter") {
      KG_RETURN_IF_ERROR(in.ForEachTable(
          key, node, [&](const toml::table& t) { return LoadFilter(in, t, config); }));
    } else if (k == "spa") {
      KG_RETURN_IF_ERROR(
          in.ForEachTable(key, node, [&](const toml::table& t) { return LoadSpa(in, t, config); }));
    } else if (k == "hook") {
      KG_RETURN_IF_ERROR(in.ForEachTable(
          key, node, [&](const toml::table& t) { return LoadHook(in, t, config); }));
    } else if (k == "knock") {
      KG_RETURN_IF_ERROR(in.ForEachTable(
          key, node, [&](const toml::table& t) { return LoadKnock(in, t, knock_rules, config); }));
    } else {
      return in.UnknownKey(key, kTopKeys);
    }
  }
  // [[knock]] sections run after the [[filter]] rules, so a blacklist drop
  // written as a filter still comes first.
  config.filters.insert(config.filters.end(), knock_rules.begin(), knock_rules.end());
  KG_RETURN_IF_ERROR(CheckCrossReferences(in, config));
  return config;
}

absl::StatusOr<Config> LoadConfigFile(const std::string& path) {
  KG_ASSIGN_OR_RETURN(const std::string text, ReadFileBounded(path, "config file"));
  return LoadConfig(text, path);
}

}  // namespace knockgate
