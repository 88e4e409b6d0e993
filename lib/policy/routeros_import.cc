// A small RouterOS script reader: logical lines, menu context, key=value
// words with quoting; then one TOML table per `add`, checked by the loader.
#include "policy/routeros_import.h"

#include <map>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/status_macros.h"
#include "common/strings.h"
#include "policy/config_loader.h"

namespace knockgate {
namespace {

struct LogicalLine {
  int number;  // of its first physical line
  std::string text;
};

// Joins "\" continuations; drops blank lines and # comments.
std::vector<LogicalLine> LogicalLines(absl::string_view text) {
  std::vector<LogicalLine> out;
  std::string pending;
  int start = 0;
  int number = 0;
  for (absl::string_view raw : absl::StrSplit(text, '\n')) {
    ++number;
    absl::string_view line = absl::StripTrailingAsciiWhitespace(raw);
    if (pending.empty()) {
      start = number;
      line = absl::StripLeadingAsciiWhitespace(line);
      if (line.empty() || line[0] == '#') {
        continue;
      }
    } else {
      line = absl::StripLeadingAsciiWhitespace(line);
    }
    if (absl::ConsumeSuffix(&line, "\\")) {
      absl::StrAppend(&pending, line);
      continue;
    }
    absl::StrAppend(&pending, line);
    out.push_back({start, std::move(pending)});
    pending.clear();
  }
  if (!pending.empty()) {
    out.push_back({start, std::move(pending)});
  }
  return out;
}

class Importer {
 public:
  explicit Importer(absl::string_view path) : path_(path) {}

  absl::StatusOr<std::string> Run(absl::string_view text) {
    absl::StrAppend(&out_, "# Imported from ", path_,
                    " by knockgate --import-routeros.\n"
                    "# Set [interfaces] to your ports; rules keep their RouterOS order.\n\n"
                    "[interfaces]\nwan = \"net_af_packet0\"\nlan = \"net_af_packet1\"\n\n"
                    "[policy]\nwan-default = \"drop\"\nlan-default = \"accept\"\n");
    for (const LogicalLine& line : LogicalLines(text)) {
      line_ = line.number;
      KG_RETURN_IF_ERROR(Line(line.text));
    }
    // The loader is the judge of values (ports, CIDRs, durations...); map its
    // complaint back to the script line that produced it.
    absl::StatusOr<Config> check = LoadConfig(out_, path_);
    if (!check.ok()) {
      return MapBack(check.status());
    }
    return out_;
  }

 private:
  absl::Status Error(absl::string_view word, absl::string_view why) const {
    return absl::InvalidArgumentError(
        absl::StrCat(path_, ":", line_, ": ", Excerpt(word), ": ", why));
  }

  absl::Status MapBack(const absl::Status& s) const {
    // "PATH:LINE:COL: rest" where LINE is a line of out_.
    absl::string_view msg = s.message();
    if (absl::ConsumePrefix(&msg, absl::StrCat(path_, ":"))) {
      const size_t colon = msg.find(':');
      int toml_line = 0;
      if (colon != absl::string_view::npos && absl::SimpleAtoi(msg.substr(0, colon), &toml_line)) {
        auto it = origin_.upper_bound(toml_line);
        if (it != origin_.begin()) {
          --it;
          absl::string_view rest = msg.substr(colon + 1);
          const size_t next = rest.find(": ");
          return absl::InvalidArgumentError(
              absl::StrCat(path_, ":", it->second, ": ",
                           next == absl::string_view::npos ? rest : rest.substr(next + 2)));
        }
      }
    }
    return s;
  }

