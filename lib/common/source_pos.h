// A position in a file a person wrote (config, RouterOS script), so an error
// found after loading can still say where.
#pragma once

namespace knockgate {

struct SourcePos {
  int line = 0;
  int column = 0;
};

}  // namespace knockgate
