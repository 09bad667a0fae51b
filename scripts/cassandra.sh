#!/usr/bin/env bash
# A throwaway single-node Apache Cassandra 5.0 for tests and local work: cassandra-all and its
# dependencies from Maven Central (no tarball, no Docker), run on JDK 17. Config in scripts/cassandra/.
#   scripts/cassandra.sh up       fetch the jars once, start the node on 127.0.0.1:$CASSANDRA_PORT, wait until CQL answers
#   scripts/cassandra.sh down     stop it (SIGTERM, then SIGKILL after $CASSANDRA_STOP_TIMEOUT seconds)
#   scripts/cassandra.sh status   say whether it runs (exit 0: answers CQL, 1: runs but does not answer, 3: not running)
#   scripts/cassandra.sh url      print host:port for the settings (127.0.0.1:9042); `host` and `port` print one part
#   scripts/cassandra.sh fetch    only fetch the jars into the cache
#   scripts/cassandra.sh logs     print the end of its log
#   scripts/cassandra.sh clean    stop it and delete its data, config and logs
#   scripts/cassandra.sh nodetool ARGS   run nodetool (needs CASSANDRA_JMX_PORT, at `up` and here)
# Environment:
#   CASSANDRA_VERSION        cassandra-all version (default 5.0.8, falling back to 5.0.7, then 5.0.6)
#   CASSANDRA_JAVA           a JDK 17 home or its bin/java (default: the first Java 17 of JAVA_HOME, PATH, /usr/lib/jvm, /opt)
#   CASSANDRA_CACHE          jars kept between runs (default ~/.cache/shutter-cassandra/<version>/lib)
#   CASSANDRA_MAVEN_REPO     Maven's local repository (default Maven's own, ~/.m2/repository)
#   CASSANDRA_RUN            config, data, logs, pid (default /tmp/shutter-cassandra: outside the checkout)
#   CASSANDRA_PORT           CQL port (9042); CASSANDRA_STORAGE_PORT internode port (7000)
#   CASSANDRA_JMX_PORT       if set, local JMX on that port for nodetool (off by default)
#   CASSANDRA_JVM_OPTS       extra JVM options, space-separated (after scripts/cassandra/jvm17.options)
#   CASSANDRA_HEAP           maximum heap, -Xmx (1G); CASSANDRA_HEAP_MIN initial heap, -Xms (256m)
#   CASSANDRA_START_TIMEOUT  seconds to wait for CQL (180); CASSANDRA_STOP_TIMEOUT seconds before SIGKILL (30)
#   CASSANDRA_MLOCK=1        as root, let the daemon mlockall() its memory (by default root drops CAP_IPC_LOCK for it,
#                            as a normal user's 8 MiB memlock limit does: mlockall pins the whole -Xms heap in RAM)
set -euo pipefail
cd "$(dirname "$0")/.."
HERE=$PWD/scripts/cassandra
HOST=127.0.0.1
PORT=${CASSANDRA_PORT:-9042}
STORAGE_PORT=${CASSANDRA_STORAGE_PORT:-7000}
RUN=${CASSANDRA_RUN:-/tmp/shutter-cassandra}
CACHE=${CASSANDRA_CACHE:-${HOME:-/tmp}/.cache/shutter-cassandra}
HEAP=${CASSANDRA_HEAP:-1G}
HEAP_MIN=${CASSANDRA_HEAP_MIN:-256m}
START_TIMEOUT=${CASSANDRA_START_TIMEOUT:-180}
STOP_TIMEOUT=${CASSANDRA_STOP_TIMEOUT:-30}
PIDFILE=$RUN/cassandra.pid
DEPENDENCY_PLUGIN=org.apache.maven.plugins:maven-dependency-plugin:3.8.1

die() { echo "cassandra.sh: $*" >&2; exit 1; }
now_ms() { date +%s%3N; }
since() { local ms=$(($(now_ms) - $1)); printf '%d.%01ds' $((ms / 1000)) $((ms % 1000 / 100)); }
is_root() { [ "$(id -u)" = 0 ]; }

