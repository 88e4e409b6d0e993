// The log's token bucket and its once-a-second summary of what it held back.
#include "control/log_limiter.h"

#include <algorithm>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace knockgate {

LogLimiter::LogLimiter(uint32_t rate, uint32_t burst, Nanos now)
    : rate_(rate),
      burst_(std::max<uint32_t>(burst, 1)),
      capacity_(uint64_t{burst_} * kNanosPerSecond),
      reserve_(uint64_t{burst_ / 4} * kNanosPerSecond),
      tokens_(capacity_),
      last_refill_(now) {}

void LogLimiter::Refill(Nanos now) {
  if (now <= last_refill_) {
    return;
  }
  // Past a full refill, longer gaps add nothing (and cannot overflow).
  const Nanos full = capacity_ / rate_ + 1;
  const Nanos elapsed = std::min(now - last_refill_, full);
  tokens_ = std::min(capacity_, tokens_ + elapsed * rate_);
  last_refill_ = now;
}

bool LogLimiter::Admit(const Policy& policy, const Event& e, Nanos now) {
  if (rate_ == 0 || e.state) {
    Count(written_);
    return true;
  }
  Refill(now);
  const bool log_rule = e.type == EventType::kLog;
  const uint64_t needed = kNanosPerSecond + (log_rule ? 0 : reserve_);
  if (tokens_ >= needed) {
    tokens_ -= kNanosPerSecond;
    Count(written_);
    return true;
  }
  if (held_++ == 0) {
    first_held_ = now;
  }
  Count(suppressed_);
  held_log_rules_ += log_rule ? 1 : 0;
  if (e.type == EventType::kListAdd && e.list < policy.lists().size()) {
    if (held_by_list_[e.list]++ == 0) {
      list_names_[e.list] = policy.lists()[e.list].name;  // once per list per summary
    }
  } else {
    ++held_others_;
  }
  return false;
}

std::string LogLimiter::TakeSummary(Nanos now, bool force) {
  const uint64_t adds = held_ - held_others_;
  if (held_ == 0 || (!force && now < first_held_ + kSummaryInterval)) {
    return "";
  }
  std::vector<size_t> lists;
  for (size_t i = 0; i < held_by_list_.size(); ++i) {
    if (held_by_list_[i] != 0) {
      lists.push_back(i);
    }
  }
  std::sort(lists.begin(), lists.end(),
            [&](size_t a, size_t b) { return held_by_list_[a] > held_by_list_[b]; });
  std::string out = absl::StrCat("suppressed ", adds, " list-add events");
  for (size_t i = 0; i < lists.size(); ++i) {
    absl::StrAppend(&out, i == 0 ? " (" : ", ", held_by_list_[lists[i]], " to list ",
                    list_names_[lists[i]]);
  }
  absl::StrAppend(&out, lists.empty() ? "" : ")", " and ", held_others_,
                  " other events in the last ",
                  absl::StrFormat("%.1fs", static_cast<double>(now - first_held_) / 1e9),
                  " (log rate ", rate_, "/s, burst ", burst_, "; ", held_log_rules_,
                  " of them log rules; grants and jails are never held back)");
  held_by_list_.fill(0);
  held_others_ = 0;
  held_log_rules_ = 0;
  held_ = 0;
  return out;
}

}  // namespace knockgate
