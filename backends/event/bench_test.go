package event

import "testing"

// BenchmarkCodec measures the host side of each encoding on its own: no
// plugin, no boundary.
func BenchmarkCodec(b *testing.B) {
	for _, c := range codecs {
		for _, s := range Shapes {
			e, _ := Shape(s)
			buf, _ := c.enc(nil, e)
			b.Run("codec="+c.name+"/op=encode/shape="+s, func(b *testing.B) {
				b.ReportAllocs()
				b.SetBytes(int64(len(buf)))
				dst := make([]byte, 0, len(buf))
				for b.Loop() {
					if _, err := c.enc(dst[:0], e); err != nil {
						b.Fatal(err)
					}
				}
			})
			b.Run("codec="+c.name+"/op=decode/shape="+s, func(b *testing.B) {
				b.ReportAllocs()
				b.SetBytes(int64(len(buf)))
				var out Event
				for b.Loop() {
					if err := c.dec(buf, &out); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
