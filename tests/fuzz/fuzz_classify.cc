// libFuzzer: bursts through the classifier on the shipped policy with its
// blacklists enabled, conntrack, fragments and layer 7 on. The input is a
// sequence of frames, each a side byte, a length byte and that many bytes;
// time advances with every burst.
#include <fstream>
#include <memory>
#include <sstream>
#include <vector>

#include "absl/strings/str_replace.h"
#include "classify/classifier_shard.h"
#include "policy/config_loader.h"

namespace knockgate {
namespace {

struct World {
  std::shared_ptr<const Policy> policy;
  std::unique_ptr<ClassifierShard> shard;
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
    w->shard = *ClassifierShard::Create(*w->policy);
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
    ClassifyBurst(*w.policy, w.shard->state, frames, parsed, out,
                  side == 0 ? InterfaceList::kWan : InterfaceList::kLan, w.now);
    w.now += kNanosPerSecond / 10;
    w.shard->state.events.Clear();
    w.shard->Reclaim(w.now, kReclaimStep);
  }
  return 0;
}
