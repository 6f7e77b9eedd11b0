//go:build !unix

package main

import "time"

// processCPU is not measured here: -time reports wall time only.
func processCPU() time.Duration { return 0 }
