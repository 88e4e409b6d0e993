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
for i = 1, (#KEYS - 1) / 2 do
  local ek, tk = KEYS[2 * i - 1], KEYS[2 * i]
  local exp, chg = tonumber(ARGV[3 * i - 2]), tonumber(ARGV[3 * i - 1])
  local t = tonumber(redis.call('GET', tk))
  if not (t and t >= chg) then
    if t then
      redis.call('DEL', tk)
    end
    local cur = redis.call('GET', ek)
    local c = cur and tonumber(string.match(cur, '^%d+'))
    if not (c and (c == 0 or (exp ~= 0 and c >= exp))) then
      local v = ARGV[3 * i - 2] .. ' ' .. ARGV[3 * i - 1]
      if exp == 0 then
        redis.call('SET', ek, v)
      else
        redis.call('SET', ek, v, 'PXAT', exp)
      end
      redis.call('PUBLISH', channel, ARGV[3 * i])
      changed = changed + 1
    end
  end
end
return changed)";

const char kDelScript[] = R"(local rm = tonumber(ARGV[1])
local cur = redis.call('GET', KEYS[1])
local ce
if cur then
  local e, c = string.match(cur, '^(%d+) ?(%d*)$')
  ce = tonumber(e)
  if (tonumber(c) or 0) > rm then
    return 0
  end
end
local t = tonumber(redis.call('GET', KEYS[2]))
if not (t and t >= rm) then
  if ce == 0 then
    redis.call('SET', KEYS[2], ARGV[1])
  else
    local untl = rm + tonumber(ARGV[2])
    if ce and ce > untl then
      untl = ce
    end
    redis.call('SET', KEYS[2], ARGV[1], 'PXAT', untl)
  end
end
redis.call('DEL', KEYS[1])
redis.call('PUBLISH', KEYS[3], ARGV[3])
return 1)";

std::string EntryKey(absl::string_view prefix, absl::string_view list, const IpAddress& address) {
  return absl::StrCat(prefix, ":e:", list, ":", address.ToString());
}

std::string TombstoneKey(absl::string_view prefix, absl::string_view list,
                         const IpAddress& address) {
  return absl::StrCat(prefix, ":t:", list, ":", address.ToString());
}

absl::StatusOr<std::pair<std::string, IpAddress>> ParseEntryKey(absl::string_view prefix,
                                                                absl::string_view key, char kind) {
  const std::string head = absl::StrCat(prefix, ":", std::string(1, kind), ":");
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

std::string EntryPattern(absl::string_view prefix, char kind) {
  return absl::StrCat(prefix, ":", std::string(1, kind), ":*");
}

absl::StatusOr<EntryValue> ParseEntryValue(absl::string_view text) {
  const std::vector<absl::string_view> f = absl::StrSplit(text, ' ');
  EntryValue v;
  if (f.size() > 2 || !absl::SimpleAtoi(f[0], &v.expiry_ms) || v.expiry_ms < 0 ||
      (f.size() == 2 && (!absl::SimpleAtoi(f[1], &v.changed_ms) || v.changed_ms < 0))) {
    return absl::InvalidArgumentError(
        absl::StrCat("expected \"EXPIRY_MS CHANGED_MS\", got \"", text.substr(0, 60), "\""));
  }
  return v;
}

int64_t ChangedMsOf(Nanos changed_wall) { return static_cast<int64_t>(changed_wall / kNanosPerMs); }

Nanos ChangedWallOf(int64_t changed_ms) {
  return changed_ms <= 0 ? 0 : static_cast<Nanos>(changed_ms) * kNanosPerMs;
}

std::string EventsChannel(absl::string_view prefix) { return absl::StrCat(prefix, ":events"); }

std::string EncodeMessage(const SyncMessage& m) {
  return absl::StrCat(m.remove ? "del " : "add ", m.list, " ", m.address.ToString(), " ",
                      m.expiry_ms, " ", m.node, " ", m.changed_ms);
}

absl::StatusOr<SyncMessage> ParseMessage(absl::string_view text) {
  const std::vector<absl::string_view> f = absl::StrSplit(text, ' ');
  if ((f.size() != 5 && f.size() != 6) || (f[0] != "add" && f[0] != "del") || f[1].empty() ||
      f[4].empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("expected \"add|del LIST ADDRESS EXPIRY_MS NODE CHANGED_MS\", got \"",
                     text.substr(0, 120), "\""));
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
  if (f.size() == 6 && (!absl::SimpleAtoi(f[5], &m.changed_ms) || m.changed_ms < 0)) {
    return absl::InvalidArgumentError(absl::StrCat("\"", f[5], "\" is not a time in ms"));
  }
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
