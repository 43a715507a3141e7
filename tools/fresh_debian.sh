#!/usr/bin/env bash
# Tries the README's two commands as a new user would: a fresh Debian or Ubuntu root (debootstrap),
# this repository cloned into it WITHOUT ../shared, the README's apt line, then `make run` and
# `make test`. Prints each step's exit code and the test summary. Needs root (debootstrap, chroot,
# mounts), the distribution's archive and PyPI; 6.5-7 minutes a suite here on 2 cores (8.5 with
# CHECK_APT=1). Not part of `make test`.
#
#   sudo tools/fresh_debian.sh trixie      # Debian 13, Python 3.13
#   sudo tools/fresh_debian.sh bookworm    # Debian 12, Python 3.11
#   sudo tools/fresh_debian.sh noble       # Ubuntu 24.04, Python 3.12 (needs Ubuntu's archive keyring)
#   sudo CHECK_APT=1 tools/fresh_debian.sh noble   # then `make check-apt` there: the root's own numpy 1.x and OpenCV
#
# A second call reuses the root (delete ROOT to start over) but always clones afresh. The clone is
# of the committed HEAD of this checkout.
set -euo pipefail
suite=${1:?usage: tools/fresh_debian.sh bookworm|trixie|noble [ROOT]}
root=${2:-/var/tmp/fer-root-$suite}
repo=$(git -C "$(dirname "$0")" rev-parse --show-toplevel)
[ "$(id -u)" = 0 ] || { echo "error: tools/fresh_debian.sh needs root (debootstrap, chroot, mounts)"; exit 2; }
command -v debootstrap >/dev/null || { echo "error: needs debootstrap (apt install debootstrap)"; exit 2; }
case $suite in
  bookworm|trixie) mirror=${MIRROR:-http://deb.debian.org/debian}; keyring=(); script=(); sources= ;;
  noble)
    mirror=${MIRROR:-http://archive.ubuntu.com/ubuntu}
    key=/usr/share/keyrings/ubuntu-archive-keyring.gpg
    [ -f "$key" ] || { echo "error: needs Ubuntu's archive keyring $key (the ubuntu-keyring package)"; exit 2; }
    keyring=(--keyring="$key")
    # A Debian 12 debootstrap has no script named noble; Ubuntu's scripts all link to gutsy.
    scripts=/usr/share/debootstrap/scripts
    script=(); [ -e "$scripts/$suite" ] || script=("$scripts/gutsy")
    # What an Ubuntu install enables, not debootstrap's main alone: python3-venv is in universe.
    sources="deb $mirror $suite main restricted universe multiverse
deb $mirror $suite-updates main restricted universe multiverse
deb $mirror $suite-security main restricted universe multiverse" ;;
  *) echo "error: unknown suite $suite (bookworm, trixie or noble)"; exit 2 ;;
esac

if [ ! -x "$root/usr/bin/apt-get" ]; then
  echo "== debootstrap $suite into $root"
  debootstrap --variant=minbase --include=ca-certificates,git,iproute2,procps "${keyring[@]}" "$suite" "$root" \
    "$mirror" "${script[@]}" \
    > "/var/tmp/debootstrap-$suite.log" 2>&1 || { tail -n 20 "/var/tmp/debootstrap-$suite.log"; exit 1; }
  [ -z "$sources" ] || echo "$sources" > "$root/etc/apt/sources.list"
fi
mounted=()
# bind SOURCE [TARGET [OPTIONS]]: SOURCE at TARGET (default: the same path) inside the root.
bind() { local at=$root${2:-$1}; mkdir -p "$at"; mount --bind ${3:+-o "$3"} "$1" "$at"; mounted=("$at" "${mounted[@]}"); }
cleanup() { for m in "${mounted[@]}"; do umount -l "$m" || true; done; }
trap cleanup EXIT
# The root bound onto itself: a mount point, as / is on a real machine (`ip netns exec` needs it).
mount --bind "$root" "$root"; mounted=("$root")
mount -t proc proc "$root/proc"; mounted=("$root/proc" "${mounted[@]}")
bind /sys; bind /dev; bind /dev/pts; bind /dev/shm
cp /etc/resolv.conf "$root/etc/resolv.conf"
# This machine reaches PyPI through a TLS proxy whose certificate the host's bundle holds.
cp /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/host-ca-certificates.crt"

rm -rf "$root/root/fer_ros"
# A reused root keeps CHECK_APT's empty mount point: the clone must see no ../shared at all.
[ ! -d "$root/root/shared" ] || rmdir "$root/root/shared"
git clone --quiet "$repo" "$root/root/fer_ros"
in_root() { chroot "$root" /usr/bin/env -i HOME=/root PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
  LANG=C.UTF-8 PIP_CERT=/etc/ssl/certs/host-ca-certificates.crt PIP_DEFAULT_TIMEOUT=180 bash -c "$1"; }

echo "== $(in_root '. /etc/os-release; echo $PRETTY_NAME'), $(in_root 'python3 --version 2>/dev/null || echo no python3 yet')"
echo "== the README's apt line"
in_root 'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv python3-dev cmake g++ make > /var/tmp/apt.log 2>&1' \
  || { tail -n 20 "$root/var/tmp/apt.log"; exit 1; }
echo "== $(in_root 'python3 --version'); ../shared: $(in_root 'ls -d /root/shared 2>/dev/null || echo absent')"
set +e
echo "== make run"
start=$(date +%s)
in_root 'cd /root/fer_ros && make run' > "$root/var/tmp/make-run.log" 2>&1
run_rc=$?
tail -n 12 "$root/var/tmp/make-run.log"
echo "make run: exit $run_rc in $(( $(date +%s) - start )) s (log $root/var/tmp/make-run.log)"
echo "== make test"
start=$(date +%s)
in_root 'cd /root/fer_ros && make test PYTEST_ARGS="-p no:cacheprovider -rs"' > "$root/var/tmp/make-test.log" 2>&1
test_rc=$?
grep -E "^SKIPPED|^FAILED|^ERROR|passed|failed" "$root/var/tmp/make-test.log" | tail -n 60
echo "make test: exit $test_rc in $(( $(date +%s) - start )) s (log $root/var/tmp/make-test.log)"
apt_rc=0
if [ -n "${CHECK_APT:-}" ]; then
  # The distribution's own numpy 1.x and OpenCV under the README's ROS-install pip line; the JAFFE
  # comparison reads ../shared, bound read-only beside the clone for this step only.
  echo "== make check-apt"
  shared=$(dirname "$repo")/shared
  [ ! -d "$shared" ] || bind "$shared" /root/shared ro
  in_root 'cd /root/fer_ros && make check-apt' > "$root/var/tmp/check-apt.log" 2>&1
  apt_rc=$?
  grep -E "^== |^before|^after|JAFFE accuracy|^fer-run:|error" "$root/var/tmp/check-apt.log"
  echo "make check-apt: exit $apt_rc (log $root/var/tmp/check-apt.log)"
fi
echo "== $suite: make run exit $run_rc, make test exit $test_rc${CHECK_APT:+, make check-apt exit $apt_rc}"
[ "$run_rc" = 0 ] && [ "$test_rc" = 0 ] && [ "$apt_rc" = 0 ]
