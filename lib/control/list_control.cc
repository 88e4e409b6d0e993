// List commands through the workers' control rings.
#include "control/list_control.h"

#include <algorithm>
#include <fstream>
#include <memory>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/status_macros.h"
#include "policy/duration.h"

namespace knockgate {
namespace {

struct Found {
  std::shared_ptr<const Policy> policy;
  ListId id = 0;
};

absl::StatusOr<Found> FindList(const Dataplane& plane, absl::string_view name) {
  Found f{plane.policy_snapshot()};
  const int id = f.policy->FindList(name);
  if (id == kNoId) {
    std::string names;
    for (const ListInfo& l : f.policy->lists()) {
      absl::StrAppend(&names, names.empty() ? "" : ", ", l.name);
    }
    return absl::NotFoundError(
        absl::StrCat("no address list is named \"", name, "\" (lists: ", names, ")"));
  }
  f.id = static_cast<ListId>(id);
  return f;
}

// Every live entry of list `id` across the workers, each worker's in chunks.
absl::Status Collect(const Dataplane& plane, ListId id,
                     std::vector<std::pair<IpAddress, Nanos>>& out, Nanos& now) {
  auto r = std::make_unique<ControlRequest>();
  for (uint16_t w = 0; w < plane.worker_count(); ++w) {
    r->cursor = 0;
    do {
      r->kind = ControlRequest::Kind::kListDump;
      r->list = id;
      if (absl::Status s = plane.Ask(w, *r); !s.ok()) {
        r.release();  // the worker may still answer into it
        return s;
      }
      for (size_t i = 0; i < r->count; ++i) {
        out.emplace_back(r->entries[i].address, r->entries[i].expiry);
      }
      now = r->now;
    } while (r->more);
  }
  return absl::OkStatus();
}

// As RouterOS prints list entries: a host without its /32 or /128.
std::string EntryText(const Cidr& c) {
  return c.length == (c.prefix.family == Family::kIpv4 ? 32 : 128) ? c.prefix.ToString()
                                                                   : c.ToString();
}

// What is left of an entry at `now`. Entries come from several workers, each
// dumped at its own `now`: one due a moment before another worker's dump is
// not yet reclaimed, and shows as 0 rather than as a wrapped difference.
Nanos Left(Nanos expiry, Nanos now) { return expiry > now ? expiry - now : 0; }

std::string Remaining(Nanos expiry, Nanos now) {
  return expiry == kNever ? "none-dynamic"
                          : FormatDuration(std::max<Nanos>(Left(expiry, now), kNanosPerSecond));
}

absl::StatusOr<std::string> Edit(const Dataplane& plane, absl::string_view name,
                                 absl::string_view address, ControlRequest::Kind kind,
                                 Nanos timeout) {
  KG_ASSIGN_OR_RETURN(Found f, FindList(plane, name));
  absl::StatusOr<IpAddress> addr = ParseIpAddress(address);
  if (!addr.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("\"", address, "\" is not an IPv4 or IPv6 address"));
  }
  const bool is_static = (f.policy->static_lists().Lookup(*addr) >> f.id) & 1;
  if (kind == ControlRequest::Kind::kListRemove && is_static) {
    return absl::FailedPreconditionError(
        absl::StrCat(address, " is a static entry of \"", name,
                     "\" ([[address-list]] in the config): remove it there and reload"));
  }
  auto r = std::make_unique<ControlRequest>();
  r->kind = kind;
  r->list = f.id;
  r->address = *addr;
  r->timeout = timeout;
  if (absl::Status s = plane.Ask(plane.OwnerOf(*addr), *r); !s.ok()) {
    r.release();  // the worker may still answer into it
    return s;
  }
  if (kind == ControlRequest::Kind::kListRemove) {
    if (!r->changed) {
      return absl::NotFoundError(absl::StrCat(address, " is not in \"", name, "\""));
    }
    return absl::StrCat("removed ", address, " from ", name, "\n");
  }
  return absl::StrCat(r->changed ? "added " : "kept ", address, " in ", name, " (",
                      timeout == kNever ? "until removed" : FormatDuration(timeout),
                      r->changed ? "" : "; it stays longer already", ")\n");
}

}  // namespace

