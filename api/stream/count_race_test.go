//go:build race

package stream

// streamCount is smaller under the race detector, which costs each
// goroutine several times the memory and time.
const streamCount = 200
