#!/usr/bin/env bash
# PBS time vs. the FFTW floor of the same parameters (../shared/perf/fft_floor.cpp: the Fourier
# work one PBS cannot avoid, done with FFTW), measured alternately in the same run.
# Usage: bench/pbs_vs_fft_floor.sh [preset=tfhe_4bit] [rounds=5]
# Prints the median of each and their ratio (PBS / floor; below 1 means faster than the floor).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
PRESET="${1:-tfhe_4bit}"
ROUNDS="${2:-5}"
FLOOR_SRC="${FFT_FLOOR_SRC:-$ROOT/../shared/perf/fft_floor.cpp}"
BENCH="$ROOT/build/bench/bench_tfhe"
[ -x "$BENCH" ] || { echo "build first: ./scripts/test or ninja -C build" >&2; exit 1; }
[ -f "$FLOOR_SRC" ] || { echo "FFT floor source not found at $FLOOR_SRC (set FFT_FLOOR_SRC)" >&2; exit 1; }
FLOOR_BIN="$ROOT/build/fft_floor"
if [ ! -x "$FLOOR_BIN" ] || [ "$FLOOR_SRC" -nt "$FLOOR_BIN" ]; then
  g++ -O3 -march=native -ffast-math -o "$FLOOR_BIN" "$FLOOR_SRC" -lfftw3
fi
# n N k l of the preset, from the benchmark's counters.
read -r N_LWE N_POLY K L < <("$BENCH" --benchmark_filter="^keyswitch/$PRESET\$" --benchmark_min_time=0.01 \
  --benchmark_format=json 2>/dev/null | /usr/bin/python3 -c '
import json, sys
b = json.load(sys.stdin)["benchmarks"][0]
print(int(b["n"]), int(b["N"]), int(b["k"]), int(b["l"]))')
pbs=() floor=()
for ((r = 0; r < ROUNDS; r++)); do
  pbs+=("$("$BENCH" --benchmark_filter="^pbs/$PRESET\$" --benchmark_format=json 2>/dev/null |
    /usr/bin/python3 -c 'import json,sys; b=json.load(sys.stdin)["benchmarks"][0]; print(b["real_time"])')")
  floor+=("$("$FLOOR_BIN" "$N_LWE" "$N_POLY" "$K" "$L")")
done
/usr/bin/python3 - "$PRESET" "$N_LWE" "$N_POLY" "$K" "$L" "${pbs[*]}" "${floor[*]}" <<'PY'
import statistics, sys
preset, n, N, k, l, pbs, floor = sys.argv[1:]
pbs = [float(x) for x in pbs.split()]
floor = [float(x) for x in floor.split()]
mp, mf = statistics.median(pbs), statistics.median(floor)
print(f"preset {preset} (n={n}, N={N}, k={k}, l={l}), {len(pbs)} rounds")
print(f"  PBS (one thread)   median {mp:8.3f} ms   runs {' '.join(f'{x:.2f}' for x in pbs)}")
print(f"  FFTW floor         median {mf:8.3f} ms   runs {' '.join(f'{x:.2f}' for x in floor)}")
print(f"  ratio PBS / floor  {mp / mf:.3f}")
PY