absl::StatusOr<std::string> ListPrint(const Dataplane& plane, absl::string_view name) {
  std::shared_ptr<const Policy> policy = plane.policy_snapshot();
  std::vector<ListId> ids;
  if (name.empty()) {
    for (size_t i = 0; i < policy->lists().size(); ++i) {
      ids.push_back(static_cast<ListId>(i));
    }
  } else {
    KG_ASSIGN_OR_RETURN(Found f, FindList(plane, name));
    ids.push_back(f.id);
    policy = f.policy;
  }
  std::string out = absl::StrFormat("%-4s %-16s %-40s %s\n", "#", "LIST", "ADDRESS", "TIMEOUT");
  size_t n = 0;
  for (ListId id : ids) {
    const std::string& list = policy->lists()[id].name;
    for (const auto& [cidr, sid] : policy->static_entries()) {
      if (sid == id) {
        absl::StrAppend(
            &out, absl::StrFormat("%-4d %-16s %-40s %s\n", n++, list, EntryText(cidr), "static"));
      }
    }
    std::vector<std::pair<IpAddress, Nanos>> entries;
    Nanos now = 0;
    KG_RETURN_IF_ERROR(Collect(plane, id, entries, now));
    for (const auto& [addr, expiry] : entries) {
      absl::StrAppend(&out, absl::StrFormat("%-4d %-16s %-40s %s\n", n++, list, addr.ToString(),
                                            Remaining(expiry, now)));
    }
  }
  return out;
}

absl::StatusOr<std::string> ListAdd(const Dataplane& plane, absl::string_view name,
                                    absl::string_view address, Nanos timeout) {
  return Edit(plane, name, address, ControlRequest::Kind::kListAdd, timeout);
}

absl::StatusOr<std::string> ListRemove(const Dataplane& plane, absl::string_view name,
                                       absl::string_view address) {
  return Edit(plane, name, address, ControlRequest::Kind::kListRemove, 0);
}

absl::StatusOr<std::vector<StateEntry>> SnapshotLists(const Dataplane& plane, ListSelection which) {
  const std::shared_ptr<const Policy> policy = plane.policy_snapshot();
  std::vector<StateEntry> out;
  std::vector<std::pair<IpAddress, Nanos>> entries;
  for (size_t id = 0; id < policy->lists().size(); ++id) {
    if (which == ListSelection::kSaved && !policy->lists()[id].saved) {
      continue;
    }
    entries.clear();
    Nanos now = 0;
    KG_RETURN_IF_ERROR(Collect(plane, static_cast<ListId>(id), entries, now));
    for (const auto& [addr, expiry] : entries) {
      out.push_back({policy->lists()[id].name, addr, plane.clock().UnixAt(expiry)});
    }
  }
  return out;
}

namespace {

// kListApply requests (list entries) or kSpaReplayRestore requests (replay
// digests), a chunk per worker, each sent when full: one round trip per
// ControlRequest::kDumpChunk entries or kDigestChunk digests.
class ApplyBatcher {
 public:
  ApplyBatcher(const Dataplane& plane, EventOrigin origin,
               ControlRequest::Kind kind = ControlRequest::Kind::kListApply)
      : plane_(plane), origin_(origin), kind_(kind), chunks_(plane.worker_count()) {}
  ApplyBatcher(const ApplyBatcher&) = delete;
  ApplyBatcher& operator=(const ApplyBatcher&) = delete;

  absl::Status Add(uint16_t w, const ControlRequest::Entry& e) {
    ControlRequest& r = Chunk(w);
    r.entries[r.count++] = e;
    return r.count == ControlRequest::kDumpChunk ? Send(w) : absl::OkStatus();
  }
  absl::Status Add(uint16_t w, const SpaReplayCache::Slot& d) {
    ControlRequest& r = Chunk(w);
    r.digests[r.count++] = d;
    return r.count == ControlRequest::kDigestChunk ? Send(w) : absl::OkStatus();
  }
  absl::Status Flush() {
    for (uint16_t w = 0; w < chunks_.size(); ++w) {
      KG_RETURN_IF_ERROR(Send(w));
    }
    return absl::OkStatus();
  }
  size_t applied() const { return applied_; }

