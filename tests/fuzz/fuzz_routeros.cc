// libFuzzer: the RouterOS importer on any script; its output is checked by the
// loader inside ImportRouterOs.
#include <string>

#include "policy/routeros_import.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  (void)knockgate::ImportRouterOs(text, "fuzz.rsc");
  return 0;
}
