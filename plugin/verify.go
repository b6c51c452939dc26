package plugin

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/secure-build/secure-build/build"

	"github.com/docker/cli/cli/command"
	"github.com/secure-build/secure-build/attest"
	"github.com/secure-build/secure-build/origin"
	"github.com/secure-build/secure-build/policy"
	"github.com/secure-build/secure-build/registry"
	"github.com/secure-build/secure-build/report"
	"github.com/secure-build/secure-build/sbom"
	"github.com/secure-build/secure-build/scan"
	"github.com/secure-build/secure-build/vuln"
	"github.com/spf13/cobra"
)

type verifyOptions struct {
	db       dbFlags
	policy   policyFlags
	format   string
	platform string
	scan     bool
	signed   signedFlags
}

var verifyFormats = []string{"table", "json"}

func newVerifyCmd(dockerCli command.Cli) *cobra.Command {
	var opts verifyOptions
	cmd := &cobra.Command{
		Use:   "verify [OPTIONS] IMAGE",
		Short: "Check a pushed image's SBOM against today's database and a policy",
		Long: `Read the attestations of IMAGE from its registry, for every platform (or the
one --platform names): the SPDX SBOM and the scan result "docker secure build"
attached. Match the SBOM's packages against today's offline database, not the
one the build used: an image that was clean when it was built can have new
vulnerabilities now. Then apply the policy, as "scan" does: fail on a fixable
critical finding, or what --policy FILE, --fail-on and --include-unfixable say. The
policy file's ignore entries and VEX documents apply; the OpenVEX attestation
of the build is shown by "inspect", not applied.

For each platform it prints the verdict, the verdict made at build time and
when, and the findings that are new since the build.

IMAGE is a reference in a registry, REF or registry:REF. Each attestation must
speak of its platform's image manifest: its subject names it or, for an image
exported without a name (BuildKit then leaves the subject empty), the index
binds its attestation manifest to it (vnd.docker.reference.digest). An image
on this machine (an image tar, an OCI layout) is refused: push it with its
attestations ("crane push DIR REF" of the folder -o type=oci,tar=false,dest=DIR
writes), or scan it where it is with "docker secure scan".

An image without attestations is an error, unless --scan: then each
platform's image is pulled and its filesystem scanned, as
"docker secure scan registry:IMAGE" does, each finding attributed to the
layer that brought its package. Credentials come from the Docker
config and its credential helpers ("docker login"). Plain HTTP is tried only
for localhost, loopback, *.local and private (RFC 1918) registry addresses.

With --key cosign.pub, every statement read must carry a signature by that
key ("docker secure attest" or "build --sign-key" made it), name the
platform's image manifest as its subject and say what the attached statement
says, before anything is trusted; a missing or bad signature exits 2, naming
the statement, the key and what to do. --require-signed says so explicitly
and needs --key: a signature no key checked proves nothing.

Exit status: 0 every platform passed; 3 the policy failed for one, or the
status --exit-code sets (0 only reports the failure); 2 a usage or input
error (a bad flag, no such image, no attestations, a registry error, no
database).`,
		Example: `  # Gate a release on the team's policy and today's database
  docker secure db update
  docker secure verify --policy secure-build.yaml registry.example.com/app:1.4

  # One platform, fail on high or worse, a JSON document for a pipeline
  docker secure verify --platform linux/arm64 --fail-on high --format json registry.example.com/app@sha256:...

  # An image built by another tool: pull it and scan it
  docker secure verify --scan registry.example.com/vendor/tool:2

  # Trust only statements signed with the team's cosign key
  docker secure verify --key cosign.pub --require-signed registry.example.com/app:1.4

  # A nightly report of today's verdict that does not fail the job
  docker secure verify --exit-code 0 registry.example.com/app:1.4`,
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runVerify(cmd, dockerCli, opts, args[0])
		},
	}
	flags := cmd.Flags()
	opts.db.bind(flags)
	opts.policy.bind(flags)
	flags.StringVar(&opts.format, "format", "table", "Output format: "+strings.Join(verifyFormats, ", "))
	flags.StringVar(&opts.platform, "platform", "", "Verify only this platform (os/arch[/variant]); default every platform")
	flags.BoolVar(&opts.scan, "scan", false, "Pull and scan the platforms that have no SBOM attestation")
	opts.signed.bind(flags)
	return cmd
}

