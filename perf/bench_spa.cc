// SPA verification cost per packet: a forged packet (wrong HMAC) costs one
// HMAC before rejection; an accepted one the HMAC, the decryption, the
// fields, their digest and the replay digest. Packets are the real fwknop
// client's (tests/data/spa/vectors.tsv).
#include <benchmark/benchmark.h>

#include <fstream>
#include <map>
#include <sstream>

#include "absl/strings/str_split.h"
#include "bench_util.h"
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

BENCHMARK(BM_SpaForged);
BENCHMARK(BM_SpaAccepted);
BENCHMARK(BM_SpaNotBase64);

}  // namespace
}  // namespace knockgate

BENCHMARK_MAIN();
