// RouterOS value syntax: each parser takes the text of one value and says
// what was expected when it does not parse.
#include "policy/value_parsers.h"

#include <charconv>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "policy/duration.h"

namespace knockgate {
namespace {

struct ProtocolEntry {
  const char* name;
  uint8_t number;
};
// The names RouterOS accepts for `protocol`, by IANA number.
constexpr ProtocolEntry kProtocols[] = {
    {"icmp", 1},        {"igmp", 2},        {"ggp", 3},        {"ip-encap", 4},
    {"st", 5},          {"tcp", 6},         {"egp", 8},        {"pup", 12},
    {"udp", 17},        {"hmp", 20},        {"xns-idp", 22},   {"rdp", 27},
    {"ipv6-encap", 41}, {"ipv6-route", 43}, {"ipv6-frag", 44}, {"rsvp", 46},
    {"gre", 47},        {"ipsec-esp", 50},  {"ipsec-ah", 51},  {"icmpv6", 58},
    {"ipv6-nonxt", 59}, {"ipv6-opts", 60},  {"rspf", 73},      {"vmtp", 81},
    {"ospf", 89},       {"ipip", 94},       {"etherip", 97},   {"encap", 98},
    {"pim", 103},       {"vrrp", 112},      {"l2tp", 115},     {"sctp", 132},
    {"udp-lite", 136},  {"dccp", 33},
};

// One word of a fixed vocabulary, or 0.
template <typename T, size_t N>
T Lookup(const std::pair<absl::string_view, T> (&words)[N], absl::string_view word) {
  for (const auto& [w, value] : words) {
    if (w == word) {
      return value;
    }
  }
  return T{};
}

// "50", "1k", "10M": a count for limit and dst-limit.
bool ParseCount(absl::string_view s, uint64_t& out) {
  uint64_t scale = 1;
  if (absl::ConsumeSuffix(&s, "k") || absl::ConsumeSuffix(&s, "K")) {
    scale = 1000;
  } else if (absl::ConsumeSuffix(&s, "M")) {
    scale = 1000 * 1000;
  } else if (absl::ConsumeSuffix(&s, "G")) {
    scale = 1000 * 1000 * 1000;
  }
  uint64_t n = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
  if (s.empty() || ec != std::errc() || end != s.data() + s.size() || n > (1ULL << 40)) {
    return false;
  }
  out = n * scale;
  return true;
}

// "count[/time]" with a count above zero and a finite time.
bool ParseRate(absl::string_view s, uint64_t& count, Nanos& interval) {
  const size_t slash = s.find('/');
  if (!ParseCount(s.substr(0, slash), count) || count == 0) {
    return false;
  }
  interval = kNanosPerSecond;
  if (slash != absl::string_view::npos) {
    absl::StatusOr<Nanos> d = ParseDuration(s.substr(slash + 1));
    if (!d.ok() || *d == kNever) {
      return false;
    }
    interval = *d;
  }
  return true;
}

}  // namespace

absl::StatusOr<LimitMatch> ParseLimit(absl::string_view text) {
  LimitMatch m;
  absl::string_view s = text;
  m.negated = absl::ConsumePrefix(&s, "!");
  const std::vector<absl::string_view> parts = absl::StrSplit(s, ',');
  absl::string_view burst = parts.size() == 2 ? parts[1] : "";
  if (const size_t colon = burst.find(':'); colon != absl::string_view::npos) {
    const absl::string_view mode = burst.substr(colon + 1);
    m.bits = mode == "bit";
    if (mode != "bit" && mode != "packet") {
      burst = "";  // fails below
    } else {
      burst = burst.substr(0, colon);
    }
  }
  if (parts.size() != 2 || !ParseRate(parts[0], m.count, m.interval) ||
      !ParseCount(burst, m.burst)) {
    return absl::InvalidArgumentError(
        absl::StrCat("\"", text,
                     "\": expected count[/time],burst[:packet|bit] such as \"50/5s,2:packet\" "
                     "(count above 0)"));
  }
  return m;
}

absl::StatusOr<DstLimitMatch> ParseDstLimit(absl::string_view text) {
  static constexpr std::pair<absl::string_view, DstLimitMode> kModes[] = {
      {"dst-address", DstLimitMode::kDstAddress},
      {"dst-port", DstLimitMode::kDstPort},
      {"src-address", DstLimitMode::kSrcAddress},
      {"src-and-dst-addresses", DstLimitMode::kSrcAndDstAddresses},
      {"dst-address-and-port", DstLimitMode::kDstAddressAndPort},
      {"addresses-and-dst-port", DstLimitMode::kAddressesAndDstPort},
  };
  DstLimitMatch m;
  absl::string_view s = text;
  m.negated = absl::ConsumePrefix(&s, "!");
  const std::vector<absl::string_view> parts = absl::StrSplit(s, ',');
  bool ok = parts.size() == 3 && ParseRate(parts[0], m.count, m.interval) &&
            ParseCount(parts[1], m.burst);
  if (ok) {
    const size_t slash = parts[2].find('/');
    const absl::string_view mode = parts[2].substr(0, slash);
    ok = false;
    for (const auto& [word, value] : kModes) {
      if (mode == word) {
        m.mode = value;
        ok = true;
      }
    }
    if (ok && slash != absl::string_view::npos) {
      absl::StatusOr<Nanos> d = ParseDuration(parts[2].substr(slash + 1));
      ok = d.ok() && *d != kNever;
      m.expire = ok ? *d : m.expire;
    }
  }
  if (!ok) {
    return absl::InvalidArgumentError(absl::StrCat(
        "\"", text,
        "\": expected count[/time],burst,mode[/expire] such as \"10/1m,5,src-address/1m\", mode "
        "one of dst-address, dst-port, src-address, src-and-dst-addresses, "
        "dst-address-and-port, addresses-and-dst-port"));
  }
  return m;
}

absl::StatusOr<PortSet> ParsePortSet(absl::string_view text) {
  PortSet set;
  auto parse_port = [](absl::string_view s, uint16_t& out) {
    uint32_t v = 0;
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc() || end != s.data() + s.size() || v < 1 || v > 65535) {
      return false;
    }
    out = static_cast<uint16_t>(v);
    return true;
  };
  for (absl::string_view part : absl::StrSplit(text, ',')) {
    const size_t dash = part.find('-');
    uint16_t lo = 0;
    uint16_t hi = 0;
    const bool ok = dash == absl::string_view::npos ? parse_port(part, lo) && parse_port(part, hi)
                                                    : parse_port(part.substr(0, dash), lo) &&
                                                          parse_port(part.substr(dash + 1), hi);
    if (!ok) {
      return absl::InvalidArgumentError(
          absl::StrCat("\"", text,
                       "\": expected ports 1..65535 or ranges like \"10000-60000\", "
                       "separated by commas"));
    }
    if (lo > hi) {
      return absl::InvalidArgumentError(
          absl::StrCat("\"", text, "\": range ", lo, "-", hi, " runs backwards"));
    }
    set.ranges.emplace_back(lo, hi);
  }
  return set;
}

