// Hyperscan compile and scan: one database for all patterns, one scan per payload,
// and SINGLEMATCH so each protocol reports at most once.
#include "l7/hyperscan.h"

#include <string_view>
#include <vector>

#include "absl/strings/str_cat.h"

namespace knockgate {
namespace {

uint8_t LowerAscii(uint8_t c) { return c >= 'A' && c <= 'Z' ? static_cast<uint8_t>(c + 32) : c; }

}  // namespace

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
  auto database = std::unique_ptr<HyperscanDatabase>(new HyperscanDatabase(db, scratch));
  std::vector<Literal> literals;
  for (const Layer7Protocol& p : protocols) {
    std::optional<std::string> text = AnchoredLiteral(p.regexp);
    if (!text) {
      literals.clear();
      break;
    }
    if (!p.case_sensitive) {
      for (char& c : *text) {
        c = static_cast<char>(LowerAscii(static_cast<uint8_t>(c)));
      }
    }
    literals.push_back(Literal{std::move(*text), p.case_sensitive});
  }
  database->literals_ = std::move(literals);
  return std::unique_ptr<const HyperscanDatabase>(std::move(database));
}

std::optional<std::string> HyperscanDatabase::AnchoredLiteral(const std::string& regexp) {
  if (regexp.size() < 3 || regexp.front() != '^' || regexp.back() != '$') {
    return std::nullopt;
  }
  std::string text = regexp.substr(1, regexp.size() - 2);
  for (char c : text) {
    const bool word = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    // Printable ASCII that is never regex syntax (no \ . ^ $ | ? * + ( ) [ ] { }).
    if (!word && std::string_view(" !\"#%&',-/:;<=>@_`~").find(c) == std::string_view::npos) {
      return std::nullopt;
    }
  }
  return text;
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
  const std::vector<HyperscanDatabase::Literal>& literals = db_.literals();
  if (literals.empty()) {
    return ScanWithHyperscan(payload);
  }
  // `^LITERAL$`: the whole payload, or all of it but one final newline.
  const size_t n = payload.size();
  const bool final_newline = n > 0 && payload[n - 1] == '\n';
  Layer7Mask matched = 0;
  for (size_t id = 0; id < literals.size(); ++id) {
    const HyperscanDatabase::Literal& lit = literals[id];
    const size_t len = lit.text.size();
    if (len != n && !(final_newline && len == n - 1)) {
      continue;
    }
    bool same = true;
    for (size_t i = 0; i < len && same; ++i) {
      const uint8_t c = lit.case_sensitive ? payload[i] : LowerAscii(payload[i]);
      same = c == static_cast<uint8_t>(lit.text[i]);
    }
    matched |= static_cast<Layer7Mask>(same) << id;
  }
  return matched;
}

Layer7Mask HyperscanScanner::ScanWithHyperscan(std::span<const uint8_t> payload) {
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
