#!/usr/bin/env bash
# Stand-ins for the images' two base images, `python:3.10-slim` and `node:20-slim`, for a machine that reaches
# Debian's mirror but not Docker Hub. Each is Debian 12 (debootstrap, minbase) with the runtime libraries
# python:3.10-slim carries, plus this machine's CPython 3.10 (pyenv) or Node.js 20 in /usr/local. They are
# tagged with the official names, so the Dockerfiles build unchanged:
#
#   sudo bash deploy/docker/local-base-images.sh     # needs debootstrap and a running Docker daemon
#   docker build -f deploy/docker/rasa.Dockerfile -t hearth-rasa:dev .
#
# Where Docker Hub is reachable, do not run this: pull the official images (pinned by digest).
set -euo pipefail

python_home="${PYTHON_HOME:-$(pyenv prefix 3.10 2>/dev/null || true)}"
node_bin="${NODE_BIN:-$(command -v node || true)}"
mirror="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
work="${WORK_DIR:-/tmp/hearth-base-images}"
[ -x "$python_home/bin/python3.10" ] || { echo "no CPython 3.10 (set PYTHON_HOME)" >&2; exit 2; }
[[ -x "$node_bin" && "$("$node_bin" --version)" == v20.* ]] || { echo "no Node.js 20 (set NODE_BIN)" >&2; exit 2; }
npm_home="$(dirname "$(dirname "$(readlink -f "$(command -v npm)")")")"  # .../node_modules/npm

libs=ca-certificates,netbase,tzdata,libssl3,libsqlite3-0,libffi8,zlib1g,libbz2-1.0,liblzma5,libreadline8
libs=$libs,libncursesw6,libuuid1,libexpat1,libnsl2,libtirpc3,libcrypt1,libstdc++6,libgomp1
mkdir -p "$work"
if [ ! -f "$work/debian/etc/debian_version" ]; then
    rm -rf "$work/debian"
    debootstrap --variant=minbase --include="$libs" bookworm "$work/debian" "$mirror"
    rm -rf "$work/debian/var/cache/apt/archives/"*.deb "$work/debian/var/lib/apt/lists/"*
fi
# the certificate authorities this machine trusts (a TLS-inspecting proxy's included), for pip and npm in builds
cp /etc/ssl/certs/ca-certificates.crt "$work/debian/etc/ssl/certs/ca-certificates.crt"

import() {  # import <root folder> <tag> <CMD json>
    tar -C "$1" -c . | docker import \
        --change 'ENV PATH=/usr/local/bin:/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin' \
        --change 'ENV LANG=C.UTF-8' --change 'ENV NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt' \
        --change 'ENV PIP_CERT=/etc/ssl/certs/ca-certificates.crt' \
        --change "CMD $3" - "$2"
}

root="$work/python"
rm -rf "$root" && cp -a "$work/debian" "$root"
cp -a "$python_home/." "$root/usr/local/"
rm -rf "$root/usr/local/lib/python3.10/test"
# pyenv's scripts name the interpreter by its build path; libpython is found through ld.so's cache
sed -i "1s|^#!$python_home/bin/|#!/usr/local/bin/|" "$root"/usr/local/bin/* 2>/dev/null || true
echo /usr/local/lib > "$root/etc/ld.so.conf.d/usr-local.conf"
chroot "$root" ldconfig
chroot "$root" /usr/local/bin/python3.10 -c "import ssl, sqlite3, ctypes, lzma, bz2, venv"
import "$root" python:3.10-slim '["python3"]'

root="$work/node"
rm -rf "$root" && cp -a "$work/debian" "$root"
install -D -m 755 "$node_bin" "$root/usr/local/bin/node"
mkdir -p "$root/usr/local/lib/node_modules" && cp -a "$npm_home" "$root/usr/local/lib/node_modules/npm"
ln -sf ../lib/node_modules/npm/bin/npm-cli.js "$root/usr/local/bin/npm"
chroot "$root" /usr/local/bin/node --version
import "$root" node:20-slim '["node"]'
docker image ls python:3.10-slim && docker image ls node:20-slim
