// Checks across sections, made once the whole file is read: names that may
// point forward (a layer7 protocol defined below its rule) and the sharding rule.
#include "policy/section_loaders.h"

#include "absl/strings/str_cat.h"
#include "policy/knock_rotation.h"

namespace knockgate {

// References that may point forward in the file (a rule naming a layer7
// protocol defined below it) are resolved once everything is read.
absl::Status CheckCrossReferences(const TomlReader& in, const Config& config) {
  // Lists are sharded by the WAN-side address (DESIGN.md section 3). A rule
  // that could add a LAN-side address cannot be sharded over several workers.
  if (config.dataplane.workers > 1) {
    for (const FilterRule& r : config.filters) {
      if (r.disabled ||
          (r.action != Action::kAddSrcToAddressList && r.action != Action::kAddDstToAddressList)) {
        continue;
      }
      // The side a packet must arrive on for the added address to be WAN-side.
      const InterfaceList needed =
          r.action == Action::kAddSrcToAddressList ? InterfaceList::kWan : InterfaceList::kLan;
      const bool only_needed = r.in_interface_list && ((r.in_interface_list->value == needed) !=
                                                       r.in_interface_list->negated);
      if (!only_needed) {
        return in.Error(
            r.pos, "action",
            absl::StrCat(ActionName(r.action), " here can add LAN-side addresses to \"",
                         r.address_list, "\", which cannot be sharded over ",
                         config.dataplane.workers, " workers: add in-interface-list = \"",
                         InterfaceListName(needed), "\" or set workers = 1"));
      }
    }
  }
  // dst-limit buckets live in the shard of the flow's WAN-side address: a
  // mode whose key lacks it cannot be sharded.
  if (config.dataplane.workers > 1) {
    for (const FilterRule& r : config.filters) {
      if (r.disabled || !r.dst_limit) {
        continue;
      }
      const DstLimitMode mode = r.dst_limit->mode;
      if (mode == DstLimitMode::kSrcAndDstAddresses || mode == DstLimitMode::kAddressesAndDstPort) {
        continue;  // both addresses: always the WAN-side one
      }
      // src-address is WAN-side on WAN-arriving packets, dst-address on LAN-arriving ones.
      const bool src = mode == DstLimitMode::kSrcAddress;
      const InterfaceList needed = src ? InterfaceList::kWan : InterfaceList::kLan;
      const bool only_needed =
          mode != DstLimitMode::kDstPort && r.in_interface_list &&
          ((r.in_interface_list->value == needed) != r.in_interface_list->negated);
      if (!only_needed) {
        return in.Error(
            r.dst_limit_pos, "dst-limit",
            mode == DstLimitMode::kDstPort
                ? absl::StrCat("mode dst-port keys flows by port alone, which cannot be sharded "
                               "over ",
                               config.dataplane.workers,
                               " workers: use addresses-and-dst-port or set workers = 1")
                : absl::StrCat("mode ", DstLimitModeName(mode),
                               " here can key flows by a LAN-side address, which cannot be "
                               "sharded over ",
                               config.dataplane.workers, " workers: add in-interface-list = \"",
                               InterfaceListName(needed), "\" or set workers = 1"));
      }
    }
  }
  // A hook's lists must be lists something fills or reads.
  for (const HookSection& h : config.hooks) {
    for (const std::string& name : h.lists) {
      bool known = false;
      for (const FilterRule& r : config.filters) {
        known = known || r.address_list == name ||
                (r.src_address_list && r.src_address_list->value == name) ||
                (r.dst_address_list && r.dst_address_list->value == name);
      }
      for (const SpaSection& s : config.spa) {
        known = known || s.grant_list == name;
      }
      for (const StaticAddress& a : config.static_addresses) {
        known = known || a.list == name;
      }
      if (!known) {
        return in.Error(
            h.lists_pos, "list",
            absl::StrCat("no rule, [[spa]] or [[address-list]] names list \"", name, "\""));
      }
    }
  }
  for (const FilterRule& r : config.filters) {
    if (!r.layer7_protocol) {
      continue;
    }
    bool found = false;
    for (const Layer7Protocol& p : config.layer7_protocols) {
      found = found || p.name == r.layer7_protocol->value;
    }
    if (!found) {
      return in.Error(
          r.layer7_protocol_pos, "layer7-protocol",
          absl::StrCat("no [[layer7-protocol]] is named \"", r.layer7_protocol->value, "\""));
    }
  }
  // A rotating sequence never lands on a port a rule serves, so its range
  // must keep enough ports once those are out.
  if (!config.rotating_knocks.empty()) {
    const PortMask served = ServedPorts(config);
    for (const RotatingKnock& k : config.rotating_knocks) {
      uint32_t free = 0;
      for (uint32_t p = k.port_lo; p <= k.port_hi; ++p) {
        free += served.test(p) ? 0 : 1;
      }
      if (free < kMinRotatingPorts) {
        return in.Error(k.pos, "port-range",
                        absl::StrCat(k.port_lo, "-", k.port_hi, " keeps ", free,
                                     " ports once the ports rules serve are out; a rotating "
                                     "knock needs at least ",
                                     kMinRotatingPorts));
      }
    }
  }
  return absl::OkStatus();
}

}  // namespace knockgate
