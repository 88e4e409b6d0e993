// SPA verification cost per packet: a forged packet (wrong HMAC) costs one
// HMAC before rejection; an accepted one the HMAC, the decryption, the
// fields, their digest and the replay digest. Packets are the real fwknop
// client's (tests/data/spa/vectors.tsv). BM_SpaUsers: the same through the
// classifier with N users ([[spa]] sections) on one port, where a forged
// packet is tried against every user's key.
#include <benchmark/benchmark.h>

#include <fstream>
#include <map>
#include <random>
#include <sstream>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "bench_util.h"
#include "classify/classifier_shard.h"
#include "packet/parser.h"
#include "policy/config_loader.h"
#include "spa/spa_verifier.h"

namespace knockgate {
namespace {

struct Setup {
  std::unique_ptr<SpaVerifier> verifier;
  std::string payload;
  Nanos now = 0;
};

Setup Load(const std::string& name) {
  std::ifstream keys(KNOCKGATE_SOURCE_ROOT "/tests/data/spa/keys.txt");
  std::stringstream text;
  text << keys.rdbuf();
  Setup s;
  s.verifier = std::move(SpaVerifier::Create(*ParseSpaKeyFile(text.str()), {})).value();
  std::ifstream in(KNOCKGATE_SOURCE_ROOT "/tests/data/spa/vectors.tsv");
  for (std::string line; std::getline(in, line);) {
    std::vector<std::string> f = absl::StrSplit(line, '\t');
    if (f[0] == name) {
      s.payload = f[2];
      s.now = std::stoull(f[1]) * kNanosPerSecond;
    }
  }
  return s;
}

void Run(benchmark::State& state, Setup& s, SpaReject expected) {
  const IpAddress source = *ParseIpAddress("10.77.0.2");
  const std::span<const uint8_t> p(reinterpret_cast<const uint8_t*>(s.payload.data()),
                                   s.payload.size());
  SpaMessage m;
  uint64_t cycles = 0;
  for (auto _ : state) {
    const uint64_t t = perf::Cycles();
    const SpaReject r = s.verifier->Verify(p, source, s.now, m);
    cycles += perf::Cycles() - t;
    if (r != expected) {
      state.SkipWithError("unexpected verdict");
      break;
    }
    benchmark::DoNotOptimize(m);
  }
  state.counters["cycles/pkt"] =
      static_cast<double>(cycles) / static_cast<double>(std::max<int64_t>(state.iterations(), 1));
  state.SetItemsProcessed(state.iterations());
}

void BM_SpaForged(benchmark::State& state) {
  Setup s = Load("accept");
  s.payload[s.payload.size() - 3] = s.payload[s.payload.size() - 3] == 'A' ? 'B' : 'A';
  Run(state, s, SpaReject::kHmac);
}

void BM_SpaAccepted(benchmark::State& state) {
  Setup s = Load("accept");
  Run(state, s, SpaReject::kNone);
}

void BM_SpaNotBase64(benchmark::State& state) {
  Setup s = Load("accept");
  s.payload[10] = '*';
  Run(state, s, SpaReject::kFormat);
}

// N users on port 62201: N - 1 with random keys, then the test keys' user
// (the last one tried). Held constant: the accept vector (or it forged, one
// byte of its HMAC changed) from its source, a budget that never runs out,
// the clock moving 1 ms a packet. An accepted packet after the first is
// refused as a replay, after the whole verification.
void BM_SpaUsers(benchmark::State& state) {
  const auto users = static_cast<int>(state.range(0));
  const bool forged = state.range(1) != 0;
  std::mt19937 rng(5);
  auto random_base64 = [&rng](size_t n) {
    std::string bytes(n, '\0');
    for (char& c : bytes) {
      c = static_cast<char>(rng());
    }
    return absl::Base64Escape(bytes);
  };
  std::string config = "[policy]\nwan-default = \"drop\"\n";
  for (int i = 0; i + 1 < users; ++i) {
    absl::StrAppend(&config, "[[spa]]\nname = \"u", i, "\"\nkey-base64 = \"", random_base64(32),
                    "\"\nhmac-key-base64 = \"", random_base64(64), "\"\n");
  }
  absl::StrAppend(&config, "[[spa]]\nname = \"ssh\"\nkey-file = \"", KNOCKGATE_SOURCE_ROOT,
                  "/tests/data/spa/keys.txt\"\nmax-age = \"36500d\"\n");
  // The port's budget is its first section's.
  config = absl::StrReplaceAll(
      config, {{"[[spa]]\nname = \"", "[[spa]]\nverify-rate = 10000000\nname = \""}});
  auto loaded = LoadConfig(config, "bench.toml");
  if (!loaded.ok()) {
    state.SkipWithError(std::string(loaded.status().message()).c_str());
    return;
  }
  const std::shared_ptr<const Policy> policy = std::move(Policy::Compile(*loaded)).value();
  std::unique_ptr<ClassifierShard> shard = std::move(ClassifierShard::Create(*policy)).value();
  Setup s = Load("accept");
  if (forged) {
    s.payload[s.payload.size() - 3] = s.payload[s.payload.size() - 3] == 'A' ? 'B' : 'A';
  }
  const std::vector<uint8_t> frame = perf::Frame(0x0A4D0002u, 17, 62201, s.payload);
  Nanos now = kNanosPerSecond;
  shard->state.wall_offset = s.now - now;
  const size_t ssh = policy->spa().size() - 1;
  const size_t reason = static_cast<size_t>(forged ? SpaReject::kHmac : SpaReject::kReplay);
  uint64_t cycles = 0;
  for (auto _ : state) {
    ParsedPacket pkt;
    const uint64_t t = perf::Cycles();
    ParsePacket(frame, pkt);
    benchmark::DoNotOptimize(Classify(*policy, shard->state, frame, pkt, InterfaceList::kWan, now));
    cycles += perf::Cycles() - t;
    now += kNanosPerSecond / 1000;
    shard->state.events.Clear();
  }
  // Every packet must have been refused as expected (forged: hmac on the
  // port's first user; accepted: replay by the last), or this measured
  // something else.
  const SpaCounters& first = shard->spa->counters[0];
  const SpaCounters& last = shard->spa->counters[ssh];
  const uint64_t refused = forged ? first.rejects[reason] : last.rejects[reason] + last.accepts;
  if (refused != static_cast<uint64_t>(state.iterations())) {
    state.SkipWithError("a packet was refused for another reason");
  }
  state.counters["cycles/pkt"] =
      static_cast<double>(cycles) / static_cast<double>(std::max<int64_t>(state.iterations(), 1));
  state.counters["users"] = users;
  state.SetItemsProcessed(state.iterations());
}

BENCHMARK(BM_SpaForged);
BENCHMARK(BM_SpaAccepted);
BENCHMARK(BM_SpaNotBase64);
BENCHMARK(BM_SpaUsers)->ArgsProduct({{1, 16, 256}, {1, 0}})->ArgNames({"users", "forged"});

}  // namespace
}  // namespace knockgate

BENCHMARK_MAIN();
