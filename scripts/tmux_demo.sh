#!/usr/bin/env bash
# Drive the real ionis-tui in an 80x24 tmux session the way a user would (keys in,
# screen text out) and check what the screen and the run folder show at every step:
#   empty embedded DB -> seed demo data (d) -> start (s) -> pause (p) -> checkpoint (c)
#   -> resume (p) -> stop (x, y) -> matrix burst typing (m) -> runs list (r) -> resume the run (s) -> quit (q, stop)
#   -> start again and drop the terminal (tmux kill-session = SIGHUP) -> the run keeps training
#   -> a new tmux session attaches to it, pauses it, `ionis-tui runs resume` from the shell
#   -> quit with detach (q, d) -> `ionis-tui runs stop` from the shell.
# Everything lives in a temporary folder; nothing in the repository is touched.
# Usage: scripts/tmux_demo.sh [--keep]   (prints every capture; exit 0 = all checks passed)
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PY="${PYTHON:-$REPO/.venv/bin/python}"
WORK="$(mktemp -d -t ionis-tmux-XXXXXX)"
SESSION="ionis-demo-$$"
KEEP="${1:-}"
FAILED=0

cleanup() {
  tmux kill-session -t "$SESSION" 2>/dev/null || true
  if [[ "$KEEP" != "--keep" ]]; then rm -rf "$WORK"; else echo "kept $WORK"; fi
}
trap cleanup EXIT

cat >"$WORK/settings.toml" <<EOF
[database]
mode = "embedded"
path = "$WORK/db.chdb"
table = "signatures_demo"
[train]
epochs = 2000
batch_size = 2048
device = "cpu"
progress_interval = 0.1
[demo]
rows = 20000
[runs]
dir = "$WORK/runs"
EOF

say() { printf '\n=== %s\n' "$*"; }
capture() { tmux capture-pane -p -t "$SESSION" 2>/dev/null || true; }

# wait_for TEXT [SECONDS]: until the screen shows TEXT; prints the screen either way.
wait_for() {
  local text="$1" limit="${2:-60}" t=0
  while ((t < limit * 10)); do
    if capture | grep -qF -- "$text"; then
      say "screen shows '$text'"; capture; return 0
    fi
    sleep 0.1; t=$((t + 1))
  done
  say "FAIL: '$text' not on screen after ${limit}s"; capture; FAILED=1; return 1
}

check() {  # check DESCRIPTION 'SHELL CONDITION'
  local what="$1"
  if eval "$2"; then echo "ok: $what"; else echo "FAIL: $what"; FAILED=1; fi
}

keys() { tmux send-keys -t "$SESSION" "$@"; sleep 0.3; }

