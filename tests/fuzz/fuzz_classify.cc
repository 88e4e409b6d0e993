// libFuzzer: bursts through the classifier on the shipped policy with its
// blacklists enabled, conntrack, fragments and layer 7 on. The input is a
// sequence of frames, each a side byte, a length byte and that many bytes;
// time advances with every burst.
#include <fstream>
#include <memory>
#include <sstream>
#include <vector>

#include "absl/strings/str_replace.h"
#include "classify/classifier.h"
#include "policy/config_loader.h"

namespace knockgate {
namespace {

struct World {
  std::shared_ptr<const Policy> policy;
  std::unique_ptr<AddressTable> lists;
  std::unique_ptr<ConnTable> conntrack;
  std::unique_ptr<FragTable> fragments;
  std::unique_ptr<HyperscanScanner> scanner;
  ClassifierState state;
  Nanos now = kNanosPerSecond;
};

World& TheWorld() {
  static World* w = [] {
    std::ifstream in(KNOCKGATE_SOURCE_ROOT "/conf/knockgate.toml");
    std::stringstream text;
    text << in.rdbuf();
    auto config = LoadConfig(
        absl::StrReplaceAll(text.str(), {{"disabled = true", "disabled = false"}}), "fuzz.toml");
    auto* w = new World;
    w->policy = *Policy::Compile(*config);
    w->lists = *AddressTable::Create(w->policy->ListCapacities());
    w->conntrack = *ConnTable::Create(w->policy->conntrack());
    w->fragments = *FragTable::Create();
    w->scanner = *HyperscanScanner::Create(*w->policy->layer7_database());
    w->state.lists = w->lists.get();
    w->state.conntrack = w->conntrack.get();
    w->state.fragments = w->fragments.get();
    w->state.layer7 = w->scanner.get();
    w->state.rule_counters.resize(w->policy->rules().size());
    return w;
  }();
  return *w;
}

}  // namespace
}  // namespace knockgate

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace knockgate;
  World& w = TheWorld();
  std::vector<std::vector<uint8_t>> owned[2];
  for (size_t i = 0; i + 2 <= size;) {
    const int side = data[i] & 1;
    const size_t len = std::min<size_t>(data[i + 1], size - i - 2);
    owned[side].emplace_back(data + i + 2, data + i + 2 + len);  // exact size
    i += 2 + len;
  }
  for (int side = 0; side < 2; ++side) {
    const size_t n = owned[side].size();
    if (n == 0) {
      continue;
    }
    std::vector<std::span<const uint8_t>> frames(owned[side].begin(), owned[side].end());
    std::vector<ParsedPacket> parsed(n);
    std::vector<Decision> out(n);
    ClassifyBurst(*w.policy, w.state, frames, parsed, out,
                  side == 0 ? InterfaceList::kWan : InterfaceList::kLan, w.now);
    w.now += kNanosPerSecond / 10;
    w.state.events.Clear();
    w.lists->Reclaim(w.now, kReclaimStep);
    w.conntrack->Reclaim(w.now, kReclaimStep);
  }
  return 0;
}
