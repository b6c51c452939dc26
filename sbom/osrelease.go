package sbom

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"strings"
)

// maxOSReleaseSize bounds /etc/os-release: a real one is a few hundred bytes.
const maxOSReleaseSize = 64 << 10

// errNoOSRelease is a root with neither /etc/os-release nor
// /usr/lib/os-release: not a Linux distribution's root.
var errNoOSRelease = errors.New("no os-release")

// readOSRelease reads the root's os-release(5), /etc/os-release else
// /usr/lib/os-release, through the root's rules. osv-scalibr's reader panics
// on a value that is a lone quote and stops silently at a long line: an
// image that carries either would crash or blind the scan.
func readOSRelease(fsys rootFS) (map[string]string, string, error) {
	for _, name := range []string{"etc/os-release", "usr/lib/os-release"} {
		f, err := fsys.Open(name)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, name, unwrapPathError(err)
		}
		data, err := readBounded(f, slashPath(name), maxOSReleaseSize)
		f.Close()
		if err != nil {
			return nil, name, err
		}
		m, err := parseOSRelease(data)
		return m, name, err
	}
	return nil, "", errNoOSRelease
}

// parseOSRelease reads KEY=VALUE lines, the value unquoted as the shell
// does for the forms os-release(5) allows: "double" with backslash escapes,
// 'single', or bare. Other lines are skipped, as are bad values of keys
// that do not choose the distro: a malformed ID, VERSION_ID or
// VERSION_CODENAME is an error naming its line.
func parseOSRelease(data []byte) (map[string]string, error) {
	m := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 4096), maxOSReleaseSize+1)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		key, raw, ok := strings.Cut(line, "=")
		if !ok {
			continue
		}
		value, err := unquoteOSRelease(raw)
		if err != nil {
			if distroKeys[key] {
				return nil, fmt.Errorf("line %d: %s: %w", n, key, err)
			}
			continue
		}
		m[key] = value
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return m, nil
}

// distroKeys are the keys that choose the distro the packages match in.
var distroKeys = map[string]bool{"ID": true, "VERSION_ID": true, "VERSION_CODENAME": true}

func unquoteOSRelease(s string) (string, error) {
	if s == "" {
		return "", nil
	}
	switch q := s[0]; q {
	case '\'':
		if len(s) < 2 || s[len(s)-1] != '\'' || strings.Contains(s[1:len(s)-1], "'") {
			return "", fmt.Errorf("unbalanced quote in %q", truncateLine(s))
		}
		return s[1 : len(s)-1], nil
	case '"':
		var b strings.Builder
		for i := 1; i < len(s); i++ {
			switch c := s[i]; {
			case c == '\\' && i+1 < len(s):
				i++
				b.WriteByte(s[i])
			case c == '"':
				if i != len(s)-1 {
					return "", fmt.Errorf("text after the closing quote in %q", truncateLine(s))
				}
				return b.String(), nil
			default:
				b.WriteByte(c)
			}
		}
		return "", fmt.Errorf("unbalanced quote in %q", truncateLine(s))
	}
	return s, nil
}