run_state() {  # the newest run's state as the runs list reads it
  (cd "$REPO" && "$PY" -c "import sys
from engine.train.runs import list_runs
r = list_runs(sys.argv[1])
print(f'{r[0].state} {r[0].epochs_done}/{r[0].epochs_total} resumable={r[0].resumable}' if r else 'none')" "$WORK/runs")
}

start_app() {
  tmux new-session -d -s "$SESSION" -x 80 -y 24 \
    "cd '$REPO' && '$PY' -m ionis_tui --config '$WORK/settings.toml'; echo \$? > '$WORK/exit_code'"
}

say "1. start the app on an empty embedded database"
start_app
wait_for "press d to seed 20,000 demo" 90

say "2. seed the demo data (d)"
keys d
wait_for "signatures_demo · 20,000 rows" 180
check "data panel gone after seeding" '! capture | grep -q "database empty"'

say "3. start a run (s); let it finish two epochs (curves appear)"
keys s
wait_for "● training" 120
wait_for "loss " 60
wait_for "epoch 3/2000" 120
say "3b. at 80x24, while training: Pearson, both sidecar biases and effects, the last events"
screen="$(capture)"
check "Pearson plot on screen" 'grep -q "Pearson" <<<"$screen"'
check "sidecar fc2.bias and effect columns on screen" 'grep -q "fc2.bias *effect dB" <<<"$screen"'
check "sun and storm sidecar rows on screen" 'grep -qE "│ sun +[-+][0-9]" <<<"$screen" && grep -qE "│ storm +[-+][0-9]" <<<"$screen"'
check "the last epoch event on screen" 'grep -qE "epoch [0-9]+/2000: train" <<<"$screen"'
check "header is one line with the ETA" '[[ "$(sed -n 1p <<<"$screen")" == *"● training"*ETA* ]]'

say "4. pause (p)"
keys p
wait_for "● paused" 30

say "5. checkpoint now (c) while paused"
keys c
wait_for "checkpoint requested" 5
sleep 2
check "last.pt written by the manual checkpoint" 'ls "$WORK"/runs/*/last.pt >/dev/null 2>&1'

say "6. resume (p)"
keys p
wait_for "● training" 30

say "7. stop (x), confirm (y)"
keys x
wait_for "Stop the run?" 10
keys y
wait_for "● stopped" 60
check "run folder says stopped and resumable" '[[ "$(run_state)" == stopped*resumable=True ]]'
echo "run: $(run_state)"

say "7b. matrix (m): a burst of keys typed into the RX field arrives whole"
keys m
wait_for "SFI x Kp matrix" 30
keys Tab
keys Tab
tmux send-keys -t "$SESSION" End BSpace BSpace BSpace J O 5 1   # one write, as SSH batches it
sleep 1
wait_for "RX JO51" 10
keys Escape
keys Escape
wait_for "● stopped" 10

say "8. runs list (r)"
keys r
wait_for "resume" 10
wait_for "stopped" 10

say "9. resume the highlighted run (s)"
keys s
wait_for "● training" 120

say "10. quit with the run active (q): the dialog offers detach / stop / cancel; stop (s)"
keys q
wait_for "is active. Detach" 10
keys s
for _ in $(seq 1 600); do tmux has-session -t "$SESSION" 2>/dev/null || break; sleep 0.1; done
check "app exited" '! tmux has-session -t "$SESSION" 2>/dev/null'
check "exit status 0" '[[ "$(cat "$WORK/exit_code")" == 0 ]]'
check "run stopped with a checkpoint after quit" '[[ "$(run_state)" == stopped*resumable=True ]]'
echo "run: $(run_state)"

say "11. SSH drop: start again, then drop the terminal (kill-session sends SIGHUP)"
start_app
wait_for "signatures_demo · 20,000 rows" 90
keys s
wait_for "● training" 120
wait_for "loss " 60
wait_for "epoch 3/2000" 120
runs_before=$(ls "$WORK/runs" | wc -l)
epochs_at_drop=$(run_state | sed -E 's/^[a-z]+ ([0-9]+)\/.*/\1/')
t0=$(date +%s.%N)
tmux kill-session -t "$SESSION"
for _ in $(seq 1 300); do pgrep -f -- "--config $WORK/settings.toml" >/dev/null || break; sleep 0.1; done
echo "app process gone $(echo "$(date +%s.%N) - $t0" | bc) s after the hangup"
check "the app process exited after SIGHUP" '! pgrep -af -- "--config $WORK/settings.toml"'
# Wait for the next epoch rather than a fixed time: under load an epoch can take several seconds.
epoch_now() { run_state | sed -E 's/^[a-z]+ ([0-9]+)\/.*/\1/'; }
for _ in $(seq 1 300); do (( $(epoch_now) > epochs_at_drop )) && break; sleep 0.1; done
echo "run: $(run_state) (was at epoch $epochs_at_drop when the terminal dropped; $runs_before run folders)"
check "the run kept training without the app" '[[ "$(run_state)" == training* ]]'
check "epochs advanced after the drop (within 30 s)" '(( $(epoch_now) > epochs_at_drop ))'
(cd "$WORK" && "$PY" -m ionis_tui --config "$WORK/settings.toml" runs | head -3)

say "12. reattach from a new terminal (ionis-tui runs attach ID): the dashboard shows the live run"
run_id=$(ls -t "$WORK/runs" | head -1)
tmux new-session -d -s "$SESSION" -x 80 -y 24 \
  "cd '$REPO' && '$PY' -m ionis_tui --config '$WORK/settings.toml' runs attach $run_id; echo \$? > '$WORK/exit_code'"
wait_for "attached to run" 60
wait_for "● training │ $run_id" 30  # the header: state, then the run id
keys p
wait_for "● paused" 30
check "the trainer process is paused" '[[ "$(run_state)" == paused* ]]'
say "13. resume from another shell (ionis-tui runs resume): the app follows"
(cd "$WORK" && "$PY" -m ionis_tui --config "$WORK/settings.toml" runs resume "$run_id")
wait_for "● training" 30
say "14. quit and detach (q, d): the run goes on; stop it from the shell"
keys q
wait_for "is active. Detach" 10
keys d
for _ in $(seq 1 300); do tmux has-session -t "$SESSION" 2>/dev/null || break; sleep 0.1; done
check "app exited after detach" '! tmux has-session -t "$SESSION" 2>/dev/null'
check "the run is still training after detach" '[[ "$(run_state)" == training* ]]'
(cd "$WORK" && "$PY" -m ionis_tui --config "$WORK/settings.toml" runs stop "$run_id")
check "stopped from the shell, with last.pt" '[[ "$(run_state)" == stopped*resumable=True ]]'
echo "run: $(run_state)"

if ((FAILED)); then say "SOME CHECKS FAILED"; exit 1; fi
say "ALL CHECKS PASSED"
