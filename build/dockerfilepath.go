package build

import (
	"cmp"
	"path/filepath"
	"strings"
)

// DockerfileInContext is the Dockerfile's path inside the build context,
// slash-separated: where SARIF places the findings a Dockerfile line
// brought in (code scanning resolves it against the repository's root,
// which a build's context usually is). "" when the Dockerfile has no path
// there: read from stdin, outside the local context, or on this machine for
// a remote one.
func DockerfileInContext(contextPath, dockerfile string) string {
	if dockerfile == Stdin {
		return ""
	}
	kind, err := kindOf(contextPath)
	if err != nil || kind != localContext {
		// A remote context, or a tar on stdin: --file names a path inside it.
		if filepath.IsAbs(dockerfile) {
			return ""
		}
		return filepath.ToSlash(filepath.Clean(cmp.Or(dockerfile, "Dockerfile")))
	}
	root, err := filepath.Abs(contextPath)
	if err != nil {
		return ""
	}
	path := filepath.Join(root, "Dockerfile")
	if dockerfile != "" {
		if path, err = filepath.Abs(dockerfile); err != nil {
			return ""
		}
	}
	rel, err := filepath.Rel(root, path)
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return ""
	}
	return filepath.ToSlash(rel)
}
