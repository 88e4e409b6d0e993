// A [[spa]] table to an SpaSection: keys inline or from an fwknop-style key
// file, grant list and timeout, age, source and access checks, a budget.
#include <fstream>
#include <sstream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/read_file.h"
#include "policy/section_loaders.h"
#include "spa/spa_verifier.h"

namespace knockgate {

absl::Status LoadSpa(const TomlReader& in, const toml::table& t, Config& config) {
  SpaSection s;
  s.pos = PosOf(t.source());
  std::string key_file;
  SourcePos key_pos = s.pos;
  for (auto&& [k, v] : t) {
    const absl::string_view key = ToAbsl(k.str());
    if (key == "name") {
      KG_ASSIGN_OR_RETURN(s.name, in.String(v, key));
    } else if (key == "port") {
      KG_ASSIGN_OR_RETURN(const uint32_t port, in.Integer(v, key, 1, 65535));
      s.port = static_cast<uint16_t>(port);
    } else if (key == "in-interface-list") {
      KG_ASSIGN_OR_RETURN(std::string side, in.String(v, key));
      if (side != "WAN" && side != "LAN") {
        return in.Error(v, key, absl::StrCat("expected \"WAN\" or \"LAN\", got \"", side, "\""));
      }
      s.in = side == "WAN" ? InterfaceList::kWan : InterfaceList::kLan;
    } else if (key == "key-base64" || key == "hmac-key-base64") {
      KG_ASSIGN_OR_RETURN(std::string value, in.String(v, key));
      std::vector<uint8_t> decoded;
      if (!DecodeBase64(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(value.data()),
                                                 value.size()),
                        decoded) ||
          decoded.empty() || (key == "key-base64" && decoded.size() > 32)) {
        // Never quote a key, not even a bad one.
        return in.Error(v, key, "expected the base64 key fwknop --key-gen prints");
      }
      (key == "key-base64" ? s.key_base64 : s.hmac_key_base64) = value;
      key_pos = PosOf(v.source());
    } else if (key == "key-file") {
      KG_ASSIGN_OR_RETURN(key_file, in.String(v, key));
      key_pos = PosOf(v.source());
    } else if (key == "grant-list") {
      KG_ASSIGN_OR_RETURN(s.grant_list, in.String(v, key));
      if (s.grant_list.empty()) {
        return in.Error(v, key, "expected a non-empty list name");
      }
    } else if (key == "grant-timeout" || key == "max-age") {
      KG_ASSIGN_OR_RETURN(const Nanos d, in.Duration(v, key));
      if (key == "max-age" && d == kNever) {
        return in.Error(v, key, "expected a duration such as \"120s\"");
      }
      (key == "grant-timeout" ? s.grant_timeout : s.max_age) = d;
    } else if (key == "require-source-address") {
      KG_ASSIGN_OR_RETURN(s.require_source_address, in.Bool(v, key));
    } else if (key == "access") {
      const toml::array* arr = v.as_array();
      if (arr == nullptr) {
        return in.WrongType(v, key, "an array such as [\"tcp/22\", \"tcp/8080\"]");
      }
      for (const toml::node& item : *arr) {
        KG_ASSIGN_OR_RETURN(std::string text, in.String(item, key));
        const std::vector<absl::string_view> parts = absl::StrSplit(text, '/');
        uint32_t port = 0;
        if (parts.size() != 2 || (parts[0] != "tcp" && parts[0] != "udp") ||
            !absl::SimpleAtoi(parts[1], &port) || port < 1 || port > 65535) {
          return in.Error(item, key,
                          absl::StrCat("\"", text, "\": expected \"tcp/PORT\" or \"udp/PORT\""));
        }
        s.access.emplace_back(parts[0] == "tcp" ? 6 : 17, static_cast<uint16_t>(port));
      }
    } else if (key == "source") {
      // A string or an array of strings: addresses, prefixes, or "ANY".
      bool any = false;
      KG_RETURN_IF_ERROR(in.ForEachString(
          v, key, "an address, a prefix, \"ANY\" or an array of them",
          [&](const toml::node& item, std::string text) {
            if (text == "ANY" || text == "any") {
              any = true;
              return absl::OkStatus();
            }
            absl::StatusOr<Cidr> cidr = ParseCidr(text);
            if (!cidr.ok()) {
              return in.Error(item, key,
                              absl::StrCat("\"", text, "\": expected an address, a prefix such as ",
                                           "\"203.0.113.0/24\", or \"ANY\""));
            }
            s.source.push_back(*cidr);
            return absl::OkStatus();
          }));
      if (any) {
        s.source.clear();
      }
    } else if (key == "verify-rate") {
      KG_ASSIGN_OR_RETURN(s.verify_rate, in.Integer(v, key, 1, 10'000'000));
    } else if (key == "comment") {
      KG_ASSIGN_OR_RETURN(s.comment, in.String(v, key));
    } else if (key == "disabled") {
      KG_ASSIGN_OR_RETURN(s.disabled, in.Bool(v, key));
    } else {
      return in.UnknownKey(
          k, {"name", "port", "in-interface-list", "key-base64", "hmac-key-base64", "key-file",
              "grant-list", "grant-timeout", "max-age", "require-source-address", "access",
              "source", "verify-rate", "comment", "disabled"});
    }
  }
  if (s.name.empty()) {
    return in.Error(s.pos, "name", "missing: every [[spa]] needs a name");
  }
  if (!key_file.empty()) {
    if (!s.key_base64.empty() || !s.hmac_key_base64.empty()) {
      return in.Error(key_pos, "key-file", "give the keys inline or in key-file, not both");
    }
    absl::StatusOr<std::string> text = ReadFileBounded(key_file, "SPA key file");
    if (!text.ok()) {
      return in.Error(key_pos, "key-file", text.status().message());
    }
    for (absl::string_view line : absl::StrSplit(*text, '\n')) {
      line = absl::StripAsciiWhitespace(line);
      std::string* target = absl::ConsumePrefix(&line, "HMAC_KEY_BASE64") ? &s.hmac_key_base64
                            : absl::ConsumePrefix(&line, "KEY_BASE64")    ? &s.key_base64
                                                                          : nullptr;
      if (target != nullptr) {
        line = absl::StripAsciiWhitespace(line);
        absl::ConsumePrefix(&line, ":");
        *target = std::string(absl::StripAsciiWhitespace(line));
      }
    }
    if (absl::Status keys = ParseSpaKeyFile(*text).status(); !keys.ok()) {
      return in.Error(key_pos, "key-file", absl::StrCat(key_file, ": ", keys.message()));
    }
  }
  if (s.key_base64.empty() || s.hmac_key_base64.empty()) {
    return in.Error(s.pos, "hmac-key-base64",
                    "missing: every [[spa]] needs key-base64 and hmac-key-base64 (or key-file); "
                    "there is no unauthenticated mode");
  }
  if (config.spa.size() == kMaxSpaSections) {
    return in.Error(s.pos, "name",
                    absl::StrCat("[[spa]] \"", s.name, "\": at most ", kMaxSpaSections,
                                 " [[spa]] sections (users) are supported"));
  }
  for (const SpaSection& other : config.spa) {
    if (other.name == s.name) {
      return in.Error(
          s.pos, "name",
          absl::StrCat("[[spa]] \"", s.name, "\" is already defined at line ", other.pos.line));
    }
  }
  config.spa.push_back(std::move(s));
  return absl::OkStatus();
}

}  // namespace knockgate
