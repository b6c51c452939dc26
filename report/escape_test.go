package report

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"unicode"
)

func TestPrintable(t *testing.T) {
	for in, want := range map[string]string{
		"libssl3":                        "libssl3",
		"Debian GNU/Linux 12 (bookworm)": "Debian GNU/Linux 12 (bookworm)",
		"zlib été 日本":                    "zlib été 日本",
		"x\x1b[1A\x1b[2K\rPASS":          `x\x1b[1A\x1b[2K\rPASS`,
		"two\nlines\tand tab":            `two\nlines\tand tab`,
		"del\x7f c1\u009b bell\a":        `del\x7f c1\x9b bell\x07`,
		"rtl\u202eexe.txt":               `rtl\u202eexe.txt`,
		"bad \xff\xfe utf8":              `bad \xff\xfe utf8`,
		"line\u2028sep":                  `line\u2028sep`,
	} {
		if got := Printable(in); got != want {
			t.Errorf("Printable(%q) = %q, want %q", in, got, want)
		}
	}
	if got := PrintableLines("policy failed:\n  x\x1b[2K\n"); got != "policy failed:\n  x\\x1b[2K\n" {
		t.Errorf("PrintableLines = %q", got)
	}
}

// hostile is text an image can carry in a package name, an os-release
// field or an advisory: it moves the cursor up, erases the line, returns
// to its start and writes a line of its own.
const hostile = "\x1b[1A\x1b[2K\r\nPASS (all clear)\x1b]0;title\x07\u202e"

// hostileScan is testScan with image content that would rewrite the
// terminal: the failing package's name, the distribution's pretty name and
// an advisory's summary.
func hostileScan() *Scan {
	s := testScan()
	for i := range s.Findings {
		if s.Findings[i].ID == "GHSA-m425-mq94-257g" {
			s.Findings[i].Package.Name += hostile
			s.Findings[i].Summary = "rapid reset" + hostile
		}
	}
	s.Verdict.Failing[0].Package.Name += hostile
	s.SBOM.Distro.PrettyName = "Debian" + hostile
	return s
}

// rawControl finds a control character other than a newline in out, and
// with invisible, a format character (a bidi override) too.
func rawControl(out string, invisible bool) (rune, bool) {
	for _, r := range out {
		if r != '\n' && (unicode.IsControl(r) || invisible && unicode.Is(unicode.Cf, r)) {
			return r, true
		}
	}
	return 0, false
}

// TestHumanFormatsEscapeImageContent: the table and the markdown summary
// show control characters from the image as escapes, so the verdict line
// stays the last word.
func TestHumanFormatsEscapeImageContent(t *testing.T) {
	for _, format := range []string{"table", "markdown"} {
		var buf bytes.Buffer
		if err := Write(&buf, format, hostileScan()); err != nil {
			t.Fatal(err)
		}
		out := buf.String()
		if r, ok := rawControl(out, true); ok {
			t.Errorf("%s: raw %U in the output:\n%q", format, r, out)
		}
		want := map[string]string{
			"table":    `grpc\x1b[1A\x1b[2K\r\nPASS (all clear)\x1b]0;title\x07\u202e`,
			"markdown": `grpc\\x1b\[1A\\x1b\[2K PASS (all clear)\\x1b\]0;title\\x07\\u202e`, // one line, markdown-escaped
		}[format]
		if !strings.Contains(out, want) {
			t.Errorf("%s: the package name is not shown as %s:\n%s", format, want, out)
		}
	}
	var buf bytes.Buffer
	if err := WriteTable(&buf, hostileScan()); err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(buf.String(), "\nFAIL (fail on: high or higher, fixable only): GHSA-m425-mq94-257g\n") {
		t.Errorf("the verdict is not the last line:\n%s", buf.String())
	}
}

// TestMachineFormatsKeepExactText: JSON, SARIF and CycloneDX carry the
// image's text exactly, escaped by their JSON encoder: no raw control
// character in the file, the same string once decoded.
func TestMachineFormatsKeepExactText(t *testing.T) {
	for _, format := range []string{"json", "sarif", "cyclonedx-json"} {
		var buf bytes.Buffer
		if err := Write(&buf, format, hostileScan()); err != nil {
			t.Fatal(err)
		}
		// A bidi override is text to a JSON reader: only the control
		// characters must be escaped.
		if r, ok := rawControl(buf.String(), false); ok {
			t.Errorf("%s: raw %U in the file", format, r)
		}
		var doc any
		if err := json.Unmarshal(buf.Bytes(), &doc); err != nil {
			t.Fatalf("%s: %v", format, err)
		}
		if !holdsString(doc, "google.golang.org/grpc"+hostile) {
			t.Errorf("%s: no string holds the package name exactly:\n%s", format, buf.String())
		}
	}
}

// holdsString says whether a decoded JSON value has a string containing s.
func holdsString(v any, s string) bool {
	switch v := v.(type) {
	case string:
		return strings.Contains(v, s)
	case []any:
		for _, e := range v {
			if holdsString(e, s) {
				return true
			}
		}
	case map[string]any:
		for k, e := range v {
			if strings.Contains(k, s) || holdsString(e, s) {
				return true
			}
		}
	}
	return false
}
