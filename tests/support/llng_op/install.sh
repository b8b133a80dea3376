#!/usr/bin/env bash
# Installs the fourth test OP, LemonLDAP::NG's portal, into target/llng-op/root (run by
# scripts/test). Debian 12's lemonldap-ng 2.16 cannot send back-channel logout tokens
# (Issuer/OpenIDConnect.pm: "TODO #1194"; its discovery says
# backchannel_logout_supported: false), so this takes Debian 13's 2.21 packages, which
# are Perl only (Architecture: all): `apt-get download` of the three with a private apt
# state under target/ (the machine's sources and installed packages are not touched),
# unpacked with dpkg-deb -x. The Perl modules they need come from the machine's own
# Debian release: scripts/test installs those named in debian-packages.txt beside this.
# Does nothing when the unpacked tree is there and loads.
set -euo pipefail
cd "$(dirname "$0")/../../.."
out=target/llng-op
root="$out/root"
suite=${LLNG_OP_SUITE:-trixie}
loads() {
  [ -f "$root/VERSION" ] &&
    PERL5LIB="$root/usr/share/perl5" perl -e \
      'use Lemonldap::NG::Portal::Main; use Lemonldap::NG::Portal::Issuer::OpenIDConnect;' 2>/dev/null
}
if loads; then
  exit 0
fi
command -v apt-get >/dev/null && command -v dpkg-deb >/dev/null || {
  echo "apt-get and dpkg-deb (Debian) are required for the LemonLDAP::NG test OP" >&2
  exit 1
}
echo "== installing LemonLDAP::NG (Debian $suite, unpacked) into $root"
apt="$PWD/$out/apt"
rm -rf "$apt" "$root" "$out/debs"
mkdir -p "$apt/lists/partial" "$apt/cache/archives/partial" "$out/debs"
echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian $suite main" \
  > "$apt/sources.list"
opts=(-o "Dir::Etc::sourcelist=$apt/sources.list" -o Dir::Etc::sourceparts=- \
  -o "Dir::State::Lists=$apt/lists" -o "Dir::Cache=$apt/cache" -o Debug::NoLocking=1)
apt-get "${opts[@]}" -qq update
pkgs=(liblemonldap-ng-common-perl liblemonldap-ng-handler-perl liblemonldap-ng-portal-perl)
(cd "$out/debs" && apt-get "${opts[@]}" -qq download "${pkgs[@]}" 2>&1 |
  grep -v 'Download is performed unsandboxed' || true)
mkdir -p "$root.tmp"
for p in "${pkgs[@]}"; do
  deb=$(ls "$out/debs/${p}_"*.deb)
  dpkg-deb -x "$deb" "$root.tmp"
done
dpkg-deb -f "$(ls "$out/debs/liblemonldap-ng-portal-perl_"*.deb)" Version > "$root.tmp/VERSION"
rm -rf "$apt"
mv "$root.tmp" "$root"
loads || {
  echo "LemonLDAP::NG does not load from $root: are the Perl packages of deps.sh installed?" >&2
  PERL5LIB="$root/usr/share/perl5" perl -e 'use Lemonldap::NG::Portal::Main;' >&2 || true
  exit 1
}
echo "   LemonLDAP::NG $(cat "$root/VERSION")"
