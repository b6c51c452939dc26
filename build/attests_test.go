package build

import (
	"strings"
	"testing"
)

func TestAddAttests(t *testing.T) {
	for _, tc := range []struct {
		name             string
		attests          []string
		provenance, sbom string
		want             map[string]string
	}{
		{"default provenance as buildx", nil, "", "", map[string]string{"attest:provenance": "mode=min"}},
		{"no provenance", nil, "false", "", map[string]string{}},
		{"sbom and max provenance", []string{"type=provenance,mode=max"}, "", "true",
			map[string]string{"attest:sbom": "", "attest:provenance": "mode=max"}},
		{"sbom with parameters", []string{"type=sbom,scan-stage=true"}, "0", "",
			map[string]string{"attest:sbom": "scan-stage=true"}},
	} {
		attrs := map[string]string{}
		if err := addAttests(attrs, tc.attests, tc.provenance, tc.sbom); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if len(attrs) != len(tc.want) {
			t.Errorf("%s: got %v, want %v", tc.name, attrs, tc.want)
		}
		for k, v := range tc.want {
			if got, ok := attrs[k]; !ok || got != v {
				t.Errorf("%s: %s=%q, want %q", tc.name, k, got, v)
			}
		}
	}
	if err := addAttests(map[string]string{}, []string{"mode=max"}, "", ""); err == nil || !strings.Contains(err.Error(), "type=") {
		t.Errorf("--attest without a type: got %v, want an error asking for type=", err)
	}
}
