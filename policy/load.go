package policy

import (
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// MaxVEXSize bounds a VEX document, read from a file or a URL.
const MaxVEXSize = 32 << 20

// ReadFile reads a policy file, refusing one larger than MaxFileSize
// without reading the rest.
func ReadFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read policy file: %w", err)
	}
	defer f.Close()
	data, err := readBounded(f, MaxFileSize)
	if err != nil {
		return nil, fmt.Errorf("read policy file %s: %w", path, err)
	}
	return data, nil
}

// IsURL tells a VEX document named by URL from one named by path.
func IsURL(ref string) bool { return strings.Contains(ref, "://") }

// checkVEXRef checks a VEX reference as the policy file writes it: an
// https URL (the document decides which findings fail, so nobody on the
// way may change it), or a path inside the file's folder.
func checkVEXRef(ref string) error {
	if IsURL(ref) {
		if !strings.HasPrefix(ref, "https://") {
			return fmt.Errorf("%s: a VEX URL must be https:// (a document fetched in the clear could be changed on the way)", ref)
		}
		return nil
	}
	if _, err := VEXPath(ref); err != nil {
		return fmt.Errorf("%s: %w", ref, err)
	}
	return nil
}

// VEXPath checks a VEX document's path as the policy file names it: it is
// relative to the file's folder and stays inside it, so that the same file
// works for a build, whose frontend sees only that folder, and for scan and
// verify. It returns the path cleaned, with slashes.
func VEXPath(ref string) (string, error) {
	p := path.Clean(filepath.ToSlash(ref))
	if path.IsAbs(p) || filepath.IsAbs(ref) || p == ".." || strings.HasPrefix(p, "../") {
		return "", fmt.Errorf("outside the policy file's folder: name it relative to the file, inside its folder")
	}
	return p, nil
}

// VEXFile resolves a VEX document's path inside dir, the policy file's
// folder, as the kernel would: symlinks are followed, and a path whose real
// location is outside dir is refused, as a build (which sees only that
// folder) refuses it. It returns the real location relative to dir.
func VEXFile(dir, ref string) (string, error) {
	rel, err := VEXPath(ref)
	if err != nil {
		return "", err
	}
	realDir, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return "", err
	}
	real, err := filepath.EvalSymlinks(filepath.Join(realDir, filepath.FromSlash(rel)))
	if err != nil {
		return "", err
	}
	inside, err := filepath.Rel(realDir, real)
	if err != nil || !filepath.IsLocal(inside) {
		return "", fmt.Errorf("resolves to %s, outside the policy file's folder %s: a VEX document must be inside it", real, realDir)
	}
	return inside, nil
}

// ReadVEXFile reads a VEX document by path, inside dir only: the file is
// opened through the folder (os.Root), so a symlink swapped in after the
// check cannot lead outside either.
func ReadVEXFile(dir, ref string) ([]byte, error) {
	inside, err := VEXFile(dir, ref)
	if err != nil {
		return nil, err
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, err
	}
	defer root.Close()
	f, err := root.Open(inside)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return readBounded(f, MaxVEXSize)
}

// readBounded reads f to its end, refusing it past limit bytes.
func readBounded(f *os.File, limit int64) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("larger than %d KiB", limit>>10)
	}
	return b, nil
}
