package plugin

import (
	"io"

	"github.com/secure-build/secure-build/build"
)

// writeOutput writes to stdout, or to file, put into place only when
// complete (see build.WriteFile).
func writeOutput(stdout io.Writer, file string, write func(io.Writer) error) error {
	if file != "" && file != "-" {
		return build.WriteFile(file, write)
	}
	return build.WriteBuffered(stdout, write)
}
