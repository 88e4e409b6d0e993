// Names and formatting for the config model, used by --check and by event lines.
// Kept apart from the loader so the data path's users need not pull toml++ in.
#include "policy/model.h"

#include "absl/strings/str_cat.h"

namespace knockgate {

const char* ActionName(Action a) {
  switch (a) {
    case Action::kAccept:
      return "accept";
    case Action::kDrop:
      return "drop";
    case Action::kAddSrcToAddressList:
      return "add-src-to-address-list";
    case Action::kAddDstToAddressList:
      return "add-dst-to-address-list";
    case Action::kLog:
      return "log";
    case Action::kPassthrough:
      return "passthrough";
  }
  return "?";
}

const char* HookOnName(uint8_t bit) {
  switch (bit) {
    case hook_on::kGrant:
      return "grant";
    case hook_on::kExpire:
      return "expire";
    case hook_on::kRemove:
      return "remove";
    case hook_on::kJail:
      return "jail";
    case hook_on::kSpaGrant:
      return "spa-grant";
    default:
      return "?";
  }
}

const char* DstLimitModeName(DstLimitMode m) {
  switch (m) {
    case DstLimitMode::kDstAddress:
      return "dst-address";
    case DstLimitMode::kDstPort:
      return "dst-port";
    case DstLimitMode::kSrcAddress:
      return "src-address";
    case DstLimitMode::kSrcAndDstAddresses:
      return "src-and-dst-addresses";
    case DstLimitMode::kDstAddressAndPort:
      return "dst-address-and-port";
    case DstLimitMode::kAddressesAndDstPort:
      return "addresses-and-dst-port";
  }
  return "?";
}

std::string LimitMatch::ToString() const {
  return absl::StrCat(negated ? "!" : "", count, "/", FormatDuration(interval), ",", burst, ":",
                      bits ? "bit" : "packet");
}

std::string DstLimitMatch::ToString() const {
  return absl::StrCat(negated ? "!" : "", count, "/", FormatDuration(interval), ",", burst, ",",
                      DstLimitModeName(mode), "/", FormatDuration(expire));
}

std::string PortSet::ToString() const {
  std::string out;
  for (const auto& [lo, hi] : ranges) {
    absl::StrAppend(&out, out.empty() ? "" : ",", lo);
    if (hi != lo) {
      absl::StrAppend(&out, "-", hi);
    }
  }
  return out;
}

std::string TcpFlagsMatch::ToString() const {
  static constexpr const char* kNames[] = {"fin", "syn", "rst", "psh", "ack", "urg", "ece", "cwr"};
  std::string out;
  for (int bit = 0; bit < 8; ++bit) {
    if ((must_set | must_clear) & (1u << bit)) {
      absl::StrAppend(&out, out.empty() ? "" : ",", (must_clear & (1u << bit)) ? "!" : "",
                      kNames[bit]);
    }
  }
  return out;
}

}  // namespace knockgate
