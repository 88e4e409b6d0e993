// One line of text per classifier event, as the control plane logs it:
// "TIME EVENT rule=N list=NAME address=A timeout=T ...".
#pragma once

#include <string>

#include "classify/classifier.h"

namespace knockgate {

// `time` is the already formatted timestamp that starts the line.
std::string FormatEvent(const Policy& policy, const Event& e, const std::string& time);

// Whether an event is one operators want even under a flood: a log rule's,
// an operator's (knockgate ctl), or an add to a list that is no rule's step
// (a grant, a jail).
inline bool EventMatters(const Policy& policy, const Event& e) {
  if (e.type == EventType::kSpaReject || e.origin == EventOrigin::kSync) {
    return false;  // a forged-SPA flood or a fleet's resync must not crowd out the grants
  }
  return e.type != EventType::kListAdd || e.rule == Event::kNoRule ||
         e.list >= policy.lists().size() || !policy.lists()[e.list].step;
}

}  // namespace knockgate
