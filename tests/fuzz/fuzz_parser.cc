// libFuzzer: the packet parser on an exact-size buffer (a read past the end is
// an AddressSanitizer report), and its straight-line path against the general
// parser, which must agree field for field on every input.
#include <cstdlib>
#include <cstring>
#include <vector>

#include "packet/parser.h"

namespace {

bool Same(const knockgate::ParsedPacket& a, const knockgate::ParsedPacket& b) {
  return a.family == b.family && a.ethertype == b.ethertype && a.vlan_tags == b.vlan_tags &&
         a.protocol == b.protocol && a.fragment == b.fragment &&
         a.later_fragment == b.later_fragment && a.has_ports == b.has_ports &&
         a.tcp_flags == b.tcp_flags && a.icmp_type == b.icmp_type && a.icmp_code == b.icmp_code &&
         a.icmp_id == b.icmp_id && a.icmp_error == b.icmp_error && a.src_port == b.src_port &&
         a.dst_port == b.dst_port && a.l3_offset == b.l3_offset &&
         a.payload_offset == b.payload_offset && a.payload_length == b.payload_length &&
         a.src == b.src && a.dst == b.dst;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::vector<uint8_t> frame(data, data + size);  // exactly `size` bytes on the heap
  knockgate::ParsedPacket fast;
  knockgate::ParsedPacket general;
  const knockgate::DropReason a = knockgate::ParsePacket(frame, fast);
  const knockgate::DropReason b = knockgate::detail::ParsePacketGeneral(frame, general);
  if (a != b || (a == knockgate::DropReason::kNone && !Same(fast, general))) {
    std::abort();  // the fast path and the reference disagree
  }
  if (a == knockgate::DropReason::kNone && fast.family != knockgate::Family::kNone &&
      fast.payload_offset + fast.payload_length > size) {
    std::abort();  // a clean parse points past the frame
  }
  return 0;
}
