package recordings

import (
	"io"
	"os"
	"path/filepath"
	"testing"
)

// BenchmarkExportSource is `ehlo export` (and `replay --print`, the text
// format) of a 200,000-event recording read from a file, event by event,
// in each format. B/op is what is allocated, not what is held: the
// recording is never in memory (docs/performance.md gives the peak RSS of
// a 4,000,000-event file).
func BenchmarkExportSource(b *testing.B) {
	const n = 200_000
	path := filepath.Join(b.TempDir(), "bench.jsonl")
	file := benchRecordingFile(b, n)
	if err := os.WriteFile(path, file, 0o600); err != nil {
		b.Fatal(err)
	}
	for _, format := range ExportFormats {
		b.Run(format, func(b *testing.B) {
			src, err := OpenSource(path)
			if err != nil {
				b.Fatal(err)
			}
			defer src.Close()
			b.SetBytes(int64(len(file)))
			b.ReportAllocs()
			for b.Loop() {
				if err := ExportSource(io.Discard, src, format, ExportOptions{}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
