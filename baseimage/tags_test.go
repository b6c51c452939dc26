package baseimage

import (
	"reflect"
	"slices"
	"strings"
	"testing"
)

func TestParseTag(t *testing.T) {
	for _, tc := range []struct {
		tag  string
		want Tag
	}{
		{"1.0", Tag{Kind: Version, Numbers: []int{1, 0}}},
		{"3.12-slim", Tag{Kind: Version, Numbers: []int{3, 12}, Suffix: "slim"}},
		{"3.12.4-slim-bookworm", Tag{Kind: Version, Numbers: []int{3, 12, 4}, Suffix: "slim-bookworm"}},
		{"1.2-alpine3.20", Tag{Kind: Version, Numbers: []int{1, 2}, Suffix: "alpine3.20"}},
		{"v2.1", Tag{Kind: Version, Prefix: "v", Numbers: []int{2, 1}}},
		{"2.1-rc1", Tag{Kind: Version, Numbers: []int{2, 1}, Pre: "rc1"}},
		{"2.1rc1", Tag{Kind: Version, Numbers: []int{2, 1}, Pre: "rc1"}},
		{"3.13.0b1-slim", Tag{Kind: Version, Numbers: []int{3, 13, 0}, Pre: "b1", Suffix: "slim"}},
		{"2.0-beta.2-alpine", Tag{Kind: Version, Numbers: []int{2, 0}, Pre: "beta.2", Suffix: "alpine"}},
		{"12", Tag{Kind: Version, Numbers: []int{12}}},
		{"latest", Tag{}},
		{"bookworm-slim", Tag{}},
		{"sha-3f2a1bc", Tag{Kind: Commit, Suffix: "sha-HEX"}},
		{"3f2a1bc9", Tag{Kind: Commit, Suffix: "HEX"}},
		{"20240101", Tag{Kind: Date, Suffix: "YYYYMMDD"}},
		{"2024-01-01", Tag{Kind: Date, Suffix: "YYYY-MM-DD"}},
		{"1234567", Tag{}},                // a build number: no order we know
		{"99999999999999999999.1", Tag{}}, // too large a number
		{"1.0-SLIM", Tag{Kind: Version, Numbers: []int{1, 0}, Suffix: "SLIM"}}, // the suffix as written
	} {
		tc.want.Name = tc.tag
		if got := ParseTag(tc.tag); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("ParseTag(%q) = %+v, want %+v", tc.tag, got, tc.want)
		}
	}
}

// repoTags are the tags of the end-to-end test's repository, and the
// usual troublemakers of real ones.
var repoTags = []string{
	"1.0", "1.0.1", "1.1", "1.1-slim", "1.2-alpine", "1.2", "1.10", "2.0", "2.1-rc1", "2.1rc2", "3",
	"latest", "slim", "sha-3f2a1bc", "20240101", "20240301", "v1.5", "0.9", "1.0.2", "1.1.0", "2.0.0", "2.0.0-slim",
}

func TestSelect(t *testing.T) {
	for _, tc := range []struct {
		current string
		want    []string // "bucket tag", in order
		// rejected are tags that must be left out, with a word of why.
		rejected map[string]string
	}{
		{
			current: "1.0",
			want:    []string{"minor 1.10", "minor 1.2", "minor 1.1", "major 2.0"},
			rejected: map[string]string{
				"1.0.1": "precision", "1.1-slim": "flavor", "1.2-alpine": "flavor", "2.1-rc1": "pre-release",
				"2.1rc2": "pre-release", "3": "precision", "latest": "not a version", "sha-3f2a1bc": "commit",
				"20240101": "date", "v1.5": "prefix", "0.9": "not later",
			},
		},
		{
			current: "1.0.1",
			want:    []string{"patch 1.0.2", "minor 1.1.0", "major 2.0.0"},
			rejected: map[string]string{
				"1.1": "precision", "2.0.0-slim": "flavor",
			},
		},
		{current: "1.1-slim", want: nil, rejected: map[string]string{"1.1": "flavor", "1.2": "flavor"}},
		{current: "1.0-slim", want: []string{"minor 1.1-slim"}},
		{current: "2.0.0-slim", want: nil},
		{current: "2.1-rc1", want: nil, rejected: map[string]string{"2.1rc2": "pre-release"}},
		{current: "2.0", want: nil, rejected: map[string]string{"1.10": "not later", "2.1-rc1": "pre-release"}},
		{current: "1", want: []string{"major 3"}},
		{current: "v1.2", want: []string{"minor v1.5"}, rejected: map[string]string{"1.10": "prefix"}},
		{current: "latest", want: nil, rejected: map[string]string{"1.0": "not a version"}},
		{current: "sha-3f2a1bc", want: nil, rejected: map[string]string{"1.0": "commit tag"}},
		{current: "20240101", want: []string{"newer 20240301"}, rejected: map[string]string{"1.0": "version", "3": "version"}},
		{current: "20240301", want: nil, rejected: map[string]string{"20240101": "not later"}},
	} {
		sel := Select(tc.current, repoTags)
		var got []string
		for _, c := range sel.Candidates {
			got = append(got, string(c.Bucket)+" "+c.Tag)
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("Select(%q) = %q, want %q", tc.current, got, tc.want)
		}
		for tag, why := range tc.rejected {
			if reason, ok := sel.Rejected[tag]; !ok || !strings.Contains(reason, why) {
				t.Errorf("Select(%q): %s rejected for %q, want a reason containing %q", tc.current, tag, reason, why)
			}
		}
		if _, ok := sel.Rejected[tc.current]; ok {
			t.Errorf("Select(%q) judged the current tag itself", tc.current)
		}
		if len(sel.Candidates)+len(sel.Rejected)+1 != len(repoTags) && slices.Contains(repoTags, tc.current) {
			t.Errorf("Select(%q): %d candidates and %d rejected of %d tags", tc.current, len(sel.Candidates), len(sel.Rejected), len(repoTags))
		}
	}
}

func TestFlavors(t *testing.T) {
	for current, want := range map[string][]string{
		"1.1":        {"1.2-alpine", "1.1-slim"}, // by suffix: alpine, slim
		"1.0":        {"1.2-alpine", "1.1-slim"},
		"1.1-slim":   {"1.1", "1.2-alpine"}, // the same numbers before a later version
		"1.0.1":      {},
		"2.0.0":      {"2.0.0-slim"},
		"latest":     {},
		"1.2-alpine": {"1.2"}, // 1.1-slim is below 1.2: not offered
	} {
		got := Flavors(current, repoTags)
		if !slices.Equal(got, want) && !(len(got) == 0 && len(want) == 0) {
			t.Errorf("Flavors(%q) = %q, want %q", current, got, want)
		}
	}
}