 private:
  ControlRequest& Chunk(uint16_t w) {
    if (chunks_[w] == nullptr) {
      chunks_[w] = std::make_unique<ControlRequest>();
    }
    return *chunks_[w];
  }
  absl::Status Send(uint16_t w) {
    if (chunks_[w] == nullptr || chunks_[w]->count == 0) {
      return absl::OkStatus();
    }
    ControlRequest& r = *chunks_[w];
    r.kind = kind_;
    r.origin = origin_;
    if (absl::Status s = plane_.Ask(w, r); !s.ok()) {
      chunks_[w].release();  // the worker may still answer into it
      return s;
    }
    applied_ += r.count;
    r.count = 0;
    return absl::OkStatus();
  }

  const Dataplane& plane_;
  const EventOrigin origin_;
  const ControlRequest::Kind kind_;
  std::vector<std::unique_ptr<ControlRequest>> chunks_;
  size_t applied_ = 0;
};

// One list's entries for one worker, at most that list's capacity: when more
// come, the soonest to expire gives way (a min-heap on expiry).
class Keeper {
 public:
  using Item = std::pair<Nanos, IpAddress>;  // clock-time expiry, address
  // `evicted` counts what gave way or was refused.
  void Offer(const Item& item, size_t capacity, size_t& evicted) {
    auto later = [](const Item& a, const Item& b) { return a.first > b.first; };
    if (items_.size() < capacity) {
      items_.push_back(item);
      std::push_heap(items_.begin(), items_.end(), later);
      return;
    }
    ++evicted;
    if (capacity != 0 && item.first > items_.front().first) {
      std::pop_heap(items_.begin(), items_.end(), later);
      items_.back() = item;
      std::push_heap(items_.begin(), items_.end(), later);
    }
  }
  const std::vector<Item>& items() const { return items_; }

 private:
  std::vector<Item> items_;
};

}  // namespace

absl::StatusOr<ApplyCounts> ApplyListChanges(const Dataplane& plane,
                                             std::span<const ListChange> changes,
                                             EventOrigin origin) {
  const std::shared_ptr<const Policy> policy = plane.policy_snapshot();
  ApplyCounts counts;
  ApplyBatcher batch(plane, origin);
  for (const ListChange& c : changes) {
    const int id = policy->FindList(c.list);
    if (id == kNoId) {
      ++counts.unknown_list;
      continue;
    }
    if (!c.remove && c.expiry_wall != kNever && c.expiry_wall <= plane.clock().UnixNow()) {
      ++counts.expired;
      continue;
    }
    const Nanos expiry = c.remove ? 0 : plane.clock().ClockAt(c.expiry_wall);
    KG_RETURN_IF_ERROR(batch.Add(plane.OwnerOf(c.address),
                                 {c.address, expiry, static_cast<ListId>(id), c.remove}));
  }
  KG_RETURN_IF_ERROR(batch.Flush());
  counts.applied = batch.applied();
  return counts;
}

namespace {

// Every worker's live SPA replay digests.
absl::Status CollectDigests(const Dataplane& plane, std::vector<StateDigest>& out) {
  auto r = std::make_unique<ControlRequest>();
  for (uint16_t w = 0; w < plane.worker_count(); ++w) {
    r->cursor = 0;
    do {
      r->kind = ControlRequest::Kind::kSpaReplayDump;
      if (absl::Status s = plane.Ask(w, *r); !s.ok()) {
        r.release();  // the worker may still answer into it
        return s;
      }
      for (size_t i = 0; i < r->count; ++i) {
        out.push_back({r->digests[i].digest, r->digests[i].address, r->digests[i].expiry});
      }
    } while (r->more);
  }
  return absl::OkStatus();
}

// Puts digests back, each with the owner of its grant's address.
absl::Status RestoreDigests(const Dataplane& plane, const std::vector<StateDigest>& digests) {
  ApplyBatcher batch(plane, EventOrigin::kState, ControlRequest::Kind::kSpaReplayRestore);
  for (const StateDigest& d : digests) {
    KG_RETURN_IF_ERROR(batch.Add(plane.OwnerOf(d.address),
                                 SpaReplayCache::Slot{d.digest, d.expiry_wall, d.address}));
  }
  return batch.Flush();
}

}  // namespace

