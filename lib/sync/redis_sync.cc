// The [sync] thread: two hiredis connections, its own poll loop, pipelined
// writes, resync after every (re)connect, backoff and one log line per outage.
#include "sync/redis_sync.h"

#include <hiredis/hiredis.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/control_cpus.h"
#include "common/status_macros.h"

namespace knockgate {
namespace {

constexpr timeval kIoTimeout = {2, 0};  // no blocking call waits longer on a hung Redis
constexpr Nanos kBackoffFirst = 100'000'000;
constexpr Nanos kBackoffMax = 5 * kNanosPerSecond;
constexpr size_t kApplyChunk = 4096;

struct FreeReply {
  void operator()(redisReply* r) const {
    if (r != nullptr) {
      freeReplyObject(r);
    }
  }
};
using Reply = std::unique_ptr<redisReply, FreeReply>;

absl::Status Broken(redisContext* c, absl::string_view what) {
  return absl::UnavailableError(
      absl::StrCat(what, ": ", c != nullptr && c->err != 0 ? c->errstr : "no reply"));
}

// A command from its arguments (binary safe: no format string).
void Append(redisContext* c, const std::vector<std::string>& args) {
  std::vector<const char*> argv;
  std::vector<size_t> len;
  for (const std::string& a : args) {
    argv.push_back(a.data());
    len.push_back(a.size());
  }
  redisAppendCommandArgv(c, static_cast<int>(args.size()), argv.data(), len.data());
}

absl::StatusOr<Reply> Read(redisContext* c, absl::string_view what) {
  void* r = nullptr;
  if (redisGetReply(c, &r) != REDIS_OK || r == nullptr) {
    return Broken(c, what);
  }
  Reply reply(static_cast<redisReply*>(r));
  if (reply->type == REDIS_REPLY_ERROR) {
    // NOSCRIPT (Redis restarted without our scripts) and the like: start over.
    return absl::UnavailableError(absl::StrCat(what, ": ", reply->str));
  }
  return reply;
}

absl::StatusOr<Reply> Command(redisContext* c, const std::vector<std::string>& args) {
  Append(c, args);
  return Read(c, args[0]);
}

std::string DefaultNode() {
  char host[256] = {};
  gethostname(host, sizeof(host) - 1);
  return absl::StrCat(host, ":", getpid());
}

}  // namespace

RedisSync::RedisSync(const SyncConfig& config, Hooks hooks)
    : config_(config),
      hooks_(std::move(hooks)),
      node_(config.node.empty() ? DefaultNode() : config.node),
      channel_(EventsChannel(config.prefix)) {}

absl::StatusOr<std::unique_ptr<RedisSync>> RedisSync::Start(const SyncConfig& config, Hooks hooks) {
  std::unique_ptr<RedisSync> s(new RedisSync(config, std::move(hooks)));
  s->wake_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (s->wake_fd_ < 0) {
    return absl::InternalError("sync: cannot create an eventfd");
  }
  s->queue_.reserve(1024);
  s->thread_ = std::thread([p = s.get()] { p->Loop(); });
  return s;
}

RedisSync::~RedisSync() {
  stop_.store(true);
  const uint64_t one = 1;
  [[maybe_unused]] ssize_t w = write(wake_fd_, &one, sizeof(one));
  if (thread_.joinable()) {
    thread_.join();
  }
  Disconnect();
  close(wake_fd_);
}

void RedisSync::Offer(ListChange change) {
  bool was_empty;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (change.remove) {  // remembered even when the queue is full
      Nanos& at = removed_[EntryKey(config_.prefix, change.list, change.address)];
      at = std::max(at, change.changed_wall);
    }
    if (queue_.size() >= kQueueCapacity) {
      counters_.dropped.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    was_empty = queue_.empty();
    queue_.push_back(std::move(change));
    counters_.queued.store(queue_.size(), std::memory_order_relaxed);
  }
  if (was_empty) {
    const uint64_t one = 1;
    [[maybe_unused]] ssize_t w = write(wake_fd_, &one, sizeof(one));
  }
}

std::string RedisSync::Report() const {
  return absl::StrFormat(
      "sync: %s %s as %s, published %d, applied %d, dropped %d, errors %d, resyncs %d\n",
      counters_.connected.load() ? "connected to" : "not connected to", config_.redis, node_,
      counters_.published.load(), counters_.applied.load(), counters_.dropped.load(),
      counters_.errors.load(), counters_.resyncs.load());
}

void RedisSync::Loop() {
  PlaceControlThread("kg-sync");
  Nanos backoff = kBackoffFirst;
  Nanos outage_since = 0;
  bool first = true;
  while (!stop_.load()) {
    absl::Status s = Connect();
    if (s.ok()) {
      s = Resync();
    }
    if (s.ok()) {
      counters_.connected.store(true);
      if (outage_since != 0) {
        hooks_.log(absl::StrFormat("sync: Redis at %s is back after %.1f s; resynced",
                                   config_.redis,
                                   static_cast<double>(hooks_.wall_now() - outage_since) / 1e9));
      }
      outage_since = 0;
      backoff = kBackoffFirst;
      first = false;
      s = Session();
    }
    counters_.connected.store(false);
    Disconnect();
    if (stop_.load()) {
      break;
    }
    counters_.errors.fetch_add(1);
    if (outage_since == 0) {
      outage_since = hooks_.wall_now();
      hooks_.log(absl::StrCat("sync: ", first ? "cannot reach" : "lost", " Redis at ",
                              config_.redis, ": ", s.message(),
                              "; enforcing the lists as they are, retrying with backoff"));
    }
    Wait(static_cast<int>(backoff / 1'000'000));
    backoff = std::min(backoff * 2, kBackoffMax);
  }
}

absl::StatusOr<std::pair<std::string, int>> RedisSync::Primary() {
  if (config_.sentinels.empty()) {  // tcp://HOST:PORT, checked by the loader
    const std::string rest = config_.redis.substr(6);
    const size_t colon = rest.rfind(':');
    std::string host = rest.substr(0, colon);
    if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
      host = host.substr(1, host.size() - 2);
    }
    int port = 0;
    (void)absl::SimpleAtoi(rest.substr(colon + 1), &port);
    return std::pair<std::string, int>(host, port);
  }
  // The first sentinel that answers names the primary (after a failover, the new one).
  std::string why;
  for (const auto& [host, port] : config_.sentinels) {
    redisContext* c = redisConnectWithTimeout(host.c_str(), port, kIoTimeout);
    absl::StatusOr<Reply> r =
        c == nullptr || c->err != 0
            ? absl::StatusOr<Reply>(Broken(c, "connect"))
            : Command(c, {"SENTINEL", "get-master-addr-by-name", config_.master});
    redisFree(c);
    if (r.ok() && (*r)->type == REDIS_REPLY_ARRAY && (*r)->elements == 2 &&
        (*r)->element[0]->type == REDIS_REPLY_STRING &&
        (*r)->element[1]->type == REDIS_REPLY_STRING) {
      int p = 0;
      if (absl::SimpleAtoi(absl::string_view((*r)->element[1]->str, (*r)->element[1]->len), &p)) {
        return std::pair<std::string, int>(
            std::string((*r)->element[0]->str, (*r)->element[0]->len), p);
      }
    }
    absl::StrAppend(&why, why.empty() ? "" : "; ", "sentinel ", host, ":", port, ": ",
                    r.ok() ? absl::StrCat("does not know \"", config_.master, "\"")
                           : std::string(r.status().message()));
  }
  return absl::UnavailableError(why);
}

