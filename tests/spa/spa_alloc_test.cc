// SPA verification allocates nothing per packet: OpenSSL's allocator and the
// global operator new are counted around a thousand verifications of an
// accepted and of a forged packet. Its own process (OpenSSL's allocator can
// only be set before OpenSSL's first allocation), so no gtest_main.
#include <openssl/crypto.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <new>
#include <sstream>
#include <string>

#include "absl/strings/str_split.h"
#include "spa/spa_verifier.h"

namespace {
long g_allocations = 0;
void* Malloc(size_t n, const char*, int) {
  ++g_allocations;
  return malloc(n);
}
void* Realloc(void* p, size_t n, const char*, int) {
  ++g_allocations;
  return realloc(p, n);
}
void Free(void* p, const char*, int) { free(p); }
}  // namespace

void* operator new(size_t n) {
  ++g_allocations;
  if (void* p = malloc(n)) {
    return p;
  }
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { free(p); }
void operator delete(void* p, size_t) noexcept { free(p); }

int main() {
  using namespace knockgate;
  if (CRYPTO_set_mem_functions(Malloc, Realloc, Free) != 1) {
    std::puts("FAIL - OpenSSL allocated before the counter was set");
    return 1;
  }
  std::ifstream keys(KNOCKGATE_SOURCE_ROOT "/tests/data/spa/keys.txt");
  std::stringstream text;
  text << keys.rdbuf();
  std::unique_ptr<SpaVerifier> v =
      std::move(SpaVerifier::Create(*ParseSpaKeyFile(text.str()), {})).value();
  std::ifstream in(KNOCKGATE_SOURCE_ROOT "/tests/data/spa/vectors.tsv");
  std::string line;
  std::getline(in, line);  // "accept"
  const std::vector<std::string> f = absl::StrSplit(line, '\t');
  const std::string good = f[2];
  std::string forged = good;
  forged[forged.size() - 2] = forged[forged.size() - 2] == 'A' ? 'B' : 'A';
  const Nanos now = std::stoull(f[1]) * kNanosPerSecond;
  const IpAddress source = *ParseIpAddress("10.77.0.2");
  SpaMessage m;
  int fail = 0;
  for (const auto& [name, payload, want] :
       {std::tuple{"accepted", &good, SpaReject::kNone}, {"forged", &forged, SpaReject::kHmac}}) {
    const std::span<const uint8_t> p(reinterpret_cast<const uint8_t*>(payload->data()),
                                     payload->size());
    v->Verify(p, source, now, m);  // warm: first use may size scratch
    const long before = g_allocations;
    int wrong = 0;
    for (int i = 0; i < 1000; ++i) {
      wrong += v->Verify(p, source, now, m) == want ? 0 : 1;
    }
    const long made = g_allocations - before;
    std::printf("%s - %s packets: %ld allocations in 1000 verifications, %d wrong verdicts\n",
                made == 0 && wrong == 0 ? "ok  " : "FAIL", name, made, wrong);
    fail |= made != 0 || wrong != 0;
  }
  return fail;
}
