// Reading and writing the state file (format in state_file.h).
#include "control/state_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <sstream>

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/status_macros.h"
#include "common/strings.h"

namespace knockgate {

std::string FormatState(const std::vector<StateEntry>& entries,
                        const std::vector<StateDigest>& digests, const std::string& comment) {
  std::string out = absl::StrCat(kStateMagic, "\n# ", comment,
                                 "\n# LIST<TAB>ADDRESS<TAB>EXPIRY (Unix ns, or never)\n");
  for (const StateEntry& e : entries) {
    absl::StrAppend(&out, e.list, "\t", e.address.ToString(), "\t",
                    e.expiry_wall == kNever ? "never" : absl::StrCat(e.expiry_wall), "\n");
  }
  for (const StateDigest& d : digests) {
    absl::StrAppend(&out, kSpaReplayLine, "\t", d.address.ToString(), "\t", d.expiry_wall, "\t",
                    absl::BytesToHexString(absl::string_view(
                        reinterpret_cast<const char*>(d.digest.data()), d.digest.size())),
                    "\n");
  }
  return out;
}

absl::Status ReadState(std::istream& in, absl::string_view path, const StateEntryFn& each,
                       const StateDigestFn& digest) {
  auto bad = [&](size_t line, absl::string_view what) {
    return absl::DataLossError(absl::StrCat(path, ":", line, ": ", what));
  };
  std::string line;
  size_t number = 0;
  while (std::getline(in, line)) {
    ++number;
    if (in.eof()) {  // the last line has no newline: cut off mid-write
      return bad(number, "truncated (no end of line)");
    }
    if (number == 1) {
      if (line != kStateMagic) {
        return bad(1, absl::StrCat("not a knockgate state file (expected \"", kStateMagic,
                                   "\", found \"", Excerpt(line), "\")"));
      }
      continue;
    }
    if (!line.empty() && line[0] == '#') {
      continue;
    }
    const std::vector<absl::string_view> f = absl::StrSplit(line, '\t');
    if (f[0] == kSpaReplayLine) {
      StateDigest d;
      absl::StatusOr<IpAddress> addr =
          f.size() == 4 ? ParseIpAddress(f[1]) : absl::InvalidArgumentError("");
      if (f.size() != 4 || !addr.ok() || !absl::SimpleAtoi(f[2], &d.expiry_wall) ||
          f[3].size() != 2 * d.digest.size() ||
          f[3].find_first_not_of("0123456789abcdefABCDEF") != absl::string_view::npos) {
        return bad(number, absl::StrCat("expected ", kSpaReplayLine,
                                        "<TAB>ADDRESS<TAB>EXPIRY<TAB>DIGEST, found \"",
                                        Excerpt(line), "\""));
      }
      d.address = *addr;
      const std::string bytes = absl::HexStringToBytes(f[3]);
      std::copy(bytes.begin(), bytes.end(), d.digest.begin());
      if (digest) {
        digest(d);
      }
      continue;
    }
    Nanos expiry = kNever;
    absl::StatusOr<IpAddress> addr =
        f.size() == 3 ? ParseIpAddress(f[1]) : absl::InvalidArgumentError("");
    if (f.size() != 3 || f[0].empty() || !addr.ok() ||
        (f[2] != "never" && !absl::SimpleAtoi(f[2], &expiry))) {
      return bad(number, absl::StrCat("expected LIST<TAB>ADDRESS<TAB>EXPIRY, found \"",
                                      Excerpt(line), "\""));
    }
    each(f[0], *addr, f[2] == "never" ? kNever : expiry);
  }
  if (in.bad()) {
    return bad(number + 1, "cannot be read");
  }
  if (number == 0) {
    return bad(
        1, absl::StrCat("not a knockgate state file (expected \"", kStateMagic, "\", found \"\")"));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<StateEntry>> ParseState(absl::string_view text, absl::string_view path) {
  std::istringstream in{std::string(text)};
  std::vector<StateEntry> out;
  KG_RETURN_IF_ERROR(ReadState(in, path, [&](absl::string_view list, const IpAddress& a, Nanos e) {
    out.push_back({std::string(list), a, e});
  }));
  return out;
}

absl::Status WriteFileAtomically(const std::string& path, absl::string_view text) {
  const std::string tmp = path + ".tmp";
  const int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  auto fail = [&](const char* what) {
    const std::string why = std::strerror(errno);
    if (fd >= 0) {
      close(fd);
    }
    unlink(tmp.c_str());
    return absl::UnavailableError(absl::StrCat("cannot ", what, " ", tmp, ": ", why));
  };
  if (fd < 0) {
    return fail("create");
  }
  for (size_t off = 0; off < text.size();) {
    const ssize_t n = write(fd, text.data() + off, text.size() - off);
    if (n <= 0) {
      return fail("write");
    }
    off += static_cast<size_t>(n);
  }
  if (fsync(fd) != 0) {
    return fail("fsync");
  }
  close(fd);
  if (rename(tmp.c_str(), path.c_str()) != 0) {
    const std::string why = std::strerror(errno);
    unlink(tmp.c_str());
    return absl::UnavailableError(absl::StrCat("cannot rename ", tmp, " to ", path, ": ", why));
  }
  std::string dir = std::filesystem::path(path).parent_path().string();
  const int dfd = open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    fsync(dfd);
    close(dfd);
  }
  return absl::OkStatus();
}

}  // namespace knockgate
