// libFuzzer: the --replay pcap reader on any file, classifying what it reads
// with the shipped policy.
#include <unistd.h>

#include <fstream>
#include <memory>
#include <ostream>
#include <sstream>
#include <string>

#include "absl/strings/str_replace.h"
#include "policy/config_loader.h"
#include "replay.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // The shipped policy with small tables: a replay allocates its own tables
  // for every input, and the shipped sizes would make that most of the time.
  static const std::shared_ptr<const knockgate::Policy> policy = [] {
    std::ifstream in(KNOCKGATE_SOURCE_ROOT "/conf/knockgate.toml");
    std::stringstream text;
    text << in.rdbuf();
    auto config = knockgate::LoadConfig(
        absl::StrReplaceAll(text.str(),
                            {{"capacity = 65536", "capacity = 64"}, {"= 1048576", "= 64"}}) +
            "\n[conntrack]\ncapacity = 64\n",
        "fuzz.toml");
    auto policy = *knockgate::Policy::Compile(*config);
    for (const knockgate::ListInfo& l : policy->lists()) {
      if (l.capacity > 64) {  // the shipped config grew a table this target must shrink
        __builtin_trap();
      }
    }
    return policy;
  }();
  static const std::string path = "/tmp/kg-fuzz-replay-" + std::to_string(getpid()) + ".pcap";
  {
    std::ofstream f(path, std::ios::binary | std::ios::trunc);
    f.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  }
  std::ostream discard(nullptr);
  (void)knockgate::ReplayPcap(*policy, path, discard);
  return 0;
}
