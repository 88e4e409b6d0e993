// Address parsing and formatting on top of inet_pton/inet_ntop.
// Control-plane only: the data path builds IpAddress straight from header bytes.
#include "net/ip_address.h"

#include <algorithm>

#include <arpa/inet.h>

#include <charconv>

#include "absl/strings/str_cat.h"

namespace knockgate {

IpAddress IpAddress::Masked(int prefix_len) const {
  // Two 64-bit words, each ANDed with its part of the prefix mask (the bytes
  // are in network order, hence the byte swap). IPv4 keeps bytes 4..15 zero.
  IpAddress out = *this;
  uint64_t words[2];
  std::memcpy(words, bytes.data(), 16);
  for (int i = 0; i < 2; ++i) {
    const int keep = std::clamp(prefix_len - 64 * i, 0, 64);
    const uint64_t mask = keep == 0 ? 0 : ~uint64_t{0} << (64 - keep);
    words[i] &= __builtin_bswap64(mask);
  }
  std::memcpy(out.bytes.data(), words, 16);
  return out;
}

std::string IpAddress::ToString() const {
  char buf[INET6_ADDRSTRLEN] = {};
  if (family == Family::kIpv4) {
    inet_ntop(AF_INET, bytes.data(), buf, sizeof(buf));
  } else if (family == Family::kIpv6) {
    inet_ntop(AF_INET6, bytes.data(), buf, sizeof(buf));
  } else {
    return "none";
  }
  return buf;
}

absl::StatusOr<IpAddress> ParseIpAddress(absl::string_view text) {
  const std::string s(text);
  uint8_t buf[16];
  if (s.find(':') == std::string::npos) {
    if (inet_pton(AF_INET, s.c_str(), buf) == 1) {
      return IpAddress::V4(buf);
    }
  } else if (inet_pton(AF_INET6, s.c_str(), buf) == 1) {
    return IpAddress::V6(buf);
  }
  return absl::InvalidArgumentError(absl::StrCat("\"", text, "\" is not an IPv4 or IPv6 address"));
}

std::string Cidr::ToString() const { return absl::StrCat(prefix.ToString(), "/", length); }

absl::StatusOr<Cidr> ParseCidr(absl::string_view text) {
  const size_t slash = text.find('/');
  absl::StatusOr<IpAddress> addr = ParseIpAddress(text.substr(0, slash));
  if (!addr.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("\"", text, "\" is not an address or CIDR prefix (a.b.c.d/len or x::y/len)"));
  }
  Cidr cidr{*addr, addr->BitLength()};
  if (slash != absl::string_view::npos) {
    const absl::string_view len_text = text.substr(slash + 1);
    int len = -1;
    auto [end, ec] = std::from_chars(len_text.data(), len_text.data() + len_text.size(), len);
    if (ec != std::errc() || end != len_text.data() + len_text.size() || len < 0 ||
        len > addr->BitLength()) {
      return absl::InvalidArgumentError(
          absl::StrCat("\"", text, "\": prefix length must be 0..", addr->BitLength()));
    }
    cidr.length = len;
  }
  if (addr->Masked(cidr.length) != *addr) {
    return absl::InvalidArgumentError(
        absl::StrCat("\"", text, "\" has host bits set; did you mean ",
                     Cidr{addr->Masked(cidr.length), cidr.length}.ToString(), "?"));
  }
  return cidr;
}

}  // namespace knockgate
