//go:build !race

package stream_test

// manyStreams is how many streams TestServerStreams opens.
const manyStreams = 1000
