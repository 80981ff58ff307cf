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
#     comparisons in bench/ and of test/gpu/pytorch.test.ts (skipped without it);
#   - with --current-mesa, Mesa 25 or later (.ci/run asks for it): Debian 13 ships
#     25.0.7; on Debian 12, whose Mesa is 22.3.6, it comes from bookworm-backports
#     (the suite is added to apt's sources, and only Mesa's packages are taken from
#     it). The same kernels train about twice as fast on 25.0.7's llvmpipe
#     (bench/NOTES.md), and src/gpu/tuning.ts has a table for each.
# Run as root or with sudo. Idempotent.
set -euo pipefail

packages=(libegl1 libegl-dev libegl-mesa0 libgl1-mesa-dri libvulkan1 chromium firefox-esr mesa-vulkan-drivers fonts-dejavu-core)
current_mesa=no
for arg in "$@"; do
  case "$arg" in
    --pytorch) packages+=(python3-torch) ;;
    --current-mesa) current_mesa=yes ;;
    *) echo "install-deps: unknown option $arg (known: --pytorch, --current-mesa)" >&2; exit 2 ;;
  esac
done

sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
need_root() {
  [ -z "$sudo" ] || command -v sudo >/dev/null || { echo "install-deps: run as root ($1)" >&2; exit 1; }
}

# With --current-mesa, the end of every run: Mesa 25 or later, or a one-line refusal.
check_mesa() {
  [ "$current_mesa" = yes ] || return 0
  local have
  have=$(mesa_version)
  if [ -z "$have" ] || dpkg --compare-versions "$have" lt 25; then
    echo "install-deps: --current-mesa: Mesa ${have:-(none)} is installed and this system's suites have no newer one (Debian 12 gets 25 from bookworm-backports, Debian 13 has it)" >&2
    exit 1
  fi
}

# Mesa's packages that move together to bookworm-backports' version on Debian 12
# (each wants the others' exact version).
mesa=(libegl-mesa0 libgl1-mesa-dri libglapi-mesa libgbm1 libglx-mesa0 mesa-vulkan-drivers)
mesa_version() { dpkg-query -W -f='${Version}' libgl1-mesa-dri 2>/dev/null || true; }
if [ "$current_mesa" = yes ]; then
  have=$(mesa_version)
  if [ -n "$have" ] && dpkg --compare-versions "$have" ge 25; then
    echo "install-deps: Mesa $have is current"
  else
    codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
    case "$codename" in
      bookworm)
        need_root "Mesa 25 from bookworm-backports"
        if ! grep -rqs 'bookworm-backports' /etc/apt/sources.list /etc/apt/sources.list.d/; then
          echo "install-deps: adding bookworm-backports to apt's sources (/etc/apt/sources.list.d/bookworm-backports.sources)"
          printf '%s\n' 'Types: deb' 'URIs: http://deb.debian.org/debian' 'Suites: bookworm-backports' 'Components: main' \
            'Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg' | $sudo tee /etc/apt/sources.list.d/bookworm-backports.sources >/dev/null
        fi
        echo "install-deps: Mesa ${have:-(none)} -> bookworm-backports (${mesa[*]})"
        $sudo apt-get update -qq
        DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends -t bookworm-backports "${mesa[@]}" >/dev/null
        echo "install-deps: Mesa $(mesa_version)"
        ;;
      *)
        # Debian 13 and later ship Mesa 25 or newer: the list above installs it (its
        # Mesa packages depend on the rest of Mesa's), and the end checks it.
        ;;
    esac
  fi
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all present (${packages[*]})"
  check_mesa
  exit 0
fi

need_root "missing: ${missing[*]}"
echo "install-deps: installing ${missing[*]}"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "install-deps: done"
check_mesa
