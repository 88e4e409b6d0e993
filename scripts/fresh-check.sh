#!/usr/bin/env bash
# The README's two commands as a new user meets them: builds a minbase
# Debian 12 root with debootstrap, clones this repository's HEAD into it, and
# runs ./scripts/demo.sh and then ./scripts/test.sh there, timing each.
#
#   scripts/fresh-check.sh [ROOT]     (as root; ROOT defaults to /var/tmp/knockgate-fresh)
#
# ROOT is made anew each run and left behind for inspection. Each command's
# whole output goes to ROOT.demo.log and ROOT.test.log beside it. Too slow for
# every CI run (about 40 minutes on 2 CPUs); run it before resolving anything
# that touches scripts/, the install list or the README's commands.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
root=${1:-/var/tmp/knockgate-fresh}
source "$repo/scripts/step.sh"

if [[ $(id -u) -ne 0 ]]; then
  echo "fresh-check: needs root (debootstrap, chroot, mounts)" >&2
  exit 1
fi
if ! command -v debootstrap >/dev/null; then
  step install-debootstrap apt-get install -y -qq --no-install-recommends debootstrap
fi

unmount_root() {
  if mountpoint -q "$root"; then
    umount -R -l "$root"
  fi
}
trap unmount_root EXIT
unmount_root
rm -rf "$root"
mkdir -p "$root"

# The mirror this machine's apt uses, so the root sees the same archive.
mirror=$(sed -n 's/^URIs:[[:space:]]*//p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -n 1)
mirror=${mirror:-http://deb.debian.org/debian}
start=$SECONDS
step debootstrap debootstrap --variant=minbase bookworm "$root" "$mirror"
echo "fresh-check: debootstrap --variant=minbase bookworm: $((SECONDS - start)) s"

# What a Debian 12 machine's apt reads (main, updates, security), and DNS.
rm -f "$root"/etc/apt/sources.list
shopt -s nullglob
for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
  [[ -f $f ]] && cp "$f" "$root$f"
done
shopt -u nullglob
cp -L /etc/resolv.conf "$root/etc/resolv.conf"
git clone --quiet "$repo" "$root/root/knockgate"
echo "fresh-check: cloned $(git -C "$root/root/knockgate" rev-parse --short HEAD) into $root/root/knockgate"

# Network namespaces need / to be a mount point inside the root.
mount --bind "$root" "$root"
mount -t proc proc "$root/proc"
mount --rbind /sys "$root/sys" && mount --make-rslave "$root/sys"
mount --rbind /dev "$root/dev" && mount --make-rslave "$root/dev"
mount -t tmpfs tmpfs "$root/run"

# A login's environment, not this shell's (no tools of this machine on PATH).
in_root() {
  chroot "$root" /usr/bin/env -i HOME=/root TERM="${TERM:-dumb}" LANG=C.UTF-8 \
    PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    bash -c "cd /root/knockgate && $1"
}

timed() {
  local name=$1 cmd=$2 t0=$SECONDS rc=0
  echo "fresh-check: $name: $cmd"
  in_root "$cmd" >"$root.$name.log" 2>&1 || rc=$?
  local took=$((SECONDS - t0))
  printf 'fresh-check: %s: exit %d in %dm%02ds (log: %s)\n' "$name" "$rc" $((took / 60)) \
    $((took % 60)) "$root.$name.log"
  if ((rc != 0)); then
    tail -n 60 "$root.$name.log"
  fi
  return "$rc"
}

status=0
timed demo ./scripts/demo.sh || status=1
in_root "./scripts/lab.sh down demo" >/dev/null 2>&1 || true
timed test ./scripts/test.sh || status=1
exit $status
