#!/usr/bin/env bash
# Installs everything selfsup needs to build, test and run its demo on Debian 12.
# Idempotent and quiet when everything is already present.
set -euo pipefail

packages=(
  build-essential cmake pkg-config ninja-build
  libtorch-dev libgloo-dev libopenblas0-openmp  # libgloo-dev: headers of c10d's Gloo process group (multi-process training)
  libyaml-cpp-dev libcli11-dev nlohmann-json3-dev libstb-dev libjpeg62-turbo-dev zlib1g-dev libsentencepiece-dev
  libcpp-httplib-dev chromium-headless-shell  # selfsup serve, and its page tested in a real browser
  libfaiss-dev  # approximate (IVF, HNSW) search indexes for large collections
  libgtest-dev libbenchmark-dev
  clang libclang-rt-14-dev  # make sanitize, make fuzz (libFuzzer)
  dataset-fashion-mnist python3 python3-torch python3-torchvision
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ ${#missing[@]} -gt 0 ]; then
  echo "setup-deps: installing ${missing[*]}"
  sudo_cmd=""
  [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $sudo_cmd apt-get update -qq
  $sudo_cmd apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Emoji image-text data (the default CLIP dataset): npm packs of the four artists' 64 px PNGs and
# their metadata, plus emojibase's English labels and tags. Only img/<artist>/64 and the JSON
# files are unpacked (the sprite sheets are most of each package). Layout under the data folder
# ($SELFSUP_DATA_DIR, default /usr/local/share/selfsup) mirrors the packages:
#   emoji/emoji-datasource-<artist>/{emoji.json,package.json,LICENSE,img/<artist>/64/*.png}
#   emoji/emojibase-data/{en/data.json,package.json,LICENSE}
# A stamp file with the versions makes a second run a no-op; bump the versions to refetch.
"$(dirname "${BASH_SOURCE[0]}")/fetch-emoji.sh"
