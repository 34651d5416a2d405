#!/usr/bin/env bash
# GPU check: builds selfsup against a CUDA LibTorch on a machine with a GPU and no network, runs the
# unit tests, times the training step (fp32 and bf16) and a few hundred training steps of MoCo v2,
# CLIP and guided diffusion on the GPU, puts the checkpoints through evaluation and sampling there,
# and prints one table (docs/performance.md, "GPU check").
#
#   bench/gpu_check.sh prepare   here, on Debian 12 with apt: fills gpu_deps/ (gitignored) with what
#                                the build needs besides LibTorch, a compiler and CMake (headers and
#                                libraries from Debian packages, ninja), small subsets of the
#                                datasets and this machine's CPU figures for comparison
#   bench/gpu_check.sh run       there (the default): build into build-gpu/, test, train, bench;
#                                logs and results under $OUT (default ./gpu_check_out)
#   bench/gpu_check.sh baseline  here: measure the CPU figures again (prepare does it once; the
#                                machine should be idle)
#
# The GPU machine receives the working tree plus gpu_deps/ (at most 64 MiB in all, 8 files back of
# 16 MiB at most each, two folders deep), has no network and about 15 minutes for everything, so the
# run mode builds two targets with every core, gives each stage a time limit inside one overall
# budget, carries on after a failed stage and exits non-zero if any stage failed or was skipped.
#
# Environment (all optional):
#   OUT                               output folder (the device tool sets it)      ./gpu_check_out
#   SELFSUP_GPU_CHECK_BUDGET_S        seconds for the whole run mode                540
#   SELFSUP_GPU_CHECK_DEVICE          device of the training stages                 cuda
#   SELFSUP_GPU_CHECK_STEPS           training steps per recipe                     200
#   SELFSUP_GPU_CHECK_BENCH_STEPS     timed steps of `selfsup bench step`           20
#   SELFSUP_GPU_CHECK_BUILD_DIR       build folder                                  build-gpu
#   SELFSUP_GPU_CHECK_JOBS            build jobs                                    nproc
#   SELFSUP_GPU_CHECK_TORCH_DIR       folder of TorchConfig.cmake (else asked of python3's torch)
#   SELFSUP_GPU_CHECK_CMAKE_ARGS      more CMake arguments (word-split)
#   SELFSUP_GPU_CHECK_TRAIN_OVERRIDES more key=value overrides for every train and bench (word-split)
#   SELFSUP_GPU_CHECK_CPU_JSON        CPU figures to compare with                   gpu_deps/cpu_baseline.json
#   SELFSUP_GPU_CHECK_CPU_IPS         CPU images/s by hand, e.g. "moco=1100,clip=440,diffusion=230"
#   SELFSUP_GPU_CHECK_DRY_RUN=1       print the commands of the run mode instead of running them
#   SELFSUP_GPU_CHECK_STAGE_SCALE     multiply every stage's time limit (a test on a slow machine)  1
#   SELFSUP_GPU_CHECK_ONLY            stages to run, comma-separated globs, e.g. "train_*,eval_*" for a
#                                     second call on the still-warm machine (configure and build always
#                                     run: on the kept build-gpu/ they are no-ops)
#   PYTHON                            the interpreter that holds PyTorch            python3
# prepare only:
#   SELFSUP_GPU_CHECK_FMNIST_TRAIN / _FMNIST_TEST   Fashion-MNIST images kept      20000 / 2000
#   SELFSUP_GPU_CHECK_EMOJI                         emoji kept (x 4 artists)       800
#   SELFSUP_FMNIST_ROOT / SELFSUP_DATA_DIR          where the full datasets are    the setup-deps.sh places
#   SELFSUP_GPU_CHECK_BASELINE=0                    skip the CPU figures
#   SELFSUP_BIN                                     binary for the CPU figures     build/selfsup
set -u
set -o pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
deps=$repo/gpu_deps
deps_root=$deps/root
deps_lib=$deps_root/usr/lib/x86_64-linux-gnu
deps_data=$deps/data
python=${PYTHON:-python3}

# The three recipes the check trains: short key, recipe, which dataset its data.root points at.
recipes=(
  "moco recipes/moco_v2_fmnist.yaml fmnist"
  "clip recipes/clip_emoji.yaml emoji"
  "diffusion recipes/diffusion_cfg_fmnist.yaml fmnist"
)

die() { echo "gpu_check: $*" >&2; exit 2; }
now() { date +%s; }

# ------------------------------------------------------------------------------------------------
# prepare: runs here (Debian 12, apt reachable)
# ------------------------------------------------------------------------------------------------

# Debian 12 packages whose headers, CMake files and libraries the build and the runs need. LibTorch,
# the compiler, CMake and Python come from the GPU machine. Header-only: nlohmann-json3-dev,
# libcli11-dev; static: libgtest-dev; the rest bring a shared library in their runtime package, and
# SentencePiece is only dlopen()ed at run time (src/selfsup/clip/sentencepiece.cpp) but its header is
# looked for at configure time. ninja-build is one 300 KB binary, a fallback if the machine has none;
# Debian's CMake is not brought: with cmake-data and the libraries it links it is ~40 MB, and the GPU
# machine's image has CMake and ninja next to PyTorch (on PATH or as pip's cmake / ninja packages).
deb_packages=(
  libyaml-cpp-dev libyaml-cpp0.7
  nlohmann-json3-dev libcli11-dev libgtest-dev
  zlib1g-dev zlib1g
  libjpeg62-turbo-dev libjpeg62-turbo
  libstb-dev libstb0
  libsentencepiece-dev libsentencepiece0
  ninja-build
)

