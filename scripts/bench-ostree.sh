#!/usr/bin/env bash
# Compares `ferro ostree` with Debian's `ostree` on the same trees in one run: this
# machine's /usr/lib (the tree of the issue's reference figures; override with
# BENCH_TREE=DIR, e.g. the smaller /usr/share) and a generated tree of 100,000 small
# files. Per tree: commit into bare-user and into archive, hardlink checkout
# (`-U -H` from bare-user), copy checkout (`-U`, copies), fsck of both repositories,
# pull-local of the archive repository into a fresh bare-user one, and
# (when nginx is installed) an HTTP pull of ostree's archive repository, served by nginx
# on a loopback port, into a fresh bare-user repository.
# Prints wall time and peak RSS per operation and tool, and the ferro/ostree ratios.
# BENCH_TREE=none skips the real tree.
# BENCH_ONLY=pull times only the HTTP pull (ostree's archive commit is still made, untimed).
set -euo pipefail
cd "$(dirname "$0")/.."
command -v ostree >/dev/null || { echo "ostree not installed (apt-get install ostree)"; exit 1; }
work=$(mktemp -d)
nginx_pid=
trap '[ -n "$nginx_pid" ] && kill "$nginx_pid" 2>/dev/null; cleanup_tree; chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"' EXIT
nginx=$(command -v nginx || { [ -x /usr/sbin/nginx ] && echo /usr/sbin/nginx; } || true)
[ -n "$nginx" ] || echo "nginx not installed (apt-get install nginx): no HTTP pull comparison"
cargo build --release --quiet -p ferro --bin ferro
ferro="$(realpath "${CARGO_TARGET_DIR:-target}")/release/ferro"

python3 - "$work/small" <<'PY'
import os, sys
root = sys.argv[1]
for d in range(1000):
    sub = os.path.join(root, f"d{d // 100:02}", f"s{d:04}")
    os.makedirs(sub)
    for i in range(100):
        with open(os.path.join(sub, f"f{i:03}.txt"), "w") as f:
            f.write(f"file {d}/{i}\n" * (1 + (d * 7 + i) % 40))
PY

run() { # key, command... -> wall seconds in $work/KEY.wall, peak KiB in $work/KEY.rss
    local key=$1; shift
    local start end
    # Flush the previous step's dirty pages first, so neither tool pays for the other's
    # (or its own earlier, unsynced) writeback inside a timed step.
    sync
    start=$(date +%s.%N)
    if [ -x /usr/bin/time ]; then
        /usr/bin/time -f "%M" -o "$work/$key.rss" "$@" >/dev/null
    else
        "$@" >/dev/null; echo "?" >"$work/$key.rss"
    fi
    end=$(date +%s.%N)
    python3 -c "print(f'{$end - $start:.3f}')" >"$work/$key.wall"
}

