#!/usr/bin/env bash
# Installs the system packages that give WebGPU an adapter on a machine without a
# GPU (Debian/Ubuntu), and the browsers the page's tests drive:
#   - Mesa's EGL and llvmpipe, for Dawn's OpenGL ES backend (the faster CPU adapter);
#     Dawn opens the unversioned libEGL.so, which libegl-dev provides;
#   - the Vulkan loader and Debian's chromium, whose SwiftShader Vulkan driver Dawn
#     can use (/usr/lib/chromium/vk_swiftshader_icd.json), and which runs the page;
#   - Firefox ESR (Debian; Ubuntu has it in the mozillateam PPA), the page's second
#     browser, and Mesa's Vulkan drivers (lavapipe): Firefox's WebGPU runs on Vulkan
#     only (the test points it at SwiftShader; lavapipe serves where chromium is
#     absent), and lavapipe is the third CPU adapter of wgpu (Deno), which Dawn refuses;
#   - a font, so the page's screenshots show text on a bare machine;
#   - with --pytorch, Debian's PyTorch (python3-torch), the outside oracle of the
#     comparisons in bench/ and of test/gpu/pytorch.test.ts (skipped without it).
# Run as root or with sudo. Idempotent.
set -euo pipefail

packages=(libegl1 libegl-dev libegl-mesa0 libgl1-mesa-dri libvulkan1 chromium firefox-esr mesa-vulkan-drivers fonts-dejavu-core)
for arg in "$@"; do
  case "$arg" in
    --pytorch) packages+=(python3-torch) ;;
    *) echo "install-deps: unknown option $arg (known: --pytorch)" >&2; exit 2 ;;
  esac
done

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all present (${packages[*]})"
  exit 0
fi

sudo=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "install-deps: run as root (missing: ${missing[*]})" >&2; exit 1; }
  sudo="sudo"
fi
echo "install-deps: installing ${missing[*]}"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "install-deps: done"
