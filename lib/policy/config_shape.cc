// A single pass over the text that knows just enough TOML to tell keys from
// values and strings from the rest: it counts key segments and bracket depth.
#include "policy/config_shape.h"

#include <vector>

#include "absl/strings/str_cat.h"
#include "common/strings.h"

namespace knockgate {
namespace {

class Scanner {
 public:
  Scanner(absl::string_view text, absl::string_view path) : text_(text), path_(path) {}

  absl::Status Run() {
    if (text_.size() > kMaxConfigBytes) {
      return absl::InvalidArgumentError(absl::StrCat(path_, ":1:1: (file): ", text_.size(),
                                                     " bytes; a config may hold at most ",
                                                     kMaxConfigBytes >> 20, " MiB"));
    }
    bool line_start = true;
    while (pos_ < text_.size()) {
      const char c = text_[pos_];
      if (c == '\n') {
        Advance();
        line_start = true;
        continue;
      }
      if (c == ' ' || c == '\t' || c == '\r') {
        Advance();
        continue;
      }
      if (c == '#') {
        SkipComment();
        continue;
      }
      if (c == '"' || c == '\'') {
        SkipString();
        line_start = false;
        continue;
      }
      if (line_start && nesting_.empty()) {
        line_start = false;
        if (c == '[') {
          if (absl::Status s = Key(/*header=*/true); !s.ok()) {
            return s;
          }
        } else if (absl::Status s = Key(/*header=*/false); !s.ok()) {
          return s;
        }
        continue;
      }
      line_start = false;
      if (c == '[' || c == '{') {
        nesting_.push_back(c);
        if (nesting_.size() > static_cast<size_t>(kMaxConfigDepth)) {
          return TooDeep("arrays and inline tables");
        }
        Advance();
        if (c == '{') {
          if (absl::Status s = Key(false); !s.ok()) {
            return s;
          }
        }
        continue;
      }
      if (c == ']' || c == '}') {
        if (!nesting_.empty()) {
          nesting_.pop_back();
        }
        Advance();
        continue;
      }
      if (c == ',' && !nesting_.empty() && nesting_.back() == '{') {
        Advance();
        if (absl::Status s = Key(false); !s.ok()) {
          return s;
        }
        continue;
      }
      Advance();
    }
    return absl::OkStatus();
  }

 private:
  void Advance() {
    if (text_[pos_] == '\n') {
      ++line_;
      column_ = 1;
    } else {
      ++column_;
    }
    ++pos_;
  }
  void SkipComment() {
    while (pos_ < text_.size() && text_[pos_] != '\n') {
      Advance();
    }
  }
  // A basic or literal string, single-line or multi-line.
  void SkipString() {
    const char q = text_[pos_];
    const bool multi = text_.substr(pos_, 3) == std::string(3, q);
    for (int i = 0; i < (multi ? 3 : 1); ++i) {
      Advance();
    }
    while (pos_ < text_.size()) {
      const char c = text_[pos_];
      if (q == '"' && c == '\\' && pos_ + 1 < text_.size()) {
        Advance();
        Advance();
        continue;
      }
      if (!multi && c == '\n') {
        return;  // unterminated: toml++ will say so
      }
      if (c == q && (!multi || text_.substr(pos_, 3) == std::string(3, q))) {
        for (int i = 0; i < (multi ? 3 : 1); ++i) {
          Advance();
        }
        return;
      }
      Advance();
    }
  }
  // A key (before "=") or a table header: counts its dotted segments.
  absl::Status Key(bool header) {
    const size_t start = pos_;
    const int line = line_;
    const int column = column_;
    int segments = 1;
    while (pos_ < text_.size()) {
      const char c = text_[pos_];
      if (c == '"' || c == '\'') {
        SkipString();
        continue;
      }
      if (c == '\n' || c == '#' || (!header && c == '=') || (header && c == ']') ||
          (!header && (c == '}' || c == ','))) {
        break;
      }
      if (c == '.' && ++segments > kMaxConfigDepth) {
        return absl::InvalidArgumentError(absl::StrCat(path_, ":", line, ":", column, ": ",
                                                       Excerpt(start), ": a key of more than ",
                                                       kMaxConfigDepth, " dotted parts"));
      }
      Advance();
    }
    if (header) {
      while (pos_ < text_.size() && text_[pos_] == ']') {
        Advance();
      }
    } else if (pos_ < text_.size() && text_[pos_] == '=') {
      key_start_ = start;
      Advance();
    }
    return absl::OkStatus();
  }
  absl::Status TooDeep(absl::string_view what) {
    return absl::InvalidArgumentError(absl::StrCat(path_, ":", line_, ":", column_, ": ",
                                                   Excerpt(key_start_), ": ", what,
                                                   " nested more than ", kMaxConfigDepth, " deep"));
  }
  // The key at `from` as written, cut short.
  std::string Excerpt(size_t from) const {
    size_t end = from;
    while (end < text_.size() && text_[end] != '=' && text_[end] != '\n' && text_[end] != ']') {
      ++end;
    }
    absl::string_view key = text_.substr(from, end - from);
    while (!key.empty() && (key.back() == ' ' || key.back() == '\t')) {
      key.remove_suffix(1);
    }
    return knockgate::Excerpt(key);
  }

  absl::string_view text_;
  absl::string_view path_;
  size_t pos_ = 0;
  int line_ = 1;
  int column_ = 1;
  size_t key_start_ = 0;
  std::vector<char> nesting_;
};

}  // namespace

absl::Status CheckConfigShape(absl::string_view text, absl::string_view path) {
  return Scanner(text, path).Run();
}

}  // namespace knockgate
