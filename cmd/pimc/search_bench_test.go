package main

import (
	"io"
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

// BenchmarkSearchResNet20 times `pimc search` on the CIFAR-10 ResNet-20
// (BN folded). The target is population 32, 20 generations and
// 1,000 search images in under 10 minutes on 2 cores; the default here is
// a reduced size so that a benchmark run stays short. Sizes come from the
// environment:
//
//	PIMC_BENCH_POP=32 PIMC_BENCH_GENS=20 PIMC_BENCH_IMAGES=1000 \
//	  go test ./cmd/pimc -run '^$' -bench SearchResNet20 -benchtime 1x -timeout 0
//
// It uses ../shared/data's full CIFAR-10 JPEG set when present (needed
// for 1,000 search images), else testdata's 500-image slice.
func BenchmarkSearchResNet20(b *testing.B) {
	env := func(k string, def int) int {
		if v, err := strconv.Atoi(os.Getenv(k)); err == nil && v > 0 {
			return v
		}
		return def
	}
	pop, gens, images := env("PIMC_BENCH_POP", 8), env("PIMC_BENCH_GENS", 2), env("PIMC_BENCH_IMAGES", 200)
	root := filepath.Join("..", "..")
	data := filepath.Join(root, "..", "shared", "data", "datasets", "cifar10", "cifar10_test_jpeg_q75_yoongikim.tar.gz")
	reserve := 1200 // calibration scenes and the report slice come first (docs/results.md)
	if _, err := os.Stat(data); err != nil {
		data = filepath.Join(root, "testdata", "data", "cifar10", "cifar10_test_jpeg_q75_yoongikim_first50.tar.gz")
		reserve = 200
	}
	calib := filepath.Join(root, "testdata", "data", "cifar10", "cifar10_test_first100_lossless_eran.csv")
	model := filepath.Join(root, "testdata", "models", "cifar10", "resnet20_bnfolded_sclblonnx.onnx")
	for _, p := range []string{data, calib, model} {
		if _, err := os.Stat(p); err != nil {
			b.Skipf("no %s", p)
		}
	}
	for b.Loop() {
		dir := b.TempDir()
		args := []string{"--data", data, "--preset", "cifar10", "--calib", calib, "--calib-limit", "100",
			"--report-limit", strconv.Itoa(reserve), "--limit", strconv.Itoa(images),
			"--population", strconv.Itoa(pop), "--generations", strconv.Itoa(gens), "--seed", "1",
			"--progress", "off", "-o", dir, model}
		if code := runSearch(args, io.Discard, io.Discard); code != 0 {
			b.Fatalf("search exited %d", code)
		}
	}
}
