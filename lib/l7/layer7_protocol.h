// A [[layer7-protocol]] as written: what the Hyperscan database compiles and
// what the policy names by id.
#pragma once

#include <string>

#include "common/source_pos.h"

namespace knockgate {

struct Layer7Protocol {
  std::string name;
  std::string regexp;
  bool case_sensitive = false;
  SourcePos pos;  // of the regexp value, where a pattern error points
};

}  // namespace knockgate
