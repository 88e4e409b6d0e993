// All [[layer7-protocol]] regexps in one Hyperscan block-mode database, shared
// read-only by workers, each scanning with a scratch of its own.
#pragma once

#include <hs/hs.h>

#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>
#include "absl/strings/string_view.h"

#include "absl/status/statusor.h"
#include "l7/layer7.h"
#include "l7/layer7_protocol.h"

namespace knockgate {

struct HsDatabaseDeleter {
  void operator()(hs_database_t* db) const { hs_free_database(db); }
};
struct HsScratchDeleter {
  void operator()(hs_scratch_t* s) const { hs_free_scratch(s); }
};

class HyperscanDatabase {
 public:
  // Compiles every protocol, case-insensitive unless it says case-sensitive.
  // `$` also matches before one final newline (Hyperscan's default, PCRE's
  // rule). A pattern Hyperscan rejects yields
  // "PATH:LINE:COL: layer7-protocol "NAME": <Hyperscan's message>".
  static absl::StatusOr<std::unique_ptr<const HyperscanDatabase>> Compile(
      std::span<const Layer7Protocol> protocols, absl::string_view path);

  const hs_database_t* db() const { return db_.get(); }
  // A scratch template; workers clone it (see HyperscanScanner::Create).
  const hs_scratch_t* prototype() const { return scratch_.get(); }

  // A pattern that is `^LITERAL$` with LITERAL free of regex syntax, the
  // form passphrases take (the seed's "^passphrase/$").
  struct Literal {
    std::string text;  // lowercased unless case_sensitive
    bool case_sensitive = false;
  };
  // The literal of `regexp` if it is one; otherwise nullopt.
  static std::optional<std::string> AnchoredLiteral(const std::string& regexp);
  // Every protocol's literal, by id, when all of them are anchored literals;
  // then a scan is a length check and a compare per protocol, with the same
  // result Hyperscan gives (tests/classify/seed_test.cc checks it against
  // Hyperscan). Empty otherwise.
  const std::vector<Literal>& literals() const { return literals_; }

 private:
  HyperscanDatabase(hs_database_t* db, hs_scratch_t* scratch) : db_(db), scratch_(scratch) {}
  std::vector<Literal> literals_;
  std::unique_ptr<hs_database_t, HsDatabaseDeleter> db_;
  std::unique_ptr<hs_scratch_t, HsScratchDeleter> scratch_;
};

class HyperscanScanner final : public Layer7Scanner {
 public:
  // Clones the database's scratch on the control plane, before the worker runs.
  static absl::StatusOr<std::unique_ptr<HyperscanScanner>> Create(const HyperscanDatabase& db);
  Layer7Mask Scan(std::span<const uint8_t> payload) override;
  // The same result through Hyperscan, whatever the patterns are.
  Layer7Mask ScanWithHyperscan(std::span<const uint8_t> payload);

 private:
  HyperscanScanner(const HyperscanDatabase& db, hs_scratch_t* scratch)
      : db_(db), scratch_(scratch) {}
  const HyperscanDatabase& db_;
  std::unique_ptr<hs_scratch_t, HsScratchDeleter> scratch_;
};

}  // namespace knockgate
