// knockgate ctl: finds the socket (from --socket, or the config's [control]
// socket), sends one command, prints the answer; exit 1 on any error.
#include "ctl.h"

#include <iostream>
#include <string>
#include <vector>

#include "control/ctl_socket.h"
#include "policy/config_loader.h"

namespace knockgate {

constexpr char kCtlUsage[] = R"(usage: knockgate ctl (--config FILE | --socket PATH) COMMAND
commands:
  list print [NAME]                          entries with the time they have left
  list add NAME ADDRESS [--timeout DURATION] add (without a timeout: until removed)
  list remove NAME ADDRESS                   take out at once
  stats                                      the counters, now
  reload                                     reload the config file (as SIGHUP), print the result
)";

int RunCtl(int argc, char** argv) {
  std::string config_path;
  std::string socket;
  std::vector<std::string> args;
  for (int i = 0; i < argc; ++i) {
    const std::string a = argv[i];
    if ((a == "--config" || a == "-c" || a == "--socket") && i + 1 < argc) {
      (a == "--socket" ? socket : config_path) = argv[++i];
    } else if (a == "-h" || a == "--help") {
      std::cout << kCtlUsage;
      return 0;
    } else {
      args.push_back(a);
    }
  }
  if (args.empty() || (config_path.empty() && socket.empty())) {
    std::cerr << kCtlUsage;
    return 2;
  }
  if (socket.empty()) {
    absl::StatusOr<Config> config = LoadConfigFile(config_path);
    if (!config.ok()) {
      std::cerr << config.status().message() << "\n";
      return 1;
    }
    socket = config->control.socket;
  }
  absl::StatusOr<std::string> reply = CtlRequest(socket, args);
  if (!reply.ok()) {
    std::cerr << "knockgate ctl: " << reply.status().message() << "\n";
    return 1;
  }
  std::cout << *reply;
  return 0;
}

}  // namespace knockgate
