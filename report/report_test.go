package report

import (
	"bytes"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/secure-build/secure-build/policy"
	"github.com/secure-build/secure-build/sbom"
	"github.com/secure-build/secure-build/vuln"
)

const (
	purlLibssl = "pkg:deb/debian/libssl3@3.0.11-1~deb12u2?arch=amd64&distro=debian-12"
	purlSSL    = "pkg:deb/debian/openssl@3.0.11-1~deb12u2?arch=amd64&distro=debian-12"
	purlZlib   = "pkg:deb/debian/zlib1g@1:1.2.13.dfsg-1?arch=amd64&distro=debian-12"
	purlTar    = "pkg:deb/debian/tar@1.34+dfsg-1.2+deb12u1?arch=amd64&distro=debian-12"
	purlGRPC   = "pkg:golang/google.golang.org/grpc@v1.56.2"
	dpkgStatus = "/var/lib/dpkg/status"
)

// testFindings cover what a report must tell apart: a Debian advisory with
// upstream CVEs in two binary packages of one source, a GHSA with an alias,
// fixable and unfixable findings, and one of unknown severity. They are
// given out of report order on purpose.
func testFindings() []vuln.Finding {
	deb := func(name, version, purl string) vuln.Package {
		return vuln.Package{Name: name, Version: version, PURL: purl, Locations: []string{dpkgStatus},
			Ecosystem: "Debian:12", MatchName: name, MatchVersion: version}
	}
	libssl := deb("libssl3", "3.0.11-1~deb12u2", purlLibssl)
	libssl.MatchName = "openssl"
	dsa := vuln.Finding{
		ID: "DSA-5678-1", Upstream: []string{"CVE-2024-0727", "CVE-2024-2511"},
		FixedVersion: "3.0.13-1~deb12u1", Severity: vuln.Medium, Score: 5.5, SeveritySource: "CVSS_V3",
		Summary: "openssl - security update:\nnull dereference | PKCS12 <parsing>",
	}
	dsaLibssl, dsaOpenssl := dsa, dsa
	dsaLibssl.Package = libssl
	dsaOpenssl.Package = deb("openssl", "3.0.11-1~deb12u2", purlSSL)
	return []vuln.Finding{
		{
			ID: "CVE-2005-2541", Package: deb("tar", "1.34+dfsg-1.2+deb12u1", purlTar),
			Severity: vuln.Unknown, Summary: "Tar 1.15.1 does not properly warn the user when extracting setuid or setgid files",
		},
		dsaOpenssl,
		{
			ID: "GHSA-m425-mq94-257g", Aliases: []string{"GO-2023-2153"},
			Package: vuln.Package{Name: "google.golang.org/grpc", Version: "v1.56.2", PURL: purlGRPC,
				Locations: []string{"/usr/local/bin/my server"}, Ecosystem: "Go", MatchName: "google.golang.org/grpc", MatchVersion: "1.56.2"},
			FixedVersion: "1.56.3", Severity: vuln.High, Score: 7.5, SeveritySource: "CVSS_V3",
			Summary: "gRPC-Go HTTP/2 Rapid Reset vulnerability",
		},
		{
			ID: "CVE-2023-45853", Package: deb("zlib1g", "1:1.2.13.dfsg-1", purlZlib),
			Severity: vuln.Critical, Score: 9.8, SeveritySource: "CVSS_V3",
			Summary: "MiniZip in zlib through 1.3 has an integer overflow and resultant heap-based buffer overflow in zipOpenNewFileInZip4_64 via a long filename, comment, or extra field",
		},
		dsaLibssl,
	}
}

func testSBOM() *sbom.SBOM {
	deb := func(name, version, purl string) sbom.Package {
		return sbom.Package{Name: name, Version: version, Type: "deb", PURL: purl, Locations: []string{dpkgStatus}}
	}
	return &sbom.SBOM{
		Source: "registry.example/app:1",
		Distro: &sbom.Distro{ID: "debian", VersionID: "12", VersionCodename: "bookworm", PrettyName: "Debian GNU/Linux 12 (bookworm)"},
		Packages: []sbom.Package{
			deb("libssl3", "3.0.11-1~deb12u2", purlLibssl),
			deb("openssl", "3.0.11-1~deb12u2", purlSSL),
			deb("tar", "1.34+dfsg-1.2+deb12u1", purlTar),
			deb("zlib1g", "1:1.2.13.dfsg-1", purlZlib),
			{Name: "google.golang.org/grpc", Version: "v1.56.2", Type: "golang", PURL: purlGRPC, Locations: []string{"/usr/local/bin/my server"}},
		},
	}
}