absl::Status RedisSync::Connect() {
  const bool unix_socket = config_.redis.rfind("unix://", 0) == 0;
  std::pair<std::string, int> primary;
  if (!unix_socket) {
    KG_ASSIGN_OR_RETURN(primary, Primary());
  }
  for (redisContext** c : {&cmd_, &sub_}) {
    *c = unix_socket ? redisConnectUnixWithTimeout(config_.redis.c_str() + 7, kIoTimeout)
                     : redisConnectWithTimeout(primary.first.c_str(), primary.second, kIoTimeout);
    if (*c == nullptr || (*c)->err != 0) {
      return Broken(*c, "connect");
    }
    redisSetTimeout(*c, kIoTimeout);
    if (!config_.password.empty()) {  // the error names the command, never the password
      KG_RETURN_IF_ERROR((config_.username.empty()
                              ? Command(*c, {"AUTH", config_.password})
                              : Command(*c, {"AUTH", config_.username, config_.password}))
                             .status());
    }
  }
  if (!config_.sentinels.empty()) {  // a sentinel's news can lag a failover
    KG_ASSIGN_OR_RETURN(Reply role, Command(cmd_, {"ROLE"}));
    if (role->type != REDIS_REPLY_ARRAY || role->elements == 0 ||
        absl::string_view(role->element[0]->str, role->element[0]->len) != "master") {
      return absl::UnavailableError(
          absl::StrCat(primary.first, ":", primary.second, " is not the primary (yet)"));
    }
  }
  KG_ASSIGN_OR_RETURN(Reply add, Command(cmd_, {"SCRIPT", "LOAD", kAddScript}));
  KG_ASSIGN_OR_RETURN(Reply del, Command(cmd_, {"SCRIPT", "LOAD", kDelScript}));
  add_sha_.assign(add->str, add->len);
  del_sha_.assign(del->str, del->len);
  // Subscribed before the scan: nothing published meanwhile is missed.
  return Command(sub_, {"SUBSCRIBE", channel_}).status();
}

