// The config loader's parts, one job per file: plain sections
// (section_loaders.cc), [[filter]] (filter_loader.cc), [[knock]] expansion
// (knock_loader.cc) and the checks across sections (cross_checks.cc).
// config_loader.cc is the front door that bounds, parses and dispatches.
#pragma once

#include <toml++/toml.h>

#include <vector>

#include "absl/status/status.h"
#include "policy/model.h"
#include "policy/toml_reader.h"

namespace knockgate {

// [eal], [interfaces], [dataplane], [policy], [lists], [log], [control], [state], [metrics],
// [dst-limit],
// [conntrack].
absl::Status LoadEal(const TomlReader& in, const toml::key& key, const toml::node& node,
                     Config& config);
absl::Status LoadInterfaces(const TomlReader& in, const toml::key& key, const toml::node& node,
                            Config& config);
absl::Status LoadDataplane(const TomlReader& in, const toml::key& key, const toml::node& node,
                           Config& config);
absl::Status LoadPolicyDefaults(const TomlReader& in, const toml::key& key, const toml::node& node,
                                Config& config);
absl::Status LoadLists(const TomlReader& in, const toml::key& key, const toml::node& node,
                       Config& config);
absl::Status LoadLog(const TomlReader& in, const toml::key& key, const toml::node& node,
                     Config& config);
absl::Status LoadMetrics(const TomlReader& in, const toml::key& key, const toml::node& node,
                         Config& config);
absl::Status LoadState(const TomlReader& in, const toml::key& key, const toml::node& node,
                       Config& config);
absl::Status LoadSync(const TomlReader& in, const toml::key& key, const toml::node& node,
                      Config& config);
absl::Status LoadControl(const TomlReader& in, const toml::key& key, const toml::node& node,
                         Config& config);
absl::Status LoadDstLimit(const TomlReader& in, const toml::key& key, const toml::node& node,
                          Config& config);
absl::Status LoadConntrack(const TomlReader& in, const toml::key& key, const toml::node& node,
                           Config& config);

// One table of [[layer7-protocol]], [[address-list]] or [[filter]], appended to `config`.
absl::Status LoadLayer7(const TomlReader& in, const toml::table& t, Config& config);
absl::Status LoadStaticAddress(const TomlReader& in, const toml::table& t, Config& config);
absl::Status LoadFilter(const TomlReader& in, const toml::table& t, Config& config);

// One [[knock]] table, expanded into `rules` (which go after every [[filter]]);
// its step lists' capacities go to config.lists, a secret's rotation to
// config.rotating_knocks.
absl::Status LoadKnock(const TomlReader& in, const toml::table& t, std::vector<FilterRule>& rules,
                       Config& config);

// One [[spa]] table (spa_loader.cc).
absl::Status LoadSpa(const TomlReader& in, const toml::table& t, Config& config);
absl::Status LoadHook(const TomlReader& in, const toml::table& t, Config& config);

// What needs the whole file: layer7 names, and rules that cannot be sharded.
absl::Status CheckCrossReferences(const TomlReader& in, const Config& config);

}  // namespace knockgate
