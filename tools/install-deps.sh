#!/usr/bin/env bash
# Installs what Horizons builds and tests with on Debian 12; does nothing when
# everything is present. Run as root (or with sudo available).
#
#   1. Debian 12 packages (compiler, libraries, test peers, Java, Maven).
#   2. The OpenTelemetry C++ SDK (opentelemetry-cpp-dev 1.19) from
#      bookworm-backports, the only Debian 12 suite that has it. The suite is
#      added with apt's default backports priority (100: nothing is upgraded
#      from it), and only this package and its library are asked for there
#      (`package/bookworm-backports`); everything else stays Debian 12's.
#   3. librdkafka 2.8.0, built once from Debian 13 (trixie)'s own source
#      package: Debian 12 ships 2.0.2, which cannot log in with SCRAM to
#      Kafka 4.x. Only a trixie `deb-src` line is added beside the normal
#      sources, never a trixie `deb` line: binaries of another release would
#      mix two Debian releases on this machine. apt checks the source
#      package's signature and checksums; the build's .debs install over
#      Debian 12's 2.0.2 in place (kcat keeps working).
#
# One line per step on stdout; on failure, one line on stderr naming what
# failed and where its log is.
set -euo pipefail

readonly librdkafka_version=2.8.0-1
readonly repo_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
readonly deps_dir=${HORIZONS_DEPS_DIR:-$repo_dir/build/deps}
readonly trixie_sources=/etc/apt/sources.list.d/horizons-trixie-src.sources
readonly backports_sources=/etc/apt/sources.list.d/horizons-bookworm-backports.sources

packages=(
  g++ cmake ninja-build pkg-config make python3 openssl
  libavro-dev libcli11-dev nlohmann-json3-dev libfmt-dev libspdlog-dev
  libgtest-dev libgmock-dev libbenchmark-dev libsqlite3-dev libcpp-httplib-dev libssl-dev
  python3-avro kcat python3-kafka python3-lz4 python3-snappy python3-venv
  openjdk-17-jre-headless openjdk-17-jdk-headless maven util-linux
  dpkg-dev clang-format chromium clang-19 libclang-rt-19-dev
  libabsl-dev libgrpc++-dev libprotobuf-dev protobuf-compiler-grpc prometheus-cpp-dev libjemalloc-dev
  postgresql-15 libpq-dev libjwt-dev
  slurm-wlm munge slurm-client
)

step() { printf 'install-deps: %s\n' "$*"; }
die() { printf 'install-deps: error: %s\n' "$*" >&2; exit 1; }

sudo=""
need_root() {
  [[ $(id -u) -eq 0 || -n $sudo ]] && return 0
  command -v sudo >/dev/null || die "need root or sudo to $1"
  sudo="sudo"
}

installed_version() { dpkg-query -W -f='${Status} ${Version}' "$1" 2>/dev/null | sed -n 's/^install ok installed //p'; }

export DEBIAN_FRONTEND=noninteractive
apt_updated=false
apt_update() {
  $apt_updated && return 0
  $sudo apt-get update -qq || die "apt-get update failed"
  apt_updated=true
}

# add_sources FILE STEP TYPES SUITE COMMENT: writes a deb822 sources file for Debian's own archive,
# once (saying STEP), so that the next apt_update reads it.
add_sources() {
  [[ -f $1 ]] && return 0
  step "$2"
  printf '%s\nTypes: %s\nURIs: http://deb.debian.org/debian\nSuites: %s\nComponents: main\nSigned-By: %s\n' \
    "$5" "$3" "$4" /usr/share/keyrings/debian-archive-keyring.gpg | $sudo tee "$1" >/dev/null
  apt_updated=false
}

# ----------------------------------------------------- 1. Debian 12 packages
missing=()
for p in "${packages[@]}"; do
  [[ -n $(installed_version "$p") ]] || missing+=("$p")
