package plugin

import (
	"bufio"
	"io"

	"github.com/secure-build/secure-build/build"
)

// writeOutput writes to stdout, or to file, put into place only when
// complete (see build.WriteFile).
func writeOutput(stdout io.Writer, file string, write func(io.Writer) error) error {
	if file != "" && file != "-" {
		return build.WriteFile(file, write)
	}
	return writeBuffered(stdout, write)
}

// writeBuffered writes through a buffer: a failed write surfaces when it
// flushes.
func writeBuffered(w io.Writer, write func(io.Writer) error) error {
	bw := bufio.NewWriter(w)
	if err := write(bw); err != nil {
		return err
	}
	return bw.Flush()
}
