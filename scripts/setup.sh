#!/usr/bin/env bash
# Set up a fresh Debian/Ubuntu checkout: system packages, then .venv with tinycnn installed.
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian packages: the official Fashion-MNIST files, the host C compiler (`predict --engine c`,
# verify's C line), the Cortex-M cross-compiler with its C library and its C++ headers (the
# Arduino core's headers include <cstdio> and friends: tests/test_arduino_core.py), QEMU's Arm
# system emulator (the emulated board), and Chromium (headless: `report --screenshot` and the
# tests that render the report in a real browser).
packages=(dataset-fashion-mnist gcc libc6-dev gcc-arm-none-eabi libnewlib-arm-none-eabi libstdc++-arm-none-eabi-newlib qemu-system-arm chromium)
missing=()
for package in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if ((${#missing[@]})); then
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    echo "installing Debian packages: ${missing[*]}"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

stamp=.venv/.tinycnn-installed
if [ ! -x .venv/bin/python ]; then
    python3 -m venv .venv
fi
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ] || [ constraints.txt -nt "$stamp" ]; then
    .venv/bin/python -m pip install --quiet --upgrade pip
    # The interpreters and converter at the versions the suite proved bit-exact.
    .venv/bin/python -m pip install --quiet -c constraints.txt -e '.[dev]'
    touch "$stamp"
fi
echo "set up: .venv/bin/tinycnn $(.venv/bin/tinycnn --version | awk '{print $NF}')"