done
if ((${#missing[@]})); then
  need_root "install ${missing[*]}"
  step "installing Debian packages: ${missing[*]}"
  apt_update
  $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null ||
    die "apt-get install ${missing[*]} failed"
fi

# ------------------------------------ 2. OpenTelemetry C++ from backports
# (before step 3, which ends the script when librdkafka is already in place)
if [[ -z $(installed_version opentelemetry-cpp-dev) ]]; then
  need_root "install opentelemetry-cpp-dev from bookworm-backports"
  add_sources "$backports_sources" "OpenTelemetry C++: adding bookworm-backports ($backports_sources)" \
    deb bookworm-backports \
    "# Added by Horizons' tools/install-deps.sh for opentelemetry-cpp-dev, which
# Debian 12 has only in backports. Backports keep apt's default priority
# (100), so nothing is installed or upgraded from here unless asked for by
# name: \`apt-get install opentelemetry-cpp-dev/bookworm-backports\`."
  apt_update
  step "OpenTelemetry C++: installing opentelemetry-cpp-dev from bookworm-backports"
  $sudo apt-get install -y -qq --no-install-recommends \
    opentelemetry-cpp-dev/bookworm-backports opentelemetry-cpp/bookworm-backports >/dev/null ||
    die "apt-get install opentelemetry-cpp-dev/bookworm-backports failed"
fi

# ------------------------------------------- 3. librdkafka from trixie source
librdkafka_installed() {
  [[ $(installed_version librdkafka-dev) == "$librdkafka_version" &&
     $(installed_version librdkafka1) == "$librdkafka_version" ]]
}
librdkafka_installed && exit 0

need_root "build and install librdkafka $librdkafka_version"
started=$SECONDS
build_dir=$deps_dir/librdkafka-$librdkafka_version
log=$build_dir/build.log
mkdir -p "$build_dir"
: >"$log"

add_sources "$trixie_sources" \
  "librdkafka $librdkafka_version: adding Debian trixie's source index ($trixie_sources, deb-src only)" \
  deb-src trixie \
  "# Added by Horizons' tools/install-deps.sh: source packages only (deb-src),
# to build librdkafka 2.8.0 from Debian trixie's source package. There must
# never be a trixie \`deb\` line here."
apt_update

step "librdkafka $librdkafka_version: installing its build dependencies (apt-get build-dep)"
$sudo apt-get build-dep -y -qq "librdkafka=$librdkafka_version" >>"$log" 2>&1 ||
  die "apt-get build-dep librdkafka=$librdkafka_version failed (log: $log)"

debs=("$build_dir"/librdkafka1_"$librdkafka_version"_*.deb)
if [[ ! -f ${debs[0]} ]]; then
  step "librdkafka $librdkafka_version: fetching the source package into $build_dir (apt checks signature and checksums)"
  rm -rf "$build_dir/src"
  mkdir -p "$build_dir/src"
  (cd "$build_dir/src" && apt-get source -qq "librdkafka=$librdkafka_version") >>"$log" 2>&1 ||
    die "apt-get source librdkafka=$librdkafka_version failed (log: $log)"
  source_dir=$(find "$build_dir/src" -mindepth 1 -maxdepth 1 -type d -name 'librdkafka-*' | head -n 1)
  [[ -n $source_dir ]] || die "apt-get source left no librdkafka-* folder in $build_dir/src (log: $log)"

  step "librdkafka $librdkafka_version: building the .debs (dpkg-buildpackage, about a minute on 2 cores)"
  (cd "$source_dir" &&
    DEB_BUILD_OPTIONS="nocheck parallel=$(nproc)" dpkg-buildpackage -b -uc -us) >>"$log" 2>&1 ||
    die "dpkg-buildpackage of librdkafka $librdkafka_version failed (log: $log)"
  mv "$build_dir"/src/*.deb "$build_dir"/
  rm -rf "$build_dir/src"
fi

step "librdkafka $librdkafka_version: installing librdkafka1, librdkafka++1, librdkafka-dev"
$sudo apt-get install -y -qq --allow-downgrades \
  "$build_dir/librdkafka1_${librdkafka_version}_"*.deb \
  "$build_dir/librdkafka++1_${librdkafka_version}_"*.deb \
  "$build_dir/librdkafka-dev_${librdkafka_version}_"*.deb >>"$log" 2>&1 ||
  die "installing the librdkafka $librdkafka_version .debs from $build_dir failed (log: $log)"
librdkafka_installed || die "librdkafka-dev is $(installed_version librdkafka-dev), expected $librdkafka_version after installing"
step "librdkafka $librdkafka_version: installed in $((SECONDS - started)) s ($(pkg-config --modversion rdkafka))"
