// knockgate's command line: EAL arguments before "--", knockgate's own after it.
// Parsed without starting EAL so --check and --help never touch DPDK.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace knockgate {

struct Options {
  enum class Mode { kRun, kCheck, kReplay, kImport, kHelp, kVersion };
  Mode mode = Mode::kRun;
  std::string config_path;
  std::string replay_path;
  std::string import_path;
  std::vector<std::string> eal_args;  // from the command line, before "--"
  bool eal_args_given = false;
};

absl::StatusOr<Options> ParseOptions(int argc, char** argv);
extern const char kUsage[];

}  // namespace knockgate
