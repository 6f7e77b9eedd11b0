#!/usr/bin/env bash
# Throughput on ResNet-20 (CIFAR-10, 1x3x32x32): pimc's integer-exact
# quantized reference executor (dualnet.Executor, BenchmarkResNet20Quantized:
# 100 CIFAR-10 test images per op, RunBatch over all cores) next to ONNX
# Runtime FP32 (bench/ort/throughput.mjs: one session with 1 and with 2
# intra-op threads, and two 1-thread sessions side by side), on the same
# model file.
#
#   bench/resnet20.sh                     # resnet20_bn_amandashi95.onnx, 3 rounds
#   bench/resnet20.sh path/to/model.onnx  # another ResNet-20 export (repo-relative)
#   ROUNDS=5 RUNS=2000 CONFIGS='r=0.5/adc5|r=1/adc5' bench/resnet20.sh  # CONFIGS filters the table
#
# Columns: images/s (wall clock, all cores: what the machine delivered) and
# cpu-ms/image (process CPU time per image: less sensitive to other load on a
# shared machine; 2 / cpu-ms is what two idle cores would give). Each column
# is the best of the rounds. Ratios are pimc / ORT throughput (> 1: pimc is
# faster), by images/s and by CPU time per image, against ORT with one
# thread (its fastest per CPU) and against ORT's best 2-core mode.
# pimc runs the quantized (integer) model with the default hardware (5-bit
# ADC, 128-row tiles) or an ideal ADC ("ideal"); ORT runs the float model.
set -euo pipefail
cd "$(dirname "$0")/.."

model=${1:-testdata/models/cifar10/resnet20_bn_amandashi95.onnx}
rounds=${ROUNDS:-3}
runs=${RUNS:-1000}
configs=${CONFIGS:-r=0.5/adc5|r=1/adc5|r=0/adc5|r=0.5/ideal|r=1/ideal}

if [ ! -d bench/ort/node_modules/onnxruntime-node ]; then
	# --ignore-scripts: the package's install script downloads extra
	# binaries; the CPU runtime ships in the package itself.
	(cd bench/ort && npm install --ignore-scripts --no-audit --no-fund >/dev/null)
fi

declare -A ips cpu
keep() { # key images/s cpu-ms: keep the highest images/s and the lowest cpu-ms
	if [ -z "${ips[$1]:-}" ] || awk -v a="$2" -v b="${ips[$1]}" 'BEGIN{exit !(a>b)}'; then ips[$1]=$2; fi
	if [ -z "${cpu[$1]:-}" ] || awk -v a="$3" -v b="${cpu[$1]}" 'BEGIN{exit !(a<b)}'; then cpu[$1]=$3; fi
}

keys=()
for ((r = 1; r <= rounds; r++)); do
	# ORT lines: ort MODE images/s X ms/image Y cpu-ms/image Z.
	while read -r _ mode _ x _ _ _ c; do
		keep "ort-$mode" "$x" "$c"
	done < <(node bench/ort/throughput.mjs "$model" "$runs")
	# Benchmark lines: name N ns/op X cpu-ms/image Y images/s.
	while read -r name x c; do
		keep "$name" "$x" "$c"
	done < <(PIMC_BENCH_MODEL=$model go test ./dualnet -run XXX -bench ResNet20Quantized -benchtime 10x -count 1 |
		awk -v want="^($configs)\$" '/^BenchmarkResNet20Quantized\// {
			n = $1; sub(/^BenchmarkResNet20Quantized\//, "", n); sub(/-[0-9]+$/, "", n)
			if (n !~ want) next
			for (i = 1; i <= NF; i++) { if ($i == "images/s") x = $(i-1); if ($i == "cpu-ms/image") c = $(i-1) }
			printf "pimc-%s %s %s\n", n, x, c }')
done

printf 'ResNet-20 %s, %d cores, load %s (best of %d rounds)\n' "$(basename "$model")" "$(nproc)" "$(cut -d' ' -f1-3 /proc/loadavg)" "$rounds"
printf '%-24s %10s %13s\n' config images/s cpu-ms/image
for k in ort-threads=1 ort-threads=2 ort-sessions=2 $(printf '%s\n' "${!ips[@]}" | grep '^pimc-' | sort); do
	printf '%-24s %10s %13s\n' "$k" "${ips[$k]:-?}" "${cpu[$k]:-?}"
done

best2=ort-threads=2
if awk -v a="${ips[ort-sessions=2]:-0}" -v b="${ips[ort-threads=2]:-0}" 'BEGIN{exit !(a>b)}'; then best2=ort-sessions=2; fi
echo
printf '%-24s %16s %16s %18s\n' "ratio (pimc / ORT)" "images/s vs t=1" "images/s vs $best2" "per CPU vs t=1"
for k in $(printf '%s\n' "${!ips[@]}" | grep '^pimc-' | sort); do
	awk -v p="${ips[$k]}" -v o1="${ips[ort-threads=1]}" -v o2="${ips[$best2]}" -v pc="${cpu[$k]}" -v oc="${cpu[ort-threads=1]}" -v k="$k" \
		'BEGIN { printf "%-24s %15.2fx %15.2fx %17.2fx\n", k, p / o1, p / o2, oc / pc }'
done
