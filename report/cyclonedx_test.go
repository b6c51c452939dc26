package report

import (
	"bytes"
	"slices"
	"strings"
	"testing"

	cdx "github.com/CycloneDX/cyclonedx-go"

	"github.com/secure-build/secure-build/internal/sbomcheck"
	"github.com/secure-build/secure-build/vuln"
)

func decodeCycloneDX(t *testing.T, s *Scan) (*cdx.BOM, []byte) {
	t.Helper()
	var buf bytes.Buffer
	if err := WriteCycloneDX(&buf, s); err != nil {
		t.Fatal(err)
	}
	var bom cdx.BOM
	if err := cdx.NewBOMDecoder(bytes.NewReader(buf.Bytes()), cdx.BOMFileFormatJSON).Decode(&bom); err != nil {
		t.Fatal(err)
	}
	return &bom, buf.Bytes()
}

// checkRefs fails the test for an affects[].ref that is no component's
// bom-ref in the same document.
func checkRefs(t *testing.T, bom *cdx.BOM) {
	t.Helper()
	refs := map[string]bool{}
	for _, c := range *bom.Components {
		refs[c.BOMRef] = true
	}
	for _, v := range *bom.Vulnerabilities {
		for _, a := range *v.Affects {
			if !refs[a.Ref] {
				t.Errorf("%s: affects %q, not a component of the document", v.ID, a.Ref)
			}
		}
	}
}

func TestWriteCycloneDX(t *testing.T) {
	bom, _ := decodeCycloneDX(t, testScan())
	if bom.SpecVersion != cdx.SpecVersion1_6 || bom.Metadata.Timestamp != "2026-01-10T12:00:00Z" {
		t.Errorf("spec %v, timestamp %s", bom.SpecVersion, bom.Metadata.Timestamp)
	}
	if n := len(*bom.Components); n != 6 { // the os and five packages
		t.Errorf("%d components, want the whole SBOM's 6", n)
	}
	checkRefs(t, bom)

	byID := map[string]cdx.Vulnerability{}
	var ids []string
	for _, v := range *bom.Vulnerabilities {
		byID[v.ID] = v
		ids = append(ids, v.ID)
	}
	if !slices.Equal(ids, []string{"CVE-2005-2541", "CVE-2023-45853", "DSA-5678-1", "GHSA-m425-mq94-257g"}) {
		t.Fatalf("vulnerabilities: %q", ids)
	}

	// The DSA is one vulnerability affecting both binary packages of its
	// source, with its upstream CVEs as references.
	dsa := byID["DSA-5678-1"]
	var affected []string
	for _, a := range *dsa.Affects {
		affected = append(affected, a.Ref)
		if r := *a.Range; len(r) != 1 || r[0].Status != cdx.VulnerabilityStatusAffected || r[0].Version != "3.0.11-1~deb12u2" {
			t.Errorf("DSA affects %s: versions %+v", a.Ref, r)
		}
	}
	if !slices.Equal(affected, []string{purlLibssl, purlSSL}) {
		t.Errorf("DSA affects %q", affected)
	}
	if got := referenceIDs(dsa); !slices.Equal(got, []string{"CVE-2024-0727", "CVE-2024-2511"}) {
		t.Errorf("DSA references %q", got)
	}
	if (*dsa.References)[0].Source.URL != "https://osv.dev/vulnerability/CVE-2024-0727" || dsa.Source.URL != "https://osv.dev/vulnerability/DSA-5678-1" {
		t.Errorf("DSA sources: %+v %+v", dsa.Source, (*dsa.References)[0].Source)
	}
	if dsa.Recommendation != "upgrade libssl3 to 3.0.13-1~deb12u1; upgrade openssl to 3.0.13-1~deb12u1" {
		t.Errorf("DSA recommendation %q", dsa.Recommendation)
	}
	if r := *dsa.Ratings; len(r) != 1 || r[0].Severity != cdx.SeverityMedium || *r[0].Score != 5.5 || r[0].Method != cdx.ScoringMethodCVSSv3 {
		t.Errorf("DSA ratings %+v", r)
	}
	if !strings.HasPrefix(dsa.Description, "openssl - security update:") {
		t.Errorf("DSA description %q", dsa.Description)
	}

	ghsa := byID["GHSA-m425-mq94-257g"]
	if got := referenceIDs(ghsa); !slices.Equal(got, []string{"GO-2023-2153"}) {
		t.Errorf("GHSA references %q", got)
	}
	if (*ghsa.Affects)[0].Ref != purlGRPC || ghsa.Recommendation != "upgrade google.golang.org/grpc to 1.56.3" {
		t.Errorf("GHSA: %+v", ghsa)
	}

	unknown := byID["CVE-2005-2541"]
	if r := *unknown.Ratings; len(r) != 1 || r[0].Severity != cdx.SeverityUnknown || r[0].Score != nil || r[0].Method != cdx.ScoringMethodOther || r[0].Source != nil {
		t.Errorf("unknown ratings %+v", r)
	}
	if unknown.Recommendation != "" || unknown.References != nil {
		t.Errorf("unfixable, alias-free finding: %+v", unknown)
	}
}

func referenceIDs(v cdx.Vulnerability) []string {
	var ids []string
	if v.References != nil {
		for _, r := range *v.References {
			ids = append(ids, r.ID)
		}
	}
	return ids
}

// TestCycloneDXMissingComponent: a finding whose package the SBOM lacks
// still gets a component to point at.
func TestCycloneDXMissingComponent(t *testing.T) {
	s := testScan()
	s.Findings = append(s.Findings, vuln.Finding{
		ID: "GHSA-35jh-r3h4-6jhm", Aliases: []string{"CVE-2021-23337"}, Severity: vuln.High, SeveritySource: "GHSA",
		Package: vuln.Package{Name: "lodash", Version: "4.17.20", PURL: "pkg:npm/lodash@4.17.20", Ecosystem: "npm"},
	})
	bom, _ := decodeCycloneDX(t, s)
	checkRefs(t, bom)
	if n := len(*bom.Components); n != 7 {
		t.Errorf("%d components, want 7", n)
	}
	for _, v := range *bom.Vulnerabilities {
		if v.ID == "GHSA-35jh-r3h4-6jhm" {
			if r := (*v.Ratings)[0]; r.Method != cdx.ScoringMethodOther || r.Source.Name != "GHSA" {
				t.Errorf("GHSA rating %+v", r)
			}
		}
	}
}

func TestCycloneDXNoSBOM(t *testing.T) {
	s := testScan()
	s.SBOM = nil
	if err := WriteCycloneDX(&bytes.Buffer{}, s); err == nil {
		t.Error("no error without an SBOM")
	}
}

// TestCycloneDXMatchesSchema validates the output, with vulnerabilities
// and with an incomplete scan's annotations, against CycloneDX's own 1.6
// JSON schema, which cyclonedx-go ships in its module.
func TestCycloneDXMatchesSchema(t *testing.T) {
	for name, s := range map[string]*Scan{"scan": testScan(), "incomplete scan": incompleteScan()} {
		_, doc := decodeCycloneDX(t, s)
		if err := sbomcheck.CycloneDX(doc); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}
