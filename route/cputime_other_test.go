//go:build !unix

package route

import "time"

// processCPU is unavailable here; benchmarks then report 0 CPU per query.
func processCPU() time.Duration { return 0 }