  // Splits "key=value" words, honouring RouterOS quoting and escapes.
  absl::StatusOr<std::vector<std::pair<std::string, std::string>>> Words(absl::string_view s) {
    std::vector<std::pair<std::string, std::string>> words;
    size_t i = 0;
    while (i < s.size()) {
      while (i < s.size() && absl::ascii_isspace(static_cast<unsigned char>(s[i]))) {
        ++i;
      }
      if (i == s.size()) {
        break;
      }
      if (s[i] == '[' || (s.substr(i).find("=[") != absl::string_view::npos &&
                          s.substr(i).find("=[") < s.substr(i).find_first_of(" \t"))) {
        i = s.find('[', i);
        const size_t end = s.find(']', i);
        return Error(s.substr(i, end == absl::string_view::npos ? 8 : end - i + 1),
                     "[find ...] and other scripting cannot be expressed; export with plain "
                     "'add' lines (/export terse)");
      }
      std::string key;
      while (i < s.size() && s[i] != '=' &&
             !absl::ascii_isspace(static_cast<unsigned char>(s[i]))) {
        key += s[i++];
      }
      std::string value;
      bool has_value = false;
      if (i < s.size() && s[i] == '=') {
        has_value = true;
        ++i;
        if (i < s.size() && s[i] == '"') {
          ++i;
          bool closed = false;
          while (i < s.size()) {
            const char c = s[i++];
            if (c == '"') {
              closed = true;
              break;
            }
            if (c != '\\' || i == s.size()) {
              value += c;
              continue;
            }
            const char e = s[i++];
            switch (e) {
              case 'n':
                value += '\n';
                break;
              case 'r':
                value += '\r';
                break;
              case 't':
                value += '\t';
                break;
              case '_':
                value += ' ';
                break;
              case 'a':
                value += '\a';
                break;
              case 'b':
                value += '\b';
                break;
              case 'f':
                value += '\f';
                break;
              case 'v':
                value += '\v';
                break;
              default:
                if (absl::ascii_isxdigit(static_cast<unsigned char>(e)) && i < s.size() &&
                    absl::ascii_isxdigit(static_cast<unsigned char>(s[i]))) {
                  int v = 0;
                  absl::SimpleHexAtoi(absl::string_view(&s[i - 1], 2), &v);
                  value += static_cast<char>(v);
                  ++i;
                } else {
                  value += e;  // \" \\ \$ \? and the like stand for themselves
                }
            }
          }
          if (!closed) {
            return Error(key, "unterminated quoted value");
          }
        } else {
          while (i < s.size() && !absl::ascii_isspace(static_cast<unsigned char>(s[i]))) {
            value += s[i++];
          }
        }
      }
      if (!has_value) {
        return Error(key, "expected key=value");
      }
      words.emplace_back(std::move(key), std::move(value));
    }
    return words;
  }

  static bool IsCommand(absl::string_view w) {
    return w == "add" || w == "set" || w == "remove" || w == "print" || w == "export" ||
           w == "enable" || w == "disable" || w == "move" || w.find('=') != absl::string_view::npos;
  }

  absl::Status Line(absl::string_view text) {
    if (text[0] == '/') {
      // "/ip firewall filter" or "/ip/firewall/filter", optionally followed
      // by a command on the same line.
      menu_.clear();
      size_t pos = 1;
      for (;;) {
        while (pos < text.size() && absl::ascii_isspace(static_cast<unsigned char>(text[pos]))) {
          ++pos;
        }
        size_t end = pos;
        while (end < text.size() && !absl::ascii_isspace(static_cast<unsigned char>(text[end]))) {
          ++end;
        }
        const absl::string_view token = text.substr(pos, end - pos);
        if (token.empty() || IsCommand(token)) {
          break;
        }
        for (absl::string_view part : absl::StrSplit(token, '/', absl::SkipEmpty())) {
          menu_.emplace_back(part);
        }
        pos = end;
      }
      text = text.substr(pos);
      if (text.empty()) {
        return absl::OkStatus();
      }
    }
    absl::string_view command = text.substr(0, text.find(' '));
    if (command != "add") {
      return Error(command, "only 'add' commands can be imported");
    }
    const std::string menu = absl::StrJoin(menu_, " ");
    KG_ASSIGN_OR_RETURN(auto words, Words(text.substr(command.size())));
    if (menu == "ip firewall filter" || menu == "ipv6 firewall filter") {
      return Filter(words, menu[2] == 'v');
    }
    if (menu == "ip firewall layer7-protocol") {
      return Simple("layer7-protocol", words, {"name", "regexp", "comment"});
    }
    if (menu == "ip firewall address-list" || menu == "ipv6 firewall address-list") {
      return Simple("address-list", words, {"list", "address", "comment", "disabled"});
    }
    return Error(menu.empty() ? "add" : absl::StrCat("/", menu),
                 "menu not supported (expected /ip firewall filter, layer7-protocol, "
                 "address-list, or /ipv6 firewall filter, address-list)");
  }

