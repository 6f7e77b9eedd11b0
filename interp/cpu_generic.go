//go:build !amd64 || purego

package interp

const useAsm = false

func microKernel(kb int, a, b []float32, c []float32, ldc int, flags int, bias *[mr]float32) {
	kernelGo(kb, a, b, c, ldc, flags, bias)
}
