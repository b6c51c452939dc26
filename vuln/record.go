package vuln

import (
	"fmt"
	"strings"
	"time"

	"github.com/ossf/osv-schema/bindings/go/osvschema"
	cvss30 "github.com/pandatix/go-cvss/30"
	cvss31 "github.com/pandatix/go-cvss/31"
	cvss40 "github.com/pandatix/go-cvss/40"
	"google.golang.org/protobuf/types/known/structpb"
)

// record is what the index keeps of an OSV record: what a finding shows.
type record struct {
	ID       string   `json:"id"`
	Aliases  []string `json:"aliases,omitempty"`
	Upstream []string `json:"upstream,omitempty"`
	Summary  string   `json:"summary,omitempty"`
	Modified string   `json:"modified,omitempty"`
	Rating   rating   `json:"rating"`
}

// rating is a severity and where it came from.
type rating struct {
	Severity Severity `json:"severity"`
	Score    float64  `json:"score,omitempty"`
	Source   string   `json:"source,omitempty"`
}

// affectedEntry is one affected[] entry of one record, keyed in the index by
// its package: what matching needs.
type affectedEntry struct {
	ID       string     `json:"id"`
	Ranges   []osvRange `json:"ranges,omitempty"`
	Versions []string   `json:"versions,omitempty"`
	// Rating, when set, is the entry's own severity (affected[].severity,
	// a distro's urgency), which wins over the record's.
	Rating *rating `json:"rating,omitempty"`
	// archive is the file the entry was read from, where its record is.
	archive string
}

type osvRange struct {
	// Type is "ECOSYSTEM" or "SEMVER"; GIT ranges name commits, which an
	// installed package does not have, and are not kept.
	Type   string     `json:"type"`
	Events []osvEvent `json:"events"`
}

type osvEvent struct {
	Introduced   string `json:"introduced,omitempty"`
	Fixed        string `json:"fixed,omitempty"`
	LastAffected string `json:"last_affected,omitempty"`
	Limit        string `json:"limit,omitempty"`
}

// packageKey keys an affected package in the index.
func packageKey(ecosystem, name string) string {
	return ecosystem + "\x00" + indexName(ecosystem, name)
}

// compact turns a parsed OSV record into what the index keeps, with each
// affected entry under its package key. A withdrawn record yields nothing:
// it never matches.
func compact(v *osvschema.Vulnerability) (record, map[string][]affectedEntry, error) {
	if v.GetId() == "" {
		return record{}, nil, fmt.Errorf("record has no id")
	}
	if v.GetWithdrawn() != nil {
		return record{}, nil, nil
	}
	rec := record{
		ID:       v.GetId(),
		Aliases:  v.GetAliases(),
		Upstream: v.GetUpstream(),
		Summary:  oneLine(v.GetSummary(), v.GetDetails()),
		Rating:   recordRating(v),
	}
	if m := v.GetModified(); m != nil && m.IsValid() {
		rec.Modified = m.AsTime().UTC().Format(time.RFC3339)
	}
	entries := map[string][]affectedEntry{}
	for i, a := range v.GetAffected() {
		pkg := a.GetPackage()
		if pkg.GetEcosystem() == "" || pkg.GetName() == "" {
			return record{}, nil, fmt.Errorf("record %s affected[%d]: no package ecosystem or name", v.GetId(), i)
		}
		e := affectedEntry{ID: rec.ID, Versions: a.GetVersions()}
		for _, r := range a.GetRanges() {
			switch r.GetType() {
			case osvschema.Range_ECOSYSTEM, osvschema.Range_SEMVER:
			default:
				continue
			}
			or := osvRange{Type: r.GetType().String()}
			for _, ev := range r.GetEvents() {
				or.Events = append(or.Events, osvEvent{Introduced: ev.GetIntroduced(), Fixed: ev.GetFixed(), LastAffected: ev.GetLastAffected(), Limit: ev.GetLimit()})
			}
			e.Ranges = append(e.Ranges, or)
		}
		if len(e.Ranges) == 0 && len(e.Versions) == 0 {
			continue
		}
		if r, ok := affectedRating(a); ok {
			e.Rating = &r
		}
		key := packageKey(pkg.GetEcosystem(), pkg.GetName())
		entries[key] = append(entries[key], e)
	}
	return rec, entries, nil
}

