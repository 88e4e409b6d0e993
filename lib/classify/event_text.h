// One line of text per classifier event, as the control plane logs it:
// "TIME EVENT rule=N list=NAME address=A timeout=T ...".
#pragma once

#include <string>

#include "classify/classifier.h"

namespace knockgate {

// `time` is the already formatted timestamp that starts the line.
std::string FormatEvent(const Policy& policy, const Event& e, const std::string& time);

}  // namespace knockgate
