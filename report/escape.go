package report

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Printable returns s fit for a terminal or a page: control characters (C0,
// DEL, C1, newlines and tabs included), Unicode's other invisible ones
// (format characters such as the bidi overrides, line and paragraph
// separators) and bytes that are not UTF-8 are written as Go escapes
// (\x1b, \n, \u202e), so that a name or a field from a scanned image can
// neither move the cursor, erase or forge a line, nor reorder what is
// shown. Every human output passes image content through it; JSON, SARIF,
// SPDX and CycloneDX keep the exact text (their encoders escape it).
func Printable(s string) string {
	i := strings.IndexFunc(s, func(r rune) bool { return r == utf8.RuneError || !printable(r) })
	if i < 0 {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 8)
	b.WriteString(s[:i])
	for s = s[i:]; s != ""; {
		r, size := utf8.DecodeRuneInString(s)
		switch {
		case r == utf8.RuneError && size == 1:
			fmt.Fprintf(&b, `\x%02x`, s[0])
		case printable(r):
			b.WriteString(s[:size])
		default:
			b.WriteString(escapeRune(r))
		}
		s = s[size:]
	}
	return b.String()
}

// PrintableLines is Printable for text of several lines that this program
// composed (an error message): the newlines stay, every other control
// character is escaped.
func PrintableLines(s string) string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = Printable(l)
	}
	return strings.Join(lines, "\n")
}

func printable(r rune) bool {
	return r == ' ' || unicode.IsPrint(r)
}

func escapeRune(r rune) string {
	switch r {
	case '\n':
		return `\n`
	case '\r':
		return `\r`
	case '\t':
		return `\t`
	}
	if r < 0x100 {
		return fmt.Sprintf(`\x%02x`, r)
	}
	if r < 0x10000 {
		return fmt.Sprintf(`\u%04x`, r)
	}
	return fmt.Sprintf(`\U%08x`, r)
}
