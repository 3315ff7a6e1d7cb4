package follow

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// benchFile writes size bytes of Postfix-like lines.
func benchFile(b *testing.B, path string, size int) int64 {
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	var n int64
	for i := 0; n < int64(size); i++ {
		k, _ := fmt.Fprintf(w, "Nov 27 10:%02d:%02d mx postfix/smtp[%d]: 4Xk%07d: to=<user%d@gmail.com>, relay=gmail-smtp-in.l.google.com[142.250.1.27]:25, delay=1.2, dsn=2.0.0, status=sent (250 2.0.0 OK)\n",
			i/60%60, i%60, 1000+i%9000, i, i)
		n += int64(k)
	}
	w.Flush()
	f.Close()
	return n
}

func benchRead(b *testing.B, glob string, size int64, opts Options) {
	b.SetBytes(size)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		f := New(opts, nil)
		var got int64
		for got < size {
			cs, err := f.Poll()
			if err != nil {
				b.Fatal(err)
			}
			for _, c := range cs {
				got += int64(len(c.Data))
			}
		}
		f.Close()
	}
}

// BenchmarkRead100MB reads a 100 MB file to its end through Poll, with the
// default limits (1 MiB chunks, 8 MiB per poll).
func BenchmarkRead100MB(b *testing.B) {
	dir := b.TempDir()
	p := filepath.Join(dir, "mail.log")
	size := benchFile(b, p, 100<<20)
	benchRead(b, p, size, Options{Source: "b", Globs: []string{p}})
}

// BenchmarkRead100MBGzip is the same content compressed (rotated backfill).
func BenchmarkRead100MBGzip(b *testing.B) {
	dir := b.TempDir()
	p := filepath.Join(dir, "mail.log.2")
	size := benchFile(b, p, 100<<20)
	data, _ := os.ReadFile(p)
	os.WriteFile(p+".gz", gzBytes(b, data), 0o644)
	os.Remove(p)
	benchRead(b, p+".gz", size, Options{Source: "b", Globs: []string{p + ".gz"}})
}
