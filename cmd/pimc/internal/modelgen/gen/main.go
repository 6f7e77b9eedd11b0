// Command gen writes a generated ResNet ONNX model (see package modelgen),
// for measuring `pimc compile` on it:
//
//	go run ./cmd/pimc/internal/modelgen/gen -o /tmp/resnet18.onnx resnet18
//	go build -o /tmp/pimc ./cmd/pimc
//	/usr/bin/time -v /tmp/pimc compile -o /tmp/r18 /tmp/resnet18.onnx
package main

import (
	"flag"
	"fmt"
	"os"

	"pimc/cmd/pimc/internal/modelgen"
)

func main() {
	out := flag.String("o", "", "output file (default ARCH.onnx)")
	flag.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: gen [-o FILE] resnet18|resnet50|resnet101|resnet152")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() != 1 {
		flag.Usage()
		os.Exit(2)
	}
	arch := modelgen.Arch(flag.Arg(0))
	path := *out
	if path == "" {
		path = string(arch) + ".onnx"
	}
	if err := modelgen.Write(path, arch); err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
}