apt_download() {  # into the current folder
  # As root apt warns that its _apt user cannot write here; running the download as root is fine.
  apt-get -q -o APT::Sandbox::User=root download "$@"
}

prepare() {
  for tool in apt-get dpkg-deb "$python"; do
    command -v "$tool" >/dev/null || die "prepare: '$tool' not found (prepare runs on Debian 12 with apt)"
  done
  grep -q 'VERSION_CODENAME=bookworm' /etc/os-release 2>/dev/null ||
    echo "gpu_check: warning: not Debian 12 (bookworm): the package names below are bookworm's" >&2

  local tmp
  tmp=$(mktemp -d)
  # shellcheck disable=SC2064  # expand now: $tmp is local
  trap "rm -rf '$tmp'" EXIT
  echo "== downloading ${#deb_packages[@]} Debian packages"
  if ! (cd "$tmp" && apt_download "${deb_packages[@]}") >"$tmp/apt.log" 2>&1; then
    # An image whose package lists were never fetched knows no package: update once, then retry.
    local sudo=""
    [ "$(id -u)" -eq 0 ] || sudo=sudo
    $sudo apt-get -qq update >>"$tmp/apt.log" 2>&1
    (cd "$tmp" && apt_download "${deb_packages[@]}") >>"$tmp/apt.log" 2>&1 || { cat "$tmp/apt.log"; die "apt-get download failed"; }
  fi

  rm -rf "$deps"
  mkdir -p "$deps_root" "$deps_data"
  local deb
  for deb in "$tmp"/*.deb; do
    dpkg-deb -x "$deb" "$deps_root"
    # shellcheck disable=SC2016  # dpkg's own ${field} syntax
    dpkg-deb -W --showformat='${Package} ${Version}\n' "$deb" >>"$deps/packages.txt"
  done

  # Keep what a build and a run read; drop documentation, sources and static libraries the build
  # does not link (GoogleTest is linked statically, the others as shared libraries).
  rm -rf "$deps_root"/usr/share/{doc,man,lintian,bash-completion} "$deps_root"/usr/src "$deps_lib"/pkgconfig \
         "$deps_root"/usr/share/pkgconfig
  rm -f "$deps_lib"/lib{z,jpeg,stb,yaml-cpp}.a
  # zlib1g installs into /lib: merge it into usr/lib so that one folder holds every library, then
  # turn absolute links (libz.so -> /lib/...) into relative ones: they must resolve inside gpu_deps
  # wherever the tree lands.
  if [ -d "$deps_root/lib" ]; then
    cp -a "$deps_root/lib/." "$deps_root/usr/lib/" && rm -rf "${deps_root:?}/lib"
  fi
  local link target
  while IFS= read -r link; do
    target=$(readlink "$link")
    case $target in
      /usr/*) ln -sfr "$deps_root$target" "$link" ;;
      /*) ln -sfr "$deps_root/usr$target" "$link" ;;
    esac
  done < <(find "$deps_root" -type l)
  # Debian keeps jconfig.h in the multiarch include folder, which only the system compiler searches
  # (for /usr). jpeglib.h includes it with quotes, so beside jpeglib.h it is found first, ahead of
  # a libjpeg 8 jconfig.h the GPU machine may have.
  mv "$deps_root"/usr/include/x86_64-linux-gnu/jconfig.h "$deps_root/usr/include/" && rmdir "$deps_root/usr/include/x86_64-linux-gnu"
  local broken
  broken=$(find -L "$deps_root" -type l)
  [ -z "$broken" ] || die "broken links in gpu_deps: $broken"

  prepare_data || die "could not prepare the datasets"
  if [ "${SELFSUP_GPU_CHECK_BASELINE:-1}" != 0 ]; then
    cpu_baseline || echo "gpu_check: warning: no CPU figures (the summary will show none)" >&2
  fi

  {
    echo "made by bench/gpu_check.sh prepare on $(date -u +%Y-%m-%dT%H:%MZ) from $(sed -n 's/^PRETTY_NAME="\(.*\)"/\1/p' /etc/os-release)"
    echo "packages:"; sed 's/^/  /' "$deps/packages.txt"
    echo "data:"; (cd "$deps_data" && find . -maxdepth 2 -name '*.txt' -exec sed 's/^/  /' {} \;)
  } >"$deps/MANIFEST.txt"
  rm -f "$deps/packages.txt"

  local mib tree
  mib=$(du -s --apparent-size --block-size=1M "$deps" | cut -f1)
  echo "== gpu_deps/: ${mib} MiB"
  du -s --apparent-size --block-size=1K "$deps_root" "$deps_data"/* "$deps"/*.* | awk '{printf "   %7.1f MiB  %s\n", $1 / 1024, $2}'
  # The device tool sends tracked and untracked-not-ignored files plus the carried paths, 64 MiB in all.
  tree=$(cd "$repo" && git ls-files -z --cached --others --exclude-standard 2>/dev/null |
         du -c --apparent-size --block-size=1K --files0-from=- 2>/dev/null | tail -1 | cut -f1)
  [ -n "$tree" ] && echo "   working tree that travels with it: $((tree / 1024)) MiB (device limit: 64 MiB in all)"
  [ "$mib" -le 40 ] || echo "gpu_check: warning: gpu_deps/ is over 40 MiB: lower SELFSUP_GPU_CHECK_EMOJI or _FMNIST_TRAIN" >&2
  echo "device tool: run 'bench/gpu_check.sh run' with carry [\"gpu_deps\"] and timeout_s 600"
}

# Subsets of Fashion-MNIST and of the emoji packages, sized so that gpu_deps/ stays under 40 MiB.
# Throughput does not depend on the dataset's size; a few hundred steps need only a few epochs'
# worth of images. The layouts are the real ones, so the real loaders read them.
prepare_data() {
  local fmnist=${SELFSUP_FMNIST_ROOT:-/usr/share/datasets/fashion-mnist}
  local emoji=${SELFSUP_DATA_DIR:-/usr/local/share/selfsup}/emoji
  echo "== datasets: Fashion-MNIST from $fmnist, emoji from $emoji"
  "$python" - "$fmnist" "$emoji" "$deps_data" "${SELFSUP_GPU_CHECK_FMNIST_TRAIN:-20000}" \
      "${SELFSUP_GPU_CHECK_FMNIST_TEST:-2000}" "${SELFSUP_GPU_CHECK_EMOJI:-800}" <<'PY'
import gzip, json, os, shutil, struct, sys

fmnist, emoji, out, n_train, n_test, n_emoji = sys.argv[1:4] + [int(a) for a in sys.argv[4:7]]

def read(path):
    with (gzip.open(path) if path.endswith(".gz") else open(path, "rb")) as f:
        return f.read()

def idx(name):
    for p in (os.path.join(fmnist, name + ".gz"), os.path.join(fmnist, name)):
        if os.path.exists(p):
            return read(p)
    sys.exit(f"{fmnist}/{name}(.gz): not found (dataset-fashion-mnist, scripts/setup-deps.sh)")

# IDX: big-endian magic, one u32 per dimension, then the bytes. The first n images keep the
# class balance of Fashion-MNIST closely enough for a throughput check.
os.makedirs(os.path.join(out, "fashion-mnist"), exist_ok=True)
for split, n in (("train", n_train), ("t10k", n_test)):
    images, labels = idx(f"{split}-images-idx3-ubyte"), idx(f"{split}-labels-idx1-ubyte")
    total, h, w = struct.unpack(">III", images[4:16])
    n = min(n, total)
    for name, data in ((f"{split}-images-idx3-ubyte", images[:4] + struct.pack(">III", n, h, w) + images[16:16 + n * h * w]),
                       (f"{split}-labels-idx1-ubyte", labels[:4] + struct.pack(">I", n) + labels[8:8 + n])):
        with open(os.path.join(out, "fashion-mnist", name + ".gz"), "wb") as f:
            f.write(gzip.compress(data, 9, mtime=0))
with open(os.path.join(out, "fashion-mnist", "SUBSET.txt"), "w") as f:
    f.write(f"fashion-mnist: first {min(n_train, 60000)} training and {min(n_test, 10000)} test images of {fmnist}\n")

# Emoji: every artist's drawing of n emoji spread evenly over emoji.json (so over its categories),
# skin-tone variants left out of emoji.json (so no variant image is looked for).
artists = ["apple", "google", "facebook", "twitter"]
meta = json.load(open(os.path.join(emoji, "emoji-datasource-apple", "emoji.json")))
drawn = [e for e in meta if all(e.get("has_img_" + a) for a in artists)]
step = max(len(drawn) / max(n_emoji, 1), 1)
keep = [drawn[int(i * step)] for i in range(min(n_emoji, len(drawn)))]
for e in keep:
    e.pop("skin_variations", None)
dst = os.path.join(out, "emoji")
shutil.rmtree(dst, ignore_errors=True)
for a in artists:
    src = os.path.join(emoji, "emoji-datasource-" + a)
    img = os.path.join(dst, "emoji-datasource-" + a, "img", a, "64")
    os.makedirs(img)
    for extra in ("package.json", "LICENSE"):
        if os.path.exists(os.path.join(src, extra)):
            shutil.copy(os.path.join(src, extra), os.path.join(dst, "emoji-datasource-" + a))
    json.dump(keep, open(os.path.join(dst, "emoji-datasource-" + a, "emoji.json"), "w"), separators=(",", ":"))
    for e in keep:
        shutil.copy(os.path.join(src, "img", a, "64", e["image"]), img)
base = os.path.join(dst, "emojibase-data")
os.makedirs(os.path.join(base, "en"))
shutil.copy(os.path.join(emoji, "emojibase-data", "en", "data.json"), os.path.join(base, "en"))
for extra in ("package.json", "LICENSE"):
    if os.path.exists(os.path.join(emoji, "emojibase-data", extra)):
        shutil.copy(os.path.join(emoji, "emojibase-data", extra), base)
with open(os.path.join(dst, "SUBSET.txt"), "w") as f:
    f.write(f"emoji: {len(keep)} of the {len(drawn)} emoji all four artists draw, without skin tones, from {emoji}\n")
PY
}

# This machine's figures for the summary's CPU column: `selfsup bench step` of each recipe on the
# subsets above (the GPU run times the same batches) and the calibration figure.
cpu_baseline() {
  local bin=${SELFSUP_BIN:-$repo/build/selfsup} tmp r key recipe data root
  [ -x "$bin" ] || { echo "gpu_check: $bin not built: no CPU figures" >&2; return 1; }
  [ -d "$deps_data" ] || { echo "gpu_check: no gpu_deps/data: run prepare first" >&2; return 1; }
  tmp=$(mktemp -d)
  echo "== CPU figures with $bin (about a minute)"
  # Figures taken while other work runs are low: say so (the load average goes into the JSON too).
  awk -v cpus="$(nproc)" '$1 > cpus / 2 { printf "gpu_check: warning: load average %s on %s cores: the CPU figures will be low\n", $1, cpus }' /proc/loadavg >&2
  for r in "${recipes[@]}"; do
    read -r key recipe data <<<"$r"
    root=$deps_data/fashion-mnist
    [ "$data" = emoji ] && root=$deps_data/emoji
    # OMP_WAIT_POLICY as in the run mode: spinning OpenMP threads make figures on a busy machine
    # several times lower still.
    (cd "$repo" && OMP_WAIT_POLICY=PASSIVE SELFSUP_DATA_DIR=$deps_data "$bin" bench step "$recipe" device=cpu "data.root=$root" \
       --steps 5 --warmup 1 --json "$tmp/$key.json") >"$tmp/$key.log" 2>&1 ||
      { tail -5 "$tmp/$key.log"; echo "gpu_check: CPU bench step of $recipe failed" >&2; }
    grep "images/s" "$tmp/$key.log" | sed 's/^/   /'
  done
  (cd "$repo" && OMP_WAIT_POLICY=PASSIVE "$bin" bench --no-peaks --json "$tmp/calibration.json") >"$tmp/calibration.log" 2>&1 &&
    grep "calibration:" "$tmp/calibration.log" | sed 's/^/   /'
  "$python" - "$tmp" "$deps/cpu_baseline.json" <<'PY'
import glob, json, os, platform, sys, time
tmp, out = sys.argv[1:3]
result = {"machine": platform.node(), "cpus": os.cpu_count(), "load_average": os.getloadavg()[0],
          "date": time.strftime("%Y-%m-%d"), "bench_step": {}}
for path in glob.glob(os.path.join(tmp, "*.json")):
    key, j = os.path.basename(path)[:-5], json.load(open(path))
    if key == "calibration":
        result["calibration_images_per_second"] = j["images_per_second"]
    else:
        result["bench_step"][key] = {"recipe": j["recipe"], "images_per_second": j["images_per_second"],
                                     "threads": j.get("threads"), "steps": len(j.get("step_seconds", []))}
json.dump(result, open(out, "w"), indent=2)
PY
  local rc=$?
  rm -rf "$tmp"
  return $rc
}

# ------------------------------------------------------------------------------------------------
# run: runs on the GPU machine
# ------------------------------------------------------------------------------------------------

dry_run=${SELFSUP_GPU_CHECK_DRY_RUN:-0}
out=${OUT:-$repo/gpu_check_out}
build=${SELFSUP_GPU_CHECK_BUILD_DIR:-$repo/build-gpu}
work=$build/gpu_check  # scratch: per-stage logs, JSON, runs (checkpoints stay here, not in $OUT)
device=${SELFSUP_GPU_CHECK_DEVICE:-cuda}
steps=${SELFSUP_GPU_CHECK_STEPS:-200}
bench_steps=${SELFSUP_GPU_CHECK_BENCH_STEPS:-20}
jobs=${SELFSUP_GPU_CHECK_JOBS:-$(nproc 2>/dev/null || echo 4)}
budget=${SELFSUP_GPU_CHECK_BUDGET_S:-540}
scale=${SELFSUP_GPU_CHECK_STAGE_SCALE:-1}  # multiplies every stage's limit (a slow machine's dry run)
reserve=20     # seconds kept for the summary and the archive
min_stage=15   # a stage with less time than this left is skipped rather than started
deadline=0
failures=0

# Runs one stage: a time limit of min(cap, what the budget has left), output to its own log (and
# appended, cut to its last 2 MB, to $OUT/stages.log, which comes back even if the whole call is
# killed), one line of outcome, the tail of the log when it failed. Never stops the script.
stage() {
  local name=$1 cap=$2
  shift 2
  local left limit log=$work/logs/$name.log start rc seconds status note=""
  cap=$((cap * scale))
  printf '== %-22s ' "$name"
  if ! selected "$name"; then
    printf 'not selected (SELFSUP_GPU_CHECK_ONLY): an earlier result stands\n'
    return 1
  fi
  left=$((deadline - $(now) - reserve))
  limit=$((cap < left ? cap : left))
  if [ "$dry_run" = 1 ]; then
    printf '[dry run, limit %ss]\n   %s\n' "$cap" "$(printf '%q ' "$@")"
    record "$name" dry 0 ""
    return 0
  fi
  if [ "$limit" -lt "$min_stage" ]; then
    echo "SKIPPED: the ${budget}s budget is spent"
    record "$name" skipped 0 "budget spent"
    return 1
  fi
  start=$(now)
  timeout -k 10 "$limit" "$@" >"$log" 2>&1
  rc=$?
  seconds=$(($(now) - start))
  case $rc in
    0) status=ok ;;
    124 | 137) status=timeout; note="killed after ${limit}s" ;;
    *) status=failed; note="exit $rc" ;;
  esac
  echo "$status (${seconds}s${note:+, $note})"
  {
    echo "===== $name: $status (${seconds}s${note:+, $note})"
    echo "\$ $(printf '%q ' "$@")"
    tail -c 2000000 "$log"
  } >>"$out/stages.log"
  if [ "$status" != ok ]; then
    tail -n 25 "$log" | sed 's/^/   | /'
  fi
  record "$name" "$status" "$seconds" "$note"
  [ "$status" = ok ]
}

# A stage that cannot run (its input is missing) counts as failed, with the reason.
not_run() {
  selected "$1" || return 0
  printf '== %-22s NOT RUN: %s\n' "$1" "$2"
  record "$1" failed 0 "$2"
}

selected() {
  local pattern only=${SELFSUP_GPU_CHECK_ONLY:-}
  local -a patterns
  [ -z "$only" ] || [ "$1" = configure ] || [ "$1" = build ] && return 0
  IFS=, read -ra patterns <<<"$only"
  for pattern in "${patterns[@]}"; do
    # shellcheck disable=SC2053  # a glob on purpose
    [[ $1 == $pattern ]] && return 0
  done
  return 1
}

record() {
  printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" >>"$work/stages.tsv"
  case $2 in ok | dry) ;; *) failures=$((failures + 1)) ;; esac
  summarize >/dev/null 2>&1 || true  # a summary after every stage, in case the call is cut short
}

# summary.txt and summary.json from the stage list, the bench JSON, the runs' metrics and the CPU
# figures.
summarize() {
  [ "$dry_run" = 1 ] && return 0
  command -v "$python" >/dev/null || return 1
  "$python" - "$work" "$out" "$device" "${SELFSUP_GPU_CHECK_CPU_JSON:-$deps/cpu_baseline.json}" \
      "${SELFSUP_GPU_CHECK_CPU_IPS:-}" "${recipes[@]}" <<'PY'
import json, os, sys
work, out, device, cpu_json, cpu_ips = sys.argv[1:6]
recipes = [r.split() for r in sys.argv[6:]]

def load(path):
    try:
        return json.load(open(path))
    except (OSError, ValueError):
        return None

# One row per stage: a later call with SELFSUP_GPU_CHECK_ONLY replaces the rows of what it ran again.
stages = {}
if os.path.exists(os.path.join(work, "stages.tsv")):
    for line in open(os.path.join(work, "stages.tsv")):
        name, status, seconds, note = (line.rstrip("\n").split("\t") + ["", "", ""])[:4]
        stages[name] = {"stage": name, "status": status, "seconds": int(seconds or 0), "note": note}
stages = list(stages.values())

cpu = load(cpu_json) or {}
cpu_step = {k: v.get("images_per_second") for k, v in cpu.get("bench_step", {}).items()}
for item in filter(None, cpu_ips.split(",")):
    key, _, value = item.partition("=")
    try:
        cpu_step[key.strip()] = float(value)
    except ValueError:
        pass

rows = []
for key, recipe, _ in recipes:
    step = load(os.path.join(work, "json", f"bench_{key}.json")) or {}
    bf16 = load(os.path.join(work, "json", f"bench_{key}_bf16.json")) or {}
    train = load(os.path.join(work, "runs", f"gpu_{key}", "metrics.json")) or {}
    row = {"key": key, "recipe": recipe,
           "step_images_per_second": step.get("images_per_second"),
           "step_ms": step.get("median_seconds", 0) * 1000 or None,
           "batch": step.get("batch_size"),
           "bf16_step_images_per_second": bf16.get("images_per_second"),
           "train_images_per_second": train.get("images_per_second"),
           "train_data_wait_share": train.get("data_wait_share"),
           "cpu_step_images_per_second": cpu_step.get(key)}
    row["train_precision"] = train.get("precision")
    best = max(filter(None, (row["step_images_per_second"], row["bf16_step_images_per_second"])), default=None)
    if best and row["cpu_step_images_per_second"]:
        row["speedup"] = best / row["cpu_step_images_per_second"]
    rows.append(row)

calibration = load(os.path.join(work, "json", "calibration.json")) or {}
env = load(os.path.join(work, "json", "torch.json")) or {}
failed = [s for s in stages if s["status"] not in ("ok", "dry")]
summary = {"device": device, "environment": env, "stages": stages, "recipes": rows,
           "calibration": calibration, "cpu_baseline": cpu, "failed_stages": [s["stage"] for s in failed]}
json.dump(summary, open(os.path.join(out, "summary.json"), "w"), indent=2)

def f(v, digits=0, suffix=""):
    return "-" if v is None else f"{v:,.{digits}f}{suffix}"

if "error" in env:
    head = f"no usable torch ({env['error']})"
else:
    head = f"{env.get('gpu', 'no GPU visible to torch')}, torch {env.get('torch', '?')} (CUDA {env.get('cuda', '-')})"
lines = [f"selfsup GPU check: {head}, device={device}", ""]
lines.append(f"| recipe | fp32 step img/s ({device}) | ms/step (batch) | bf16 step img/s | train img/s (precision, data wait) "
             "| CPU step img/s | speed-up (best step / CPU) |")
lines.append("|---|---:|---:|---:|---:|---:|---:|")
for r in rows:
    wait = "" if r["train_data_wait_share"] is None else \
        f" ({r['train_precision'] or 'fp32'}, {100 * r['train_data_wait_share']:.0f}% wait)"
    lines.append(f"| {r['recipe']} | {f(r['step_images_per_second'])} | {f(r['step_ms'], 1)} ({r['batch'] or '-'}) | "
                 f"{f(r['bf16_step_images_per_second'])} | {f(r['train_images_per_second'])}{wait} | "
                 f"{f(r['cpu_step_images_per_second'])} | {f(r.get('speedup'), 1, 'x')} |")
lines.append("")
if calibration:
    lines.append(f"calibration (CPU of the GPU machine, {calibration.get('threads')} threads): "
                 f"{f(calibration.get('images_per_second'))} images/s (reference machine 1,273; "
                 f"CPU baseline: {f(cpu.get('calibration_images_per_second'))})")
if cpu:
    lines.append(f"CPU figures: {cpu.get('machine', '?')}, {cpu.get('cpus', '?')} cores, load average "
                 f"{f(cpu.get('load_average'), 1)} while measuring, {cpu.get('date', '?')}")
lines.append("")
lines.append("| stage | status | seconds | note |")
lines.append("|---|---|---:|---|")
for s in stages:
    lines.append(f"| {s['stage']} | {s['status']} | {s['seconds']} | {s['note']} |")
lines.append("")
lines.append(f"{len(failed)} stage(s) failed or skipped" + (": " + ", ".join(s["stage"] for s in failed) if failed else ""))
open(os.path.join(out, "summary.txt"), "w").write("\n".join(lines) + "\n")
PY
}

# Finds a program on PATH, else the copy a pip package of the same name brings (pip's `cmake` and
# `ninja` packages), else ours in gpu_deps.
find_tool() {
  local name=$1 dir
  command -v "$name" 2>/dev/null && return 0
  dir=$("$python" -c "import $name as m; print(getattr(m, 'CMAKE_BIN_DIR', None) or getattr(m, 'BIN_DIR', ''))" 2>/dev/null)
  [ -n "$dir" ] && [ -x "$dir/$name" ] && { echo "$dir/$name"; return 0; }
  [ -x "$deps_root/usr/bin/$name" ] && { echo "$deps_root/usr/bin/$name"; return 0; }
  return 1
}

run_check() {
  mkdir -p "$out" "$work/logs" "$work/json" "$work/runs" || die "cannot create $out and $work"
  # Nothing of an earlier run on this machine may pass for this one's results, unless this call
  # only completes it (SELFSUP_GPU_CHECK_ONLY): then its stages' results, runs and logs stay.
  if [ -z "${SELFSUP_GPU_CHECK_ONLY:-}" ]; then
    rm -rf "$work/stages.tsv" "$work"/json/* "$work"/logs/* "$work/runs"
    mkdir -p "$work/runs"
  fi
  rm -f "$out/stages.log" "$out/summary.txt" "$out/summary.json" "$out/details.tar.gz"
  # Everything printed from here on also goes to $OUT/gpu_check.log.
  exec > >(tee "$out/gpu_check.log") 2>&1
  deadline=$(($(now) + budget))
  echo "selfsup GPU check: $(date -u +%Y-%m-%dT%H:%M:%SZ), budget ${budget}s, device=$device, steps=$steps, out=$out"
  cd "$repo" || die "cannot enter $repo"

  # --- what the machine has -------------------------------------------------------------------
  command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
  [ -d "$deps_lib" ] || die "gpu_deps/ is missing: run 'bench/gpu_check.sh prepare' on the Debian machine and carry gpu_deps"
  command -v "$python" >/dev/null || echo "gpu_check: $python not found"
  # One JSON of torch's facts; the CMake prefix of its LibTorch is what the build links.
  timeout 120 "$python" - "$work/json/torch.json" <<'PY' || true
import json, sys
info = {}
try:
    import torch
    info = {"torch": torch.__version__, "cuda": torch.version.cuda, "cmake_prefix": torch.utils.cmake_prefix_path,
            "cxx11_abi": bool(torch.compiled_with_cxx11_abi()), "cuda_available": torch.cuda.is_available()}
    if info["cuda_available"]:
        info["gpu"] = torch.cuda.get_device_name(0)
        info["capability"] = ".".join(map(str, torch.cuda.get_device_capability(0)))
except Exception as e:  # noqa: BLE001 - any failure means "no usable torch"
    info["error"] = f"{type(e).__name__}: {e}"
json.dump(info, open(sys.argv[1], "w"), indent=2)
print("python torch:", json.dumps(info))
PY
  local torch_dir=${SELFSUP_GPU_CHECK_TORCH_DIR:-} torch_prefix="" torch_cuda="" torch_abi=""
  if [ -f "$work/json/torch.json" ]; then
    read -r torch_prefix torch_cuda torch_abi < <("$python" -c '
import json, sys
j = json.load(open(sys.argv[1]))
print(j.get("cmake_prefix") or "-", j.get("cuda") or "-", j.get("cxx11_abi", "-"))' "$work/json/torch.json")
    [ -z "$torch_dir" ] && [ "$torch_prefix" != - ] && torch_dir=$torch_prefix/Torch
  fi
  if [ -z "$torch_dir" ] || [ ! -f "$torch_dir/TorchConfig.cmake" ]; then
    echo "gpu_check: NO LIBTORCH: '$python -c \"import torch\"' gave no CMake prefix and SELFSUP_GPU_CHECK_TORCH_DIR is not set"
    echo "           (expected a pip-installed CUDA PyTorch; see $work/json/torch.json)"
    record libtorch failed 0 "no LibTorch found"
    [ "$dry_run" = 1 ] || exit 2
    torch_dir=/path/to/site-packages/torch/share/cmake/Torch
  fi
  echo "LibTorch: $torch_dir"
  # The Debian libraries in gpu_deps use the C++11 std::string ABI; a LibTorch built with the old one
  # (pip wheels before torch 2.7) cannot link with them.
  if [ "$torch_abi" = False ]; then
    not_run configure "this torch uses the pre-C++11 ABI (_GLIBCXX_USE_CXX11_ABI=0); gpu_deps' yaml-cpp and GTest do not"
    [ "$dry_run" = 1 ] || { finish; exit 1; }
  fi

  local cmake ninja cxx
  cmake=$(find_tool cmake) || { record cmake failed 0 "no cmake"; [ "$dry_run" = 1 ] || die "no cmake on PATH nor as python3's cmake package"; cmake=cmake; }
  ninja=$(find_tool ninja) || ninja=""
  cxx=${CXX:-$(command -v c++ || command -v g++ || command -v clang++)} || { record compiler failed 0 "no C++ compiler"; [ "$dry_run" = 1 ] || die "no C++ compiler (c++, g++, clang++)"; }
  echo "cmake: $cmake ($("$cmake" --version 2>/dev/null | head -1)); ninja: ${ninja:-none, make}; c++: $cxx ($("$cxx" --version 2>/dev/null | head -1))"

  # --- configure and build ----------------------------------------------------------------------
  # CMAKE_POLICY_VERSION_MINIMUM: CMake 4 refuses package files written for CMake < 3.5 without it
  # (older CMake ignores it).
  local -a cmake_args=(-S "$repo" -B "$build" -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_COMPILER="$cxx"
    "-DTorch_DIR=$torch_dir" "-DCMAKE_PREFIX_PATH=$deps_root/usr" -DCMAKE_POLICY_VERSION_MINIMUM=3.5)
  if [ -n "$ninja" ]; then cmake_args+=(-G Ninja "-DCMAKE_MAKE_PROGRAM=$ninja"); fi
  if [ "$torch_cuda" != - ] && [ -n "$torch_cuda" ]; then
    # A CUDA LibTorch's CMake files find the CUDA toolkit and enable the CUDA language: point them at
    # nvcc and name the H200's architecture, so no probe of the GPU is needed (selfsup has no .cu).
    local nvcc
    nvcc=$(command -v nvcc || ls /usr/local/cuda/bin/nvcc 2>/dev/null) || nvcc=""
    if [ -n "$nvcc" ]; then
      cmake_args+=("-DCMAKE_CUDA_COMPILER=$nvcc" "-DCUDAToolkit_ROOT=$(dirname "$(dirname "$nvcc")")")
    else
      echo "gpu_check: warning: no nvcc found; the CUDA LibTorch's CMake files may fail to find the toolkit"
    fi
    cmake_args+=(-DCMAKE_CUDA_ARCHITECTURES=90)
    export TORCH_CUDA_ARCH_LIST=${TORCH_CUDA_ARCH_LIST:-9.0}
  fi
  # shellcheck disable=SC2206  # word-splitting is the point: several arguments in one variable
  cmake_args+=(${SELFSUP_GPU_CHECK_CMAKE_ARGS:-})
  stage configure 180 "$cmake" "${cmake_args[@]}"
  # Only the CLI and the test binary (not selfsup_bench_search); -k 0: a failing test source must not
  # stop the CLI from being built, the stages after it only need that.
  local keep_going=(-k 0)
  [ -n "$ninja" ] || keep_going=(-k)
  local bin=$build/selfsup tests=$build/selfsup_tests stamp=$work/build.stamp
  touch "$stamp"
  if [ -f "$build/CMakeCache.txt" ] || [ "$dry_run" = 1 ]; then
    if ! stage build 420 "$cmake" --build "$build" --target selfsup selfsup_tests -j "$jobs" -- "${keep_going[@]}"; then
      # A binary that this failed build did not relink is one of an earlier call: not this tree's.
      [ "$bin" -nt "$stamp" ] || bin=$build/selfsup.missing
      [ "$tests" -nt "$stamp" ] || tests=$build/selfsup_tests.missing
    fi
  else
    not_run build "configure failed"
  fi
  # gpu_deps' libraries: the binaries' RUNPATH names that folder already, but the SentencePiece
  # libraries are dlopen()ed and libsentencepiece_train needs libsentencepiece.
  local -a run_env=(env "LD_LIBRARY_PATH=$deps_lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" OMP_WAIT_POLICY=PASSIVE
                    "SELFSUP_DATA_DIR=$deps_data")

  # --- unit tests (CPU; they check the build against this LibTorch) -----------------------------
  # The same selection as `make unit`: everything but CMakeLists.txt's SELFSUP_E2E_TESTS.
  local e2e
  e2e=$(sed -n 's/^ *set(SELFSUP_E2E_TESTS "\([^"]*\)").*/\1/p' "$repo/CMakeLists.txt")
  [ -n "$e2e" ] || e2e="*EndToEnd*:*GoldenWeights*:Cli*:ClipCli*:*Learns*:*Python*:*PyTorch*:Emoji.RealPackages*:Trainer.*"
  if [ -x "$tests" ] || [ "$dry_run" = 1 ]; then
    stage unit_tests 150 "${run_env[@]}" "$tests" --gtest_brief=1 "--gtest_filter=-$e2e"
  else
    not_run unit_tests "no $tests"
  fi

  # --- data ----------------------------------------------------------------------------------------
  # gpu_deps' subsets, else the full datasets where setup-deps.sh puts them.
  local fmnist=$deps_data/fashion-mnist emoji=$deps_data/emoji
  [ -d "$fmnist" ] || fmnist=/usr/share/datasets/fashion-mnist
  [ -d "$emoji" ] || emoji=/usr/local/share/selfsup/emoji
  local -a extra
  # shellcheck disable=SC2206  # word-splitting is the point
  extra=(${SELFSUP_GPU_CHECK_TRAIN_OVERRIDES:-})

  local have_bin=0
  { [ -x "$bin" ] || [ "$dry_run" = 1 ]; } && have_bin=1
  local r key recipe data root
  # The recipe field `precision: fp32 | bf16 | auto` (auto = bf16 on CUDA): the step is timed in both
  # precisions, the training runs use the recipe's own (auto). A binary from before the field gets
  # neither override. (Output captured first: with pipefail, grep -q closing the pipe early would
  # make the whole test fail.)
  local resolved="" has_precision=0
  [ "$have_bin" = 1 ] && resolved=$("${run_env[@]}" "$bin" recipe recipes/moco_v2_fmnist.yaml 2>/dev/null)
  grep -q '^precision:' <<<"$resolved" && has_precision=1
  [ "$dry_run" = 1 ] && has_precision=1
  local -a fp32=()
  [ "$has_precision" = 1 ] && fp32=(precision=fp32)

  # --- the training step alone: the GPU figure that does not depend on the loader -----------------
  for r in "${recipes[@]}"; do
    read -r key recipe data <<<"$r"
    root=$fmnist
    [ "$data" = emoji ] && root=$emoji
    if [ "$have_bin" = 0 ]; then not_run "bench_$key" "selfsup was not built"; continue; fi
    stage "bench_$key" 120 "${run_env[@]}" "$bin" bench step "$recipe" "device=$device" "data.root=$root" "${fp32[@]}" \
      "${extra[@]}" --steps "$bench_steps" --warmup 5 --json "$work/json/bench_$key.json"
    if [ "$has_precision" = 1 ]; then
      stage "bench_${key}_bf16" 120 "${run_env[@]}" "$bin" bench step "$recipe" "device=$device" "data.root=$root" \
        precision=bf16 "${extra[@]}" --steps "$bench_steps" --warmup 5 --json "$work/json/bench_${key}_bf16.json"
    fi
  done
  [ "$has_precision" = 1 ] || printf '== %-22s %s\n' bench_bf16 "not run: this selfsup has no recipe field precision"

  # --- a few hundred training steps: loader, augmentation, step and checkpoint together ------------
  for r in "${recipes[@]}"; do
    read -r key recipe data <<<"$r"
    root=$fmnist
    [ "$data" = emoji ] && root=$emoji
    if [ "$have_bin" = 0 ]; then not_run "train_$key" "selfsup was not built"; continue; fi
    stage "train_$key" 240 "${run_env[@]}" "$bin" train "$recipe" "device=$device" "data.root=$root" \
      "run_dir=$work/runs" "name=gpu_$key" "train.stop_after_steps=$steps" "${extra[@]}" --overwrite
  done

  # --- the calibration figure of this machine's CPU (docs/results.md's yardstick) ------------------
  if [ "$have_bin" = 1 ]; then
    stage calibration 90 "${run_env[@]}" "$bin" bench --json "$work/json/calibration.json"
  else
    not_run calibration "selfsup was not built"
  fi

  # --- the trained checkpoints through the evaluation and sampling code on the GPU ------------------
  local runs=$work/runs
  if [ -f "$runs/gpu_moco/checkpoint.pt" ] || [ "$dry_run" = 1 ]; then
    stage eval_moco 120 "${run_env[@]}" "$bin" eval all --checkpoint "$runs/gpu_moco/checkpoint.pt" "device=$device" \
      eval.linear.epochs=10 eval.baselines=false --json "$work/json/eval_moco.json"
  else
    not_run eval_moco "no checkpoint: train_moco did not write one"
  fi
  if [ -f "$runs/gpu_clip/checkpoint.pt" ] || [ "$dry_run" = 1 ]; then
    stage eval_clip 90 "${run_env[@]}" "$bin" eval retrieval --checkpoint "$runs/gpu_clip/checkpoint.pt" "device=$device" \
      --json "$work/json/eval_clip.json"
  else
    not_run eval_clip "no checkpoint: train_clip did not write one"
  fi
  if [ -f "$runs/gpu_diffusion/checkpoint.pt" ] || [ "$dry_run" = 1 ]; then
    stage sample_diffusion 60 "${run_env[@]}" "$bin" sample --checkpoint "$runs/gpu_diffusion/checkpoint.pt" -n 4 \
      --steps 20 --out "$work/json/diffusion_samples.png"
  else
    not_run sample_diffusion "no checkpoint: train_diffusion did not write one"
  fi

  finish
  [ "$failures" -eq 0 ]
}

