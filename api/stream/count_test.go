//go:build !race

package stream

// streamCount is how many streams TestManyStreams opens.
const streamCount = 1000