// platformVerdict is one platform's verification.
type platformVerdict struct {
	att attest.Platform
	// scanned says the SBOM was made now from the image (--scan), not read
	// from an attestation.
	scanned bool
	report  *report.Scan
	// newSinceBuild are today's findings the build-time scan did not have;
	// nil without a build-time scan result.
	newSinceBuild []vuln.Finding
}

func runVerify(cmd *cobra.Command, dockerCli command.Cli, opts verifyOptions, image string) error {
	ctx := cmd.Context()
	if !slices.Contains(verifyFormats, opts.format) {
		return fmt.Errorf("--format %q: want one of %s", opts.format, strings.Join(verifyFormats, ", "))
	}
	want, err := parsePlatform(opts.platform)
	if err != nil {
		return err
	}
	pol, err := opts.policy.resolve(ctx)
	if err != nil {
		return err
	}
	db, err := opts.db.open()
	if err != nil {
		return err
	}
	defer db.Close()

	verifier, err := opts.signed.verifier()
	if err != nil {
		return err
	}

	atts, err := attest.Read(ctx, image, want)
	if err != nil {
		return err
	}
	if err := checkSignatures(ctx, image, atts, verifier); err != nil {
		return err
	}
	if missing := atts.Unattested(); len(missing) > 0 && !opts.scan {
		return fmt.Errorf("%s has no SBOM attestation for %s: build and push it with 'docker secure build --push', or pass --scan to pull the image and scan it",
			atts.Ref, strings.Join(missing, ", "))
	}

	now := time.Now().UTC()
	if stale := scan.Staleness(db.Dir(), db.Updated(), opts.db.maxAge, now); stale != "" {
		fmt.Fprintf(dockerCli.Err(), "warning: %s\n", stale)
	}
	var results []platformVerdict
	for _, p := range atts.Platforms {
		doc, attribution, err := platformSBOM(ctx, p)
		if err != nil {
			return err
		}
		m, err := scan.Match(db, doc)
		if err != nil {
			return err
		}
		// The layers of an image pulled with --scan; an SBOM attestation's
		// packages are not attributed here.
		scan.Attribute(m.Findings, attribution)
		// What the build's scan could not read stays unread: its SBOM lacks it.
		if p.Scan != nil {
			m.Incomplete = append(m.Incomplete, p.Scan.Report.Verdict.Incomplete...)
			// Where the packages came from, as the build attributed them.
			m.Findings = p.Scan.WithOrigins(m.Findings)
		}
		r := platformVerdict{
			att:     p,
			scanned: p.SPDX == nil,
			report: scan.Evaluate(m, pol, scan.Options{
				Target: p.Image.String(),
				// VEX statements may name the image by its reference, the
				// index's digest or the platform's own.
				Image:       policy.ImageIdentities(atts.Ref.String(), atts.Ref.Context().Digest(atts.Digest.String()).String(), p.Image.String()),
				Database:    db.Dir(),
				MaxDBAge:    opts.db.maxAge,
				Now:         now,
				ToolVersion: Version,
			}),
		}
		if p.Scan != nil {
			r.newSinceBuild = newSinceBuild(m.Findings, p.Scan.Findings())
		}
		results = append(results, r)
	}

	write := writeVerifyTable
	if opts.format == "json" {
		write = writeVerifyJSON
	}
	if err := build.WriteBuffered(dockerCli.Out(), func(w io.Writer) error { return write(w, atts, results) }); err != nil {
		return err
	}
	var failed []error
	for _, r := range results {
		if !r.report.Verdict.Pass {
			failed = append(failed, &scan.PolicyError{Name: r.att.Name, Verdict: r.report.Verdict})
		}
	}
	if len(failed) > 0 {
		return policyFailed(dockerCli.Err(), errors.Join(failed...), opts.policy.exitCode)
	}
	return nil
}

// platformSBOM is the platform's SBOM: its attestation, or with --scan for
// a platform without one, a catalog of the image pulled now, its packages
// attributed to its layers (nil attribution for an attestation's).
func platformSBOM(ctx context.Context, p attest.Platform) (*sbom.SBOM, origin.Attribution, error) {
	if p.SPDX != nil {
		doc, err := p.SBOM()
		return doc, nil, err
	}
	img, err := registry.Image(ctx, p.Image)
	if err != nil {
		return nil, nil, err
	}
	s, attribution, err := scan.CatalogImageAttributed(ctx, img, p.Image.String(), p.Provenance)
	if err != nil {
		return nil, nil, err
	}
	s.Image.Named(p.Image)
	return s, attribution, nil
}