# The summary on the console and in $OUT, plus one archive of the details (at most 8 files come back
# from $OUT, two folders deep): logs, bench and eval JSON, each run's metrics and recipe.
finish() {
  [ "$dry_run" = 1 ] && { echo "dry run: $failures problem(s) found before running anything"; return 0; }
  summarize || echo "gpu_check: no summary ($python missing?)"
  local -a files=(logs json stages.tsv)
  local f
  for f in "$work"/runs/*/metrics.* "$work"/runs/*/recipe.yaml; do
    [ -f "$f" ] && files+=("${f#"$work"/}")
  done
  tar -czf "$out/details.tar.gz" -C "$work" "${files[@]}" -C "$build" CMakeCache.txt 2>/dev/null ||
    tar -czf "$out/details.tar.gz" -C "$work" "${files[@]}" 2>/dev/null || true
  echo
  cat "$out/summary.txt" 2>/dev/null
  echo "results: $out/{summary.txt,summary.json,gpu_check.log,stages.log,details.tar.gz}"
}

case ${1:-run} in
  prepare) prepare ;;
  baseline) cpu_baseline ;;
  run) run_check ;;
  -h | --help | help) sed -n '2,/^set -u/p' "$0" | sed '$d' ;;
  *) die "unknown mode '$1': expected prepare, baseline or run (bench/gpu_check.sh --help)" ;;
esac
