package ecosystem

import (
	"os"
	"path/filepath"
	"testing"
)

// BenchmarkLoadSmall loads testdata/small.yaml (a handful of channels).
func BenchmarkLoadSmall(b *testing.B) {
	data, err := os.ReadFile(filepath.Join("testdata", "small.yaml"))
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := Load("small.yaml", data); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkGenerate1000 builds the 1,000-institution world in memory.
func BenchmarkGenerate1000(b *testing.B) {
	for b.Loop() {
		Generate(1000, 1)
	}
}

// BenchmarkMarshal1000 writes the 1,000-institution world as YAML.
func BenchmarkMarshal1000(b *testing.B) {
	e := Generate(1000, 1)
	for b.Loop() {
		if _, err := Marshal(e); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkLoad1000 parses and validates the 1,000-institution world (about
// 20,000 channels) from YAML; run with -benchtime=3x, it takes seconds.
func BenchmarkLoad1000(b *testing.B) {
	data, err := Marshal(Generate(1000, 1))
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := Load("generated.yaml", data); err != nil {
			b.Fatal(err)
		}
	}
}