// testScan fails on high and above, fixable only: the fixable high GHSA
// fails it, the unfixable critical does not.
func testScan() *Scan {
	threshold := policy.Threshold{FailOn: policy.Level{Severity: vuln.High}, OnlyFixable: true}
	findings := testFindings()
	return &Scan{
		Target:    "registry.example/app:1",
		SBOM:      testSBOM(),
		Findings:  findings,
		Verdict:   (&policy.Policy{Threshold: threshold}).Evaluate(policy.Input{Findings: findings}),
		Threshold: threshold,
		Database: Database{
			Dir: "/cache/secure-build/db",
			Updated: map[string]time.Time{
				"Debian": time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
				"Go":     time.Date(2026, 1, 1, 0, 0, 0, 0, time.FixedZone("CET", 3600)),
				"npm":    time.Date(2025, 12, 31, 0, 0, 0, 0, time.UTC),
			},
			Stale: "the vulnerability database is 9 days old (allowed: 7); run docker secure db update",
		},
		ScannedAt:   time.Date(2026, 1, 10, 12, 0, 0, 0, time.UTC),
		ToolVersion: "0.1.0",
	}
}

// wantOrder is the report order of testFindings: severity, package, id.
var wantOrder = []string{
	"CVE-2023-45853 zlib1g",
	"GHSA-m425-mq94-257g google.golang.org/grpc",
	"DSA-5678-1 libssl3",
	"DSA-5678-1 openssl",
	"CVE-2005-2541 tar",
}

func TestSortFindings(t *testing.T) {
	var got []string
	for _, f := range vuln.Sorted(testFindings()) {
		got = append(got, f.ID+" "+f.Package.Name)
	}
	if !slices.Equal(got, wantOrder) {
		t.Errorf("order:\n got %q\nwant %q", got, wantOrder)
	}
}

func TestCountAlwaysHasUnknown(t *testing.T) {
	c := count(testFindings())
	want := map[string]counts{
		"critical": {1, 0}, "high": {1, 1}, "medium": {2, 2}, "low": {0, 0}, "unknown": {1, 0},
	}
	for _, sev := range severities {
		if got := c.bySeverity[sev]; got != want[sev.String()] {
			t.Errorf("%s: got %+v, want %+v", sev, got, want[sev.String()])
		}
	}
	if c.all != (counts{5, 3}) {
		t.Errorf("all: got %+v, want {5 3}", c.all)
	}
}

// TestWriteDeterministic writes every format twice, the second time from
// findings and packages in another order: the bytes must not change.
func TestWriteDeterministic(t *testing.T) {
	for _, format := range Formats {
		t.Run(format, func(t *testing.T) {
			var first, second bytes.Buffer
			if err := Write(&first, format, testScan()); err != nil {
				t.Fatal(err)
			}
			s := testScan()
			slices.Reverse(s.Findings)
			s.Verdict = (&policy.Policy{Threshold: s.Threshold}).Evaluate(policy.Input{Findings: s.Findings})
			if err := Write(&second, format, s); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(first.Bytes(), second.Bytes()) {
				t.Errorf("output depends on input order:\n%s\n---\n%s", first.String(), second.String())
			}
			if first.Len() == 0 || !bytes.HasSuffix(first.Bytes(), []byte("\n")) {
				t.Errorf("output is empty or does not end a line: %q", first.String())
			}
		})
	}
}

func TestWriteUnknownFormat(t *testing.T) {
	err := Write(&bytes.Buffer{}, "xml", testScan())
	if err == nil || !strings.Contains(err.Error(), `"xml"`) || !strings.Contains(err.Error(), strings.Join(Formats, ", ")) {
		t.Errorf("got %v, want an error naming the format and the valid ones", err)
	}
}

func TestWriteNoFindings(t *testing.T) {
	s := testScan()
	s.Findings = nil
	s.Verdict = (&policy.Policy{Threshold: s.Threshold}).Evaluate(policy.Input{Findings: nil})
	for _, format := range Formats {
		var buf bytes.Buffer
		if err := Write(&buf, format, s); err != nil {
			t.Errorf("%s: %v", format, err)
		}
	}
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func TestWriteError(t *testing.T) {
	for _, format := range Formats {
		if err := Write(failingWriter{}, format, testScan()); err == nil || !strings.Contains(err.Error(), "disk full") {
			t.Errorf("%s: got %v, want the writer's error", format, err)
		}
	}
}