absl::StatusOr<size_t> SaveStateFile(const Dataplane& plane, const std::string& path,
                                     const std::string& comment) {
  KG_ASSIGN_OR_RETURN(const std::vector<StateEntry> entries,
                      SnapshotLists(plane, ListSelection::kSaved));
  std::vector<StateDigest> digests;
  KG_RETURN_IF_ERROR(CollectDigests(plane, digests));
  KG_RETURN_IF_ERROR(WriteFileAtomically(path, FormatState(entries, digests, comment)));
  return entries.size();
}

absl::StatusOr<RestoreCounts> RestoreStateFile(const Dataplane& plane, const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::NotFoundError(absl::StrCat(path, ": cannot open the state file"));
  }
  const std::shared_ptr<const Policy> policy = plane.policy_snapshot();
  const size_t workers = plane.worker_count();
  RestoreCounts counts;
  // Read and bounded first, applied only once the whole file has parsed.
  std::vector<Keeper> keep(policy->lists().size() * workers);
  std::string last_list;
  int last_id = kNoId;
  const Nanos now_wall = plane.clock().UnixNow();
  std::vector<StateDigest> digests;
  auto digest = [&](const StateDigest& d) {
    if (d.expiry_wall > now_wall) {
      digests.push_back(d);
    }
  };
  KG_RETURN_IF_ERROR(ReadState(
      in, path,
      [&](absl::string_view list, const IpAddress& a, Nanos expiry_wall) {
        if (list != last_list) {  // files come grouped by list
          last_list = std::string(list);
          last_id = policy->FindList(list);
        }
        if (last_id == kNoId) {
          ++counts.unknown_list;
          return;
        }
        if (expiry_wall != kNever && expiry_wall <= now_wall) {
          ++counts.expired;
          return;
        }
        const uint16_t w = plane.OwnerOf(a);
        keep[static_cast<size_t>(last_id) * workers + w].Offer(
            {plane.clock().ClockAt(expiry_wall), a}, policy->lists()[last_id].capacity,
            counts.over_capacity);
      },
      digest));
  // Digests first: a replay is refused from the moment the file has parsed,
  // not only once a million entries are back.
  KG_RETURN_IF_ERROR(RestoreDigests(plane, digests));
  counts.spa_digests = digests.size();
  ApplyBatcher batch(plane, EventOrigin::kState);
  for (size_t i = 0; i < keep.size(); ++i) {
    const auto id = static_cast<ListId>(i / workers);
    const auto w = static_cast<uint16_t>(i % workers);
    for (const auto& [expiry, address] : keep[i].items()) {
      KG_RETURN_IF_ERROR(batch.Add(w, {address, expiry, id, false}));
    }
  }
  KG_RETURN_IF_ERROR(batch.Flush());
  counts.restored = batch.applied();
  return counts;
}

absl::StatusOr<ListPage> ListPageOf(const Dataplane& plane, absl::string_view name, size_t page) {
  KG_ASSIGN_OR_RETURN(Found f, FindList(plane, name));
  std::vector<std::pair<IpAddress, Nanos>> entries;
  Nanos now = 0;
  KG_RETURN_IF_ERROR(Collect(plane, f.id, entries, now));
  ListPage p;
  p.pages = std::max<size_t>(1, (entries.size() + ListPage::kPageSize - 1) / ListPage::kPageSize);
  for (size_t i = page * ListPage::kPageSize;
       i < entries.size() && i < (page + 1) * ListPage::kPageSize; ++i) {
    p.addresses.push_back(entries[i].first.ToString());
    p.remaining_s.push_back(
        entries[i].second == kNever
            ? -1
            : static_cast<int64_t>(Left(entries[i].second, now) / kNanosPerSecond));
  }
  if (page == 0) {
    for (const auto& [cidr, sid] : f.policy->static_entries()) {
      if (sid == f.id) {
        p.statics.push_back(EntryText(cidr));
      }
    }
  }
  return p;
}

}  // namespace knockgate
