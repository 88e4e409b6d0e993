// Hyperscan compile and scan: one database for all patterns, one scan per payload,
// and SINGLEMATCH so each protocol reports at most once.
#include "l7/hyperscan.h"

#include <vector>

#include "absl/strings/str_cat.h"

namespace knockgate {

absl::StatusOr<std::unique_ptr<const HyperscanDatabase>> HyperscanDatabase::Compile(
    std::span<const Layer7Protocol> protocols, absl::string_view path) {
  if (protocols.empty()) {
    return std::unique_ptr<const HyperscanDatabase>();
  }
  if (protocols.size() > kMaxLayer7Protocols) {
    const SourcePos at = protocols[kMaxLayer7Protocols].pos;
    return absl::InvalidArgumentError(absl::StrCat(path, ":", at.line, ":", at.column,
                                                   ": layer7-protocol: at most ",
                                                   kMaxLayer7Protocols, " are supported"));
  }
  std::vector<const char*> patterns;
  std::vector<unsigned> flags;
  std::vector<unsigned> ids;
  for (size_t i = 0; i < protocols.size(); ++i) {
    patterns.push_back(protocols[i].regexp.c_str());
    flags.push_back(HS_FLAG_SINGLEMATCH | (protocols[i].case_sensitive ? 0 : HS_FLAG_CASELESS));
    ids.push_back(static_cast<unsigned>(i));
  }
  hs_database_t* db = nullptr;
  hs_compile_error_t* error = nullptr;
  if (hs_compile_multi(patterns.data(), flags.data(), ids.data(),
                       static_cast<unsigned>(patterns.size()), HS_MODE_BLOCK, nullptr, &db,
                       &error) != HS_SUCCESS) {
    const size_t bad = error->expression >= 0 ? static_cast<size_t>(error->expression) : 0;
    const SourcePos at = protocols[bad].pos;
    absl::Status status = absl::InvalidArgumentError(
        absl::StrCat(path, ":", at.line, ":", at.column, ": layer7-protocol \"",
                     protocols[bad].name, "\": ", error->message));
    hs_free_compile_error(error);
    return status;
  }
  hs_scratch_t* scratch = nullptr;
  if (hs_alloc_scratch(db, &scratch) != HS_SUCCESS) {
    hs_free_database(db);
    return absl::ResourceExhaustedError("layer7-protocol: cannot allocate Hyperscan scratch");
  }
  return std::unique_ptr<const HyperscanDatabase>(new HyperscanDatabase(db, scratch));
}

absl::StatusOr<std::unique_ptr<HyperscanScanner>> HyperscanScanner::Create(
    const HyperscanDatabase& db) {
  hs_scratch_t* scratch = nullptr;
  if (hs_clone_scratch(db.prototype(), &scratch) != HS_SUCCESS) {
    return absl::ResourceExhaustedError("layer7-protocol: cannot clone Hyperscan scratch");
  }
  return std::unique_ptr<HyperscanScanner>(new HyperscanScanner(db, scratch));
}

Layer7Mask HyperscanScanner::Scan(std::span<const uint8_t> payload) {
  Layer7Mask matched = 0;
  auto on_match = [](unsigned id, unsigned long long, unsigned long long, unsigned,
                     void* ctx) -> int {
    *static_cast<Layer7Mask*>(ctx) |= Layer7Mask{1} << id;
    return 0;
  };
  hs_scan(db_.db(), reinterpret_cast<const char*>(payload.data()),
          static_cast<unsigned>(payload.size()), 0, scratch_.get(), on_match, &matched);
  return matched;
}

}  // namespace knockgate
