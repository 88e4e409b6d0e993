// knockgate knock: the client side of a rotating [[knock]].
#pragma once

namespace knockgate {

// argv after "knock": --config FILE [--print] [--at SECONDS] [--delay DURATION]
// NAME [HOST]. Never starts EAL.
int RunKnock(int argc, char** argv);

}  // namespace knockgate