void RedisSync::Disconnect() {
  for (redisContext** c : {&cmd_, &sub_}) {
    if (*c != nullptr) {
      redisFree(*c);
      *c = nullptr;
    }
  }
}

absl::Status RedisSync::ScanValues(
    const std::string& pattern,
    const std::function<void(absl::string_view, absl::string_view)>& each) {
  std::string cursor = "0";
  do {
    KG_ASSIGN_OR_RETURN(Reply r,
                        Command(cmd_, {"SCAN", cursor, "MATCH", pattern, "COUNT", "1000"}));
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 2) {
      return absl::UnavailableError("SCAN: unexpected reply");
    }
    cursor.assign(r->element[0]->str, r->element[0]->len);
    const redisReply* keys = r->element[1];
    for (size_t i = 0; i < keys->elements; ++i) {
      Append(cmd_, {"GET", std::string(keys->element[i]->str, keys->element[i]->len)});
    }
    for (size_t i = 0; i < keys->elements; ++i) {
      KG_ASSIGN_OR_RETURN(Reply v, Read(cmd_, "GET"));
      if (v->type == REDIS_REPLY_STRING) {  // else expired between SCAN and GET
        each(absl::string_view(keys->element[i]->str, keys->element[i]->len),
             absl::string_view(v->str, v->len));
      }
    }
  } while (cursor != "0");
  return absl::OkStatus();
}

absl::Status RedisSync::Resync() {
  // This gateway's own changes first: a removal still queued is in Redis
  // (a tombstone) before the scan could bring the entry back.
  std::vector<ListChange> pending;
  {
    std::lock_guard<std::mutex> lock(mu_);
    pending.swap(queue_);
    counters_.queued.store(0, std::memory_order_relaxed);
  }
  KG_RETURN_IF_ERROR(Publish(pending));
  const Nanos now = hooks_.wall_now();
  auto shared = [this](const std::string& list) {
    return std::find(config_.lists.begin(), config_.lists.end(), list) != config_.lists.end();
  };
  // The removals Redis remembers: applied here too (this gateway may have
  // missed their messages), and never republished from the local lists.
  std::vector<ListChange> found;
  std::unordered_map<std::string, int64_t> tombstones;  // entry key -> removal ms
  KG_RETURN_IF_ERROR(ScanValues(EntryPattern(config_.prefix, 't'), [&](absl::string_view key,
                                                                       absl::string_view v) {
    absl::StatusOr<std::pair<std::string, IpAddress>> k = ParseEntryKey(config_.prefix, key, 't');
    int64_t ms = 0;
    if (!k.ok() || !shared(k->first) || !absl::SimpleAtoi(v, &ms)) {
      return;  // another gateway's list that this one does not share
    }
    tombstones[EntryKey(config_.prefix, k->first, k->second)] = ms;
    found.push_back({k->first, k->second, 0, true, ChangedWallOf(ms)});
  }));
  // What Redis has.
  KG_RETURN_IF_ERROR(
      ScanValues(EntryPattern(config_.prefix), [&](absl::string_view key, absl::string_view v) {
        absl::StatusOr<std::pair<std::string, IpAddress>> k = ParseEntryKey(config_.prefix, key);
        absl::StatusOr<EntryValue> value = ParseEntryValue(v);
        if (!k.ok() || !shared(k->first) || !value.ok()) {
          return;
        }
        const Nanos expiry = ExpiryWallOf(value->expiry_ms);
        if (expiry == kNever || expiry > now) {
          found.push_back(
              {std::move(k->first), k->second, expiry, false, ChangedWallOf(value->changed_ms)});
        }
      }));
  KG_RETURN_IF_ERROR(Apply(found));
  // What was published while we scanned.
  std::vector<ListChange> meanwhile;
  KG_RETURN_IF_ERROR(ReadMessages(meanwhile));
  KG_RETURN_IF_ERROR(Apply(meanwhile));
  // What Redis lacks (it restarted empty, or we were alone): the script
  // writes only keys that are missing or earlier, and tells the others. A
  // local entry is stamped with the scan's start, later than any change it
  // holds: it loses to every removal since, and one before is a tombstone
  // found above, which keeps it from being republished at all.
  absl::StatusOr<std::vector<ListChange>> local = hooks_.local_entries();
  std::vector<ListChange> republish;
  if (!local.ok()) {
    hooks_.log(absl::StrCat("sync: cannot read the local lists: ", local.status().message()));
  } else {
    for (ListChange& c : *local) {
      if (shared(c.list) && !tombstones.contains(EntryKey(config_.prefix, c.list, c.address))) {
        c.changed_wall = now;
        republish.push_back(std::move(c));
      }
    }
  }
  KG_RETURN_IF_ERROR(Publish(republish));
  counters_.resyncs.fetch_add(1);
  return absl::OkStatus();
}

