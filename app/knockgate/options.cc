// Argument splitting per DESIGN.md section 1: with a "--", what stands before it
// goes to EAL; without one, every argument is knockgate's.
#include "options.h"

#include "absl/strings/string_view.h"

#include "absl/strings/str_cat.h"

namespace knockgate {

const char kUsage[] = R"(usage:
  knockgate --check --config FILE        validate FILE, print the compiled policy, exit
  knockgate --replay PCAP --config FILE  classify PCAP's frames as arriving on the WAN port,
                                         using their capture timestamps as the clock; print
                                         each verdict, every event and the counters
  knockgate --import-routeros FILE.rsc   translate a RouterOS script (/ip firewall filter,
                                         layer7-protocol, address-list; /ipv6 firewall) to
                                         TOML on stdout
  knockgate --config FILE                run the gateway, EAL arguments from [eal].args
  knockgate [EAL args] -- --config FILE  run it with these EAL arguments instead
  knockgate ctl --config FILE COMMAND    ask the running gateway (see knockgate ctl --help):
                                         list print|add|remove, stats, reload
  knockgate knock --config FILE NAME HOST
                                         knock the rotating [[knock]] NAME's current
                                         sequence on HOST (--print: print it for knock
                                         or nmap; see knockgate knock --help)

options:
  -c, --config FILE   TOML configuration (see conf/knockgate.toml)
      --check         load and compile only, print the compiled policy and the
                      memory each worker's tables take; never starts EAL
      --replay PCAP   offline replay through the classifier; never starts EAL
      --import-routeros FILE.rsc
                      RouterOS script to TOML; never starts EAL
  -h, --help          this text
      --version       print the version

Errors in FILE are reported as FILE:LINE:COL: KEY: what was expected, and the
exit status is 1. Warnings (such as a list nothing fills) do not fail --check.
Running, knockgate writes one line per event (knock step, grant, blacklisting,
log rule) to stdout or [log].file; SIGHUP reloads the config file's rules
on a control thread (list entries and connections are kept; a bad file keeps
the running policy);
SIGINT/SIGTERM stop it and print the final port, worker, drop-reason, rule and
list counters. Unless the EAL arguments name one, EAL runs with
--file-prefix knockgate (dpdk-telemetry.py -f knockgate finds it).
)";

absl::StatusOr<Options> ParseOptions(int argc, char** argv) {
  Options o;
  int first = 1;
  for (int i = 1; i < argc; ++i) {
    if (absl::string_view(argv[i]) == "--") {
      o.eal_args.assign(argv + 1, argv + i);
      o.eal_args_given = true;
      first = i + 1;
      break;
    }
  }
  for (int i = first; i < argc; ++i) {
    const absl::string_view arg = argv[i];
    auto value = [&](std::string& out) -> absl::Status {
      if (i + 1 >= argc) {
        return absl::InvalidArgumentError(absl::StrCat(arg, " needs a value"));
      }
      out = argv[++i];
      return absl::OkStatus();
    };
    absl::Status status;
    if (arg == "-c" || arg == "--config") {
      status = value(o.config_path);
    } else if (arg == "--check") {
      o.mode = Options::Mode::kCheck;
    } else if (arg == "--replay") {
      o.mode = Options::Mode::kReplay;
      status = value(o.replay_path);
    } else if (arg == "--import-routeros") {
      o.mode = Options::Mode::kImport;
      status = value(o.import_path);
    } else if (arg == "-h" || arg == "--help") {
      o.mode = Options::Mode::kHelp;
      return o;
    } else if (arg == "--version") {
      o.mode = Options::Mode::kVersion;
      return o;
    } else {
      return absl::InvalidArgumentError(absl::StrCat(
          "unknown option \"", arg, "\" (EAL arguments go before \"--\"; see --help)"));
    }
    if (!status.ok()) {
      return status;
    }
  }
  if (o.config_path.empty() && o.mode != Options::Mode::kImport) {
    return absl::InvalidArgumentError("--config FILE is required (see --help)");
  }
  return o;
}

}  // namespace knockgate
