// Reading and writing the state file (format in state_file.h).
#include "control/state_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/strings.h"

namespace knockgate {

std::string FormatState(const std::vector<StateEntry>& entries, const std::string& comment) {
  std::string out = absl::StrCat(kStateMagic, "\n# ", comment,
                                 "\n# LIST<TAB>ADDRESS<TAB>EXPIRY (Unix ns, or never)\n");
  for (const StateEntry& e : entries) {
    absl::StrAppend(&out, e.list, "\t", e.address.ToString(), "\t",
                    e.expiry_wall == kNever ? "never" : absl::StrCat(e.expiry_wall), "\n");
  }
  return out;
}

absl::StatusOr<std::vector<StateEntry>> ParseState(absl::string_view text, absl::string_view path) {
  auto bad = [&](size_t line, absl::string_view what) {
    return absl::DataLossError(absl::StrCat(path, ":", line, ": ", what));
  };
  if (!text.empty() && text.back() != '\n') {
    return bad(static_cast<size_t>(std::count(text.begin(), text.end(), '\n')) + 1,
               "truncated (no end of line)");
  }
  std::vector<absl::string_view> lines = absl::StrSplit(text, '\n');
  lines.pop_back();  // after the final newline
  if (lines.empty() || lines[0] != kStateMagic) {
    return bad(1, absl::StrCat("not a knockgate state file (expected \"", kStateMagic,
                               "\", found \"", Excerpt(lines.empty() ? "" : lines[0]), "\")"));
  }
  std::vector<StateEntry> out;
  for (size_t i = 1; i < lines.size(); ++i) {
    if (!lines[i].empty() && lines[i][0] == '#') {
      continue;
    }
    const std::vector<absl::string_view> f = absl::StrSplit(lines[i], '\t');
    StateEntry e;
    absl::StatusOr<IpAddress> addr =
        f.size() == 3 ? ParseIpAddress(f[1]) : absl::InvalidArgumentError("");
    if (f.size() != 3 || f[0].empty() || !addr.ok() ||
        (f[2] != "never" && !absl::SimpleAtoi(f[2], &e.expiry_wall))) {
      return bad(i + 1, absl::StrCat("expected LIST<TAB>ADDRESS<TAB>EXPIRY, found \"",
                                     Excerpt(lines[i]), "\""));
    }
    e.list = std::string(f[0]);
    e.address = *addr;
    if (f[2] == "never") {
      e.expiry_wall = kNever;
    }
    out.push_back(std::move(e));
  }
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