apt_install() {
  is_root && command -v apt-get >/dev/null || return 1
  echo "Installing $* from Debian's packages..."
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

# --- Java 17 -------------------------------------------------------------------------------------
java_spec() { "$1" -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java\.specification\.version = //p' | head -n 1; }

find_java() {
  local c
  if [ -n "${CASSANDRA_JAVA:-}" ]; then
    c=$CASSANDRA_JAVA; [ -d "$c" ] && c=$c/bin/java
    [ -x "$c" ] || die "CASSANDRA_JAVA=$CASSANDRA_JAVA: no java there"
    [ "$(java_spec "$c")" = 17 ] || die "CASSANDRA_JAVA=$CASSANDRA_JAVA is Java $(java_spec "$c"); Cassandra 5.0 needs 17 here"
    readlink -f "$c"; return
  fi
  local candidates=()
  [ -n "${JAVA_HOME:-}" ] && candidates+=("$JAVA_HOME/bin/java")
  command -v java >/dev/null && candidates+=("$(command -v java)")
  candidates+=(/usr/lib/jvm/*17*/bin/java /opt/*17*/bin/java /opt/*/*17*/bin/java /usr/lib/jvm/*/bin/java)
  for c in "${candidates[@]}"; do
    [ -x "$c" ] && [ "$(java_spec "$c")" = 17 ] && { readlink -f "$c"; return; }
  done
  return 1
}

ensure_tools() {
  if [ -n "${CASSANDRA_JAVA:-}" ]; then
    JAVA=$(find_java) || exit 1   # find_java said why; an explicit choice is never replaced
  else
    # Only when no Java 17 is installed at all (apt-get install would also upgrade an installed one).
    JAVA=$(find_java) || { apt_install openjdk-17-jre-headless && JAVA=$(find_java); } ||
      die "no JDK 17 found (JAVA_HOME, PATH, /usr/lib/jvm, /opt); install one or set CASSANDRA_JAVA=/path/to/jdk-17"
  fi
  JDK_HOME=$(dirname "$(dirname "$JAVA")")
}

ensure_maven() {
  command -v mvn >/dev/null || apt_install maven || die "Maven (mvn) is needed to fetch Cassandra; install it"
}

# --- jars from Maven Central -----------------------------------------------------------------------
versions() { if [ -n "${CASSANDRA_VERSION:-}" ]; then echo "$CASSANDRA_VERSION"; else echo 5.0.8 5.0.7 5.0.6; fi; }

# Sets VERSION and LIB: the first cached version, else the first one Maven can fetch.
fetch() {
  local v dir t0
  for v in $(versions); do
    [ -f "$CACHE/$v/lib/cassandra-all-$v.jar" ] && { VERSION=$v; LIB=$CACHE/$v/lib; return; }
  done
  ensure_maven
  mkdir -p "$CACHE"
  exec 9>"$CACHE/.lock"; flock 9   # two `up`s at once fetch once
  for v in $(versions); do
    dir=$CACHE/$v
    [ -f "$dir/lib/cassandra-all-$v.jar" ] && { VERSION=$v; LIB=$dir/lib; exec 9>&-; return; }
    mkdir -p "$dir"; rm -rf "$dir/lib.partial"
    cp "$HERE/pom.xml" "$dir/pom.xml"   # Maven runs there: nothing is written into the checkout
    echo "Fetching org.apache.cassandra:cassandra-all:$v and its dependencies from Maven Central..."
    t0=$(now_ms)
    if JAVA_HOME=$JDK_HOME mvn -B -q -Dstyle.color=never -f "$dir/pom.xml" -Dcassandra.version="$v" \
         ${CASSANDRA_MAVEN_REPO:+"-Dmaven.repo.local=$CASSANDRA_MAVEN_REPO"} \
         "$DEPENDENCY_PLUGIN:copy-dependencies" -DincludeScope=runtime -DoutputDirectory="$dir/lib.partial" \
         >"$dir/mvn.log" 2>&1 && [ -f "$dir/lib.partial/cassandra-all-$v.jar" ]; then
      rm -rf "${dir:?}/lib"; mv "$dir/lib.partial" "$dir/lib"   # a cut-off fetch never looks complete
      echo "Fetched $(find "$dir/lib" -name '*.jar' | wc -l) jars ($(du -sh "$dir/lib" | cut -f1)) in $(since "$t0") into $dir/lib"
      VERSION=$v; LIB=$dir/lib; exec 9>&-; return
    fi
    echo "Could not fetch cassandra-all $v (full log: $dir/mvn.log):" >&2
    grep -E 'ERROR|Could not' "$dir/mvn.log" | head -n 5 >&2 || tail -n 5 "$dir/mvn.log" >&2
  done
  die "no cassandra-all version of [$(versions)] could be fetched"
}

# --- the running node -----------------------------------------------------------------------------
# Prints the pid if the node of $RUN runs.
running_pid() {
  local pid
  pid=$(cat "$PIDFILE" 2>/dev/null) && [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null &&
    tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q -- "-Dcassandra.config=file://$RUN/cassandra.yaml" &&
    echo "$pid"
}

tcp_open() { (exec 3<>"/dev/tcp/$HOST/$1") 2>/dev/null; }

# CQL answers: `SELECT release_version FROM system.local` over the native protocol (stdlib Python, so it
# works before the project's virtualenv exists); without a python3, the port and the log line.
cql_ok() {
  tcp_open "$PORT" || return 1
  if command -v python3 >/dev/null; then
    python3 "$HERE/cql_ping.py" "$HOST" "$PORT" 5 >/dev/null 2>&1
  else
    grep -q "Starting listening for CQL clients on /$HOST:$PORT" "$RUN/logs/system.log" 2>/dev/null
  fi
}

rss_mb() { echo $(($(ps -o rss= -p "$1" 2>/dev/null || echo 0) / 1024)); }

show_logs() {
  local f
  for f in "$RUN/logs/system.log" "$RUN/logs/stdout.log"; do
    [ -s "$f" ] && { echo "---- tail of $f"; tail -n "${1:-60}" "$f"; }
  done
  return 0
}

write_config() {
  mkdir -p "$RUN"/{data,commitlog,saved_caches,hints,cdc_raw,logs,tmp,triggers}
  local f   # keep the previous run's logs once, so a failed start shows only its own
  for f in system.log stdout.log; do
    if [ -f "$RUN/logs/$f" ]; then mv -f "$RUN/logs/$f" "$RUN/logs/$f.1"; fi
  done
  sed -e "s#@RUN@#$RUN#g" -e "s#@HOST@#$HOST#g" -e "s#@PORT@#$PORT#g" -e "s#@STORAGE_PORT@#$STORAGE_PORT#g" \
    "$HERE/cassandra.yaml" >"$RUN/cassandra.yaml"
  cp "$HERE/logback.xml" "$RUN/logback.xml"
}

jvm_options() { sed -e 's/#.*//' -e 's/^[[:space:]]*//' -e 's/[[:space:]]*$//' -e '/^$/d' "$HERE/jvm17.options"; }

launch() {
  local opts=() prefix=() jamm
  mapfile -t opts < <(jvm_options)
  jamm=$(find "$LIB" -name 'jamm-*.jar' | head -n 1)
  if [ -n "$jamm" ]; then opts+=("-javaagent:$jamm"); fi
  if [ -n "${CASSANDRA_JMX_PORT:-}" ]; then opts+=("-Dcassandra.jmx.local.port=$CASSANDRA_JMX_PORT"); fi
  # shellcheck disable=SC2206 # word splitting wanted: extra JVM options, space-separated
  opts+=(${CASSANDRA_JVM_OPTS:-})
  # As root, mlockall() succeeds and pins every committed page (the whole -Xms heap): drop CAP_IPC_LOCK.
  if is_root && [ "${CASSANDRA_MLOCK:-0}" != 1 ] && command -v setpriv >/dev/null &&
     setpriv --bounding-set=-ipc_lock --inh-caps=-ipc_lock true 2>/dev/null; then
    prefix=(setpriv --bounding-set=-ipc_lock --inh-caps=-ipc_lock)
  fi
  # cassandra-foreground=yes keeps stdout/stderr open (JVM warnings, crashes go to stdout.log); the data is
  # throwaway, so: no gossip settling wait and no shutdown announcement/drain waits on a lone node (down ~2 s
  # instead of ~6.5 s), and no fsync (skip_sync, unsafesystem: schema changes ~2.5x faster).
  (
    cd "$RUN"   # hs_err_pid*.log and the like land here
    exec setsid "${prefix[@]}" "$JAVA" "-Xms$HEAP_MIN" "-Xmx$HEAP" "${opts[@]}" \
      -Dcassandra.config="file://$RUN/cassandra.yaml" -Dcassandra-foreground=yes \
      -Dcassandra.storagedir="$RUN" -Dcassandra.logdir="$RUN/logs" -Dcassandra.triggers_dir="$RUN/triggers" \
      -Dlogback.configurationFile="$RUN/logback.xml" \
      -Djava.io.tmpdir="$RUN/tmp" -Djna.tmpdir="$RUN/tmp" \
      -Dcassandra.skip_wait_for_gossip_to_settle=0 -Dcassandra.shutdown_announce_in_ms=0 \
      -Dcassandra.test.messagingService.nonGracefulShutdown=true \
      -Dcassandra.unsafesystem=true -Dcassandra.skip_sync=true \
      -cp "$LIB/*" org.apache.cassandra.service.CassandraDaemon
  ) </dev/null >"$RUN/logs/stdout.log" 2>&1 8>&- 9>&- &
  echo $! >"$PIDFILE"
}

wait_ready() {  # pid t0
  local pid=$1 t0=$2 deadline=$(($(now_ms) + START_TIMEOUT * 1000))
  while [ "$(now_ms)" -lt "$deadline" ]; do
    if ! kill -0 "$pid" 2>/dev/null; then
      show_logs; rm -f "$PIDFILE"; die "Cassandra exited during startup (logs above, in $RUN/logs)"
    fi
    if cql_ok; then
      echo "Cassandra $VERSION is up on $(url) after $(since "$t0") (pid $pid, RSS $(rss_mb "$pid") MB, heap $HEAP_MIN..$HEAP, $RUN)"
      return 0
    fi
    sleep 0.5
  done
  show_logs
  echo "Stopping it..." >&2
  down >&2
  die "Cassandra did not answer CQL on $(url) within ${START_TIMEOUT}s (logs above, in $RUN/logs)"
}

up() {
  local pid t0
  t0=$(now_ms)
  mkdir -p "$RUN"
  exec 8>"$RUN/.lock"; flock 8   # a second `up` at the same time waits, then finds it running
  VERSION=$(cat "$RUN/VERSION" 2>/dev/null || echo "?")
  if pid=$(running_pid); then
    if cql_ok; then echo "Cassandra is already running (pid $pid): $(url)"; return 0; fi
    echo "Cassandra is already starting (pid $pid); waiting for CQL..."
    wait_ready "$pid" "$t0"; return
  fi
  tcp_open "$PORT" && die "$HOST:$PORT is taken by another process (not the Cassandra of $RUN); set CASSANDRA_PORT"
  tcp_open "$STORAGE_PORT" && die "$HOST:$STORAGE_PORT is taken by another process; set CASSANDRA_STORAGE_PORT"
  ensure_tools
  fetch
  if [ -f "$RUN/VERSION" ] && [ "$(cat "$RUN/VERSION")" != "$VERSION" ]; then
    echo "Data in $RUN is from Cassandra $(cat "$RUN/VERSION"); starting afresh for $VERSION."
    rm -rf "${RUN:?}"/{data,commitlog,saved_caches,hints,cdc_raw}
  fi
  write_config
  echo "$VERSION" >"$RUN/VERSION"
  echo "Starting Cassandra $VERSION on $(url) with $JAVA..."
  launch
  wait_ready "$(cat "$PIDFILE")" "$t0"
}

down() {
  local pid i
  if pid=$(running_pid); then
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < STOP_TIMEOUT * 10; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$pid" 2>/dev/null; then
      echo "Cassandra (pid $pid) still runs after ${STOP_TIMEOUT}s: SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
      for ((i = 0; i < 100; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    fi
  fi
  rm -f "$PIDFILE"
  echo "Cassandra is down."
}

status() {
  local pid
  if ! pid=$(running_pid); then echo "Cassandra is not running ($RUN)."; return 3; fi
  if cql_ok; then
    echo "Cassandra $(cat "$RUN/VERSION" 2>/dev/null) is running (pid $pid, RSS $(rss_mb "$pid") MB) and answers CQL on $(url)."
    return 0
  fi
  echo "Cassandra is running (pid $pid) but does not answer CQL on $(url) (yet?); see $RUN/logs/system.log."
  return 1
}

clean() {
  down
  rm -rf "${RUN:?}"
  echo "Removed $RUN."
}

url() { echo "$HOST:$PORT"; }

nodetool() {
  [ -n "${CASSANDRA_JMX_PORT:-}" ] ||
    die "nodetool needs JMX: CASSANDRA_JMX_PORT=7199 $0 up (from down), then CASSANDRA_JMX_PORT=7199 $0 nodetool status"
  ensure_tools
  fetch >/dev/null
  local opts=()
  mapfile -t opts < <(jvm_options | grep -E '^(--add-|-Djdk\.attach)')
  mkdir -p "$RUN/tmp"
  "$JAVA" "${opts[@]}" -Dlogback.configurationFile="$HERE/logback-tools.xml" -Duser.home="$RUN/tmp" \
    -cp "$LIB/*" org.apache.cassandra.tools.NodeTool -h "$HOST" -p "$CASSANDRA_JMX_PORT" "$@"
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  status) status ;;
  url) url ;;
  host) echo "$HOST" ;;
  port) echo "$PORT" ;;
  fetch) ensure_tools; fetch; echo "Cassandra $VERSION jars: $LIB" ;;
  logs) show_logs 100 ;;
  clean) clean ;;
  nodetool) shift; nodetool "$@" ;;
  *) echo "usage: $0 up|down|status|url|host|port|fetch|logs|clean|nodetool ARGS..." >&2; exit 2 ;;
esac