// newSinceBuild are the findings that the build-time scan did not report:
// none of their ids was reported then for the same package. Any id, not
// only the primary one (vuln.Finding.Same): a record that gained a CVE
// alias since the build changes the finding's primary id, not the finding.
func newSinceBuild(now, atBuild []vuln.Finding) []vuln.Finding {
	known := map[string]bool{}
	for _, f := range atBuild {
		for _, id := range f.IDs() {
			known[f.Package.PURL+" "+id] = true
		}
	}
	out := []vuln.Finding{}
	for _, f := range now {
		if !slices.ContainsFunc(f.IDs(), func(id string) bool { return known[f.Package.PURL+" "+id] }) {
			out = append(out, f)
		}
	}
	return out
}

// ids are the findings' ids, each once, sorted.
func ids(findings []vuln.Finding) []string {
	out := []string{}
	for _, f := range findings {
		out = append(out, f.ID)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// writeVerifyTable writes, per platform, where the SBOM came from, the
// build-time verdict, what is new since, and the report table of today's
// verdict. w is build.WriteBuffered's: a failed write surfaces when it flushes.
func writeVerifyTable(w io.Writer, atts *attest.Image, results []platformVerdict) error {
	for i, r := range results {
		if i > 0 {
			fmt.Fprintln(w)
		}
		fmt.Fprintf(w, "Platform: %s\n", report.Printable(r.att.Name))
		if r.scanned {
			fmt.Fprintln(w, "SBOM: none attached; scanned the image now (--scan)")
		}
		if r.att.Scan == nil {
			fmt.Fprintln(w, "At build: no secure-build scan result attached")
		} else {
			v := r.att.Scan.Predicate.Metadata.Verdict
			fmt.Fprintf(w, "At build: %s (%s), decided %s\n", passFail(v.Pass), report.Printable(v.Threshold), v.DecidedOn.UTC().Format(time.RFC3339))
			if len(r.newSinceBuild) == 0 {
				fmt.Fprintln(w, "New since the build: none")
			} else {
				fmt.Fprintf(w, "New since the build: %d (%s)\n", len(r.newSinceBuild), report.Printable(strings.Join(ids(r.newSinceBuild), ", ")))
			}
		}
		if err := report.WriteTable(w, r.report); err != nil {
			return err
		}
	}
	return nil
}

func passFail(pass bool) string {
	if pass {
		return "PASS"
	}
	return "FAIL"
}

// verifyJSON is verify's JSON document: the image, the overall outcome, and
// per platform the build-time verdict, the new findings and today's report
// (the JSON report of "scan", schema report/schema/report.schema.json).
type verifyJSON struct {
	Image     string               `json:"image"`
	Digest    string               `json:"digest"`
	Pass      bool                 `json:"pass"`
	Platforms []verifyPlatformJSON `json:"platforms"`
}

type verifyPlatformJSON struct {
	Platform string `json:"platform"`
	Image    string `json:"image"`
	// SBOM is "attestation", or "scan" when --scan catalogued the image.
	SBOM string `json:"sbom"`
	// Build is the build-time verdict; null without a scan result
	// attestation, and then NewSinceBuild is null too.
	Build         *buildVerdictJSON `json:"build"`
	NewSinceBuild []string          `json:"newSinceBuild"`
	Report        json.RawMessage   `json:"report"`
}

type buildVerdictJSON struct {
	Pass      bool   `json:"pass"`
	Threshold string `json:"threshold"`
	DecidedOn string `json:"decidedOn"`
}

func writeVerifyJSON(w io.Writer, atts *attest.Image, results []platformVerdict) error {
	doc := verifyJSON{Image: atts.Ref.String(), Digest: atts.Digest.String(), Pass: true, Platforms: []verifyPlatformJSON{}}
	for _, r := range results {
		var rep bytes.Buffer
		if err := report.WriteJSON(&rep, r.report); err != nil {
			return err
		}
		p := verifyPlatformJSON{Platform: r.att.Name, Image: r.att.Image.String(), SBOM: "attestation", Report: rep.Bytes()}
		if r.scanned {
			p.SBOM = "scan"
		}
		if s := r.att.Scan; s != nil {
			v := s.Predicate.Metadata.Verdict
			p.Build = &buildVerdictJSON{Pass: v.Pass, Threshold: v.Threshold, DecidedOn: v.DecidedOn.UTC().Format(time.RFC3339)}
			p.NewSinceBuild = ids(r.newSinceBuild)
		}
		doc.Pass = doc.Pass && r.report.Verdict.Pass
		doc.Platforms = append(doc.Platforms, p)
	}
	return writeJSON(w, doc)
}
