// Reads a whole file that knockgate is given (config, RouterOS script),
// refusing one larger than a bound before reading it.
#pragma once

#include <fstream>
#include <sstream>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"

namespace knockgate {

inline constexpr size_t kMaxInputFileBytes = 16u << 20;

// `what` names the file's kind in errors ("config file", "RouterOS script").
inline absl::StatusOr<std::string> ReadFileBounded(const std::string& path, const char* what) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) {
    return absl::NotFoundError(absl::StrCat(path, ": cannot open ", what));
  }
  const std::streamoff size = in.tellg();
  if (size > static_cast<std::streamoff>(kMaxInputFileBytes)) {
    return absl::InvalidArgumentError(absl::StrCat(path, ":1:1: (file): ", size, " bytes; a ", what,
                                                   " may hold at most ", kMaxInputFileBytes >> 20,
                                                   " MiB"));
  }
  in.seekg(0);
  std::stringstream buf;
  buf << in.rdbuf();
  return buf.str();
}

}  // namespace knockgate
