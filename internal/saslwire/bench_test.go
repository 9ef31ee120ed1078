package saslwire

import (
	"context"
	"fmt"
	"io"
	"testing"

	"github.com/impalalb/impalalb/internal/sasltest"
)

var benchSizes = []int{256, 64 << 10}

func sizeName(n int) string {
	if n >= 1<<10 {
		return fmt.Sprintf("%dKiB", n>>10)
	}
	return fmt.Sprintf("%dB", n)
}

// BenchmarkFrameWriteRead measures one frame written (Write + Flush) and
// read back (io.ReadFull), in memory and over loopback TCP.
func BenchmarkFrameWriteRead(b *testing.B) {
	for _, size := range benchSizes {
		payload := make([]byte, size)
		for i := range payload {
			payload[i] = byte(i)
		}
		b.Run(sizeName(size)+"/mem", func(b *testing.B) { benchMemFrames(b, nil, payload) })
		b.Run(sizeName(size)+"/mem-xor", func(b *testing.B) { benchMemFrames(b, &sasltest.XORLayer{Key: 9}, payload) })
		b.Run(sizeName(size)+"/tcp", func(b *testing.B) {
			cc, sc := sasltest.TCPPair(b)
			w := openTransport(cc, 0, nil)
			r := openTransport(sc, 0, nil)
			dst := make([]byte, size)
			n := b.N
			errc := make(chan error, 1)
			b.ReportAllocs()
			b.SetBytes(int64(size))
			b.ResetTimer()
			go func() {
				ctx := context.Background()
				for range n {
					if _, err := w.Write(payload); err != nil {
						errc <- err
						return
					}
					if err := w.Flush(ctx); err != nil {
						errc <- err
						return
					}
				}
				errc <- nil
			}()
			for range n {
				if _, err := io.ReadFull(r, dst); err != nil {
					b.Fatal(err)
				}
			}
			if err := <-errc; err != nil {
				b.Fatal(err)
			}
		})
	}
}

// benchMemFrames writes payload as one frame and reads it back, b.N times,
// over an in-memory connection, through layer (nil: none).
func benchMemFrames(b *testing.B, layer SecurityLayer, payload []byte) {
	c, _ := sasltest.NewLoopConn()
	tr := openTransport(c, 0, layer)
	dst := make([]byte, len(payload))
	ctx := context.Background()
	b.ReportAllocs()
	b.SetBytes(int64(len(payload)))
	b.ResetTimer()
	for range b.N {
		if _, err := tr.Write(payload); err != nil {
			b.Fatal(err)
		}
		if err := tr.Flush(ctx); err != nil {
			b.Fatal(err)
		}
		if _, err := io.ReadFull(tr, dst); err != nil {
			b.Fatal(err)
		}
	}
}
