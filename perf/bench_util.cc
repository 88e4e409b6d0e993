// Frame assembly for benchmarks: byte order by hand, no checksums (nothing reads them).
#include "bench_util.h"

namespace knockgate::perf {
namespace {

void Put16(std::vector<uint8_t>& f, uint16_t v) {
  f.push_back(static_cast<uint8_t>(v >> 8));
  f.push_back(static_cast<uint8_t>(v));
}
void Put32(std::vector<uint8_t>& f, uint32_t v) {
  Put16(f, static_cast<uint16_t>(v >> 16));
  Put16(f, static_cast<uint16_t>(v));
}

}  // namespace

std::vector<uint8_t> Frame(uint32_t src, uint8_t protocol, uint16_t dport,
                           const std::string& payload, size_t size, uint8_t tcp_flags,
                           uint16_t sport, uint32_t dst) {
  std::vector<uint8_t> f = {2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2, 0x08, 0x00};
  const size_t l4 = protocol == 6 ? 20 : 8;
  const size_t ip_len = 20 + l4 + payload.size();
  f.insert(f.end(), {0x45, 0});
  Put16(f, static_cast<uint16_t>(ip_len));
  f.insert(f.end(), {0, 1, 0, 0, 64, protocol, 0, 0});
  Put32(f, src);
  Put32(f, dst);
  Put16(f, sport);
  Put16(f, dport);
  if (protocol == 6) {
    f.insert(f.end(), {0, 0, 0, 1, 0, 0, 0, 0, 0x50, tcp_flags, 0xff, 0xff, 0, 0, 0, 0});
  } else {
    Put16(f, static_cast<uint16_t>(8 + payload.size()));
    Put16(f, 0);
  }
  f.insert(f.end(), payload.begin(), payload.end());
  if (f.size() < size) {
    f.resize(size, 0);
  }
  return f;
}

}  // namespace knockgate::perf