// oneLine is the summary, or the first line of the details when there is none.
func oneLine(summary, details string) string {
	s := strings.TrimSpace(summary)
	if s == "" {
		s = strings.TrimSpace(details)
	}
	s, _, _ = strings.Cut(s, "\n")
	if len(s) > 200 {
		s = s[:197] + "..."
	}
	return s
}

// recordRating takes the first source that has a severity: a CVSS v4
// vector, a CVSS v3 vector, then the record's database_specific.severity
// (GHSA's LOW/MODERATE/HIGH/CRITICAL).
func recordRating(v *osvschema.Vulnerability) rating {
	if r, ok := cvssRating(v.GetSeverity()); ok {
		return r
	}
	if s, ok := structString(v.GetDatabaseSpecific(), "severity"); ok {
		if sev, err := ParseSeverity(s); err == nil {
			return rating{Severity: sev, Source: "database_specific"}
		}
	}
	return rating{}
}

// affectedRating is an affected entry's own severity: its CVSS vectors, an
// Ubuntu priority, or a Debian urgency (ecosystem_specific.urgency).
func affectedRating(a *osvschema.Affected) (rating, bool) {
	if r, ok := cvssRating(a.GetSeverity()); ok {
		return r, true
	}
	for _, s := range a.GetSeverity() {
		if s.GetType() == osvschema.Severity_Ubuntu {
			if sev, ok := distroLevel(s.GetScore()); ok {
				return rating{Severity: sev, Source: "Ubuntu"}, true
			}
		}
	}
	if u, ok := structString(a.GetEcosystemSpecific(), "urgency"); ok {
		if sev, ok := distroLevel(u); ok {
			return rating{Severity: sev, Source: "Debian urgency"}, true
		}
	}
	if s, ok := structString(a.GetDatabaseSpecific(), "severity"); ok {
		if sev, err := ParseSeverity(s); err == nil {
			return rating{Severity: sev, Source: "database_specific"}, true
		}
	}
	return rating{}, false
}

// distroLevel reads a distro's own rating words.
func distroLevel(s string) (Severity, bool) {
	switch strings.ToLower(strings.TrimSpace(strings.TrimSuffix(s, "*"))) {
	case "critical":
		return Critical, true
	case "high":
		return High, true
	case "medium", "moderate":
		return Medium, true
	case "low", "negligible", "unimportant":
		return Low, true
	}
	return Unknown, false
}

func cvssRating(severities []*osvschema.Severity) (rating, bool) {
	for _, want := range []osvschema.Severity_Type{osvschema.Severity_CVSS_V4, osvschema.Severity_CVSS_V3} {
		for _, s := range severities {
			if s.GetType() != want {
				continue
			}
			score, err := cvssScore(s.GetScore())
			if err != nil {
				continue
			}
			return rating{Severity: scoreLevel(score), Score: score, Source: want.String()}, true
		}
	}
	return rating{}, false
}

// cvssScore computes a vector's base score with go-cvss.
func cvssScore(vector string) (float64, error) {
	switch {
	case strings.HasPrefix(vector, "CVSS:4.0/"):
		c, err := cvss40.ParseVector(vector)
		if err != nil {
			return 0, err
		}
		return c.Score(), nil
	case strings.HasPrefix(vector, "CVSS:3.1/"):
		c, err := cvss31.ParseVector(vector)
		if err != nil {
			return 0, err
		}
		return c.BaseScore(), nil
	case strings.HasPrefix(vector, "CVSS:3.0/"):
		c, err := cvss30.ParseVector(vector)
		if err != nil {
			return 0, err
		}
		return c.BaseScore(), nil
	}
	return 0, fmt.Errorf("CVSS vector %q: not v3 or v4", vector)
}

// scoreLevel is CVSS's qualitative scale; a score of 0.0 ("none") counts as low.
func scoreLevel(score float64) Severity {
	switch {
	case score >= 9.0:
		return Critical
	case score >= 7.0:
		return High
	case score >= 4.0:
		return Medium
	}
	return Low
}

func structString(s *structpb.Struct, key string) (string, bool) {
	if s == nil {
		return "", false
	}
	v, ok := s.GetFields()[key]
	if !ok {
		return "", false
	}
	str, ok := v.GetKind().(*structpb.Value_StringValue)
	if !ok || str.StringValue == "" {
		return "", false
	}
	return str.StringValue, true
}
