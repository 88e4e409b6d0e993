// Layer 7 with Hyperscan against std::regex and PCRE2-JIT on the same
// passphrases (1, 100, 10,000) and 64-byte payloads, match and non-match, in
// two forms: anchored (the whole payload is the passphrase, as the seed's
// "^passphrase/$") and unanchored (a 16-character token anywhere in the
// payload, as RouterOS matches a layer7 regexp without ^ and $).
// Baselines as their users would write them: PCRE2 with every pattern in one
// alternation, JIT-compiled, match data allocated once; std::regex with
// optimize, one object per pattern (an alternation of 10,000 does not compile
// in reasonable time with libstdc++).
#define PCRE2_CODE_UNIT_WIDTH 8
#include <benchmark/benchmark.h>
#include <pcre2.h>

#include <regex>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "l7/hyperscan.h"

namespace knockgate::perf {
namespace {

// Anchored passphrase i: 62 characters, so that "<secret>/\n" is a 64-byte
// payload.
std::string Secret(int i) {
  std::string s = absl::StrFormat("knock-%06d-", i);
  while (s.size() < 62) {
    s += static_cast<char>('a' + (i * 7 + static_cast<int>(s.size()) * 13) % 26);
  }
  return s;
}

// Unanchored token i: 16 random characters of [a-z0-9], as a generated secret.
std::string Token(uint64_t i) {
  static constexpr char kAlphabet[] = "abcdefghijklmnopqrstuvwxyz0123456789";
  uint64_t x = i * 0x9E3779B97F4A7C15ULL + 1;
  std::string s;
  for (int c = 0; c < 16; ++c) {
    x ^= x >> 33;
    x *= 0xFF51AFD7ED558CCDULL;
    x ^= x >> 29;
    s += kAlphabet[x % 36];
  }
  return s;
}

std::string Payload(int n, bool match, bool anchored) {
  if (anchored) {
    if (match) {
      return Secret(n / 2) + "/\n";  // one from the middle of the set
    }
    return std::string(63, 'z') + "\n";
  }
  // The token inside a request line; a non-match carries a token of no set.
  std::string p = absl::StrCat("GET /open?token=", Token(match ? n / 2 : 1000000007),
                               " HTTP/1.1\r\nHost: gw.example\r\n\r\n");
  p.resize(64, ' ');
  return p;
}

std::vector<Layer7Protocol> Protocols(int n, bool anchored) {
  std::vector<Layer7Protocol> out;
  for (int i = 0; i < n; ++i) {
    out.push_back(Layer7Protocol{
        absl::StrCat("p", i), anchored ? absl::StrCat("^", Secret(i), "/$") : Token(i), false, {}});
  }
  return out;
}

void BM_Hyperscan(benchmark::State& bm) {
  const int n = static_cast<int>(bm.range(0));
  const bool match = bm.range(1) != 0;
  const bool anchored = bm.range(2) != 0;
  const std::vector<Layer7Protocol> protocols = Protocols(n, anchored);
  // The Layer7Mask has 64 bits; beyond that, scan the raw database. No
  // SINGLEMATCH: like the baselines, the scan stops at its first match.
  std::vector<const char*> patterns;
  std::vector<unsigned> flags(n, HS_FLAG_CASELESS);
  std::vector<unsigned> ids(n);
  for (int i = 0; i < n; ++i) {
    patterns.push_back(protocols[i].regexp.c_str());
    ids[i] = static_cast<unsigned>(i);
  }
  hs_database_t* db = nullptr;
  hs_compile_error_t* err = nullptr;
  if (hs_compile_multi(patterns.data(), flags.data(), ids.data(), static_cast<unsigned>(n),
                       HS_MODE_BLOCK, nullptr, &db, &err) != HS_SUCCESS) {
    bm.SkipWithError(err->message);
    return;
  }
  hs_scratch_t* scratch = nullptr;
  hs_alloc_scratch(db, &scratch);
  const std::string payload = Payload(n, match, anchored);
  uint64_t matched = 0;
  auto on_match = [](unsigned, unsigned long long, unsigned long long, unsigned, void* ctx) {
    ++*static_cast<uint64_t*>(ctx);
    return 1;  // stop at the first match, as PCRE2 and std::regex do
  };
  for (auto _ : bm) {
    hs_scan(db, payload.data(), static_cast<unsigned>(payload.size()), 0, scratch, on_match,
            &matched);
  }
  bm.counters["matches/scan"] = static_cast<double>(matched) / static_cast<double>(bm.iterations());
  bm.SetItemsProcessed(bm.iterations());
  hs_free_scratch(scratch);
  hs_free_database(db);
}

void BM_Pcre2Jit(benchmark::State& bm) {
  const int n = static_cast<int>(bm.range(0));
  const bool match = bm.range(1) != 0;
  const bool anchored = bm.range(2) != 0;
  std::string alternation;
  for (const Layer7Protocol& p : Protocols(n, anchored)) {
    absl::StrAppend(&alternation, alternation.empty() ? "" : "|", "(?:", p.regexp, ")");
  }
  int error = 0;
  PCRE2_SIZE offset = 0;
  pcre2_code* code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(alternation.c_str()),
                                   PCRE2_ZERO_TERMINATED, PCRE2_CASELESS, &error, &offset, nullptr);
  if (code == nullptr) {
    bm.SkipWithError("pcre2_compile failed");
    return;
  }
  const bool jit = pcre2_jit_compile(code, PCRE2_JIT_COMPLETE) == 0;
  pcre2_match_data* md = pcre2_match_data_create_from_pattern(code, nullptr);
  const std::string payload = Payload(n, match, anchored);
  uint64_t matched = 0;
  for (auto _ : bm) {
    const int rc = jit ? pcre2_jit_match(code, reinterpret_cast<PCRE2_SPTR>(payload.data()),
                                         payload.size(), 0, 0, md, nullptr)
                       : pcre2_match(code, reinterpret_cast<PCRE2_SPTR>(payload.data()),
                                     payload.size(), 0, 0, md, nullptr);
    matched += rc > 0;
  }
  bm.counters["jit"] = jit;
  bm.counters["matches/scan"] = static_cast<double>(matched) / static_cast<double>(bm.iterations());
  bm.SetItemsProcessed(bm.iterations());
  pcre2_match_data_free(md);
  pcre2_code_free(code);
}

void BM_StdRegex(benchmark::State& bm) {
  const int n = static_cast<int>(bm.range(0));
  const bool match = bm.range(1) != 0;
  const bool anchored = bm.range(2) != 0;
  std::vector<std::regex> regexes;
  for (int i = 0; i < n; ++i) {
    // ECMAScript's $ is end-only: allow the one final newline explicitly.
    regexes.emplace_back(anchored ? absl::StrCat("^", Secret(i), "/\\n?$") : Token(i),
                         std::regex::icase | std::regex::optimize);
  }
  const std::string payload = Payload(n, match, anchored);
  uint64_t matched = 0;
  for (auto _ : bm) {
    for (const std::regex& re : regexes) {
      if (std::regex_search(payload, re)) {
        ++matched;
        break;
      }
    }
  }
  bm.counters["matches/scan"] = static_cast<double>(matched) / static_cast<double>(bm.iterations());
  bm.SetItemsProcessed(bm.iterations());
}

void Args(benchmark::internal::Benchmark* b) {
  for (int anchored : {1, 0}) {
    for (int n : {1, 100, 10000}) {
      for (int match : {1, 0}) {
        b->Args({n, match, anchored});
      }
    }
  }
  b->ArgNames({"patterns", "match", "anchored"});
}

BENCHMARK(BM_Hyperscan)->Apply(Args);
BENCHMARK(BM_Pcre2Jit)->Apply(Args);
BENCHMARK(BM_StdRegex)->Apply(Args);

}  // namespace
}  // namespace knockgate::perf

BENCHMARK_MAIN();
