// Keys, messages and expiry arithmetic for [sync].
#include "sync/sync_codec.h"

#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace knockgate {

namespace {
constexpr Nanos kNanosPerMs = 1'000'000;
}  // namespace

const char kAddScript[] = R"(local channel = KEYS[#KEYS]
local changed = 0
for i = 1, #KEYS - 1 do
  local exp = tonumber(ARGV[2 * i - 1])
  local cur = redis.call('GET', KEYS[i])
  local c = cur and tonumber(cur)
  if not (c and (c == 0 or (exp ~= 0 and c >= exp))) then
    if exp == 0 then
      redis.call('SET', KEYS[i], '0')
    else
      redis.call('SET', KEYS[i], ARGV[2 * i - 1], 'PXAT', exp)
    end
    redis.call('PUBLISH', channel, ARGV[2 * i])
    changed = changed + 1
  end
end
return changed)";

const char kDelScript[] = R"(redis.call('DEL', KEYS[1])
redis.call('PUBLISH', KEYS[2], ARGV[1])
return 1)";

std::string EntryKey(absl::string_view prefix, absl::string_view list, const IpAddress& address) {
  return absl::StrCat(prefix, ":e:", list, ":", address.ToString());
}

absl::StatusOr<std::pair<std::string, IpAddress>> ParseEntryKey(absl::string_view prefix,
                                                                absl::string_view key) {
  const std::string head = absl::StrCat(prefix, ":e:");
  if (!absl::ConsumePrefix(&key, head)) {
    return absl::InvalidArgumentError(absl::StrCat("not a key under \"", head, "\""));
  }
  const size_t colon = key.find(':');  // list names hold no ':'; IPv6 addresses do
  if (colon == absl::string_view::npos || colon == 0) {
    return absl::InvalidArgumentError("expected LIST:ADDRESS after the prefix");
  }
  absl::StatusOr<IpAddress> address = ParseIpAddress(key.substr(colon + 1));
  if (!address.ok()) {
    return address.status();
  }
  return std::pair<std::string, IpAddress>(std::string(key.substr(0, colon)), *address);
}

std::string EntryPattern(absl::string_view prefix) { return absl::StrCat(prefix, ":e:*"); }

std::string EventsChannel(absl::string_view prefix) { return absl::StrCat(prefix, ":events"); }

std::string EncodeMessage(const SyncMessage& m) {
  return absl::StrCat(m.remove ? "del " : "add ", m.list, " ", m.address.ToString(), " ",
                      m.expiry_ms, " ", m.node);
}

absl::StatusOr<SyncMessage> ParseMessage(absl::string_view text) {
  const std::vector<absl::string_view> f = absl::StrSplit(text, ' ');
  if (f.size() != 5 || (f[0] != "add" && f[0] != "del") || f[1].empty() || f[4].empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "expected \"add|del LIST ADDRESS EXPIRY_MS NODE\", got \"", text.substr(0, 120), "\""));
  }
  SyncMessage m;
  m.remove = f[0] == "del";
  m.list = std::string(f[1]);
  absl::StatusOr<IpAddress> address = ParseIpAddress(f[2]);
  if (!address.ok()) {
    return address.status();
  }
  m.address = *address;
  if (!absl::SimpleAtoi(f[3], &m.expiry_ms) || m.expiry_ms < 0) {
    return absl::InvalidArgumentError(absl::StrCat("\"", f[3], "\" is not an expiry in ms"));
  }
  m.node = std::string(f[4]);
  return m;
}

int64_t ExpiryMsOf(Nanos expiry_wall) {
  if (expiry_wall == kNever) {
    return 0;
  }
  return static_cast<int64_t>((expiry_wall + kNanosPerMs - 1) / kNanosPerMs);
}

Nanos ExpiryWallOf(int64_t expiry_ms) {
  if (expiry_ms == 0) {
    return kNever;
  }
  return expiry_ms < 0 ? 1 : static_cast<Nanos>(expiry_ms) * kNanosPerMs;
}

}  // namespace knockgate
