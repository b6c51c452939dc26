package sbom

import (
	"slices"
	"strings"
	"testing"
)

func TestNPMLicenses(t *testing.T) {
	tests := []struct {
		doc  string
		want []string
	}{
		{`{"license": "MIT"}`, []string{"MIT"}},
		{`{"license": "(MIT OR Apache-2.0)"}`, []string{"(MIT OR Apache-2.0)"}},
		{`{"license": {"type": "BSD-3-Clause", "url": "https://opensource.org/licenses/BSD-3-Clause"}}`, []string{"BSD-3-Clause"}},
		{`{"licenses": [{"type": "MIT"}, {"type": "Apache-2.0"}]}`, []string{"MIT", "Apache-2.0"}},
		{`{"licenses": ["ISC"]}`, []string{"ISC"}},
		{`{"license": "MIT", "licenses": [{"type": "BSD"}]}`, []string{"MIT", "BSD"}},
		{`{"license": "  MIT\nsee LICENSE  "}`, []string{"MIT"}},
		{`{"license": ""}`, nil},
		{`{"license": 42}`, nil},
		{`{"license": {"url": "https://example.com"}}`, nil},
		{`{"name": "x"}`, nil},
		{`not json`, nil},
		{`[]`, nil},
	}
	for _, tt := range tests {
		if got := npmLicenses([]byte(tt.doc)); !slices.Equal(got, tt.want) {
			t.Errorf("npmLicenses(%s) = %q, want %q", tt.doc, got, tt.want)
		}
	}
}

func TestPythonLicenses(t *testing.T) {
	tests := []struct {
		name, metadata string
		want           []string
	}{
		{"expression first", "Metadata-Version: 2.4\nName: x\nLicense: Apache 2.0\nLicense-Expression: Apache-2.0 OR MIT\nClassifier: License :: OSI Approved :: MIT License\n", []string{"Apache-2.0 OR MIT"}},
		{"license", "Metadata-Version: 2.1\nName: requests\nLicense: Apache 2.0\nClassifier: License :: OSI Approved :: Apache Software License\n", []string{"Apache 2.0"}},
		{"classifiers", "Name: x\nClassifier: Programming Language :: Python\nClassifier: License :: OSI Approved :: MIT License\nClassifier: License :: OSI Approved :: BSD License\n", []string{"MIT License", "BSD License"}},
		{"unknown license falls back to classifiers", "Name: x\nLicense: UNKNOWN\nClassifier: License :: Public Domain\n", []string{"Public Domain"}},
		{"long license text falls back", "Name: x\nLicense: " + strings.Repeat("Permission is hereby granted ", 10) + "\nClassifier: License :: OSI Approved :: MIT License\n", []string{"MIT License"}},
		{"multi-line license keeps the first line", "Name: x\nLicense: BSD-3-Clause\n        Copyright (c) the authors\n        All rights reserved.\n", []string{"BSD-3-Clause"}},
		{"case of keys", "name: x\nlicense-expression: MIT\n", []string{"MIT"}},
		{"body is not read", "Name: x\n\nLicense: GPL\nClassifier: License :: OSI Approved :: GPL\n", nil},
		{"none", "Name: x\nVersion: 1\n", nil},
		{"empty", "", nil},
		{"CRLF", "Name: x\r\nLicense: MIT\r\n", []string{"MIT"}},
		{"empty classifier", "Name: x\nClassifier: License ::\nClassifier: License :: OSI Approved :: \n", nil},
	}
	for _, tt := range tests {
		if got := pythonLicenses([]byte(tt.metadata)); !slices.Equal(got, tt.want) {
			t.Errorf("%s: pythonLicenses = %q, want %q", tt.name, got, tt.want)
		}
	}
}

// checkLicenseList is what both license readers promise: one line each,
// trimmed, never empty.
func checkLicenseList(t *testing.T, licenses []string) {
	t.Helper()
	for _, l := range licenses {
		if l == "" || strings.TrimSpace(l) != l || strings.ContainsAny(l, "\r\n") {
			t.Fatalf("license %q: want one trimmed, non-empty line", l)
		}
	}
}

func FuzzNPMLicenses(f *testing.F) {
	f.Add([]byte(`{"license": "MIT"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		checkLicenseList(t, npmLicenses(data))
	})
}

func FuzzPythonLicenses(f *testing.F) {
	f.Add([]byte("Name: x\nLicense-Expression: MIT\n"))
	f.Add([]byte("Classifier: License ::\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		checkLicenseList(t, pythonLicenses(data))
	})
}
