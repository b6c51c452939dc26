package sbom

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

func TestParseComposerInstalled(t *testing.T) {
	composer2 := `{
    "packages": [
        {
            "name": "monolog/monolog",
            "version": "3.5.0",
            "version_normalized": "3.5.0.0",
            "type": "library",
            "license": ["MIT"],
            "install-path": "../monolog/monolog"
        },
        {"name": "psr/log", "version": "3.0.0", "license": "MIT"},
        {"name": "symfony/polyfill-mbstring", "version": "v1.28.0", "license": ["MIT", "BSD-3-Clause"]},
        {"name": "acme/private", "version": "dev-main"}
    ],
    "dev": true,
    "dev-package-names": []
}`
	composer1 := `[{"name": "symfony/console", "version": "v5.4.28", "license": ["MIT"]}]`
	tests := []struct {
		name    string
		data    string
		want    []composerPackage
		wantErr string
	}{
		{"composer 2", composer2, []composerPackage{
			{"monolog/monolog", "3.5.0", []string{"MIT"}},
			{"psr/log", "3.0.0", []string{"MIT"}},
			{"symfony/polyfill-mbstring", "v1.28.0", []string{"MIT", "BSD-3-Clause"}},
			{"acme/private", "dev-main", nil},
		}, ""},
		{"composer 1", composer1, []composerPackage{{"symfony/console", "v5.4.28", []string{"MIT"}}}, ""},
		{"composer 1 with leading space", "\n  " + composer1, []composerPackage{{"symfony/console", "v5.4.28", []string{"MIT"}}}, ""},
		{"empty list", `[]`, []composerPackage{}, ""},
		{"empty packages", `{"packages": []}`, []composerPackage{}, ""},
		{"no packages key", `{"dev": true}`, nil, `no "packages" list`},
		{"null packages", `{"packages": null}`, nil, `no "packages" list`},
		{"not json", `packages`, nil, "parse composer installed.json"},
		{"truncated", composer2[:200], nil, "parse composer installed.json"},
		{"record without vendor", `[{"name": "good/one", "version": "1.0.0"}, {"name": "bad", "version": "1.0.0"}, {"name": "good/two", "version": "1.0.0"}]`,
			[]composerPackage{{"good/one", "1.0.0", nil}}, "package 1"},
		{"record without version", `{"packages": [{"name": "a/b"}]}`, []composerPackage{}, "package 0"},
		{"empty vendor", `[{"name": "/b", "version": "1"}]`, []composerPackage{}, "package 0"},
		{"license of another type", `[{"name": "a/b", "version": "1", "license": {"x": 1}}]`, []composerPackage{{"a/b", "1", nil}}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseComposerInstalled([]byte(tt.data))
			if tt.wantErr == "" && err != nil {
				t.Fatalf("error: %v", err)
			}
			if tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Fatalf("error %v, want one containing %q", err, tt.wantErr)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %#v\nwant %#v", got, tt.want)
			}
		})
	}
}

// FuzzParseComposerInstalled: never panics; every package it returns has a
// vendor/name name and a version; a document that parses whole returns one
// package per record.
func FuzzParseComposerInstalled(f *testing.F) {
	f.Add([]byte(`{"packages": [{"name": "a/b", "version": "1.0.0", "license": ["MIT"]}]}`))
	f.Add([]byte(`[{"name": "a/b", "version": "1.0.0", "license": "MIT"}]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		pkgs, err := parseComposerInstalled(data)
		for _, p := range pkgs {
			vendor, name, ok := strings.Cut(p.Name, "/")
			if !ok || vendor == "" || name == "" || p.Version == "" {
				t.Fatalf("package %#v: want a vendor/name name and a version", p)
			}
		}
		if err != nil {
			return
		}
		var list []json.RawMessage
		if json.Unmarshal(data, &list) != nil {
			var doc struct{ Packages []json.RawMessage }
			if json.Unmarshal(data, &doc) != nil {
				t.Fatalf("no error for a document that is neither shape: %q", data)
			}
			list = doc.Packages
		}
		if len(pkgs) != len(list) {
			t.Fatalf("%d packages from %d records without an error", len(pkgs), len(list))
		}
	})
}
