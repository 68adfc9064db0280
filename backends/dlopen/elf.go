package dlopen

import (
	"bytes"
	"fmt"
	"io"
	"os"

	"github.com/plugbench/plugbench/backends"
)

func checkELF(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	var magic [4]byte
	if _, err := io.ReadFull(f, magic[:]); err != nil || !bytes.Equal(magic[:], []byte("\x7fELF")) {
		return fmt.Errorf("%w: not a shared object (no ELF header)", backends.ErrFormat)
	}
	return nil
}