  static std::string Quote(absl::string_view v) {
    std::string out = "\"";
    for (char c : v) {
      switch (c) {
        case '"':
          out += "\\\"";
          break;
        case '\\':
          out += "\\\\";
          break;
        case '\n':
          out += "\\n";
          break;
        case '\t':
          out += "\\t";
          break;
        case '\r':
          out += "\\r";
          break;
        default:
          if (static_cast<unsigned char>(c) < 0x20) {
            absl::StrAppend(&out, "\\u00",
                            absl::Hex(static_cast<unsigned char>(c), absl::kZeroPad2));
          } else {
            out += c;
          }
      }
    }
    return out + "\"";
  }

  // Starts a TOML table for the current script line.
  void Begin(absl::string_view table) {
    absl::StrAppend(&out_, "\n# line ", line_, "\n");
    origin_[CountLines()] = line_;
    absl::StrAppend(&out_, "[[", table, "]]\n");
  }
  int CountLines() const {
    return static_cast<int>(std::count(out_.begin(), out_.end(), '\n')) + 1;
  }

  absl::Status KeyValue(absl::string_view key, absl::string_view value) {
    if (key == "disabled" || key == "log") {
      if (value != "yes" && value != "no" && value != "true" && value != "false") {
        return Error(absl::StrCat(key, "=", value), "expected yes or no");
      }
      absl::StrAppend(&out_, key, " = ", value == "yes" || value == "true" ? "true" : "false",
                      "\n");
    } else {
      absl::StrAppend(&out_, key, " = ", Quote(value), "\n");
    }
    return absl::OkStatus();
  }

  absl::Status Simple(absl::string_view table,
                      const std::vector<std::pair<std::string, std::string>>& words,
                      const std::vector<absl::string_view>& keys) {
    Begin(table);
    for (const auto& [k, v] : words) {
      if (std::find(keys.begin(), keys.end(), k) == keys.end()) {
        return Error(k, absl::StrCat("not supported in /", absl::StrJoin(menu_, " ")));
      }
      KG_RETURN_IF_ERROR(KeyValue(k, v));
    }
    return absl::OkStatus();
  }

  absl::Status Filter(const std::vector<std::pair<std::string, std::string>>& words, bool v6) {
    static const std::vector<absl::string_view> kActions = {
        "accept", "drop",       "add-src-to-address-list", "add-dst-to-address-list",
        "log",    "passthrough"};
    Begin("filter");
    bool have_action = false;
    for (const auto& [k, v] : words) {
      // The loader's [[filter]] keys are RouterOS's names; `family` is ours
      // (it comes from the menu, /ip or /ipv6).
      const std::vector<absl::string_view>& keys = FilterKeys();
      if (k == "family" || std::find(keys.begin(), keys.end(), k) == keys.end()) {
        return Error(k, "not supported by knockgate (no equivalent matcher or parameter)");
      }
      if (k == "action") {
        if (std::find(kActions.begin(), kActions.end(), v) == kActions.end()) {
          return Error(absl::StrCat("action=", v), "action not supported by knockgate");
        }
        have_action = true;
      }
      KG_RETURN_IF_ERROR(KeyValue(k, v));
    }
    if (!have_action) {
      KG_RETURN_IF_ERROR(KeyValue("action", "accept"));  // RouterOS's default
    }
    if (v6) {
      KG_RETURN_IF_ERROR(KeyValue("family", "ipv6"));
    }
    return absl::OkStatus();
  }

  std::string path_;
  int line_ = 0;
  std::vector<std::string> menu_;
  std::string out_;
  std::map<int, int> origin_;  // first TOML line of a table -> its script line
};

}  // namespace

absl::StatusOr<std::string> ImportRouterOs(absl::string_view text, absl::string_view path) {
  return Importer(path).Run(text);
}

}  // namespace knockgate
