#!/usr/bin/env bash
# Compares pimc's FP32 interpreter with ONNX Runtime on ResNet-50 (one
# 224x224 image, the conformance model with its weights folded).
#
#   bench/run.sh                  # 3 rounds of 20 runs each
#   ROUNDS=5 RUNS=30 bench/run.sh
#
# ONNX Runtime runs single-threaded (intra-op threads = 1) with all graph
# optimizations ("all") and with none ("disabled"); pimc runs
# BenchmarkResNet50 with 1 and with 2 workers (GOMAXPROCS), after
# fold-constants ("fold") and also after fold-batchnorm ("fold+bn").
# Each run reports the median and the minimum of its runs; the table shows
# the best of the rounds for each, which filters out other load on a
# shared machine. Ratios are pimc time / ORT time (lower is better for
# pimc).
set -euo pipefail
cd "$(dirname "$0")/.."

model=testdata/conformance/models/resnet50/model.onnx
rounds=${ROUNDS:-3}
runs=${RUNS:-20}

if [ ! -d bench/ort/node_modules/onnxruntime-node ]; then
	# --ignore-scripts: the package's install script downloads extra
	# binaries; the CPU runtime ships in the package itself.
	(cd bench/ort && npm install --ignore-scripts --no-audit --no-fund >/dev/null)
fi

declare -A best
keep_best() { # key ms
	if [ -z "${best[$1]:-}" ] || awk -v a="$2" -v b="${best[$1]}" 'BEGIN{exit !(a<b)}'; then
		best[$1]=$2
	fi
}

for ((r = 1; r <= rounds; r++)); do
	# Benchmark lines: name N ns/op ... cpu-ms/op X median-ms Y min-ms.
	while read -r name med mn; do
		keep_best "$name median" "$med"
		keep_best "$name min" "$mn"
	done < <(go test -run XXX -bench 'ResNet50' -benchtime "${runs}x" -cpu 1,2 -count=1 ./interp |
		awk '/^BenchmarkResNet50\// {
			n = $1; sub(/^BenchmarkResNet50\//, "", n)
			w = "1"; if (n ~ /-[0-9]+$/) { w = n; sub(/.*-/, "", w); sub(/-[0-9]+$/, "", n) }
			for (i = 1; i <= NF; i++) { if ($i == "median-ms") med = $(i-1); if ($i == "min-ms") mn = $(i-1) }
			printf "pimc-%s-w%s %s %s\n", n, w, med, mn }')
	# ORT lines: ort LEVEL median X min Y ms.
	while read -r _ level _ med _ mn _; do
		keep_best "ort-$level median" "$med"
		keep_best "ort-$level min" "$mn"
	done < <(node bench/ort/compare.mjs "$model" "$runs")
done

printf 'ResNet-50, 1x3x224x224, FP32 (ms, best of %d rounds x %d runs)\n' "$rounds" "$runs"
printf '%-20s %10s %10s\n' config median min
for k in ort-all ort-disabled pimc-fold+bn-w1 pimc-fold+bn-w2 pimc-fold-w1 pimc-fold-w2; do
	printf '%-20s %10s %10s\n' "$k" "${best[$k median]:-?}" "${best[$k min]:-?}"
done
ratio() { # a b stat
	awk -v a="${best[$1 $3]:-0}" -v b="${best[$2 $3]:-0}" 'BEGIN{ if (b > 0) printf "%.2f", a / b; else print "?" }'
}
echo
printf '%-48s %7s %7s\n' "ratio (pimc / ORT)" median min
for pair in "pimc-fold+bn-w2 ort-all" "pimc-fold+bn-w1 ort-all" "pimc-fold+bn-w1 ort-disabled"; do
	set -- $pair
	printf '%-48s %6sx %6sx\n' "$1 / $2" "$(ratio "$1" "$2" median)" "$(ratio "$1" "$2" min)"
done