absl::StatusOr<uint8_t> ParseProtocol(absl::string_view text) {
  for (const ProtocolEntry& p : kProtocols) {
    if (text == p.name) {
      return p.number;
    }
  }
  if (text == "ipv6-icmp") {
    return uint8_t{58};
  }
  uint32_t n = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  if (!text.empty() && ec == std::errc() && end == text.data() + text.size() && n <= 255) {
    return static_cast<uint8_t>(n);
  }
  return absl::InvalidArgumentError(
      absl::StrCat("unknown protocol \"", text,
                   "\" (expected a name such as tcp, udp, icmp, icmpv6, gre, or a number 0..255)"));
}

const char* ProtocolName(uint8_t proto) {
  for (const ProtocolEntry& p : kProtocols) {
    if (p.number == proto) {
      return p.name;
    }
  }
  return nullptr;
}

absl::StatusOr<Action> ParseAction(absl::string_view text) {
  static constexpr std::pair<absl::string_view, Action> kActions[] = {
      {"accept", Action::kAccept},
      {"drop", Action::kDrop},
      {"add-src-to-address-list", Action::kAddSrcToAddressList},
      {"add-dst-to-address-list", Action::kAddDstToAddressList},
      {"log", Action::kLog},
      {"passthrough", Action::kPassthrough},
  };
  for (const auto& [word, action] : kActions) {
    if (text == word) {
      return action;
    }
  }
  return absl::InvalidArgumentError(
      absl::StrCat("unknown action \"", text,
                   "\" (expected accept, drop, add-src-to-address-list, "
                   "add-dst-to-address-list, log or passthrough)"));
}

absl::StatusOr<TcpFlagsMatch> ParseTcpFlags(absl::string_view text) {
  static constexpr std::pair<absl::string_view, uint8_t> kFlags[] = {
      {"fin", tcp_flag::kFin}, {"syn", tcp_flag::kSyn}, {"rst", tcp_flag::kRst},
      {"psh", tcp_flag::kPsh}, {"ack", tcp_flag::kAck}, {"urg", tcp_flag::kUrg},
      {"ece", tcp_flag::kEce}, {"cwr", tcp_flag::kCwr},
  };
  TcpFlagsMatch m;
  for (absl::string_view part : absl::StrSplit(text, ',')) {
    const bool neg = absl::ConsumePrefix(&part, "!");
    const uint8_t bit = Lookup(kFlags, part);
    if (bit == 0 || ((m.must_set | m.must_clear) & bit) != 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("\"", text,
                       "\": expected a comma list of distinct flags fin, syn, rst, psh, "
                       "ack, urg, ece, cwr, each optionally negated with \"!\""));
    }
    (neg ? m.must_clear : m.must_set) |= bit;
  }
  return m;
}

absl::StatusOr<Negatable<uint8_t>> ParseConnectionState(absl::string_view text) {
  static constexpr std::pair<absl::string_view, uint8_t> kStates[] = {
      {"new", conn_state::kNew},
      {"established", conn_state::kEstablished},
      {"related", conn_state::kRelated},
      {"invalid", conn_state::kInvalid},
      {"untracked", conn_state::kUntracked},
  };
  Negatable<uint8_t> m{0, false};
  absl::string_view s = text;
  m.negated = absl::ConsumePrefix(&s, "!");
  for (absl::string_view part : absl::StrSplit(s, ',')) {
    const uint8_t bit = Lookup(kStates, part);
    if (bit == 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("\"", s,
                       "\": expected a comma list of new, established, related, "
                       "invalid, untracked, optionally negated with a leading \"!\""));
    }
    m.value |= bit;
  }
  return m;
}

absl::StatusOr<Nanos> ParseIdleSleep(absl::string_view text) {
  absl::string_view s = text;
  if (s == "0") {
    return Nanos{0};
  }
  if (absl::ConsumeSuffix(&s, "us")) {
    uint32_t us = 0;
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), us);
    if (ec == std::errc() && end == s.data() + s.size() && us > 0 && us <= 1'000'000) {
      return Nanos{us} * 1000;
    }
  } else if (absl::StatusOr<Nanos> d = ParseDuration(s); d.ok() && *d <= kNanosPerSecond) {
    return *d;
  }
  return absl::InvalidArgumentError(
      "expected \"0\" (busy-poll) or a duration up to 1s such as \"20us\" or \"1ms\"");
}

}  // namespace knockgate
