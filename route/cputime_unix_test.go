//go:build unix

package route

import (
	"syscall"
	"time"
)

// processCPU is the CPU time the test process has used (user + system), so
// benchmarks can report CPU per query, which other load on the machine
// does not inflate the way it inflates wall-clock times.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
