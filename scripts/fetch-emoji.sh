#!/usr/bin/env bash
# Fetches the emoji image-text data selfsup's CLIP recipes use by default (see setup-deps.sh):
# `npm pack` of pinned versions, unpacking only the 64 px PNGs and the JSON metadata into
# ${SELFSUP_DATA_DIR:-/usr/local/share/selfsup}/emoji. Idempotent and quiet when present.
set -euo pipefail

datasource_version=16.0.0
emojibase_version=17.0.0
artists=(apple google twitter facebook)

data_dir="${SELFSUP_DATA_DIR:-/usr/local/share/selfsup}"
emoji_dir="$data_dir/emoji"
stamp_text="emoji-datasource-{${artists[*]}}@$datasource_version emojibase-data@$emojibase_version"
[ "$(cat "$emoji_dir/.stamp" 2>/dev/null)" = "$stamp_text" ] && exit 0

echo "setup-deps: fetching emoji data into $emoji_dir"
if ! command -v npm >/dev/null; then
  apt_sudo=""
  [ "$(id -u)" -eq 0 ] || apt_sudo="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $apt_sudo apt-get update -qq
  $apt_sudo apt-get install -y -qq --no-install-recommends npm >/dev/null
fi

# Root writes directly; others use sudo only when the data folder is not theirs to write.
sudo_cmd=""
if [ "$(id -u)" -ne 0 ]; then
  probe="$data_dir"
  while [ ! -e "$probe" ]; do probe="$(dirname "$probe")"; done
  [ -w "$probe" ] || sudo_cmd="sudo"
fi

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
specs=()
for a in "${artists[@]}"; do specs+=("emoji-datasource-$a@$datasource_version"); done
specs+=("emojibase-data@$emojibase_version")
# A private cache so the ~400 MB of tarballs do not stay behind in ~/.npm.
if ! (cd "$tmp" && npm pack --silent --cache "$tmp/npm-cache" "${specs[@]}" >"$tmp/npm.log" 2>&1); then
  cat "$tmp/npm.log" >&2
  exit 1
fi

stage="$tmp/emoji"
for a in "${artists[@]}"; do
  dest="$stage/emoji-datasource-$a"
  mkdir -p "$dest"
  tar -xzf "$tmp/emoji-datasource-$a-$datasource_version.tgz" -C "$dest" --strip-components=1 \
    --no-same-owner package/emoji.json package/package.json package/LICENSE "package/img/$a/64"
done
# The loader reads one artist's emoji.json for all of them, so they must agree.
for a in "${artists[@]:1}"; do
  cmp -s "$stage/emoji-datasource-${artists[0]}/emoji.json" "$stage/emoji-datasource-$a/emoji.json" ||
    { echo "fetch-emoji: emoji.json of $a differs from ${artists[0]}" >&2; exit 1; }
done
mkdir -p "$stage/emojibase-data"
tar -xzf "$tmp/emojibase-data-$emojibase_version.tgz" -C "$stage/emojibase-data" \
  --strip-components=1 --no-same-owner package/en/data.json package/package.json package/LICENSE
chmod -R a+rX "$stage"
echo "$stamp_text" >"$stage/.stamp"

# The stamp is copied with the rest, so an interrupted copy is redone on the next run.
$sudo_cmd mkdir -p "$data_dir"
$sudo_cmd rm -rf "$emoji_dir"
$sudo_cmd cp -r "$stage" "$emoji_dir"
