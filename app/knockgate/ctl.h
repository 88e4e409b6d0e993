// knockgate ctl: talks to a running gateway over its control socket.
#pragma once

namespace knockgate {

// argv after "ctl": [--config FILE | --socket PATH] COMMAND... Never starts EAL.
int RunCtl(int argc, char** argv);

}  // namespace knockgate
