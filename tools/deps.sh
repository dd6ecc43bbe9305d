# SPDX-License-Identifier: Apache-2.0
# deps.sh — sourced by run.sh and test.sh: installs Debian packages when root.
# install_deps PACKAGE...: apt-get update once, then apt-get install -y
# (nothing when NO_INSTALL=1: the tests run run.sh after test.sh installed all).
install_deps() {
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null && [ "${NO_INSTALL:-0}" != 1 ]; then
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
    fi
}
BUILD_DEPS="build-essential autoconf automake libtool pkg-config libconfig-dev libjemalloc-dev libssl-dev libsystemd-dev systemd"
# the kernel-side statistics (./configure finds them; without them coproxy builds without BPF)
BPF_DEPS="libbpf-dev clang llvm bpftool"
