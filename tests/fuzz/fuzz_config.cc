// libFuzzer: the TOML loader and the policy compiler on any text. Errors are
// fine; a crash, a hang or a sanitizer report is a finding.
#include <string>

#include "policy/config_loader.h"
#include "policy/policy.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<knockgate::Config> config = knockgate::LoadConfig(text, "fuzz.toml");
  if (config.ok()) {
    (void)knockgate::Policy::Compile(*config);
  }
  return 0;
}