bool RedisSync::RemovedSince(const std::string& key, Nanos changed) {
  std::lock_guard<std::mutex> lock(mu_);
  const auto it = removed_.find(key);
  return it != removed_.end() && it->second >= changed;
}

absl::Status RedisSync::Session() {
  std::vector<ListChange> batch;
  std::vector<ListChange> remote;
  const Nanos every = config_.resync_interval;
  Nanos next_resync = every == 0 ? kNever : hooks_.wall_now() + every;
  Nanos next_forget = hooks_.wall_now() + kRemovalMemory;
  while (!stop_.load()) {
    if (hooks_.wall_now() >= next_forget) {
      const Nanos before = hooks_.wall_now() - kRemovalMemory;
      std::lock_guard<std::mutex> lock(mu_);
      std::erase_if(removed_, [before](const auto& r) { return r.second < before; });
      next_forget = hooks_.wall_now() + kRemovalMemory;
    }
    if (hooks_.wall_now() >= next_resync) {
      KG_RETURN_IF_ERROR(Resync());
      next_resync = hooks_.wall_now() + every;
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      batch.swap(queue_);
      counters_.queued.store(0, std::memory_order_relaxed);
    }
    KG_RETURN_IF_ERROR(Publish(batch));
    // Without waiting: a flood of local changes must not starve remote ones.
    KG_RETURN_IF_ERROR(ReadMessages(remote));
    KG_RETURN_IF_ERROR(Apply(remote));
    if (batch.empty() && remote.empty()) {
      Wait(200);
    }
    batch.clear();
    remote.clear();
  }
  return absl::OkStatus();
}

