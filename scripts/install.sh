#!/usr/bin/env bash
# Installs the published appliance and its systemd integration (what `make install` runs after `make publish`).
# Environment: PUBLISH_DIR (the `dotnet publish` output, required), DESTDIR (staging root; empty: this system),
# PREFIX (program folder, default /opt/appliance), SYSCONFDIR (default /etc), UNITDIR (default $SYSCONFDIR/systemd/system).
# An existing settings file or API token is never overwritten. Works without systemd as PID 1 (containers): the user
# is still created with systemd-sysusers, only daemon-reload is skipped.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
pub=${PUBLISH_DIR:?PUBLISH_DIR must name the published appliance}
root=${DESTDIR:-}
root=${root%/}
prefix=${PREFIX:-/opt/appliance}
sysconf=${SYSCONFDIR:-/etc}
unitdir=${UNITDIR:-$sysconf/systemd/system}
say() { echo "install: $*"; }

[ -x "$pub/appliance" ] || { say "$pub/appliance not found (run make publish first)" >&2; exit 2; }
case "$prefix" in
  /|/usr|/usr/local|/opt|/etc|/var) say "refusing PREFIX=$prefix: give the program its own folder" >&2; exit 2 ;;
esac

# 1. The service account, in the target's own user database (DESTDIR gets its own /etc/passwd).
install -d -m 0755 "$root/etc" "$root$sysconf/sysusers.d" "$root$sysconf/tmpfiles.d"
install -m 0644 "$here/linux/systemd/appliance.sysusers.conf" "$root$sysconf/sysusers.d/appliance.conf"
if command -v systemd-sysusers >/dev/null; then
  systemd-sysusers --root="${root:-/}" "$root$sysconf/sysusers.d/appliance.conf"
elif [ -z "$root" ]; then
  getent passwd appliance >/dev/null || useradd --system --user-group --home-dir /var/lib/appliance --shell /usr/sbin/nologin appliance
else
  say "systemd-sysusers is missing (apt-get install systemd): cannot create the user under DESTDIR" >&2; exit 1
fi
if [ -n "$root" ]; then
  uid=$(awk -F: '$1 == "appliance" { print $3 }' "$root/etc/passwd")
  gid=$(awk -F: '$1 == "appliance" { print $3 }' "$root/etc/group")
else
  uid=$(id -u appliance)
  gid=$(getent group appliance | cut -d: -f3)
fi
[ -n "$uid" ] && [ -n "$gid" ] || { say "user appliance was not created" >&2; exit 1; }

# 2. The program (replacing an older install of it).
if [ -e "$root$prefix" ] && [ ! -e "$root$prefix/appliance.dll" ]; then
  say "$root$prefix exists and is not an appliance install: not touching it" >&2; exit 2
fi
rm -rf "$root$prefix"
install -d -m 0755 "$root$prefix"
cp -R "$pub/." "$root$prefix/"
install -m 0644 "$here/README.md" "$root$prefix/README.md"
chown -R 0:0 "$root$prefix"
find "$root$prefix" -type d -exec chmod 0755 {} +
find "$root$prefix" -type f -exec chmod 0644 {} +
chmod 0755 "$root$prefix/appliance"

# 3. systemd: the unit (ExecStart at PREFIX), tmpfiles.
install -d -m 0755 "$root$unitdir"
sed "s|@PREFIX@|$prefix|g" "$here/linux/systemd/appliance.service" > "$root$unitdir/appliance.service"
chmod 0644 "$root$unitdir/appliance.service"
install -m 0644 "$here/linux/systemd/appliance.tmpfiles.conf" "$root$sysconf/tmpfiles.d/appliance.conf"

# 4. Folders (as the tmpfiles entry says; created here too so DESTDIR and containers get them).
install -d -m 0750 -o 0 -g "$gid" "$root$sysconf/appliance"
for d in /var/lib/appliance /var/lib/appliance/recordings /var/lib/appliance/state /var/log/appliance; do
  install -d -m 0750 -o "$uid" -g "$gid" "$root$d"
done

# 5. Settings (root:appliance 0640) and the API token (appliance 0600), never overwritten.
conf="$root$sysconf/appliance/appliance.json"
if [ -e "$conf" ]; then
  say "kept the existing $sysconf/appliance/appliance.json"
else
  sed "s|/etc/appliance/|$sysconf/appliance/|g" "$here/linux/systemd/appliance.json" > "$conf"
  chown 0:"$gid" "$conf"
  chmod 0640 "$conf"
  say "wrote $sysconf/appliance/appliance.json (capture interface eth1: set yours)"
fi
token="$root$sysconf/appliance/api-token"
if [ -e "$token" ]; then
  say "kept the existing API token $sysconf/appliance/api-token"
else
  (umask 077; head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$token"; echo >> "$token")
  chown "$uid":"$gid" "$token"
  chmod 0600 "$token"
  say "generated the API token $sysconf/appliance/api-token"
fi

# 6. Tell systemd, when it runs this system.
if [ -z "$root" ] && [ -d /run/systemd/system ]; then
  systemctl daemon-reload
  systemd-tmpfiles --create "$sysconf/tmpfiles.d/appliance.conf" || true
  say "done. Set Interfaces in $sysconf/appliance/appliance.json, then: systemctl enable --now appliance"
elif [ -n "$root" ]; then
  say "done under DESTDIR=$root (no daemon-reload)"
else
  say "done. systemd is not running here (PID 1 is $(cat /proc/1/comm 2>/dev/null || echo unknown), e.g. a container):" \
    "skipped daemon-reload and enable; start it by hand (as root): $prefix/appliance run --settings $sysconf/appliance/appliance.json"
fi
