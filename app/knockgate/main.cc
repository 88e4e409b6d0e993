// knockgate's entry point: parses the command line, loads and compiles the
// policy, and dispatches to --check, --replay or the gateway.
#include <fstream>
#include <iostream>
#include <sstream>

#include "classify/classifier.h"
#include "classify/worker_memory.h"
#include "common/read_file.h"
#include "ctl.h"
#include "knock.h"
#include "options.h"
#include "policy/config_loader.h"
#include "policy/policy.h"
#include "policy/routeros_import.h"
#include "replay.h"
#include "run.h"

namespace knockgate {
namespace {

int ImportRouterOsFile(const std::string& path) {
  absl::StatusOr<std::string> text = ReadFileBounded(path, "RouterOS script");
  if (!text.ok()) {
    std::cerr << text.status().message() << "\n";
    return 1;
  }
  absl::StatusOr<std::string> toml = ImportRouterOs(*text, path);
  if (!toml.ok()) {
    std::cerr << toml.status().message() << "\n";
    return 1;
  }
  std::cout << *toml;
  return 0;
}

int Main(int argc, char** argv) {
  if (argc >= 2 && std::string(argv[1]) == "ctl") {
    return RunCtl(argc - 2, argv + 2);
  }
  if (argc >= 2 && std::string(argv[1]) == "knock") {
    return RunKnock(argc - 2, argv + 2);
  }
  absl::StatusOr<Options> options = ParseOptions(argc, argv);
  if (!options.ok()) {
    std::cerr << "knockgate: " << options.status().message() << "\n";
    return 2;
  }
  if (options->mode == Options::Mode::kHelp) {
    std::cout << kUsage;
    return 0;
  }
  if (options->mode == Options::Mode::kVersion) {
    std::cout << "knockgate " << KNOCKGATE_VERSION << "\n";
    return 0;
  }
  if (options->mode == Options::Mode::kImport) {
    return ImportRouterOsFile(options->import_path);
  }
  absl::StatusOr<Config> config = LoadConfigFile(options->config_path);
  if (!config.ok()) {
    std::cerr << config.status().message() << "\n";
    return 1;
  }
  absl::StatusOr<std::shared_ptr<const Policy>> policy = Policy::Compile(*config);
  if (!policy.ok()) {
    std::cerr << policy.status().message() << "\n";
    return 1;
  }
  for (const std::string& w : (*policy)->warnings()) {
    std::cerr << "warning: " << w << "\n";
  }
  const WorkerMemory memory = WorkerMemoryOf(**policy);
  const uint32_t workers = options->mode == Options::Mode::kReplay ? 1 : config->dataplane.workers;
  if (absl::Status s = CheckMemoryFits(memory, workers, MemInfoBytes("MemTotal"), "MemTotal");
      !s.ok()) {
    std::cerr << config->path << ": " << s.message() << "\n";
    return 1;
  }
  switch (options->mode) {
    case Options::Mode::kCheck:
      std::cout << (*policy)->Describe() << "\n" << memory.Describe(workers) << "\n";
      return 0;
    case Options::Mode::kReplay:
      if (absl::Status s = ReplayPcap(**policy, options->replay_path, std::cout); !s.ok()) {
        std::cerr << "knockgate: " << s.message() << "\n";
        return 1;
      }
      return 0;
    default:
      return RunGateway(*config, *policy,
                        options->eal_args_given ? options->eal_args : config->eal.args);
  }
}

}  // namespace
}  // namespace knockgate

int main(int argc, char** argv) { return knockgate::Main(argc, argv); }