serve() { # archive repo dir -> starts nginx on a free loopback port, sets $url and $nginx_pid
    # A master with one worker per core and unlimited keep-alive requests: the server
    # should not be what either client waits for.
    local root=$1 port n="$work/nginx"
    port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    mkdir -p "$n"
    cat >"$n/nginx.conf" <<CONF
daemon off;
user $(id -un) $(id -gn);
worker_processes auto;
pid $n/nginx.pid;
error_log $n/error.log;
events { worker_connections 1024; }
http {
  access_log off; sendfile on; tcp_nopush on;
  keepalive_requests 1000000; keepalive_timeout 300s;
  client_body_temp_path $n/body; proxy_temp_path $n/proxy; fastcgi_temp_path $n/fastcgi;
  uwsgi_temp_path $n/uwsgi; scgi_temp_path $n/scgi;
  server { listen 127.0.0.1:$port; root $root; }
}
CONF
    "$nginx" -p "$n" -e "$n/error.log" -c "$n/nginx.conf" &
    nginx_pid=$!
    url="http://127.0.0.1:$port"
    for _ in $(seq 200); do
        (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && return 0
        sleep 0.05
    done
    echo "nginx did not start: $(cat "$n/error.log")"; exit 1
}

bench_http_pull() { # both tools pull ostree's archive repo ($work/ostree/ar) into bare-user
    local t
    ostree summary -u --repo="$work/ostree/ar" >/dev/null
    serve "$work/ostree/ar"
    for t in ferro ostree; do
        local cmd=("$ferro" ostree)
        [ "$t" = ostree ] && cmd=(ostree)
        "${cmd[@]}" init --repo="$work/$t/hp" --mode=bare-user
        "${cmd[@]}" remote add --repo="$work/$t/hp" --no-gpg-verify origin "$url"
        run "$t.pull-http" "${cmd[@]}" pull --repo="$work/$t/hp" origin main
        release "$work/$t" hp
    done
    kill "$nginx_pid"; wait "$nginx_pid" 2>/dev/null || true; nginx_pid=
}

bench_tree() { # label, source dir
    local label=$1 src=$2 t
    echo "== $label: $src ($(find "$src" -type f 2>/dev/null | wc -l) files, $(du -sh "$src" 2>/dev/null | cut -f1))"
    if [ "${BENCH_ONLY:-}" = pull ]; then
        cleanup_tree && fresh_fs "$work/ferro" && fresh_fs "$work/ostree"
        ostree init --repo="$work/ostree/ar" --mode=archive
        ostree commit --repo="$work/ostree/ar" -b main --tree=dir="$src" >/dev/null
        bench_http_pull
        report pull-http
        cleanup_tree
        return
    fi
    # Read the tree once untimed, so that the first tool's commit does not pay for the
    # disk reads that the second one then gets from the page cache.
    find "$src" -type f -print0 2>/dev/null | xargs -0 cat >/dev/null 2>&1 || true
    for t in ferro ostree; do
        local cmd=("$ferro" ostree)
        [ "$t" = ostree ] && cmd=(ostree)
        local r="$work/$t"
        fresh_fs "$r"
        "${cmd[@]}" init --repo="$r/bu" --mode=bare-user
        "${cmd[@]}" init --repo="$r/ar" --mode=archive
        run "$t.commit-bare-user" "${cmd[@]}" commit --repo="$r/bu" -b main --tree=dir="$src"
        run "$t.commit-archive" "${cmd[@]}" commit --repo="$r/ar" -b main --tree=dir="$src"
        run "$t.checkout-hardlink" "${cmd[@]}" checkout --repo="$r/bu" -U -H main "$r/co-hl"
        if [ "$t" = ostree ]; then
            run "$t.checkout-copy" ostree checkout --repo="$r/bu" -U --force-copy main "$r/co-cp"
        else
            run "$t.checkout-copy" "$ferro" ostree checkout --repo="$r/bu" -U -C main "$r/co-cp"
        fi
        release "$r" co-hl co-cp
        run "$t.fsck-bare-user" "${cmd[@]}" fsck --repo="$r/bu"
        run "$t.fsck-archive" "${cmd[@]}" fsck --repo="$r/ar"
        "${cmd[@]}" init --repo="$r/pl" --mode=bare-user
        run "$t.pull-local" "${cmd[@]}" pull-local --repo="$r/pl" "$r/ar" main
        echo "   $t repos: bare-user $(du -sh "$r/bu" | cut -f1), archive $(du -sh "$r/ar" | cut -f1)" \
            "(archive objects: $(du -sb "$r/ar/objects" | cut -f1) bytes)"
        release "$r" pl bu
        [ "$t" = ostree ] || release "$r" ar
    done
    local ops="commit-bare-user commit-archive checkout-hardlink checkout-copy fsck-bare-user fsck-archive pull-local"
    if [ -n "$nginx" ]; then
        bench_http_pull
        ops="$ops pull-http"
    fi
    report $ops
    cleanup_tree
}

report() { # operations... -> one line per operation with both tools' figures and ratios
    local op
    printf '   %-18s %10s %10s %7s %12s %12s %7s\n' operation "ferro s" "ostree s" ratio "ferro KiB" "ostree KiB" ratio
    for op in "$@"; do
        python3 - "$work" "$op" <<'PY'
import sys
w, op = sys.argv[1], sys.argv[2]
val = lambda t, k: open(f"{w}/{t}.{op}.{k}").read().strip()
fw, ow, fr, orss = val("ferro", "wall"), val("ostree", "wall"), val("ferro", "rss"), val("ostree", "rss")
ratio = lambda a, b: f"{float(a) / float(b):.2f}" if b not in ("?", "0", "0.000") and a != "?" else "-"
print(f"   {op:<18} {float(fw):10.2f} {float(ow):10.2f} {ratio(fw, ow):>7} {fr:>12} {orss:>12} {ratio(fr, orss):>7}")
PY
    done
}

# As root, each tool's repositories and checkouts live on a freshly made ext4 filesystem
# of their own. On one shared filesystem the runs are unequal: ext4 without a journal
# (this machine's root) skips inodes freed in the last one to six minutes when it
# allocates, so the tool that runs after a large deletion (the previous tree's cleanup)
# pays for scanning past them. The loop device does direct I/O to its image: buffered,
# its copies through the page cache run on kernel threads that take CPU from whichever
# tool uses both cores, and cache everything twice.
fresh_fs() { # dir
    mkdir -p "$1"
    if [ "$(id -u)" = 0 ] && command -v mkfs.ext4 >/dev/null; then
        truncate -s 16G "$1.img"
        mkfs.ext4 -q -F -N 1500000 -E lazy_itable_init=0,lazy_journal_init=0 "$1.img"
        mount -o loop "$1.img" "$1"
        losetup --direct-io=on "$(findmnt -no SOURCE "$1")" 2>/dev/null || true
    fi
}

# Removes what the timed steps are done with (untimed), and hands the freed blocks of a
# loop filesystem back to the host: /usr/lib's repositories and checkouts would
# otherwise need about 30 GB at once.
release() { # tool dir, entries...
    local dir=$1; shift
    local entry
    for entry in "$@"; do
        chmod -R u+w "$dir/$entry" 2>/dev/null || true
        rm -rf "${dir:?}/$entry"
    done
    if mountpoint -q "$dir"; then fstrim "$dir" 2>/dev/null || true; fi
}

cleanup_tree() { # the repositories of both tools
    local t
    for t in ferro ostree; do
        if mountpoint -q "$work/$t"; then
            umount "$work/$t"
        else
            chmod -R u+w "$work/$t" 2>/dev/null || true
        fi
        rm -rf "${work:?}/$t" "$work/$t.img"
    done
}

[ "${BENCH_TREE:-}" = none ] || bench_tree "real tree" "${BENCH_TREE:-/usr/lib}"
bench_tree "generated tree" "$work/small"