absl::Status RedisSync::Publish(std::vector<ListChange>& batch) {
  // Adds go kAddsPerCall to a script call, a removal alone; kPipeline calls
  // are sent before their replies are read.
  size_t calls = 0;
  auto read_replies = [&]() -> absl::Status {
    for (; calls > 0; --calls) {
      KG_ASSIGN_OR_RETURN(Reply r, Read(cmd_, "EVALSHA"));
      if (r->type == REDIS_REPLY_INTEGER) {
        counters_.published.fetch_add(static_cast<uint64_t>(r->integer), std::memory_order_relaxed);
      }
    }
    return absl::OkStatus();
  };
  std::vector<std::string> keys;
  std::vector<std::string> args;
  auto flush_adds = [&] {
    if (keys.empty()) {
      return;
    }
    std::vector<std::string> call = {"EVALSHA", add_sha_, absl::StrCat(keys.size() + 1)};
    call.insert(call.end(), keys.begin(), keys.end());
    call.push_back(channel_);
    call.insert(call.end(), args.begin(), args.end());
    Append(cmd_, call);
    ++calls;
    keys.clear();
    args.clear();
  };
  for (const ListChange& c : batch) {
    SyncMessage m{c.remove,  c.list,
                  c.address, c.remove ? 0 : ExpiryMsOf(c.expiry_wall),
                  node_,     ChangedMsOf(c.changed_wall)};
    std::string key = EntryKey(config_.prefix, c.list, c.address);
    std::string tombstone = TombstoneKey(config_.prefix, c.list, c.address);
    if (c.remove) {
      flush_adds();
      const Nanos lifetime =
          hooks_.tombstone_lifetime ? hooks_.tombstone_lifetime(c.list) : kDefaultTombstoneLifetime;
      Append(cmd_, {"EVALSHA", del_sha_, "3", key, tombstone, channel_, absl::StrCat(m.changed_ms),
                    absl::StrCat(std::max<int64_t>(1, ChangedMsOf(lifetime))), EncodeMessage(m)});
      ++calls;
    } else {
      keys.push_back(std::move(key));
      keys.push_back(std::move(tombstone));
      args.push_back(absl::StrCat(m.expiry_ms));
      args.push_back(absl::StrCat(m.changed_ms));
      args.push_back(EncodeMessage(m));
      if (keys.size() == 2 * kAddsPerCall) {
        flush_adds();
      }
    }
    if (calls >= kPipeline) {
      KG_RETURN_IF_ERROR(read_replies());
    }
  }
  flush_adds();
  return read_replies();
}

absl::Status RedisSync::ReadMessages(std::vector<ListChange>& out) {
  for (;;) {
    // What the reader holds already, then whatever the socket has now.
    for (;;) {
      void* p = nullptr;
      if (redisGetReplyFromReader(sub_, &p) != REDIS_OK) {
        return Broken(sub_, "subscriber");
      }
      if (p == nullptr) {
        break;
      }
      Reply r(static_cast<redisReply*>(p));
      if (r->type != REDIS_REPLY_ARRAY || r->elements != 3 ||
          r->element[2]->type != REDIS_REPLY_STRING) {
        continue;
      }
      absl::StatusOr<SyncMessage> m =
          ParseMessage(absl::string_view(r->element[2]->str, r->element[2]->len));
      if (!m.ok() || m->node == node_ ||
          std::find(config_.lists.begin(), config_.lists.end(), m->list) == config_.lists.end()) {
        continue;  // ours (no echo), malformed, or a list this gateway does not share
      }
      out.push_back({std::move(m->list), m->address, ExpiryWallOf(m->expiry_ms), m->remove,
                     ChangedWallOf(m->changed_ms)});
      counters_.lag_ms.store((hooks_.wall_now() - out.back().changed_wall) / 1'000'000,
                             std::memory_order_relaxed);
    }
    pollfd p{sub_->fd, POLLIN, 0};
    if (poll(&p, 1, 0) <= 0 || (p.revents & (POLLIN | POLLHUP | POLLERR)) == 0) {
      return absl::OkStatus();
    }
    if (redisBufferRead(sub_) != REDIS_OK) {
      return Broken(sub_, "subscriber");
    }
  }
}

absl::Status RedisSync::Apply(std::vector<ListChange>& changes) {
  // A local removal takes effect at once: nothing older undoes it.
  std::erase_if(changes, [this](const ListChange& c) {
    return !c.remove && RemovedSince(EntryKey(config_.prefix, c.list, c.address), c.changed_wall);
  });
  for (size_t base = 0; base < changes.size(); base += kApplyChunk) {
    const size_t n = std::min(kApplyChunk, changes.size() - base);
    if (absl::Status s = hooks_.apply(std::span<const ListChange>(changes.data() + base, n));
        !s.ok()) {
      hooks_.log(absl::StrCat("sync: cannot apply ", n, " changes: ", s.message()));
      continue;
    }
    counters_.applied.fetch_add(n, std::memory_order_relaxed);
  }
  return absl::OkStatus();
}

bool RedisSync::Wait(int timeout_ms) {
  pollfd fds[2] = {{wake_fd_, POLLIN, 0}, {sub_ != nullptr ? sub_->fd : -1, POLLIN, 0}};
  if (poll(fds, 2, std::max(timeout_ms, 1)) <= 0) {
    return false;
  }
  if ((fds[0].revents & POLLIN) != 0) {
    uint64_t n;
    [[maybe_unused]] ssize_t r = read(wake_fd_, &n, sizeof(n));
  }
  return fds[1].revents != 0;
}

}  // namespace knockgate
