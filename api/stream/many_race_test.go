//go:build race

package stream_test

// manyStreams is smaller under the race detector.
const manyStreams = 200
